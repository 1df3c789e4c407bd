import BatonCore
import BatonTesting
import Foundation
import Testing

@Suite struct MachineryTests {
    func compile(_ text: String) throws -> WorkflowSubmission {
        var n = 0
        return try Machinery.compile(try parseJSON(text)) {
            n += 1
            return counterID(n)
        }
    }

    func refusal(_ text: String) throws -> BatonError? {
        do {
            _ = try compile(text)
            return nil
        } catch let error as BatonError {
            return error
        }
    }

    // MARK: Workflows

    @Test func signatureWithSuccessAndErrorCallbacks() throws {
        let s = try compile(
            goSignature(
                "task_a", "add", args: [1, 2], onSuccess: [goSignature("task_s", "notify", immutable: true)],
                onError: [goSignature("task_e", "alert")]))
        #expect(s.names == ["task_a", "task_s", "task_e"])
        #expect(s.parents("task_s") == ["task_a"])
        #expect(s.parents("task_e") == ["task_a:failure"])
        #expect(s.task("task_a")?.args.text == #"[{"Type":"int64","Value":1},{"Type":"int64","Value":2}]"#)
        #expect(s.task("task_a")?.pass == nil)
        // Immutable: no results passed; an error callback reads the failure from ctx.parents.
        #expect(s.task("task_s")?.pass == nil)
        #expect(s.task("task_e")?.pass == nil)
        #expect(s.workflow.name == nil)
    }

    @Test func chainAsNewChainWritesItPassesResultsToMutableSteps() throws {
        // NewChain nests each step in the previous one's OnSuccess; the repeats are one node.
        let multiply = goSignature("task_3", "multiply", args: [4])
        let add2 = goSignature("task_2", "add", args: [5, 5], onSuccess: [multiply])
        let add1 = goSignature("task_1", "add", args: [1, 1], onSuccess: [add2])
        let s = try compile(#"{"Tasks":[\#(add1),\#(add2),\#(multiply)]}"#)
        #expect(s.names == ["task_1", "task_2", "task_3"])
        #expect(s.tasks.map(\.kind) == ["add", "add", "multiply"])
        #expect(s.parents("task_1") == [])
        #expect(s.parents("task_2") == ["task_1"])
        #expect(s.parents("task_3") == ["task_2"])
        #expect(s.tasks.map(\.pass) == [nil, .prependItems, .prependItems])
        #expect(s.task("task_3")?.args.text == #"[{"Type":"int64","Value":4}]"#)
    }

    @Test func chainWithoutNestingLinksStepByStep() throws {
        let s = try compile(
            #"{"Tasks":[{"UUID":"a","Name":"add"},{"UUID":"b","Name":"add","Immutable":true},{"UUID":"c","Name":"multiply"}]}"#)
        #expect(s.parents("b") == ["a"] && s.parents("c") == ["b"])
        #expect(s.tasks.map(\.pass) == [nil, nil, .prependItems])
        #expect(s.task("a")?.args.text == "[]")
    }

    @Test func chordCallbackDependsOnEveryMemberInOrder() throws {
        let callback = goSignature("chord_cb", "multiply")
        let members = ["task_a", "task_b", "task_c"].map {
            goSignature($0, "add", args: [1], chordCallback: callback, groupUUID: "group_1", groupTaskCount: 3)
        }
        let s = try compile(
            #"{"Group":{"GroupUUID":"group_1","Tasks":[\#(members.joined(separator: ","))]},"Callback":\#(callback),"ErrorCallback":null}"#)
        #expect(s.workflow.name == "group_1")
        #expect(s.names == ["task_a", "task_b", "task_c", "chord_cb"])
        #expect(s.parents("chord_cb") == ["task_a", "task_b", "task_c"])
        #expect(s.task("chord_cb")?.pass == .prependItems)
        #expect(s.task("task_a")?.pass == nil)
    }

    @Test func chordWithoutMemberCallbacks() throws {
        let s = try compile(
            #"{"Group":{"GroupUUID":"g","Tasks":[{"UUID":"a","Name":"x"},{"UUID":"b","Name":"x"}]},"Callback":{"UUID":"cb","Name":"sum","Immutable":true}}"#
        )
        #expect(s.parents("cb") == ["a", "b"])
        #expect(s.task("cb")?.pass == nil)
    }

    @Test func groupMembersAreIndependent() throws {
        let a = goSignature("task_a", "add", args: [1], groupUUID: "group_9", groupTaskCount: 2)
        let b = goSignature("task_b", "add", args: [2], groupUUID: "group_9", groupTaskCount: 2)
        let group = try compile(#"{"GroupUUID":"group_9","Tasks":[\#(a),\#(b)]}"#)
        #expect(group.workflow.name == "group_9")
        #expect(group.names == ["task_a", "task_b"])
        #expect(group.tasks.allSatisfy { $0.after.isEmpty && $0.pass == nil })
        let array = try compile("[\(a),\(b)]")
        #expect(array.workflow.name == nil)
        #expect(array.names == ["task_a", "task_b"])
        #expect(array.tasks.allSatisfy { $0.after.isEmpty })
    }

    @Test func missingUUIDIsGeneratedAsMachineryDoes() throws {
        let s = try compile(#"{"Name":"add"}"#)
        // The UUID takes the first id; the workflow and the task the next ones.
        #expect(s.names == ["task_\(counterID(1))"])
        #expect(s.workflow.id == counterID(2))
        #expect(s.tasks[0].id == counterID(3))
    }

    @Test func fieldMapping() throws {
        let s = try compile(
            #"{"UUID":"m","Name":"send","RoutingKey":"emails","ETA":"2026-11-23T19:00:00.5+01:00","Priority":9,"RetryCount":3,"RetryTimeout":10}"#
        )
        let task = try #require(s.task("m"))
        #expect(task.kind == "send" && task.queue == "emails")
        #expect(task.runAt == BatonJSON.parseDate("2026-11-23T18:00:00.500Z"))
        #expect(task.priority == 10)
        #expect(task.maxAttempts == 4)
        #expect(task.retry == .fixed(.seconds(10)))
        let plain = try #require(try compile(#"{"UUID":"p","Name":"x"}"#).task("p"))
        #expect(plain.queue == Defaults.queue && plain.priority == Defaults.priority && plain.runAt == nil)
        #expect(plain.maxAttempts == 1 && plain.retry == nil)
        let backoff = try #require(try compile(#"{"UUID":"f","Name":"x","RetryCount":2}"#).task("f"))
        #expect(backoff.maxAttempts == 3)
        #expect(backoff.retry == .fibonacci(base: Defaults.retryBase, cap: Defaults.retryCap))
    }

    @Test(arguments: [(0, 5), (1, 2), (4, 5), (9, 10)])
    func priorityMapping(_ machinery: Int, _ baton: Int) throws {
        let s = try compile(#"{"UUID":"p","Name":"x","Priority":\#(machinery)}"#)
        #expect(s.task("p")?.priority == baton)
    }

    @Test(arguments: [
        (#"{"UUID":"a","Name":"x","Colour":1}"#, "signature: unknown field 'Colour' in a signature"),
        (#"{"UUID":"a","Name":"x","OnSuccess":[{"Name":"y","Bad":1}]}"#, "signature.OnSuccess[0]: unknown field 'Bad' in a signature"),
        (#"{"Tasks":[{"UUID":"a","Name":"x"}],"Extra":1}"#, "unknown field 'Extra' in a chain"),
        (#"{"Tasks":[]}"#, "Tasks must not be empty"),
        (#"[]"#, "the array of signatures must not be empty"),
        (#"{"UUID":"a"}"#, "signature 'a': Name is required"),
        (#"{"UUID":"p","Name":"x","Priority":10}"#, "signature 'p': Priority must be between 0 and 9, got 10"),
        (#"{"UUID":"p","Name":"x","RetryCount":-1}"#, "signature 'p': RetryCount must be between 0 and 999, got -1"),
        (
            #"{"UUID":"p","Name":"x","ETA":"tomorrow"}"#,
            "signature 'p': ETA 'tomorrow' is not an RFC 3339 time such as 2026-11-23T19:00:00Z"
        ),
        (#"{"UUID":"p","Name":"x","Args":[{"Value":1}]}"#, "signature 'p': Args[0] needs a Type"),
        (
            #"{"UUID":"p","Name":"x","Args":[{"Type":"int64","Value":1,"Kind":2}]}"#,
            "signature 'p': Args[0]: unknown field 'Kind' in an argument"
        ),
        (#"{"UUID":"p","Name":"x y"}"#, "signature 'p': kind 'x y' may contain only letters, digits and . _ - : /"),
        (
            #"{"UUID":"a","Name":"x","OnSuccess":[{"UUID":"b","Name":"y"}],"OnError":[{"UUID":"b","Name":"y"}]}"#,
            "signature 'b' is both a success and an error callback of 'a'"
        ),
        (#"{"Tasks":[{"UUID":"a","Name":"x"},{"UUID":"a","Name":"y"}]}"#, "signature 'a' appears twice with different fields"),
        (#"{"Tasks":[{"UUID":"a","Name":"x"},{"UUID":"b","Name":"y"},{"UUID":"a","Name":"x"}]}"#, "cycle: a → b → a"),
        (
            #"{"UUID":"a","Name":"x","ChordErrorCallback":{"UUID":"e","Name":"y"}}"#,
            "signature 'a': ChordErrorCallback is not supported: it runs when any member fails, and a Baton edge waits for its own parent"
        ),
        (
            #"{"Group":{"Tasks":[{"UUID":"a","Name":"x"}]},"Callback":{"UUID":"c","Name":"y"},"ErrorCallback":{"UUID":"e","Name":"z"}}"#,
            "ErrorCallback is not supported: it runs when any member fails, and a Baton edge waits for its own parent"
        ),
        (#"{"Group":{"Tasks":[{"UUID":"a","Name":"x"}]}}"#, "a chord needs a Callback signature"),
        ("42", "a Machinery workflow is a signature, a chain, a group, a chord or an array of signatures"),
        (
            #"{"UUID":"a","Name":"x","GroupUUID":"g","GroupTaskCount":2,"ChordCallback":{"UUID":"c","Name":"y"}}"#,
            "a chord member sent alone is joined to its chord by Machinery.groupMember, not compiled alone"
        ),
    ])
    func refusals(_ text: String, _ message: String) throws {
        let error = try #require(try refusal(text))
        #expect(error.code == .invalidArgument)
        #expect(error.message == message)
    }

    // MARK: Groups and chords sent a member per message

    /// A chord member as Machinery's `SendChord` sends it: the member alone, in the workflow its
    /// group's UUID names; the callback apart, under its UUID, given the members later.
    @Test func chordMemberSentAloneNamesItsWorkflowAndCallback() throws {
        let group = UUID().uuidString.lowercased()
        let member = UUID().uuidString.lowercased()
        let chord = UUID().uuidString.lowercased()
        let text = goSignature(
            "task_\(member)", "add", args: [1, 2],
            chordCallback: goSignature("chord_\(chord)", "multiply", args: [3], onSuccess: [goSignature("task_n", "notify")]),
            groupUUID: "group_\(group)", groupTaskCount: 3)
        let joined = try #require(try Machinery.groupMember(try parseJSON(text)))
        #expect(
            joined.workflow == NewWorkflow(id: TaskID(group)!, name: "group_\(group)", expectedNodes: 5, joinsExisting: true)
                && joined.count == 3)
        #expect(joined.member.map(\.id) == [TaskID(member)] && joined.member[0].workflowID == TaskID(group))
        #expect(joined.member[0].kind == "add" && joined.member[0].after.isEmpty)
        let callback = try #require(joined.chord)
        #expect(callback.tasks.map(\.node) == ["chord_\(chord)", "task_n"])
        #expect(callback.tasks.allSatisfy { $0.workflowID == TaskID(group) })
        #expect(callback.id == TaskID(chord))
        #expect(callback.tasks[callback.index].pass == .prependItems, "not Immutable: the members' results come first")
        let parents = [counterID(1), counterID(2), counterID(3)]
        let withParents = callback.tasks(after: parents)
        #expect(withParents[callback.index].after.map(\.parent) == parents)
        #expect(withParents[callback.index].after.allSatisfy { $0.condition == .success })
        #expect(withParents[1].after.map(\.parent) == [TaskID(chord)], "the callback's own callback stays its child")
    }

    /// A group member as `SendGroup` sends it joins the group's workflow too, with its own
    /// callbacks; so does a chord of one member, which arrives whole. Without Machinery's form
    /// of group UUID, or without a group, a signature is a workflow of its own.
    @Test func groupMemberSentAloneJoinsItsGroup() throws {
        let group = UUID().uuidString.lowercased()
        let text = goSignature(
            "task_a", "add", onSuccess: [goSignature("task_s", "notify")], groupUUID: "group_\(group)", groupTaskCount: 3)
        let joined = try #require(try Machinery.groupMember(try parseJSON(text)))
        #expect(joined.workflow.id == TaskID(group) && joined.chord == nil && joined.workflow.expectedNodes == 3)
        #expect(joined.member.map(\.node) == ["task_a", "task_s"] && joined.member.allSatisfy { $0.workflowID == TaskID(group) })
        let single = try #require(
            try Machinery.groupMember(
                try parseJSON(
                    goSignature("task_a", "add", chordCallback: goSignature("chord_x", "m"), groupUUID: group, groupTaskCount: 1))))
        #expect(single.chord == nil && single.member.map(\.node) == ["task_a", "chord_x"])
        for other in [
            goSignature("task_a", "add", groupUUID: "g", groupTaskCount: 3), goSignature("task_a", "add"),
            goSignature("task_a", "add", groupUUID: "group_\(group)"),
        ] {
            #expect(try Machinery.groupMember(try parseJSON(other)) == nil, "\(other)")
        }
    }

    @Test(arguments: [
        (
            goSignature("task_a", "add", chordCallback: goSignature("chord_\(UUID())", "m"), groupUUID: "g", groupTaskCount: 2),
            "a chord member sent alone needs a GroupUUID naming its chord (group_<uuid> or a UUID, as Machinery makes them), got 'g'"
        ),
        (
            goSignature("task_a", "add", chordCallback: goSignature("c", "m"), groupUUID: "group_\(UUID())", groupTaskCount: 2),
            "a chord member sent alone needs a ChordCallback whose UUID every member shares (chord_<uuid> or a UUID, as Machinery "
                + "makes them), got 'c'"
        ),
        (
            goSignature(
                "task_a", "add", onSuccess: [goSignature("task_b", "b")], chordCallback: goSignature("chord_\(UUID())", "m"),
                groupUUID: "group_\(UUID())", groupTaskCount: 2),
            "a chord member sent alone cannot have OnSuccess callbacks (its chord counts its members as its nodes); send the "
                + #"chord whole as {"Group", "Callback"} to POST /v1/compat/machinery/workflows"#
        ),
    ])
    func chordMemberRefusals(_ text: String, _ message: String) throws {
        do {
            _ = try Machinery.groupMember(try parseJSON(text))
            Issue.record("accepted: \(text)")
        } catch let error as BatonError {
            #expect(error.code == .invalidArgument && error.message == message)
        }
    }

    /// A group's name becomes its workflow's: text a store could not keep is refused.
    @Test func aGroupUUIDHoldingANULIsRefused() throws {
        let error = try #require(try refusal(#"{"GroupUUID":"group\u0000","Tasks":[{"UUID":"a","Name":"x"}]}"#))
        #expect(error.code == .invalidArgument && error.message == "GroupUUID must not contain a NUL character", "\(error)")
    }

    @Test func machineryUUIDsAreBatonIDs() {
        let uuid = UUID().uuidString.lowercased()
        for text in ["task_\(uuid)", "chord_\(uuid)", "group_\(uuid)", uuid, uuid.uppercased()] {
            #expect(Machinery.taskID(text) == TaskID(uuid), "\(text)")
        }
        for text in ["task_", "chord_x", "g", ""] { #expect(Machinery.taskID(text) == nil, "\(text)") }
    }

    // MARK: States

    @Test(arguments: [
        (TaskState.waiting, 0, "PENDING"),
        (.pending, 0, "PENDING"),
        (.ready, 0, "PENDING"),
        (.pending, 1, "RETRY"),
        (.ready, 2, "RETRY"),
        (.running, 1, "STARTED"),
        (.succeeded, 1, "SUCCESS"),
        (.failed, 3, "FAILURE"),
        (.cancelled, 0, "FAILURE"),
    ])
    func stateMapping(_ state: TaskState, _ attempt: Int, _ expected: String) {
        #expect(Machinery.state(record(state: state, attempt: attempt)) == expected)
    }

    func record(
        state: TaskState, attempt: Int = 1, node: String? = "task_1", result: String? = nil, lastError: String? = nil
    ) -> TaskRecord {
        TaskRecord(
            id: counterID(7), kind: "add", queue: "default", args: RawJSON(trusted: "[]"), priority: 5, state: state, attempt: attempt,
            maxAttempts: 1, runAt: Date(timeIntervalSince1970: 1_700_000_000), result: result.map { RawJSON(trusted: $0) },
            lastError: lastError, createdAt: Date(timeIntervalSince1970: 1_700_000_000), node: node)
    }

    func encoded(_ state: MachineryTaskState) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(state), as: UTF8.self)
    }

    @Test func taskStateShape() throws {
        let success = MachineryTaskState(record(state: .succeeded, result: #"[{"Type":"int64","Value":2}]"#))
        #expect(
            try encoded(success)
                == #"{"CreatedAt":"2023-11-14T22:13:20.000Z","Error":"","Results":[{"Type":"int64","Value":2}],"State":"SUCCESS","TTL":0,"TaskName":"add","TaskUUID":"task_1"}"#
        )
        let back = try JSONDecoder().decode(MachineryTaskState.self, from: Data(try encoded(success).utf8))
        #expect(back == success)

        let failure = MachineryTaskState(record(state: .failed, node: nil, lastError: "boom"), ttl: 3600)
        #expect(
            try encoded(failure)
                == #"{"CreatedAt":"2023-11-14T22:13:20.000Z","Error":"boom","Results":null,"State":"FAILURE","TTL":3600,"TaskName":"add","TaskUUID":"\#(counterID(7))"}"#
        )
        #expect(MachineryTaskState(record(state: .cancelled)).error == "task cancelled")
    }

    @Test(arguments: [
        (#""hi""#, #"[{"Type":"string","Value":"hi"}]"#),
        ("3", #"[{"Type":"int64","Value":3}]"#),
        ("2.5", #"[{"Type":"float64","Value":2.5}]"#),
        ("true", #"[{"Type":"bool","Value":true}]"#),
        ("null", #"[{"Type":"json","Value":null}]"#),
        (#"{"a":1}"#, #"[{"Type":"json","Value":{"a":1}}]"#),
        ("[1,2]", #"[{"Type":"json","Value":[1,2]}]"#),
        (#"[{"Type":"int64","Value":1},{"Value":2}]"#, #"[{"Type":"json","Value":[{"Type":"int64","Value":1},{"Value":2}]}]"#),
        (#"[{"Type":"int64","Value":1},{"Type":"string","Value":"x"}]"#, #"[{"Type":"int64","Value":1},{"Type":"string","Value":"x"}]"#),
        ("[]", "[]"),
    ])
    func resultsAreMachineryListsOrWrapped(_ result: String, _ expected: String) throws {
        let state = MachineryTaskState(record(state: .succeeded, result: result))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        #expect(String(decoding: try encoder.encode(state.results), as: UTF8.self) == expected)
    }
}
