import BatonCore
import BatonNode
import BatonServer
import BatonTesting
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Testing

@Suite("Health, queues and errors")
struct SystemRouteTests {
    @Test func healthAndReady() async throws {
        try await withTestApp { client, _ in
            let health = try await client.send(.get, "/health")
            #expect(health.status == .ok)
            #expect(health.text == #"{"status":"ok"}"#)
            let ready = try await client.send(.get, "/ready")
            #expect(ready.status == .ok)
        }
    }

    @Test func storeOutageIs503() async throws {
        let t = try await TestNode.make()
        defer { t.dispose() }
        let store = OutageStore(t.store)
        let node = NodeServices(store: store)
        var logger = Logger(label: "baton.test")
        logger.logLevel = .critical
        let app = makeApplication(node: node, logger: logger, services: [node.completer, node.dispatcher])
        try await app.test(.router) { client in
            store.setDown(true)
            let ready = try await client.send(.get, "/ready")
            #expect(ready.status == .serviceUnavailable)
            #expect(try ready.errorBody().code == "unavailable")
            let submit = try await client.send(.post, "/v1/tasks", json: #"{"kind":"a"}"#)
            #expect(submit.status == .serviceUnavailable)
            #expect(try submit.errorBody().code == "unavailable")
            #expect(try await client.send(.get, "/health").status == .ok)

            store.setDown(false)
            #expect(try await client.send(.get, "/ready").status == .ok)
            #expect(try await t.store.taskList(TaskListParams()).tasks.isEmpty)
        }
    }

    @Test func queueCounts() async throws {
        try await withTestApp { client, _ in
            _ = try await client.submit((0..<3).map { echoTask($0, queue: "mail") } + [echoTask(9, queue: "img")])
            _ = try await client.claim(1, queue: "mail")
            let response = try await client.send(.get, "/v1/queues")
            #expect(response.status == .ok)
            let queues = try response.decode(QueuesResponse.self).queues
            let mail = try #require(queues.first { $0.name == "mail" })
            #expect(mail.count(.ready) == 2)
            #expect(mail.count(.running) == 1)
            #expect(mail.counts.keys.sorted() == TaskState.allCases.map(\.rawValue).sorted())
            #expect(queues.first { $0.name == "img" }?.count(.ready) == 1)
        }
    }

    @Test func unknownRouteIsJSON404() async throws {
        try await withTestApp { client, _ in
            let response = try await client.send(.get, "/v1/nothing")
            #expect(response.status == .notFound)
            let error = try response.errorBody()
            #expect(error.code == "not_found")
            #expect(error.message.contains("/v1/nothing"))
        }
    }

    @Test func wrongMethodIs405() async throws {
        try await withTestApp { client, _ in
            let response = try await client.send(.put, "/v1/tasks")
            #expect(response.status == .methodNotAllowed)
            #expect(try response.errorBody().code == "method_not_allowed")
            #expect(response.headers[.allow]?.contains("POST") == true)
            let cancel = try await client.send(.get, "/v1/tasks/\(TaskID.generate())/cancel")
            #expect(cancel.status == .methodNotAllowed)
        }
    }

    @Test func emptyBodyIs400() async throws {
        try await withTestApp { client, _ in
            let response = try await client.send(.post, "/v1/workers/claim", json: nil)
            #expect(response.status == .badRequest)
            #expect(try response.errorBody().code == "invalid_argument")
        }
    }
}
