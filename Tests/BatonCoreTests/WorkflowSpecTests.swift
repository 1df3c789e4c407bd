import BatonCore
import Foundation
import Testing

/// The n-th id of a counter: `00000000-0000-7000-8000-00000000000n`.
func counterID(_ n: Int) -> TaskID {
    let digits = String(n)
    return TaskID("00000000-0000-7000-8000-" + String(repeating: "0", count: 12 - digits.count) + digits)!
}

/// A task outside the workflow, for `after` entries by id.
let existingTaskID = "0190a000-0000-7000-8000-0000000000aa"

func parseJSON(_ text: String) throws -> JSONValue {
    try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
}

extension WorkflowSubmission {
    var names: [String] { tasks.map { $0.node ?? "?" } }

    func task(_ name: String) -> NewTask? { tasks.first { $0.node == name } }

    /// A node's parents by node name (an existing task by its id), with their conditions.
    func parents(_ name: String) -> [String] {
        var byID: [TaskID: String] = [:]
        for task in tasks { byID[task.id!] = task.node }
        return (task(name)?.after ?? []).map { edge in
            let parent = byID[edge.parent] ?? edge.parent.description
            return edge.condition == .success ? parent : "\(parent):\(edge.condition.rawValue)"
        }
    }
}

@Suite struct WorkflowSpecTests {
    /// Compiles with counter ids: the workflow gets 1, the tasks 2, 3, … in output order.
    func compile(_ text: String, maxArgsBytes: Int = Limits.defaultMaxArgsBytes) throws -> WorkflowSubmission {
        var n = 0
        return try WorkflowSpec.compile(try parseJSON(text), maxArgsBytes: maxArgsBytes) {
            n += 1
            return counterID(n)
        }
    }

    func refusal(_ text: String, maxArgsBytes: Int = Limits.defaultMaxArgsBytes) throws -> BatonError? {
        do {
            _ = try compile(text, maxArgsBytes: maxArgsBytes)
            return nil
        } catch let error as BatonError {
            return error
        }
    }

    // MARK: Shorthand

    @Test func chainOfTaskGroupTask() throws {
        let s = try compile(#"{"name": "etl", "chain": [{"kind": "a"}, {"group": [{"kind": "b"}, {"kind": "c"}]}, {"kind": "d"}]}"#)
        #expect(s.workflow == NewWorkflow(id: counterID(1), name: "etl"))
        #expect(s.names == ["0", "1.0", "1.1", "2"])
        #expect(s.tasks.map(\.kind) == ["a", "b", "c", "d"])
        #expect(s.tasks.map(\.id) == (2...5).map(counterID))
        #expect(s.tasks.allSatisfy { $0.workflowID == counterID(1) })
        #expect(s.parents("0") == [])
        #expect(s.parents("1.0") == ["0"])
        #expect(s.parents("1.1") == ["0"])
        #expect(s.parents("2") == ["1.0", "1.1"])
    }

    @Test func chainOfGroupsLinksEveryExitToEveryEntry() throws {
        let s = try compile(
            #"{"chain": [{"group": [{"kind": "a"}, {"kind": "b"}]}, {"group": [{"kind": "c"}, {"chain": [{"kind": "d"}, {"kind": "e"}]}]}]}"#
        )
        #expect(s.names == ["0.0", "0.1", "1.0", "1.1.0", "1.1.1"])
        #expect(s.parents("1.0") == ["0.0", "0.1"])
        #expect(s.parents("1.1.0") == ["0.0", "0.1"])
        #expect(s.parents("1.1.1") == ["1.1.0"])
    }

    @Test func groupOfTasksAndChains() throws {
        let s = try compile(#"{"group": [{"kind": "a"}, {"chain": [{"kind": "b"}, {"kind": "c"}]}]}"#)
        #expect(s.names == ["0", "1.0", "1.1"])
        #expect(s.parents("0") == [] && s.parents("1.0") == [])
        #expect(s.parents("1.1") == ["1.0"])
    }

    @Test func chordHeaderExitsInOrderToEveryBodyEntry() throws {
        let s = try compile(
            #"""
            {"chord": {"header": [{"kind": "a"}, {"kind": "b"}, {"chain": [{"kind": "c"}, {"kind": "d"}]}],
                       "body": {"group": [{"kind": "e"}, {"kind": "f"}]}}}
            """#)
        #expect(s.names == ["header.0", "header.1", "header.2.0", "header.2.1", "body.0", "body.1"])
        #expect(s.parents("header.2.1") == ["header.2.0"])
        #expect(s.parents("body.0") == ["header.0", "header.1", "header.2.1"])
        #expect(s.parents("body.1") == ["header.0", "header.1", "header.2.1"])
    }

    @Test func chordNestedInAChainIsNamedUnderItsPath() throws {
        let s = try compile(
            #"{"chain": [{"kind": "a"}, {"kind": "b"}, {"chord": {"header": [{"kind": "c"}, {"kind": "d"}], "body": {"kind": "e"}}}]}"#)
        #expect(s.names == ["0", "1", "2.header.0", "2.header.1", "2.body"])
        #expect(s.parents("2.header.0") == ["1"])
        #expect(s.parents("2.header.1") == ["1"])
        #expect(s.parents("2.body") == ["2.header.0", "2.header.1"])
    }

    @Test func chordInsideAChordBody() throws {
        let s = try compile(
            #"""
            {"chord": {"header": [{"kind": "a"}],
                       "body": {"chord": {"header": [{"kind": "b"}, {"kind": "c"}], "body": {"chain": [{"kind": "d"}, {"kind": "e"}]}}}}}
            """#)
        #expect(s.names == ["header.0", "body.header.0", "body.header.1", "body.body.0", "body.body.1"])
        #expect(s.parents("body.header.0") == ["header.0"])
        #expect(s.parents("body.body.0") == ["body.header.0", "body.header.1"])
        #expect(s.parents("body.body.1") == ["body.body.0"])
    }

    @Test func explicitNamesAreKept() throws {
        let s = try compile(
            #"{"chain": [{"kind": "fetch", "name": "fetch"}, {"group": [{"kind": "x", "name": "left"}, {"kind": "y"}]}]}"#)
        #expect(s.names == ["fetch", "left", "1.1"])
        #expect(s.parents("left") == ["fetch"])
        #expect(s.parents("1.1") == ["fetch"])
    }

    @Test func taskFieldsPassThrough() throws {
        let s = try compile(
            #"""
            {"chain": [{"kind": "a", "args": [1, "two"], "queue": "q1", "priority": 9, "run_at": "2026-11-23T19:00:00Z",
                        "max_attempts": 3, "timeout": 30, "retry": {"policy": "fixed", "backoff": 2}, "unique_key": "u",
                        "unique_window": 60, "tags": ["t"]},
                       {"kind": "b", "args": [], "pass": "prepend", "delay": 5}]}
            """#)
        let a = try #require(s.task("0"))
        #expect(a.args.text == #"[1,"two"]"#)
        #expect(a.queue == "q1" && a.priority == 9 && a.maxAttempts == 3 && a.timeout == 30)
        #expect(a.runAt == BatonJSON.parseDate("2026-11-23T19:00:00Z"))
        #expect(a.retry == .fixed(.seconds(2)))
        #expect(a.uniqueKey == "u" && a.uniqueWindow == 60 && a.tags == ["t"])
        let b = try #require(s.task("1"))
        #expect(b.pass == .prepend && b.delay == 5 && b.args.text == "[]")
        #expect(b.queue == Defaults.queue && b.priority == Defaults.priority && b.maxAttempts == Defaults.maxAttempts)
    }

    @Test func shorthandTaskAfterExistingTasksComesAfterItsDerivedEdges() throws {
        let s = try compile(
            #"{"chain": [{"kind": "a", "after": [{"id": "\#(existingTaskID)", "on": "always"}]}, {"kind": "b", "after": [{"id": "\#(existingTaskID)"}]}]}"#
        )
        #expect(s.parents("0") == ["\(existingTaskID):always"])
        #expect(s.parents("1") == ["0", existingTaskID])
    }

    @Test func workflowPolicyIsInheritedByNodesWithout() throws {
        let s = try compile(#"{"policy": "ignore_failed", "group": [{"kind": "a"}, {"kind": "b", "policy": "cancel"}]}"#)
        #expect(s.task("0")?.policy == .ignoreFailed)
        #expect(s.task("1")?.policy == .cancel)
        let none = try compile(#"{"group": [{"kind": "a"}, {"kind": "b", "policy": "ignore"}]}"#)
        #expect(none.task("0")?.policy == nil)
        #expect(none.task("1")?.policy == .ignore)
    }

    // MARK: The nodes form

    @Test func nodesWithNamesIdsAndConditions() throws {
        let s = try compile(
            #"""
            {"nodes": [
                {"name": "report", "kind": "r", "after": ["load", {"name": "cleanup", "on": "always"}, {"id": "\#(existingTaskID)", "on": "failure"}]},
                {"name": "load", "kind": "l"},
                {"name": "cleanup", "kind": "c", "after": [{"name": "load", "on": "failure"}]}
            ]}
            """#)
        #expect(s.names == ["load", "cleanup", "report"])
        #expect(s.parents("report") == ["load", "cleanup:always", "\(existingTaskID):failure"])
        #expect(s.parents("cleanup") == ["load:failure"])
        #expect(s.tasks.map(\.id) == (2...4).map(counterID))
    }

    @Test func topologicalOrderGoesLevelByLevel() throws {
        // Without parents first, in submission order; then their children.
        let levels = try compile(
            #"{"nodes": [{"name": "a", "kind": "k"}, {"name": "b", "kind": "k", "after": ["a"]}, {"name": "c", "kind": "k"}]}"#)
        #expect(levels.names == ["a", "c", "b"])
        // d waits for b: it comes after every node of b's level, submitted earlier or not.
        let s = try compile(
            #"""
            {"nodes": [{"name": "d", "kind": "k", "after": ["b"]}, {"name": "a", "kind": "k"}, {"name": "b", "kind": "k"},
                       {"name": "c", "kind": "k"}]}
            """#)
        #expect(s.names == ["a", "b", "c", "d"])
        // A node's level is its longest path from a node without parents: e waits for a (level
        // 0) and for d (level 1), so it comes after the level-1 nodes.
        let deep = try compile(
            #"""
            {"nodes": [{"name": "a", "kind": "k"}, {"name": "e", "kind": "k", "after": ["a", "d"]}, {"name": "b", "kind": "k"},
                       {"name": "d", "kind": "k", "after": ["b"]}, {"name": "f", "kind": "k", "after": ["a"]}]}
            """#)
        #expect(deep.names == ["a", "b", "d", "f", "e"])
        // Ids follow the output order, so parents' ids sort first.
        #expect(s.tasks.map(\.id) == (2...5).map(counterID))
    }

    @Test func aGroupOfChainsIsStoredStepByStep() throws {
        let s = try compile(
            #"{"group": [{"chain": [{"kind": "k"}, {"kind": "k"}, {"kind": "k"}]}, {"chain": [{"kind": "k"}, {"kind": "k"}]}]}"#)
        #expect(s.names == ["0.0", "1.0", "0.1", "1.1", "0.2"])
        #expect(s.parents("0.2") == ["0.1"])
        #expect(s.parents("1.1") == ["1.0"])
    }

    /// A node's task reads as the submit route reads the same object (the compiler writes its
    /// fields back as text for the route's decoder, and falls back to JSONDecoder).
    @Test(arguments: [
        #"{"kind": "k"}"#,
        #"{"kind": "k", "args": {"b": [1, 2.5, -0.0, 1e20, 3.0, 1000000000000000.0], "a": "x/y \"q\" \u00e9 \n", "c": null}}"#,
        #"{"kind": "k", "args": [true, false, {"é": 1, "z": {}}], "queue": "q", "priority": 9, "max_attempts": 4}"#,
        #"{"kind": "k", "delay": 2.5, "timeout": 30, "tags": ["t1", "t2"], "unique_key": "u", "unique_window": 60}"#,
        #"{"kind": "k", "run_at": "2030-01-02T03:04:05.678Z", "retry": {"policy": "exponential", "backoff": 2, "cap": 60, "jitter": false}}"#,
        #"{"kind": "k", "policy": "ignore_failed", "args": []}"#,
        #"{"kind": "k", "args": 12}"#,
        #"{"kind": "k", "priority": 5.0}"#,
    ])
    func taskObjectsReadAsTheSubmitRouteReadsThem(_ object: String) throws {
        guard case .object(var fields) = try parseJSON(object) else { throw BatonError.invalidArgument("not an object") }
        let node = try #require(try compile(#"{"nodes": [\#(object.dropLast()), "name": "n"}]}"#).tasks.first)
        fields["pass"] = nil
        fields["policy"] = nil
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        var expected = try BatonJSON.requestDecoder().decode(NewTask.self, from: encoder.encode(JSONValue.object(fields)))
        expected.id = node.id
        expected.workflowID = node.workflowID
        expected.node = "n"
        expected.pass = node.pass
        expected.policy = node.policy
        #expect(node == expected)
    }

    @Test(arguments: [
        #"{"b": [1, 2.5, -0.0, 1e20, 3.0, 0.1, 1e-7], "a": "x/y \"q\" \u00e9 \u0001 \t", "c": null, "d": true, "e": {}}"#,
        #"[[], {}, "", -9223372036854775808, 9223372036854775807]"#,
    ])
    func writtenValuesAreJSONEncodersText(_ text: String) throws {
        let value = try parseJSON(text)
        var writer = JSONWriter()
        writer.value(value)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        #expect(String(decoding: writer.bytes, as: UTF8.self) == String(decoding: try encoder.encode(value), as: UTF8.self))
    }

    @Test func aLargeChordCompiles() throws {
        let header = (0..<10_000).map { #"{"kind": "work", "args": [\#($0)]}"# }.joined(separator: ",")
        let s = try compile(#"{"chord": {"header": [\#(header)], "body": {"kind": "sum", "args": [], "pass": "prepend"}}}"#)
        #expect(s.tasks.count == 10_001)
        #expect(s.names.prefix(3) == ["header.0", "header.1", "header.2"])
        let body = try #require(s.tasks.last)
        #expect(body.node == "body" && body.pass == .prepend)
        #expect(body.after.count == 10_000)
        #expect(body.after.map(\.parent) == s.tasks.prefix(10_000).map { $0.id! })
        #expect(s.tasks[9_999].args.text == "[9999]")
    }

    // MARK: Refusals

    @Test(arguments: [
        (#"[]"#, "a workflow must be a JSON object"),
        (#"{"chain": [{"kind": "a"}], "extra": 1}"#, "unknown field 'extra' in a workflow"),
        (#"{"name": "w"}"#, "give exactly one of nodes, chain, group or chord"),
        (#"{"chain": [{"kind": "a"}], "group": [{"kind": "b"}]}"#, "give exactly one of nodes, chain, group or chord"),
        (#"{"name": "", "chain": [{"kind": "a"}]}"#, "name must be a string of 1 to 200 characters"),
        (#"{"name": "a\u0000b", "chain": [{"kind": "a"}]}"#, "name must not contain a NUL character"),
        (#"{"chain": [{"kind": "a", "name": "x\u0000"}]}"#, "chain[0]: name must not contain a NUL character"),
        (#"{"policy": "sometimes", "chain": [{"kind": "a"}]}"#, "policy must be one of cancel, ignore_failed, ignore_cancelled or ignore"),
        (#"{"chain": []}"#, "chain must not be empty"),
        (#"{"group": []}"#, "group must not be empty"),
        (#"{"nodes": []}"#, "nodes must not be empty"),
        (#"{"chain": [{"kind": "a"}, {"group": []}]}"#, "chain[1].group must not be empty"),
        (#"{"chord": {"header": [], "body": {"kind": "a"}}}"#, "chord.header must not be empty"),
        (#"{"chord": {"header": [{"kind": "a"}]}}"#, "chord needs header and body"),
        (#"{"chain": [1]}"#, "chain[0] must be an object: a task (with kind) or a chain, group or chord"),
        (#"{"chain": [{"args": []}]}"#, "chain[0] must be a task (with kind) or one of chain, group or chord"),
        (#"{"chain": [{"chain": [{"kind": "a"}], "name": "x"}]}"#, "chain[0]: unknown field 'name' beside chain"),
        (#"{"nodes": [{"kind": "a"}]}"#, "nodes[0]: name is required"),
        (#"{"nodes": [{"name": "a", "kind": "k"}, {"name": "a", "kind": "k"}]}"#, "nodes[1]: duplicate node name 'a'"),
        (#"{"group": [{"name": "x", "kind": "k"}, {"name": "x", "kind": "k"}]}"#, "group[1]: duplicate node name 'x'"),
        (#"{"group": [{"name": "1", "kind": "k"}, {"kind": "k"}]}"#, "group[1]: duplicate node name '1'"),
        (#"{"nodes": [{"name": "a", "kind": "k", "after": ["zzz"]}]}"#, "node 'a': after names 'zzz', which is not a node of the workflow"),
        (#"{"nodes": [{"name": "a", "kind": "k", "after": ["a"]}]}"#, "node 'a' cannot depend on itself"),
        (#"{"nodes": [{"name": "a", "kind": "k", "after": ["b"]}, {"name": "b", "kind": "k", "after": ["a"]}]}"#, "cycle: a → b → a"),
        (
            #"""
            {"nodes": [{"name": "x", "kind": "k"}, {"name": "d", "kind": "k", "after": ["x", "c"]},
                       {"name": "a", "kind": "k", "after": ["c"]}, {"name": "b", "kind": "k", "after": ["a"]},
                       {"name": "c", "kind": "k", "after": ["b"]}]}
            """#,
            "cycle: a → b → c → a"
        ),
        (
            #"{"nodes": [{"name": "a", "kind": "k"}, {"name": "b", "kind": "k", "after": ["a", {"name": "a", "on": "failure"}]}]}"#,
            "node 'b': after names 'a' twice"
        ),
        (
            #"{"nodes": [{"name": "b", "kind": "k", "after": [{"id": "\#(existingTaskID)"}, {"id": "\#(existingTaskID)", "on": "always"}]}]}"#,
            "node 'b': after names task \(existingTaskID) twice"
        ),
        (
            #"{"nodes": [{"name": "a", "kind": "k"}, {"name": "b", "kind": "k", "after": [{"name": "a", "on": "sometimes"}]}]}"#,
            "node 'b': an after entry's on must be success, failure or always"
        ),
        (
            #"{"nodes": [{"name": "b", "kind": "k", "after": [{"id": "nope"}]}]}"#,
            "node 'b': an after entry's id must be a task id (a UUID)"
        ),
        (#"{"nodes": [{"name": "b", "kind": "k", "after": "a"}]}"#, "node 'b': after must be an array"),
        (
            #"{"chain": [{"kind": "a"}, {"kind": "b", "after": ["0"]}]}"#,
            "node '1': after in a chain, group or chord names only existing tasks, as {\"id\": …}"
        ),
        (#"{"chain": [{"kind": "a", "colour": "red"}]}"#, "node '0': unknown field 'colour' in a task"),
        (
            #"{"chain": [{"kind": "a", "id": "\#(existingTaskID)"}]}"#,
            "node '0': field 'id' cannot be given in a workflow: ids are generated"
        ),
        (
            #"{"chain": [{"kind": "a", "workflow_id": "\#(existingTaskID)"}]}"#,
            "node '0': field 'workflow_id' cannot be given in a workflow: it is the workflow's"
        ),
        (#"{"chain": [{"kind": "a", "node": "n"}]}"#, "node '0': field 'node' cannot be given in a workflow: name a node with name"),
        (#"{"chain": [{"kind": "a", "priority": 0}]}"#, "node '0': priority must be between 1 and 10, got 0"),
        (#"{"group": [{"kind": "a"}, {"kind": "b c"}]}"#, "node '1': kind 'b c' may contain only letters, digits and . _ - : /"),
        (#"{"chain": [{"kind": "a", "args": [], "pass": "prepend"}]}"#, "node '0': pass needs parents: give after"),
        (#"{"chain": [{"kind": "a"}, {"kind": "b", "pass": "prepend"}]}"#, "node '1': pass: prepend needs args to be a JSON array"),
    ])
    func refusals(_ text: String, _ message: String) throws {
        let error = try #require(try refusal(text))
        #expect(error.code == .invalidArgument)
        #expect(error.message == message)
    }

    @Test func aBadFieldTypeIsNamed() throws {
        let error = try #require(try refusal(#"{"chain": [{"kind": "a", "priority": "high"}]}"#))
        #expect(error.code == .invalidArgument)
        #expect(error.message.hasPrefix("node '0': field 'priority': expected an integer"), "\(error.message)")
    }

    @Test func tooLargeArgsKeepTheirCode() throws {
        let error = try #require(
            try refusal(#"{"chain": [{"kind": "a", "args": ["\#(String(repeating: "x", count: 20))"]}]}"#, maxArgsBytes: 10))
        #expect(error == BatonError(.tooLarge, "node '0': args are 24 bytes, more than the limit of 10"))
    }

    @Test func tooManyNodes() throws {
        let nodes = (0...Limits.maxWorkflowNodes).map { JSONValue.object(["name": .string("n\($0)"), "kind": .string("k")]) }
        #expect(throws: BatonError.invalidArgument("a workflow has at most 100000 nodes, got 100001")) {
            try WorkflowSpec.compile(.object(["nodes": .array(nodes)]))
        }
    }

    @Test func tooManyEdges() throws {
        // A chain of two groups links every member of the first to every member of the second.
        let first = Array(repeating: #"{"kind": "k"}"#, count: 1001).joined(separator: ",")
        let second = Array(repeating: #"{"kind": "k"}"#, count: 1000).joined(separator: ",")
        let error = try #require(try refusal(#"{"chain": [{"group": [\#(first)]}, {"group": [\#(second)]}]}"#))
        #expect(error.message == "a workflow has at most 1000000 edges")
    }
}
