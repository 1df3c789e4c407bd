import BatonCore
import BatonNode
import BatonServer
import BatonTesting
import BatonWorker
import Foundation
import HTTPTypes
import HummingbirdTesting
import Logging
import ServiceLifecycle
import Testing

/// Machinery's (seed 003's) chain of `add` and `multiply`, sent as Machinery's own JSON and run
/// by handlers written as Machinery's are (variadic int64 arguments as `[{Type, Value}]`, one
/// int64 result), over real HTTP.
@Suite("Machinery compatibility")
struct MachineryRouteTests {
    struct Arg: Codable, Sendable {
        var type: String
        var value: Int64
        enum CodingKeys: String, CodingKey {
            case type = "Type"
            case value = "Value"
        }
    }

    static func signature(_ uuid: UUID, _ name: String, _ values: [Int64]) -> String {
        let args = values.map { #"{"Type":"int64","Value":\#($0)}"# }.joined(separator: ",")
        return
            #"{"UUID":"task_\#(uuid.uuidString.lowercased())","Name":"\#(name)","RoutingKey":"","ETA":null,"GroupUUID":"","GroupTaskCount":0,"Args":[\#(args)],"Immutable":false,"RetryCount":0,"RetryTimeout":0,"OnSuccess":null,"OnError":null,"ChordCallback":null}"#
    }

    /// Runs `body` with a worker of Machinery-style `add` and `multiply` handlers polling the
    /// node at `port`.
    static func withWorker(port: Int, _ body: () async throws -> Void) async throws {
        var logger = Logger(label: "baton.test.worker")
        logger.logLevel = .warning
        let registry = HandlerRegistry()
        registry.register("add") { (args: [Arg], _: TaskContext) -> [Arg] in
            [Arg(type: "int64", value: args.reduce(0) { $0 + $1.value })]
        }
        registry.register("multiply") { (args: [Arg], _: TaskContext) -> [Arg] in
            [Arg(type: "int64", value: args.reduce(1) { $0 * $1.value })]
        }
        let source = HTTPTaskSource(servers: [URL(string: "http://127.0.0.1:\(port)")!], logger: logger)
        let runtime = WorkerRuntime(
            source: source, registry: registry,
            configuration: WorkerConfiguration(id: "machinery-worker", concurrency: 4, claimWait: .seconds(1), shutdownGrace: .seconds(2)),
            logger: logger)
        let group = ServiceGroup(services: [runtime], logger: logger)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            do {
                try await body()
            } catch {
                await group.triggerGracefulShutdown()
                throw error
            }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }

    /// The Machinery `TaskState` of `uuid` once it is `SUCCESS`.
    static func succeeded(_ uuid: String, _ client: any TestClientProtocol) async throws -> [String: JSONValue] {
        try await eventually("\(uuid) to succeed", within: .seconds(20)) { () -> [String: JSONValue]? in
            let answer = try await client.send(.get, "/v1/compat/machinery/tasks/\(uuid)")
            guard case .object(let members) = try answer.decode(JSONValue.self), members["State"] == .string("SUCCESS") else { return nil }
            return members
        }
    }

    static func int64(_ value: Int64) -> JSONValue { .array([.object(["Type": .string("int64"), "Value": .int(value)])]) }

    @Test(.timeLimit(.minutes(1)))
    func addMultiplyChainPassesResultsAsMachineryDoes() async throws {
        try await withTestApp(.live) { client, node in
            try await Self.withWorker(port: try #require(client.port)) {
                let uuids = [UUID(), UUID(), UUID()]
                // Machinery's NewChain: the steps as a Chain {Tasks}.
                let body =
                    #"{"Tasks":[\#(Self.signature(uuids[0], "add", [1, 1])),\#(Self.signature(uuids[1], "add", [5, 5])),\#(Self.signature(uuids[2], "multiply", [4]))]}"#
                let response = try await client.send(.post, "/v1/compat/machinery/workflows", json: body)
                #expect(response.status == .created, "\(String(buffer: response.body))")
                let last = "task_\(uuids[2].uuidString.lowercased())"
                let members = try await Self.succeeded(last, client)
                // add(1, 1) = 2; add(2, 5, 5) = 12; multiply(12, 4) = 48.
                #expect(members["TaskUUID"] == .string(last) && members["TaskName"] == .string("multiply"))
                #expect(members["Results"] == Self.int64(48))
                let middle = try await Self.succeeded(uuids[1].uuidString.lowercased(), client)
                #expect(middle["Results"] == Self.int64(12))
                let lastID = try #require(TaskID(uuids[2].uuidString))
                let stored = try #require(try await node.store.taskGet(lastID))
                #expect(stored.args.text.contains("48") == false && stored.pass == .prependItems)
            }
        }
    }

    /// A chord as Machinery's brokers send it, one member per request: the members run as
    /// they come, and the callback, stored with the last, gets their results in the order they
    /// were stored: multiply(add(1, 1), add(2, 2), add(3, 3)) = 2 · 4 · 6 = 48. A group sent
    /// likewise is one workflow too.
    @Test(.timeLimit(.minutes(1)))
    func chordSentAMemberAtATimeRunsItsCallbackOnceWithEveryResult() async throws {
        try await withTestApp(.live) { client, _ in
            try await Self.withWorker(port: try #require(client.port)) {
                let group = "group_\(UUID().uuidString.lowercased())"
                let callbackUUID = "chord_\(UUID().uuidString.lowercased())"
                let callback = goSignature(callbackUUID, "multiply")
                let uuids = (1...3).map { _ in "task_\(UUID().uuidString.lowercased())" }
                for (i, uuid) in uuids.enumerated() {
                    let value = i + 1
                    let member = goSignature(
                        uuid, "add", args: [value, value], chordCallback: callback, groupUUID: group, groupTaskCount: uuids.count)
                    let response = try await client.send(.post, "/v1/compat/machinery/workflows", json: member)
                    #expect(response.status == .created, "\(String(buffer: response.body))")
                    // The answer lists what this request stored: the member, and the callback with the last.
                    guard case .object(let answer) = try response.decode(JSONValue.self), case .array(let states) = answer["tasks"] else {
                        Issue.record("no tasks in \(String(buffer: response.body))")
                        continue
                    }
                    let expected = i == uuids.count - 1 ? [uuid, callbackUUID] : [uuid]
                    #expect(
                        states.map { state -> String in
                            guard case .object(let fields) = state, case .string(let name) = fields["TaskUUID"] else { return "?" }
                            return name
                        } == expected)
                    #expect(answer["workflow_id"] == .string(String(group.dropFirst(6))))
                    // Each member runs at once, before the chord is whole.
                    #expect(try await Self.succeeded(uuid, client)["Results"] == Self.int64(Int64(2 * value)))
                }
                let body = try await Self.succeeded(callbackUUID, client)
                #expect(body["TaskName"] == .string("multiply") && body["Results"] == Self.int64(48))
                let workflow = try await client.send(.get, "/v1/workflows/\(group.dropFirst(6))").decode(WorkflowRecord.self)
                #expect(workflow.state == .succeeded && workflow.nodes.count == 4 && workflow.name == group)

                // A group (`SendGroup`) sent likewise: its members' workflow is the group's.
                let groupUUID = UUID().uuidString.lowercased()
                let members = (1...2).map { _ in "task_\(UUID().uuidString.lowercased())" }
                for uuid in members {
                    let member = goSignature(uuid, "add", args: [1], groupUUID: "group_\(groupUUID)", groupTaskCount: members.count)
                    let response = try await client.send(.post, "/v1/compat/machinery/workflows", json: member)
                    #expect(response.status == .created, "\(String(buffer: response.body))")
                    if uuid == members[0] {
                        // Its one member so far finishes: the group runs until the other arrives.
                        _ = try await Self.succeeded(uuid, client)
                        let partial = try await client.send(.get, "/v1/workflows/\(groupUUID)").decode(WorkflowRecord.self)
                        #expect(partial.state == .running && partial.nodes.count == 1)
                    }
                }
                for uuid in members { _ = try await Self.succeeded(uuid, client) }
                let groupRecord = try await client.send(.get, "/v1/workflows/\(groupUUID)").decode(WorkflowRecord.self)
                #expect(groupRecord.state == .succeeded && groupRecord.nodes.map(\.name) == members)
            }
        }
    }

    /// `Idempotency-Key` answers the workflow it first stored (200), and refuses another body.
    @Test func idempotencyKeyAnswersTheFirstWorkflow() async throws {
        try await withTestApp { client, node in
            var headers = jsonHeaders
            headers[HTTPField.Name("Idempotency-Key")!] = "machinery-1"
            // Signatures without a UUID get a new one each time: the body identifies the request.
            let body = #"{"Tasks":[{"Name":"add","Args":[{"Type":"int64","Value":1}]},{"Name":"multiply"}]}"#
            let first = try await client.send(.post, "/v1/compat/machinery/workflows", json: body, headers: headers)
            #expect(first.status == .created, "\(String(buffer: first.body))")
            let again = try await client.send(.post, "/v1/compat/machinery/workflows", json: body, headers: headers)
            #expect(again.status == .ok, "\(String(buffer: again.body))")
            #expect(try again.decode(JSONValue.self) == (try first.decode(JSONValue.self)))
            #expect(try await node.store.all().count == 2)
            let other = try await client.send(.post, "/v1/compat/machinery/workflows", json: #"{"Name":"add"}"#, headers: headers)
            #expect(other.status.code >= 400 && other.status.code < 500)
            #expect(try await node.store.all().count == 2)
        }
    }

    @Test func unknownFieldsAndUnknownTasksAreRefused() async throws {
        try await withTestApp { client, _ in
            let bad = try await client.send(.post, "/v1/compat/machinery/workflows", json: #"{"Name":"add","Bogus":1}"#)
            #expect(bad.status == .badRequest)
            #expect(try bad.errorBody().message.contains("Bogus"))
            let missing = try await client.send(.get, "/v1/compat/machinery/tasks/task_\(UUID().uuidString.lowercased())")
            #expect(missing.status == .notFound)
            let malformed = try await client.send(.get, "/v1/compat/machinery/tasks/not-a-uuid")
            #expect(malformed.status == .badRequest)
        }
    }
}
