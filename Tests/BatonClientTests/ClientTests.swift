import AsyncHTTPClient
import BatonClient
import BatonCore
import BatonNode
import BatonServer
import BatonTesting
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

@Suite("BatonClient against a live server")
struct ClientTests {
    func withClient(_ body: @Sendable (BatonClient, TestNode) async throws -> Void) async throws {
        try await withTestApp(.live) { testClient, node in
            let port = try #require(testClient.port)
            let client = BatonClient(servers: [URL(string: "http://127.0.0.1:\(port)")!])
            try await body(client, node)
        }
    }

    @Test func submitGetListWait() async throws {
        try await withClient { client, node in
            #expect(try await client.health() == "ok")
            let one = try await client.submit(echoTask(1))
            #expect(one.state == .ready)
            let many = try await client.submit((2..<5).map { echoTask($0, queue: "other") })
            #expect(many.count == 3)
            #expect(try await client.get(one.id) == one)

            let page = try await client.list(TaskListParams(queue: "other", limit: 2))
            #expect(page.tasks.count == 2)
            let next = try await client.list(TaskListParams(queue: "other", limit: 2, cursor: page.nextCursor))
            #expect(next.tasks.count == 1)

            // wait: times out with the current task, then returns once it is done.
            let pending = try await client.wait(one.id, timeout: .milliseconds(200))
            #expect(pending.state == .ready)
            async let waited = client.wait(one.id, timeout: .seconds(10))
            try await Task.sleep(for: .milliseconds(100))
            let claimed = try await node.node.dispatcher.claim(ClaimRequest(worker: "w", queues: ["default"], max: 1, wait: .zero))
            let lease = try #require(claimed.first?.lease)
            _ = try await node.node.completer.ack(.complete(TaskCompletion(lease: lease, result: RawJSON(.string("done")))))
            let done = try await waited
            #expect(done.state == .succeeded)
            #expect(done.result == RawJSON(.string("done")))

            let queues = try await client.queues()
            #expect(queues.first { $0.name == "other" }?.count(.ready) == 3)
        }
    }

    @Test func cancelRetryDelete() async throws {
        try await withClient { client, node in
            let task = try await client.submit(echoTask(1))
            await #expect(throws: BatonError.self) { try await client.retry(task.id) }
            #expect(try await client.cancel(task.id).state == .cancelled)
            do {
                _ = try await client.cancel(task.id)
                Issue.record("cancel of a cancelled task succeeded")
            } catch let error as BatonError {
                #expect(error.code == .conflict)
            }
            #expect(try await client.retry(task.id).state == .ready)
            _ = try await client.cancel(task.id)
            try await client.delete(task.id)
            #expect(try await node.store.taskGet(task.id) == nil)
        }
    }

    @Test func typedErrors() async throws {
        try await withClient { client, _ in
            do {
                _ = try await client.get(TaskID.generate())
                Issue.record("get of an unknown id succeeded")
            } catch let error as BatonError {
                #expect(error.code == .notFound)
            }
            do {
                _ = try await client.submit(NewTask(kind: "bad kind!"))
                Issue.record("invalid task accepted")
            } catch let error as BatonError {
                #expect(error.code == .invalidArgument)
                #expect(error.message.contains("kind"))
            }
        }
    }

    @Test func unreachableServerIsUnavailable() async throws {
        let port = try unusedLocalPort()
        let client = BatonClient(servers: [URL(string: "http://127.0.0.1:\(port)")!], requestTimeout: .seconds(3))
        let start = ContinuousClock.now
        do {
            _ = try await client.get(TaskID.generate())
            Issue.record("request to a closed port succeeded")
        } catch let error as BatonError {
            #expect(error.code == .unavailable, "\(error)")
        }
        #expect(ContinuousClock.now - start < .seconds(10))
    }

    @Test func failsOverToTheNextServer() async throws {
        let dead = try unusedLocalPort()
        try await withTestApp(.live) { testClient, _ in
            let port = try #require(testClient.port)
            let client = BatonClient(
                servers: [URL(string: "http://127.0.0.1:\(dead)")!, URL(string: "http://127.0.0.1:\(port)")!], requestTimeout: .seconds(3))
            let task = try await client.submit(echoTask(1))
            #expect(try await client.get(task.id).id == task.id)
        }
    }
}
