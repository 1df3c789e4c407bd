import BatonCore
import BatonTesting
import Foundation
import ServiceLifecycle
import Testing

@testable import BatonWorker

/// The HTTP source's behaviour against nodes that cannot be reached. Its exchanges with a real
/// node (claim, heartbeat, ack, release) are tested with BatonServer in `BatonServerTests`.
@Suite struct HTTPTaskSourceTests {
    /// Nothing listens on these (privileged ports, refused at once).
    let deadServers = [URL(string: "http://127.0.0.1:1")!, URL(string: "http://127.0.0.1:9/prefix/")!]

    @Test func unreachableNodeIsUnavailableAndFailsOver() async throws {
        let source = HTTPTaskSource(servers: deadServers, token: "secret", logger: testLogger("http"))
        #expect(source.currentServer == deadServers[0])
        await #expect {
            _ = try await source.claim(
                worker: "w", queues: ["default"], kinds: ["echo"], max: 5, wait: .milliseconds(10), lease: .seconds(30))
        } throws: { error in
            (error as? BatonError)?.code == .unavailable
        }
        // Both servers were tried; the next request starts from where the last one ended.
        #expect(source.currentServer == deadServers[0])
        await #expect(throws: BatonError.self) { try await source.release([LeaseRef(id: .generate(), token: "t")]) }
    }

    @Test func aNodeAnswering503IsFailedOverToo() async throws {
        // Two "nodes" that cannot serve (as a node whose database is out of reach answers).
        let server = try await HTTPKindServer.start()
        defer { Task { await server.stop() } }
        let base = "http://127.0.0.1:\(server.port)"
        let nodes = [URL(string: "\(base)/status/503/a")!, URL(string: "\(base)/status/503/b")!]
        let source = HTTPTaskSource(servers: nodes, logger: testLogger("http"))
        await #expect {
            _ = try await source.claim(worker: "w", queues: ["default"], kinds: [], max: 1, wait: .zero, lease: .seconds(30))
        } throws: { error in
            (error as? BatonError)?.code == .unavailable
        }
        // Both were asked, in order, within the one claim.
        #expect(server.requests.map(\.uri) == ["/status/503/a/v1/workers/claim", "/status/503/b/v1/workers/claim"])
    }

    @Test func acksThatCannotBeSentAreKeptAndRetried() async throws {
        let source = HTTPTaskSource(
            servers: [deadServers[0]], configuration: .init(ackLinger: .milliseconds(1), ackAttempts: 3),
            logger: testLogger("http"))
        let lease = LeaseRef(id: .generate(), token: "t")
        let sender = Task { await source.run() }
        source.ack(.complete(TaskCompletion(lease: lease, result: .null)))
        source.ack(.fail(TaskFailure(lease: lease, message: "x")))
        // Three attempts with backoff (100 ms, 200 ms between them), then given up and logged.
        let started = ContinuousClock.now
        await source.flush()
        let took = ContinuousClock.now - started
        #expect(took >= .milliseconds(140), "gave up after \(took)")
        #expect(took < .seconds(3))
        #expect(source.pendingAcks == 0)
        source.stop()
        await sender.value
    }

    @Test func errorBodiesBecomeBatonErrors() throws {
        let body = try BatonJSON.encoder().encode(ErrorBody(code: "stale_lease", message: "not yours"))
        let error = HTTPTaskSource.error(status: .conflict, data: body)
        #expect(error.code == .staleLease)
        #expect(error.message == "not yours")
        let bare = HTTPTaskSource.error(status: .serviceUnavailable, data: Data("oops".utf8))
        #expect(bare.code == .unavailable)
        #expect(HTTPTaskSource.join(URL(string: "http://h:1/base/")!, "/v1/workers/claim") == "http://h:1/base/v1/workers/claim")
    }

    @Test func runtimeBacksOffWhileTheNodeIsUnreachableAndStillStopsPromptly() async throws {
        let registry = HandlerRegistry()
        BuiltinKinds.register(into: registry, fileRoot: nil)
        let runtime = WorkerRuntime(
            source: HTTPTaskSource(servers: [deadServers[0]], logger: testLogger("http")), registry: registry,
            configuration: workerConfig(), logger: testLogger("http"))
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(services: [runtime], logger: testLogger("http")))
        let started = ContinuousClock.now
        let running = Task { try await group.run() }
        // Backoff is 100 ms doubling, each delay jittered down to half: the 4th claim cannot come
        // sooner than 50 + 100 + 200 ms after the 1st. A busy loop would make it in microseconds.
        // (No upper bound on the time: a loaded machine only makes it later.)
        while runtime.stats.claimRequests < 4 && ContinuousClock.now - started < .seconds(30) {
            try await Task.sleep(for: .milliseconds(5))
        }
        let elapsed = ContinuousClock.now - started
        #expect(runtime.stats.claimRequests >= 4, "\(runtime.stats.claimRequests) claims in \(elapsed)")
        #expect(elapsed >= .milliseconds(350), "4 claims in \(elapsed): no backoff between them")
        let stopping = ContinuousClock.now
        await group.triggerGracefulShutdown()
        try await running.value
        #expect(ContinuousClock.now - stopping < .seconds(3), "stops without waiting out a backoff or the long-poll")
    }
}
