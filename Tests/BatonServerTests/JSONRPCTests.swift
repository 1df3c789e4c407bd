import BatonCore
import BatonServer
import BatonTesting
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

/// `POST /rpc`: the JSON-RPC 2.0 specification's section 7 examples that apply, and every method.
@Suite("JSON-RPC")
struct JSONRPCTests {
    // MARK: Specification examples (section 7)

    @Test func namedParamsCallAnswersResultWithID() async throws {
        try await withTestApp { client, _ in
            let task = try await client.submit(echoTask(1))
            let response = try await client.rpc(#"{"jsonrpc": "2.0", "method": "task.get", "params": {"id": "\#(task.id)"}, "id": 3}"#)
            #expect(response.status == .ok)
            let value = try response.json()
            #expect(value["jsonrpc"] == .string("2.0"))
            #expect(value["id"] == .int(3))
            #expect(value["result"]?["id"] == .string(task.id.description))
            #expect(value["error"] == nil)
        }
    }

    @Test func positionalParamsAreInvalidParams() async throws {
        try await withTestApp { client, _ in
            let response = try await client.rpc(#"{"jsonrpc": "2.0", "method": "task.get", "params": [42, 23], "id": 1}"#)
            let value = try response.json()
            #expect(value["error"]?["code"] == .int(-32602))
            #expect(value["error"]?["data"]?["code"] == .string("invalid_argument"), "as documented: data.code")
            #expect(value["error"]?["data"]?["message"] == .string("params must be an object (named params)"))
            #expect(value["id"] == .int(1))
        }
    }

    @Test func notificationGetsNoContent() async throws {
        try await withTestApp { client, node in
            let response = try await client.rpc(#"{"jsonrpc": "2.0", "method": "submit:export", "params": {"table": "users"}}"#)
            #expect(response.status == .noContent)
            #expect(response.body.readableBytes == 0)
            // The notification ran: seed 000's form submitted an `export` task with the params as args.
            let page = try await node.store.taskList(TaskListParams(kind: "export"))
            #expect(page.tasks.count == 1)
            #expect(try page.tasks.first?.args.parsed() == .object(["table": .string("users")]))
        }
    }

    @Test func nonExistentMethod() async throws {
        try await withTestApp { client, _ in
            let response = try await client.rpc(#"{"jsonrpc": "2.0", "method": "foobar", "id": "1"}"#)
            #expect(
                try response.json()
                    == .object([
                        "jsonrpc": "2.0", "error": .object(["code": .int(-32601), "message": "Method not found"]), "id": "1",
                    ]))
        }
    }

    @Test func invalidJSONIsParseError() async throws {
        try await withTestApp { client, _ in
            let response = try await client.rpc(#"{"jsonrpc": "2.0", "method": "foobar, "params": "bar", "baz]"#)
            #expect(response.status == .badRequest)
            #expect(try response.json() == Self.error(-32700, "Parse error"))
        }
    }

    @Test func invalidRequestObject() async throws {
        try await withTestApp { client, _ in
            let response = try await client.rpc(#"{"jsonrpc": "2.0", "method": 1, "params": "bar"}"#)
            #expect(response.status == .badRequest)
            #expect(try response.json() == Self.error(-32600, "Invalid Request"))
        }
    }

    @Test func batchWithInvalidJSONIsOneParseError() async throws {
        try await withTestApp { client, _ in
            let response = try await client.rpc(
                #"[{"jsonrpc": "2.0", "method": "sum", "params": [1,2,4], "id": "1"},{"jsonrpc": "2.0", "method""#)
            #expect(try response.json() == Self.error(-32700, "Parse error"))
        }
    }

    @Test func emptyBatchIsOneInvalidRequest() async throws {
        try await withTestApp { client, _ in
            let response = try await client.rpc("[]")
            #expect(response.status == .badRequest)
            #expect(try response.json() == Self.error(-32600, "Invalid Request"))
        }
    }

    @Test func invalidBatchesAnswerEachItem() async throws {
        try await withTestApp { client, _ in
            // A batch is answered item by item, with 200.
            let response = try await client.rpc("[1]")
            #expect(response.status == .ok)
            #expect(try response.json() == .array([Self.error(-32600, "Invalid Request")]))
            let three = try await client.rpcJSON("[1,2,3]")
            #expect(three == .array(Array(repeating: Self.error(-32600, "Invalid Request"), count: 3)))
        }
    }

    @Test func mixedBatch() async throws {
        try await withTestApp { client, node in
            let task = try await client.submit(echoTask(1))
            let response = try await client.rpc(
                """
                [
                    {"jsonrpc": "2.0", "method": "task.get", "params": {"id": "\(task.id)"}, "id": "1"},
                    {"jsonrpc": "2.0", "method": "submit:notify", "params": {"n": 7}},
                    {"jsonrpc": "2.0", "method": "task.get", "params": {"id": "0190a000-0000-7000-8000-000000000000"}, "id": "2"},
                    {"foo": "boo"},
                    {"jsonrpc": "2.0", "method": "foo.get", "params": {"name": "myself"}, "id": "5"},
                    {"jsonrpc": "2.0", "method": "queue.list", "id": "9"}
                ]
                """)
            #expect(response.status == .ok)
            guard case .array(let answers) = try response.json() else {
                Issue.record("not an array: \(response.text)")
                return
            }
            #expect(answers.count == 5)
            #expect(answers[0]["id"] == "1")
            #expect(answers[0]["result"]?["id"] == .string(task.id.description))
            #expect(answers[1]["id"] == "2")
            #expect(answers[1]["error"]?["code"] == .int(-32001))
            #expect(answers[1]["error"]?["data"]?["code"] == "not_found")
            #expect(answers[2] == Self.error(-32600, "Invalid Request"))
            #expect(
                answers[3]
                    == .object(["jsonrpc": "2.0", "error": .object(["code": .int(-32601), "message": "Method not found"]), "id": "5"]))
            #expect(answers[4]["id"] == "9")
            #expect(answers[4]["result"]?["queues"] != nil)
            // The notification in the batch ran.
            #expect(try await node.store.taskList(TaskListParams(kind: "notify")).tasks.count == 1)
        }
    }

    @Test func batchOfNotificationsGetsNoContent() async throws {
        try await withTestApp { client, node in
            let response = try await client.rpc(
                #"[{"jsonrpc": "2.0", "method": "submit:a", "params": {"x": 1}},{"jsonrpc": "2.0", "method": "submit:b", "params": {}}]"#)
            #expect(response.status == .noContent)
            #expect(response.body.readableBytes == 0)
            #expect(try await node.store.taskList(TaskListParams()).tasks.count == 2)
        }
    }

    @Test func idsKeepTheirTypeAndNullIDIsAnswered() async throws {
        try await withTestApp { client, _ in
            let null = try await client.rpcJSON(#"{"jsonrpc":"2.0","method":"queue.list","id":null}"#)
            #expect(null["id"] == .null)
            #expect(null["result"] != nil)
            let string = try await client.rpcJSON(#"{"jsonrpc":"2.0","method":"queue.list","id":"abc"}"#)
            #expect(string["id"] == .string("abc"))
            let number = try await client.rpcJSON(#"{"jsonrpc":"2.0","method":"queue.list","id":-7}"#)
            #expect(number["id"] == .int(-7))
            // Wrong version, object id: invalid requests.
            let version = try await client.rpcJSON(#"{"jsonrpc":"1.0","method":"queue.list","id":1}"#)
            #expect(version == Self.error(-32600, "Invalid Request"))
            let objectID = try await client.rpcJSON(#"{"jsonrpc":"2.0","method":"queue.list","id":{}}"#)
            #expect(objectID == Self.error(-32600, "Invalid Request"))
        }
    }

    // MARK: Methods

    @Test func taskMethods() async throws {
        try await withTestApp { client, node in
            let submitted = try await client.call("task.submit", #"{"kind":"echo","args":{"n":1},"priority":7}"#)
            let id = try #require(submitted["id"]?.stringValue)
            #expect(submitted["priority"] == .int(7))
            #expect(submitted["state"] == "ready")

            let batch = try await client.call("task.submitBatch", #"{"tasks":[{"kind":"a"},{"kind":"b"}]}"#)
            guard case .array(let tasks)? = batch["tasks"] else { throw Failure("no tasks: \(batch)") }
            #expect(tasks.map { $0["kind"] } == ["a", "b"])

            #expect(try await client.call("task.get", #"{"id":"\#(id)"}"#)["id"] == .string(id))
            let list = try await client.call("task.list", #"{"kind":"echo","state":["ready"],"limit":10}"#)
            guard case .array(let listed)? = list["tasks"] else { throw Failure("no tasks: \(list)") }
            #expect(listed.map { $0["id"] } == [.string(id)])
            #expect(list["next_cursor"] == .null)

            let waited = try await client.call("task.wait", #"{"id":"\#(id)","timeout":0.05}"#)
            #expect(waited["state"] == "ready")
            #expect(try await client.call("task.cancel", #"{"id":"\#(id)"}"#)["state"] == "cancelled")
            #expect(try await client.call("task.retry", #"{"id":"\#(id)"}"#)["state"] == "ready")
            #expect(try await client.call("task.cancel", #"{"id":"\#(id)"}"#)["state"] == "cancelled")
            #expect(try await client.call("task.delete", #"{"id":"\#(id)"}"#) == .null)
            #expect(try await node.store.taskGet(TaskID(id)!) == nil)
        }
    }

    @Test func taskMethodErrors() async throws {
        try await withTestApp(configuration: ServerConfiguration(maxBatch: 2)) { client, _ in
            let missing = "0190a000-0000-7000-8000-000000000000"
            #expect(try await client.callError("task.get", #"{"id":"\#(missing)"}"#) == (-32001, "not_found"))
            #expect(try await client.callError("task.get", #"{"id":"nope"}"#) == (-32602, "invalid_argument"))
            #expect(try await client.callError("task.get", "{}") == (-32602, "invalid_argument"))
            #expect(try await client.callError("task.submit", #"{"kind":"x","prioirty":3}"#) == (-32602, "invalid_argument"))
            #expect(try await client.callError("task.submitBatch", #"{"tasks":[]}"#) == (-32602, "invalid_argument"))
            #expect(
                try await client.callError("task.submitBatch", #"{"tasks":[{"kind":"a"},{"kind":"a"},{"kind":"a"}]}"#)
                    == (-32006, "too_large"))
            #expect(try await client.callError("task.list", #"{"state":"bogus"}"#) == (-32602, "invalid_argument"))
            #expect(try await client.callError("task.wait", #"{"id":"\#(missing)","timeout":0}"#) == (-32001, "not_found"))
            let task = try await client.submit(echoTask(1))
            #expect(try await client.callError("task.retry", #"{"id":"\#(task.id)"}"#) == (-32002, "conflict"))
            #expect(try await client.callError("task.delete", #"{"id":"\#(task.id)"}"#) == (-32002, "conflict"))
            _ = try await client.call("task.cancel", #"{"id":"\#(task.id)"}"#)
            #expect(try await client.callError("task.cancel", #"{"id":"\#(task.id)"}"#) == (-32002, "conflict"))
        }
    }

    /// `idempotency_key` has the REST `Idempotency-Key` header's semantics; unique keys answer
    /// the holder with `"duplicate": true`.
    @Test func submitWithIdempotencyAndUniqueKeys() async throws {
        try await withTestApp { client, node in
            let first = try await client.call("task.submit", #"{"kind":"k","args":{"n":1},"idempotency_key":"rpc-1"}"#)
            let again = try await client.call("task.submit", #"{"kind":"k","args":{"n":1},"idempotency_key":"rpc-1"}"#)
            #expect(first["duplicate"] == .bool(false) && again["duplicate"] == .bool(false), "a replay answers the first outcome")
            #expect(again["id"] == first["id"])
            #expect(
                try await client.callError("task.submit", #"{"kind":"k","args":{"n":2},"idempotency_key":"rpc-1"}"#) == (
                    -32008, "idempotency_mismatch"
                ))
            #expect(try await client.callError("task.submit", #"{"kind":"k","idempotency_key":""}"#) == (-32602, "invalid_argument"))
            #expect(try await client.callError("task.submit", #"{"kind":"k","idempotency_key":7}"#) == (-32602, "invalid_argument"))

            let batch = #"{"tasks":[{"kind":"a"},{"kind":"b","unique_key":"u"}],"idempotency_key":"rpc-2"}"#
            let firstBatch = try await client.call("task.submitBatch", batch)
            let replayed = try await client.call("task.submitBatch", batch)
            guard case .array(let tasks)? = firstBatch["tasks"], case .array(let replayedTasks)? = replayed["tasks"] else {
                throw Failure("no tasks: \(firstBatch) \(replayed)")
            }
            #expect(tasks.map { $0["id"] } == replayedTasks.map { $0["id"] })
            let holder = try await client.call("task.submit", #"{"kind":"b","unique_key":"u"}"#)
            #expect(holder["duplicate"] == .bool(true) && holder["id"] == tasks[1]["id"])

            // 20 identical calls at once with a new key: one task.
            let ids = try await withThrowingTaskGroup(of: JSONValue?.self) { group in
                for _ in 0..<20 {
                    group.addTask { try await client.call("task.submit", #"{"kind":"k","args":{"n":3},"idempotency_key":"rpc-3"}"#)["id"] }
                }
                return try await group.reduce(into: Set<String>()) { $0.insert($1?.stringValue ?? "") }
            }
            #expect(ids.count == 1)
            #expect(try await node.store.taskList(TaskListParams(limit: 100)).tasks.count == 4)
        }
    }

    @Test func workerMethods() async throws {
        try await withTestApp { client, _ in
            let tasks = try await client.submit((0..<5).map { echoTask($0) })
            let claim = try await client.call("worker.claim", #"{"worker":"w1","queues":["default"],"max":5,"lease_ms":10000}"#)
            guard case .array(let claimed)? = claim["tasks"] else { throw Failure("no tasks: \(claim)") }
            #expect(claimed.count == 5)
            let leases = claimed.map { ($0["id"]!.stringValue!, $0["lease_token"]!.stringValue!) }
            #expect(Set(leases.map(\.0)) == Set(tasks.map(\.id.description)))

            let beat = try await client.call("worker.heartbeat", #"{"id":"\#(leases[0].0)","lease_token":"\#(leases[0].1)"}"#)
            #expect(beat["cancelled"] == .bool(false))
            let many = try await client.call(
                "worker.heartbeat", #"{"leases":[{"id":"\#(leases[1].0)","lease_token":"\#(leases[1].1)"}]}"#)
            #expect(many["results"]?[0]?["status"] == "extended")

            let done = try await client.call(
                "worker.complete", #"{"id":"\#(leases[0].0)","lease_token":"\#(leases[0].1)","result":{"ok":true}}"#)
            #expect(done["state"] == "succeeded")
            #expect(done["result"] == .object(["ok": .bool(true)]))
            let failed = try await client.call(
                "worker.fail", #"{"id":"\#(leases[1].0)","lease_token":"\#(leases[1].1)","error":"boom","retryable":false}"#)
            #expect(failed["state"] == "failed")
            let acked = try await client.call(
                "worker.ack", #"{"acks":[{"id":"\#(leases[2].0)","lease_token":"\#(leases[2].1)","outcome":"complete","result":1}]}"#)
            #expect(acked["results"]?[0]?["status"] == "applied")
            let released = try await client.call(
                "worker.release",
                #"{"leases":[{"id":"\#(leases[3].0)","lease_token":"\#(leases[3].1)"},{"id":"\#(leases[4].0)","lease_token":"\#(leases[4].1)"}]}"#
            )
            #expect(released["released"] == .int(2))

            // Errors: a stale lease, a bad worker, a bad lease.
            #expect(
                try await client.callError("worker.complete", #"{"id":"\#(leases[0].0)","lease_token":"\#(leases[0].1)"}"#)
                    == (-32003, "stale_lease"))
            #expect(
                try await client.callError("worker.heartbeat", #"{"id":"\#(leases[0].0)","lease_token":"x"}"#) == (-32003, "stale_lease"))
            #expect(try await client.callError("worker.claim", #"{"worker":""}"#) == (-32602, "invalid_argument"))
            #expect(try await client.callError("worker.claim", "{}") == (-32602, "invalid_argument"))
            #expect(
                try await client.callError("worker.fail", #"{"id":"\#(leases[0].0)","lease_token":"x","error":"e","retry_after_ms":-1}"#)
                    == (-32602, "invalid_argument"))
            #expect(
                try await client.callError("worker.ack", #"{"acks":[{"id":"\#(leases[0].0)","lease_token":"x","outcome":"maybe"}]}"#)
                    == (-32602, "invalid_argument"))
            #expect(try await client.callError("worker.release", #"{}"#) == (-32602, "invalid_argument"))
        }
    }

    static func error(_ code: Int64, _ message: String) -> JSONValue {
        .object(["jsonrpc": "2.0", "error": .object(["code": .int(code), "message": .string(message)]), "id": .null])
    }
}

struct Failure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

extension TestClientProtocol {
    func rpc(_ json: String, headers: HTTPFields = jsonHeaders) async throws -> TestResponse {
        try await send(.post, "/rpc", json: json, headers: headers)
    }

    func rpcJSON(_ json: String) async throws -> JSONValue {
        try await rpc(json).json()
    }

    /// Calls `method` and returns its result; fails if the answer is an error.
    func call(_ method: String, _ params: String) async throws -> JSONValue {
        let response = try await rpc(#"{"jsonrpc":"2.0","method":"\#(method)","params":\#(params),"id":1}"#)
        let value = try response.json()
        guard let result = value["result"] else { throw Failure("\(method) failed: \(response.text)") }
        return result
    }

    /// Calls `method` and returns its error's code and `data.code`.
    func callError(_ method: String, _ params: String) async throws -> (code: Int64, data: String?) {
        let response = try await rpc(#"{"jsonrpc":"2.0","method":"\#(method)","params":\#(params),"id":1}"#)
        let value = try response.json()
        guard case .int(let code)? = value["error"]?["code"] else { throw Failure("\(method) did not fail: \(response.text)") }
        #expect(value["id"] == .int(1))
        return (code, value["error"]?["data"]?["code"]?.stringValue)
    }
}

extension TestResponse {
    func json() throws -> JSONValue {
        try JSONDecoder().decode(JSONValue.self, from: Data(body.readableBytesView))
    }
}

extension JSONValue {
    subscript(index: Int) -> JSONValue? {
        if case .array(let items) = self, items.indices.contains(index) { return items[index] }
        return nil
    }
}
