import BatonCore
import BatonServer
import BatonTesting
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

@Suite("Workflow routes")
struct WorkflowRouteTests {
    /// A chain through REST: created with names and states, parents' results read back by the
    /// dependent, the wait answers the finished workflow.
    @Test func chainRunsInOrderAndPassesResults() async throws {
        try await withTestApp { client, node in
            let response = try await client.send(
                .post, "/v1/workflows",
                json:
                    #"{"name":"etl","chain":[{"kind":"extract","args":{"n":1}},{"kind":"load","args":[0],"pass":"prepend"},{"kind":"report","name":"last"}]}"#
            )
            #expect(response.status == .created)
            let workflow = try response.decode(WorkflowRecord.self)
            #expect(response.headers[.location] == "/v1/workflows/\(workflow.id)")
            #expect(workflow.name == "etl" && workflow.state == .running)
            #expect(workflow.nodes.map(\.name) == ["0", "1", "last"])
            #expect(workflow.nodes.map(\.state) == [.ready, .waiting, .waiting])

            let first = try #require(try await node.store.claim().first)
            #expect(first.task.workflowID == workflow.id && first.task.node == "0")
            _ = try await node.store.complete(first, result: RawJSON(trusted: #"{"rows":3}"#))
            let second = try #require(try await node.store.claim().first)
            #expect(second.task.node == "1" && second.task.parentCount == 1 && second.task.pass == .prepend)
            let parents = try await client.send(.get, "/v1/tasks/\(second.task.id)/parents")
            #expect(parents.status == .ok)
            let page = try parents.decode(ParentPage.self)
            #expect(page.parents.map(\.name) == ["0"] && page.parents.first?.result?.text == #"{"rows":3}"#)
            // A cursor past the end, however large, is an empty page; one that is not digits is a 400.
            for cursor in ["1", "17211925598037036717979"] {
                let past = try await client.send(.get, "/v1/tasks/\(second.task.id)/parents?cursor=\(cursor)")
                #expect(past.status == .ok && (try? past.decode(ParentPage.self).parents.isEmpty) == true, "\(cursor)")
            }
            let bad = try await client.send(.get, "/v1/tasks/\(second.task.id)/parents?cursor=-1")
            #expect(bad.status == .badRequest)
            _ = try await node.store.complete(second, result: RawJSON(trusted: "2"))
            let third = try #require(try await node.store.claim().first)
            _ = try await node.store.complete(third)
            let waited = try await client.send(.get, "/v1/workflows/\(workflow.id)/wait?timeout=5")
            let done = try waited.decode(WorkflowRecord.self)
            #expect(done.state == .succeeded && done.nodes.allSatisfy { $0.state == .succeeded })
            #expect(done.nodes.map { $0.result?.text } == [#"{"rows":3}"#, "2", nil], "a null result reads as none")
        }
    }

    /// Each refused workflow gets a 400 naming the problem, and nothing of it is stored.
    @Test func invalidWorkflowsAreRefusedAndNothingIsStored() async throws {
        try await withTestApp { client, node in
            let held = try await client.submit(NewTask(kind: "k", uniqueKey: "held"))
            let missing = TaskID.generate()
            let cases: [(String, String)] = [
                (#"{"nodes":[{"name":"a","kind":"k","after":["b"]},{"name":"b","kind":"k","after":["a"]}]}"#, "cycle"),
                (#"{"nodes":[{"name":"a","kind":"k","after":["a"]}]}"#, "cannot depend on itself"),
                (#"{"nodes":[{"name":"a","kind":"k","after":["nope"]}]}"#, "nope"),
                (#"{"nodes":[{"name":"a","kind":"k"},{"name":"a","kind":"k"}]}"#, "duplicate"),
                (#"{"nodes":[{"name":"a","kind":"k","after":[{"id":"\#(missing)"}]}]}"#, "parent task \(missing) does not exist"),
                (#"{"chain":[{"kind":"k"},{"kind":"k","unique_key":"held"}]}"#, "unique key 'held' is held by task \(held.id)"),
                (#"{"chain":[]}"#, "must not be empty"),
                (#"{"chain":[{"kind":"k","prioirty":3}]}"#, "prioirty"),
                (#"{"group":[{"kind":"k"}],"chain":[{"kind":"k"}]}"#, "exactly one"),
                (#"{"chord":{"header":[{"kind":"k"}]}}"#, "header and body"),
            ]
            for (body, expected) in cases {
                let response = try await client.send(.post, "/v1/workflows", json: body)
                #expect(response.status == .badRequest, "\(body)")
                let error = try response.errorBody()
                #expect(error.code == "invalid_argument")
                #expect(error.message.contains(expected), "\(body): \(error.message)")
            }
            #expect(try await node.store.all().map(\.id) == [held.id], "nothing of a refused workflow is stored")
        }
    }

    /// `Idempotency-Key` answers the workflow it first stored, and refuses another request.
    @Test func idempotencyKeyAnswersTheFirstWorkflow() async throws {
        try await withTestApp { client, node in
            var headers = jsonHeaders
            headers[HTTPField.Name("Idempotency-Key")!] = "wf-1"
            let body = #"{"group":[{"kind":"a"},{"kind":"b"}]}"#
            let first = try await client.send(.post, "/v1/workflows", json: body, headers: headers)
            #expect(first.status == .created)
            let again = try await client.send(.post, "/v1/workflows", json: body, headers: headers)
            #expect(again.status == .ok)
            #expect(try again.decode(WorkflowRecord.self).id == (try first.decode(WorkflowRecord.self).id))
            #expect(try await node.store.all().count == 2)
            let other = try await client.send(.post, "/v1/workflows", json: #"{"group":[{"kind":"c"}]}"#, headers: headers)
            #expect(other.status.code >= 400 && other.status.code < 500)
            #expect(try await node.store.all().count == 2)
        }
    }

    /// JSON-RPC has the same operations: submit, get, wait, cancel, and a task's parents.
    @Test func jsonRPCMethods() async throws {
        try await withTestApp { client, node in
            func call(_ method: String, _ params: String) async throws -> JSONValue {
                let response = try await client.send(
                    .post, "/rpc", json: #"{"jsonrpc":"2.0","id":1,"method":"\#(method)","params":\#(params)}"#)
                guard case .object(let answer) = try response.decode(JSONValue.self) else { throw BatonError(.internal, "no object") }
                if let error = answer["error"] { throw BatonError(.internal, "\(error)") }
                return answer["result"] ?? .null
            }
            let submitted = try await call("workflow.submit", #"{"chord":{"header":[{"kind":"a"},{"kind":"b"}],"body":{"kind":"c"}}}"#)
            guard case .object(let workflow) = submitted, case .string(let id)? = workflow["id"] else {
                Issue.record("no workflow id in \(submitted)")
                return
            }
            let got = try await call("workflow.get", #"{"id":"\#(id)"}"#)
            guard case .object(let record) = got, case .array(let nodes)? = record["nodes"] else {
                Issue.record("no nodes in \(got)")
                return
            }
            #expect(nodes.count == 3)
            let body = try #require(try await node.store.all().first { $0.node == "body" })
            let parents = try await call("task.parents", #"{"id":"\#(body.id)"}"#)
            guard case .object(let page) = parents, case .array(let items)? = page["parents"] else {
                Issue.record("no parents in \(parents)")
                return
            }
            #expect(items.count == 2)
            let cancelled = try await call("workflow.cancel", #"{"id":"\#(id)"}"#)
            guard case .object(let after) = cancelled else { return }
            #expect(after["state"] == .string("cancelled"))
            let waited = try await call("workflow.wait", #"{"id":"\#(id)","timeout":1}"#)
            guard case .object(let final) = waited else { return }
            #expect(final["state"] == .string("cancelled"))
            let unknown = try await client.send(.get, "/v1/workflows/\(TaskID.generate())")
            #expect(unknown.status == .notFound)
        }
    }
}
