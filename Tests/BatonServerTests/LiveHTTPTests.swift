import AsyncHTTPClient
import BatonCore
import BatonServer
import BatonTesting
import Foundation
import Hummingbird
import HummingbirdTesting
import Synchronization
import Testing

/// Over real HTTP (`.live`): the claim coalescer under 20 concurrent long-polling workers.
@Suite("Live HTTP")
struct LiveHTTPTests {
    @Test func routesWorkOverRealHTTP() async throws {
        try await withTestApp(.live) { client, _ in
            let task = try await client.submit(echoTask(7))
            let got = try await client.send(.get, "/v1/tasks/\(task.id)")
            #expect(try got.decode(TaskRecord.self).id == task.id)
            let unknown = try await client.send(.get, "/v1/nope")
            #expect(unknown.status == .notFound)
            #expect(try unknown.errorBody().code == "not_found")
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func concurrentClaimersAreCoalesced() async throws {
        let total = 2000
        let claimers = 20
        try await withTestApp(.live) { client, node in
            let port = try #require(client.port)
            let base = "http://127.0.0.1:\(port)"
            // Its own pool: the shared client's 8 connections per host would queue 20 long-polls.
            var httpConfig = HTTPClient.Configuration()
            httpConfig.connectionPool = .init(idleTimeout: .seconds(30), concurrentHTTP1ConnectionsPerHostSoftLimit: 64)
            let http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: httpConfig)
            defer { _ = http.shutdown() }
            let tally = Tally()
            let claimsBefore = node.store.stats.claimStatements

            try await withThrowingTaskGroup(of: Void.self) { group in
                for w in 0..<claimers {
                    group.addTask {
                        while tally.acked.load(ordering: .relaxed) < total {
                            let body = ClaimBody(worker: "w\(w)", queues: ["default"], max: 10, waitMS: 2000)
                            let claim: ClaimResponse = try await post(http, "\(base)/v1/workers/claim", body)
                            if claim.tasks.isEmpty { continue }
                            tally.ids.withLock { $0.append(contentsOf: claim.tasks.map(\.task.id)) }
                            let acks = AckBody(
                                acks: claim.tasks.map { AckItem(.complete(TaskCompletion(lease: $0.lease, result: $0.task.args))) })
                            let response: AckResponse = try await post(http, "\(base)/v1/workers/ack", acks)
                            let applied = response.results.filter { $0.status == "applied" }.count
                            tally.acked.add(applied, ordering: .relaxed)
                        }
                    }
                }
                group.addTask {
                    for batch in 0..<(total / 100) {
                        let tasks = (0..<100).map { echoTask(batch * 100 + $0) }
                        let _: TaskListBody = try await post(http, "\(base)/v1/tasks", tasks, expect: 201)
                    }
                }
                try await group.waitForAll()
            }

            let ids = tally.ids.withLock { $0 }
            let claimStatements = node.store.stats.claimStatements - claimsBefore
            print("coalescing: \(ids.count) tasks claimed by \(claimers) workers in \(claimStatements) claim statements")
            #expect(ids.count == total)
            #expect(Set(ids).count == total)
            #expect(tally.acked.load(ordering: .relaxed) == total)
            #expect(claimStatements <= 200, "claim statements: \(claimStatements)")
            let done = try await node.store.queueCounts().first { $0.name == "default" }
            #expect(done?.count(.succeeded) == total)
        }
    }
}

final class Tally: Sendable {
    let ids = Mutex([TaskID]())
    let acked = Atomic<Int>(0)
}

/// POSTs `body` as JSON and decodes the answer, requiring status `expect`.
func post<Body: Encodable, Answer: Decodable>(
    _ http: HTTPClient, _ url: String, _ body: Body, expect: UInt = 200
) async throws -> Answer {
    var request = HTTPClientRequest(url: url)
    request.method = .POST
    request.headers.add(name: "Content-Type", value: "application/json")
    request.body = .bytes(ByteBuffer(bytes: try BatonJSON.encoder().encode(body)))
    let response = try await http.execute(request, timeout: .seconds(30))
    let bytes = try await response.body.collect(upTo: 64 << 20)
    try #require(response.status.code == expect, "\(url): \(response.status.code) \(String(buffer: bytes))")
    return try BatonJSON.decoder().decode(Answer.self, from: Data(bytes.readableBytesView))
}
