import BatonCore
import BatonNode
import BatonTesting
import Foundation
import Testing

/// Machinery's brokers send a chord one member per message (each naming the group, the member
/// count and the callback): the node joins them into one workflow and stores the callback
/// once every member is stored, exactly once, on every backend.
@Suite("Machinery chords sent a member per message", .serialized)
struct MachineryChordTests {
    /// 40 members, each sent twice (SQS delivers at least once) through two nodes on one
    /// database, all at once: one workflow, one callback with the 40 members as parents in the
    /// order they were stored, released once they have all succeeded.
    @Test(arguments: storeFactories)
    func membersSentApartJoinOneChordAndItsCallbackIsStoredOnce(_ factory: any StoreFactory) async throws {
        let first = try await factory.makeStore()
        let second = try await factory.makeSecondStore(sharing: first)
        do {
            try await Self.joinChord(first, second)
            await factory.dispose(second)
            await factory.dispose(first)
        } catch {
            await factory.dispose(second)
            await factory.dispose(first)
            throw error
        }
    }

    /// A workflow id chosen by its submitter (a Machinery group's UUID) that is taken is a
    /// conflict naming the workflow, and nothing of the second request is stored.
    @Test(arguments: storeFactories)
    func aTakenWorkflowIDIsAConflictNamingIt(_ factory: any StoreFactory) async throws {
        try await factory.withStore { store in
            let workflow = NewWorkflow(id: TaskID.generate(), name: "group")
            func node(_ name: String) -> NewTask {
                var task = NewTask(kind: "add")
                task.workflowID = workflow.id
                task.node = name
                return task
            }
            _ = try await store.taskEnqueueMany(TaskEnqueueParams(tasks: [node("a")], workflow: workflow))
            do {
                _ = try await store.taskEnqueueMany(TaskEnqueueParams(tasks: [node("b")], workflow: workflow))
                Issue.record("the workflow was stored twice")
            } catch let error as BatonError {
                #expect(error.code == .conflict && error.message == "workflow \(workflow.id) already exists", "\(error.message)")
            }
            #expect(try await store.workflowGet(workflow.id)?.nodes.map(\.name) == ["a"])
        }
    }

    /// A workflow that joins an existing one (a group's member sent alone) is stored by the
    /// first request and joined by the next, whose name and expected nodes do not replace the
    /// first's.
    @Test(arguments: storeFactories)
    func aJoiningWorkflowIsMadeByTheFirstAndJoinedByTheNext(_ factory: any StoreFactory) async throws {
        try await factory.withStore { store in
            let id = TaskID.generate()
            func node(_ name: String) -> NewTask {
                var task = NewTask(kind: "add")
                task.workflowID = id
                task.node = name
                return task
            }
            let first = NewWorkflow(id: id, name: "first", expectedNodes: 2, joinsExisting: true)
            let next = NewWorkflow(id: id, name: "next", expectedNodes: 9, joinsExisting: true)
            _ = try await store.taskEnqueueMany(TaskEnqueueParams(tasks: [node("a")], workflow: first))
            _ = try await store.taskEnqueueMany(TaskEnqueueParams(tasks: [node("b")], workflow: next))
            for claimed in try await store.claim(kinds: ["add"]) { _ = try await store.complete(claimed) }
            let record = try #require(try await store.workflowGet(id))
            // Two nodes, both succeeded: the first's expected 2, not the next's 9.
            #expect(record.nodes.map(\.name) == ["a", "b"] && record.name == "first" && record.state == .succeeded)
        }
    }

    /// A workflow stored with the number of nodes it will have runs until it has them, though
    /// every node stored so far has finished.
    @Test(arguments: storeFactories)
    func aWorkflowRunsUntilItHasItsExpectedNodes(_ factory: any StoreFactory) async throws {
        try await factory.withStore { store in
            let workflow = NewWorkflow(id: TaskID.generate(), name: "group", expectedNodes: 2)
            func node(_ name: String) -> NewTask {
                var task = NewTask(kind: name)
                task.workflowID = workflow.id
                task.node = name
                return task
            }
            _ = try await store.taskEnqueueMany(TaskEnqueueParams(tasks: [node("a")], workflow: workflow))
            let first = try #require(try await store.claim(kinds: ["a"]).first)
            _ = try await store.complete(first)
            #expect(try await store.workflowGet(workflow.id)?.state == .running, "one node of two")
            _ = try await store.taskEnqueueMany(TaskEnqueueParams(tasks: [node("b")]))
            let second = try #require(try await store.claim(kinds: ["b"]).first)
            _ = try await store.complete(second)
            let done = try await store.workflowGet(workflow.id)
            #expect(done?.state == .succeeded && done?.nodes.map(\.name) == ["a", "b"])
        }
    }

    static func joinChord(_ first: any TaskStore, _ second: any TaskStore) async throws {
        let apis = try [first, second].map { store in
            let store = try #require(store as? any NodeStore)
            return NodeAPI(node: NodeServices(store: store, logger: testLogger("node")))
        }
        let count = 40
        let group = UUID().uuidString.lowercased()
        let callbackUUID = UUID().uuidString.lowercased()
        let callback = goSignature("chord_\(callbackUUID)", "multiply", args: [2])
        let uuids = (0..<count).map { _ in UUID().uuidString.lowercased() }
        let members = try uuids.enumerated().map { i, uuid in
            try RawJSON(
                validating: goSignature(
                    "task_\(uuid)", "add", args: [i], chordCallback: callback, groupUUID: "group_\(group)", groupTaskCount: count)
            ).parsed()
        }
        let outcomes = try await withThrowingTaskGroup(of: NodeAPI.WorkflowOutcome.self) { tasks in
            for (i, member) in members.enumerated() {
                for copy in 0..<2 {
                    tasks.addTask {
                        try await apis[(i + copy) % 2].submitMachineryWorkflow(member, idempotencyKey: "message-\(i)")
                    }
                }
            }
            return try await tasks.reduce(into: []) { $0.append($1) }
        }
        let workflowID = try #require(TaskID(group))
        let callbackID = try #require(TaskID(callbackUUID))
        #expect(outcomes.allSatisfy { $0.workflow.id == workflowID && $0.workflow.name == "group_\(group)" })
        #expect(outcomes.filter(\.replayed).count == count, "each member's second message answers the first")

        let record = try await apis[0].workflow(workflowID)
        #expect(record.nodes.count == count + 1)
        #expect(record.state == .running)
        #expect(record.nodes.filter { $0.id == callbackID }.count == 1)
        let stored = record.nodes.filter { $0.id != callbackID }.map(\.id)
        #expect(Set(stored) == Set(uuids.compactMap(TaskID.init)))
        let body = try await first.require(callbackID)
        #expect(body.state == .waiting && body.parentCount == count && body.pass == .prependItems)
        #expect(body.workflowID == workflowID && body.kind == "multiply")
        let parents = try #require(try await ParentPage.all { try await first.taskParents(TaskParentsParams(id: callbackID, cursor: $0)) })
        #expect(parents.map(\.id) == stored, "the members in the order they were stored")

        // The members succeed (their results Machinery's lists): the callback is released once.
        var done = 0
        while done < count {
            let claimed = try await first.claim(max: 100, kinds: ["add"])
            for task in claimed {
                let value = uuids.firstIndex(of: task.task.id.description) ?? -1
                let outcome = try await first.complete(task, result: RawJSON(trusted: #"[{"Type":"int64","Value":\#(value)}]"#))
                #expect(outcome == .applied(.succeeded))
            }
            done += claimed.count
            if claimed.isEmpty { break }
        }
        #expect(done == count)
        let claimed = try await second.claim(max: 10)
        #expect(claimed.map(\.task.id) == [callbackID], "the callback, once")
        let results = try #require(try await ParentPage.all { try await second.taskParents(TaskParentsParams(id: callbackID, cursor: $0)) })
        #expect(results.allSatisfy { $0.state == .succeeded })
        #expect(try await apis[1].workflow(workflowID).state == .running)
    }
}
