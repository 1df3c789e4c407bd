import BatonCore
import BatonServer
import BatonTesting
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

/// Kinds marked `sqs.stringKinds` (freundallein/sqs-scheduler's types, docs/brokers.md): a
/// submission whose arguments are not a flat JSON object of strings is refused on every
/// interface, with the reason, and nothing is stored.
@Suite struct StringKindsTests {
    static func withNode(_ body: @Sendable (any TestClientProtocol, TestNode) async throws -> Void) async throws {
        let node = try await TestNode.make(stringArgKinds: ["export"])
        defer { node.dispose() }
        try await node.app().test(.router) { client in try await body(client, node) }
    }

    @Test func restRefusesANumberArgumentAndStoresNothing() async throws {
        try await Self.withNode { client, node in
            let one = try await client.send(.post, "/v1/tasks", json: #"{"kind":"export","args":{"objectID":7}}"#)
            #expect(one.status == .badRequest)
            let error = try one.errorBody()
            #expect(error.code == "invalid_argument")
            #expect(error.message.contains("kind export takes a flat JSON object of strings"), "\(error.message)")
            #expect(error.message.contains(#""objectID" is a number"#), "\(error.message)")

            let batch = try await client.send(
                .post, "/v1/tasks",
                json: #"[{"kind":"export","args":{"objectID":"1"}},{"kind":"export","args":{"objectID":"2","attempt":"1"}}]"#)
            #expect(batch.status == .badRequest)
            let batchError = try batch.errorBody().message
            #expect(batchError.contains("task [1]") && batchError.contains(#""attempt" is Baton's"#), "\(batchError)")
            let nested = try await client.send(.post, "/v1/tasks", json: #"{"kind":"export","args":{"o":{"id":"1"}}}"#)
            #expect(try nested.errorBody().message.contains(#""o" is an object"#))
            let array = try await client.send(.post, "/v1/tasks", json: #"{"kind":"export","args":["1"]}"#)
            #expect(try array.errorBody().message.contains("got an array"))
            #expect(try await node.store.taskList(TaskListParams()).tasks.isEmpty, "nothing stored")

            // Strings pass; other kinds keep any arguments.
            _ = try await client.submit(NewTask(kind: "export", args: RawJSON(trusted: #"{"objectID":"7"}"#)))
            _ = try await client.submit(NewTask(kind: "echo", args: RawJSON(trusted: #"{"n":7}"#)))
            #expect(try await node.store.taskList(TaskListParams()).tasks.count == 2)
        }
    }

    @Test func jsonRPCAndWorkflowsRefuseToo() async throws {
        try await Self.withNode { client, node in
            let call = try await client.send(
                .post, "/rpc", json: #"{"jsonrpc":"2.0","method":"submit:export","params":{"objectID":7},"id":"1"}"#)
            let value = try JSONDecoder().decode(JSONValue.self, from: Data(call.body.readableBytesView))
            #expect(value["error"]?["data"]?["code"] == .string("invalid_argument"), "\(value)")
            #expect(
                value["error"]?["code"] == .int(-32602)
                    && value["error"]?["message"]?.stringValue?.contains(#""objectID" is a number"#) == true, "\(value)")

            let flow = try await client.send(
                .post, "/v1/workflows",
                json: #"{"chain":[{"kind":"echo","args":{}},{"kind":"export","args":{"objectID":true},"name":"out"}]}"#)
            #expect(flow.status == .badRequest)
            #expect(try flow.errorBody().message.contains(#"node 'out': kind export"#))
            #expect(try await node.store.taskList(TaskListParams()).tasks.isEmpty, "nothing stored")
        }
    }

    /// A schedule whose ticks would submit such a task is refused when it is declared, not
    /// at each tick's dispatch: its task template, or a node of the workflow it starts.
    @Test func schedulesAreCheckedWhenDeclared() async throws {
        try await Self.withNode { client, node in
            let template = try await client.send(
                .post, "/v1/schedules", json: #"{"name":"nightly","every":"1h","task":{"kind":"export","args":{"objectID":7}}}"#)
            #expect(template.status == .badRequest)
            #expect(try template.errorBody().message.contains(#"task: kind export takes a flat JSON object of strings"#))
            let put = try await client.send(
                .put, "/v1/schedules/nightly",
                json: #"""
                    {"every":"1h","task":{"kind":"baton.workflow",
                     "args":{"chain":[{"kind":"echo","args":{}},{"kind":"export","args":{"objectID":[1]},"name":"out"}]}}}
                    """#)
            #expect(put.status == .badRequest)
            let putError = try put.errorBody().message
            #expect(putError.contains(#"workflow node out: kind export"#), "\(putError)")
            #expect(try await node.store.scheduleList().isEmpty, "nothing stored")

            let good = try await client.send(
                .post, "/v1/schedules", json: #"{"name":"nightly","every":"1h","task":{"kind":"export","args":{"objectID":"7"}}}"#)
            #expect(good.status == .created, "\(good.text)")
        }
    }
}
