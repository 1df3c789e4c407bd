import BatonCore
import BatonNode
import BatonSQLite
import BatonServer
import BatonTesting
import Foundation
import HummingbirdTesting
import Testing

/// Workers announce themselves over REST and JSON-RPC; the node lists them.
@Suite("Worker registration")
struct WorkerRegistrationTests {
    static let announcement = """
        {"worker": "w-7", "queues": ["default", "mail"], "concurrency": 8, "running": 3, "version": "py/1",
         "kinds": [{"name": "email.send", "retry": {"policy": "fixed", "backoff": 90}}, {"name": "echo"}]}
        """

    @Test func announceThenListOverRESTAndRPC() async throws {
        try await withTestApp { client, node in
            let registered = try await client.send(.post, "/v1/workers", json: Self.announcement)
            #expect(registered.status == .ok, "\(registered.text)")
            let info = try registered.decode(WorkerInfo.self)
            #expect(info.worker == "w-7" && info.transport == "http" && info.running == 3 && info.concurrency == 8)
            #expect(node.node.workers.kindRetry == ["email.send": .fixed(.seconds(90))])

            let listed = try await client.send(.get, "/v1/workers").decode(WorkerList.self)
            #expect(listed.workers.map(\.worker) == ["w-7"])
            #expect(listed.workers[0].kinds.map(\.name) == ["email.send", "echo"])
            #expect(listed.workers[0].queues == ["default", "mail"])

            let rpc = try await client.send(
                .post, "/rpc",
                json:
                    #"{"jsonrpc": "2.0", "id": 1, "method": "worker.register", "params": {"worker": "w-8", "queues": ["default"], "kinds": [], "concurrency": 1, "running": 0}}"#
            )
            #expect(rpc.text.contains(#""worker":"w-8""#), "\(rpc.text)")
            let list = try await client.send(.post, "/rpc", json: #"{"jsonrpc": "2.0", "id": 2, "method": "worker.list"}"#)
            #expect(list.text.contains(#""w-7""#) && list.text.contains(#""w-8""#), "\(list.text)")
        }
    }

    /// A claim counts as contact; a bad announcement is refused with a 400 naming the field.
    @Test func claimsTouchAndBadAnnouncementsAreRefused() async throws {
        try await withTestApp { client, node in
            _ = try await client.send(.post, "/v1/workers", json: Self.announcement)
            let first = try #require(node.node.workers.list().first).lastSeen
            try await Task.sleep(for: .milliseconds(20))
            _ = try await client.claim(1, worker: "w-7")
            #expect(try #require(node.node.workers.list().first).lastSeen > first)

            for (body, field) in [
                (#"{"worker": "", "queues": ["default"], "kinds": [], "concurrency": 1, "running": 0}"#, "worker"),
                (#"{"worker": "x", "queues": [], "kinds": [], "concurrency": 1, "running": 0}"#, "queues"),
                (#"{"worker": "x", "queues": ["default"], "kinds": [], "concurrency": 0, "running": 0}"#, "concurrency"),
                (
                    #"{"worker": "x", "queues": ["default"], "kinds": [{"name": "a", "retry": {"policy": "sometimes"}}], "concurrency": 1, "running": 0}"#,
                    "policy"
                ),
            ] {
                let response = try await client.send(.post, "/v1/workers", json: body)
                #expect(response.status == .badRequest, "\(body)")
                #expect(response.text.contains(field), "\(response.text)")
            }
            #expect(node.node.workers.list().map(\.worker) == ["w-7"])

            // A kind named twice counts as first named.
            let twice = try await client.send(
                .post, "/v1/workers",
                json:
                    #"{"worker": "x", "queues": ["default"], "kinds": [{"name": "a", "retry": {"policy": "none"}}, {"name": "a"}], "concurrency": 1, "running": 0}"#
            )
            #expect(twice.status == .ok)
            #expect(node.node.workers.list().first { $0.worker == "x" }?.kinds == [KindAnnouncement(name: "a", retry: RetryPolicy.none)])
            #expect(node.node.workers.kindRetry["a"] == RetryPolicy.none)
        }
    }
}
