import BatonCore
import Foundation
import Testing

/// Workflow dependencies on every store: the `waiting` state, the edge conditions and
/// policies, the exactly-once release, cascades and operator retry (docs/workflows.md).
extension StoreConformance {
    /// A dependent waits until every parent has settled, is released exactly then, and reads
    /// its parents' results by name in the order it listed them.
    public static func dependentIsReleasedWhenItsLastParentSucceeds(_ factory: any StoreFactory) async throws {
        try await factory.withStore { store in
            let (a, b, c) = (TaskID.generate(), TaskID.generate(), TaskID.generate())
            let stored = try await store.enqueue(
                NewTask(kind: "p", id: a), NewTask(kind: "p", id: b),
                NewTask(kind: "child", args: RawJSON(trusted: "[9]"), id: c, after: [.init(parent: b), .init(parent: a)], pass: .prepend))
            #expect(stored[2].state == .waiting && stored[2].parentCount == 2 && stored[2].pass == .prepend)
            let parents = try await store.claim(max: 10)
            #expect(Set(parents.map(\.task.id)) == [a, b], "a waiting task is never claimed")
            let byID = Dictionary(uniqueKeysWithValues: parents.map { ($0.task.id, $0) })
            #expect(try await store.complete(byID[a]!, result: RawJSON(trusted: #"{"a":1}"#)) == .applied(.succeeded))
            #expect(try await store.require(c).state == .waiting)
            #expect(try await store.claim().isEmpty)
            let signal = store.readySignal.generation
            #expect(try await store.complete(byID[b]!, result: RawJSON(trusted: "2")) == .applied(.succeeded))
            #expect(try await store.require(c).state == .ready)
            // Woken in the transaction (SQLite) or by the NOTIFY the release sends (PostgreSQL).
            #expect(await eventually(within: .seconds(5)) { store.readySignal.generation != signal }, "a release wakes the claimers")
            let child = try #require(try await store.claim().first)
            #expect(child.task.id == c)
            let page = try await store.taskParents(TaskParentsParams(id: c))
            #expect(page.parents.map(\.id) == [b, a], "in the order the dependent listed them")
            #expect(page.parents.map { $0.result?.text } == ["2", #"{"a":1}"#])
            #expect(page.parents.allSatisfy { $0.state == .succeeded && $0.condition == .success } && page.nextCursor == nil)
            let first = try await store.taskParents(TaskParentsParams(id: c, limit: 1))
            #expect(first.parents.map(\.id) == [b])
            let second = try await store.taskParents(TaskParentsParams(id: c, cursor: first.nextCursor.flatMap { Int($0) }, limit: 1))
            #expect(second.parents.map(\.id) == [a] && second.nextCursor == nil)
            await expectError(.notFound) { try await store.taskParents(TaskParentsParams(id: TaskID.generate())) }
        }
    }

    /// A failed attempt that will be retried, a stale token and a duplicate ack release nothing.
    public static func retriedOrStaleAttemptsReleaseNothing(_ factory: any StoreFactory) async throws {
        try await factory.withStore { store in
            let (p, c) = (TaskID.generate(), TaskID.generate())
            try await store.enqueue(
                NewTask(kind: "p", maxAttempts: 2, retry: .fixed(.milliseconds(1)), id: p),
                NewTask(kind: "c", id: c, after: [.init(parent: p)]))
            let first = try #require(try await store.claim().first)
            #expect(try await store.fail(first.lease) == .applied(.pending))
            #expect(try await store.require(c).state == .waiting, "a parent backing off has not finished")
            try await Task.sleep(for: .milliseconds(5))
            let second = try #require(try await store.claim().first)
            #expect(try await store.complete(first) == .staleLease)
            #expect(try await store.require(c).state == .waiting)
            #expect(try await store.complete(second) == .applied(.succeeded))
            #expect(try await store.complete(second) == .staleLease)
            #expect(try await store.require(c).state == .ready)
            let claimed = try await store.claim()
            #expect(claimed.map(\.task.id) == [c], "released once: claimable once")
        }
    }

    /// Every edge condition × parent outcome × policy ends the dependent as
    /// `TaskDependency.satisfied` says: released, or cancelled by its dependencies.
    public static func policyTableDecidesEachEdge(_ factory: any StoreFactory) async throws {
        try await factory.withStore { store in
            let outcomes: [TaskState] = [.succeeded, .failed, .cancelled]
            var parents: [TaskState: TaskID] = [:]
            for outcome in outcomes { parents[outcome] = TaskID.generate() }
            try await store.enqueue(outcomes.map { NewTask(kind: "p-\($0.rawValue)", maxAttempts: 1, id: parents[$0]) })
            var cases: [(DependencyCondition, TaskState, DependencyPolicy, TaskID)] = []
            var children: [NewTask] = []
            for condition in DependencyCondition.allCases {
                for outcome in outcomes {
                    for policy in DependencyPolicy.allCases {
                        let id = TaskID.generate()
                        cases.append((condition, outcome, policy, id))
                        children.append(
                            NewTask(kind: "child", id: id, after: [.init(parent: parents[outcome]!, condition: condition)], policy: policy))
                    }
                }
            }
            try await store.enqueue(children)
            _ = try await store.taskCancel(parents[.cancelled]!)
            for claimed in try await store.claim(max: 10, kinds: ["p-succeeded", "p-failed"]) {
                switch claimed.task.id {
                case parents[.succeeded]: #expect(try await store.complete(claimed) == .applied(.succeeded))
                default: #expect(try await store.fail(claimed.lease) == .applied(.failed))
                }
            }
            for (condition, outcome, policy, id) in cases {
                guard let satisfied = TaskDependency.satisfied(condition: condition, parentState: outcome, policy: policy) else {
                    Issue.record("a finished parent always decides its edge")
                    continue
                }
                let child = try await store.require(id)
                #expect(
                    child.state == (satisfied ? .ready : .cancelled),
                    "edge on \(condition.rawValue), parent \(outcome.rawValue), policy \(policy.rawValue)")
                if !satisfied {
                    #expect(child.lastError?.hasPrefix("dependency not satisfied") == true && child.finishedAt != nil)
                }
            }
        }
    }

    /// Completions acknowledged in one batch settle their dependents as the same completions
    /// acknowledged one at a time do (`oneBatch` false: each in a batch of its own, with a
    /// stale copy of itself): two parents of one dependent, a `failure` edge cancelling (and
    /// cascading) whatever else settles, an `always` edge, a dependent still waiting for a
    /// parent outside the batch, one whose run time is ahead, and a chord of five members.
    public static func aBatchOfCompletionsSettlesAsOneAtATime(_ factory: any StoreFactory, oneBatch: Bool) async throws {
        try await factory.withStore { store in
            let (p1, p2, p3) = (TaskID.generate(), TaskID.generate(), TaskID.generate())
            let members = (0..<5).map { _ in TaskID.generate() }
            try await store.enqueue(
                [NewTask(kind: "p", id: p1), NewTask(kind: "p", id: p2), NewTask(kind: "p3", id: p3)]
                    + members.map { NewTask(kind: "m", id: $0) })
            let ids = (0..<8).map { _ in TaskID.generate() }
            let (both, onFailure, cascaded, waits, always, mixed, later, body) = (
                ids[0], ids[1], ids[2], ids[3], ids[4], ids[5], ids[6], ids[7]
            )
            try await store.enqueue(
                NewTask(kind: "d", id: both, after: [.init(parent: p1), .init(parent: p2)]),
                NewTask(kind: "d", id: onFailure, after: [.init(parent: p1, condition: .failure)]),
                NewTask(kind: "d", id: cascaded, after: [.init(parent: onFailure)]),
                NewTask(kind: "d", id: waits, after: [.init(parent: p1), .init(parent: p3)]),
                NewTask(kind: "d", id: always, after: [.init(parent: p2, condition: .always)]),
                NewTask(kind: "d", id: mixed, after: [.init(parent: p1, condition: .failure), .init(parent: p2)]),
                NewTask(kind: "d", delay: 3600, id: later, after: [.init(parent: p2)]),
                NewTask(kind: "d", id: body, after: members.map { .init(parent: $0) }))
            let claimed = try await store.claim(max: 20, kinds: ["p", "m"])
            #expect(claimed.count == 7)
            let acks = claimed.map { TaskAck.complete(TaskCompletion(lease: $0.lease, result: .null)) }
            if oneBatch {
                #expect(try await store.taskAckMany(TaskAckParams(acks: acks)) == Array(repeating: .applied(.succeeded), count: 7))
            } else {
                for ack in acks {
                    #expect(try await store.taskAckMany(TaskAckParams(acks: [ack, ack])) == [.applied(.succeeded), .staleLease])
                }
            }
            let expected: [(TaskID, TaskState)] = [
                (both, .ready), (onFailure, .cancelled), (cascaded, .cancelled), (waits, .waiting), (always, .ready),
                (mixed, .cancelled), (later, .pending), (body, .ready),
            ]
            for (id, state) in expected {
                #expect(try await store.require(id).state == state, "\(ids.firstIndex(of: id)!) with oneBatch \(oneBatch)")
            }
            let blocked = try await store.require(mixed)
            #expect(blocked.lastError?.hasPrefix("dependency not satisfied: parent \(p1)") == true && blocked.finishedAt != nil)
            let released = try await store.claim(max: 20, kinds: ["d"])
            #expect(Set(released.map(\.task.id)) == [both, always, body], "each released once")
            let last = try #require(try await store.claim(max: 1, kinds: ["p3"]).first)
            #expect(try await store.complete(last) == .applied(.succeeded))
            #expect(try await store.require(waits).state == .ready)
        }
    }

    /// A parent that fails for good cancels its dependents, and the cancel cascades three
    /// levels down; an operator retry of the parent re-opens them all exactly once, and they
    /// run when it then succeeds.
    public static func cancelCascadesAndOperatorRetryReopensOnce(_ factory: any StoreFactory) async throws {
        try await factory.withStore { store in
            let ids = (0..<4).map { _ in TaskID.generate() }
            let other = TaskID.generate()
            try await store.enqueue(
                NewTask(kind: "root", maxAttempts: 1, id: ids[0]), NewTask(kind: "x", id: other),
                NewTask(kind: "l1", id: ids[1], after: [.init(parent: ids[0])]),
                NewTask(kind: "l2", id: ids[2], after: [.init(parent: ids[1]), .init(parent: other)]),
                NewTask(kind: "l3", id: ids[3], after: [.init(parent: ids[2])]))
            let root = try #require(try await store.claim(kinds: ["root"]).first)
            #expect(try await store.fail(root.lease) == .applied(.failed))
            for id in ids.dropFirst() {
                let task = try await store.require(id)
                #expect(task.state == .cancelled, "\(task.kind) is cancelled by the cascade")
            }
            // The other parent finishing later changes nothing for a cancelled dependent.
            let x = try #require(try await store.claim(kinds: ["x"]).first)
            #expect(try await store.complete(x) == .applied(.succeeded))
            #expect(try await store.require(ids[2]).state == .cancelled)

            #expect(try await store.taskRetry(ids[0]).state == .ready)
            for id in ids.dropFirst() { #expect(try await store.require(id).state == .waiting) }
            await expectError(.conflict) { try await store.taskRetry(ids[0]) }
            let again = try #require(try await store.claim(kinds: ["root"]).first)
            #expect(try await store.complete(again) == .applied(.succeeded))
            for (level, id) in ids.dropFirst().enumerated() {
                #expect(try await store.require(id).state == .ready)
                let claimed = try await store.claim(max: 10)
                #expect(claimed.map(\.task.id) == [id], "level \(level + 1) runs once, after the one above")
                for c in claimed { #expect(try await store.complete(c) == .applied(.succeeded)) }
            }
        }
    }

    /// An operator retry of a parent that had succeeded takes its success back from a dependent
    /// still waiting on another parent, so that the dependent waits for the rerun; the rerun's
    /// success counts once. A dependent that had already run is left alone by both, and a
    /// listing of a dependent whose succeeded parent was deleted still reads it as succeeded.
    /// Both ways a store acknowledges a success: a batch of distinct tasks, and one at a time
    /// (an ack repeated in its batch).
    public static func operatorRetryOfASucceededParentCountsItAgainOnce(_ factory: any StoreFactory, oneBatch: Bool) async throws {
        try await factory.withStore { store in
            func succeed(_ claimed: ClaimedTask) async throws {
                let ack = TaskAck.complete(TaskCompletion(lease: claimed.lease, result: RawJSON(trusted: "7")))
                let outcomes = try await store.taskAckMany(TaskAckParams(acks: oneBatch ? [ack] : [ack, ack]))
                #expect(outcomes.first == .applied(.succeeded))
            }
            let (a, b, waits, ran) = (TaskID.generate(), TaskID.generate(), TaskID.generate(), TaskID.generate())
            try await store.enqueue(
                NewTask(kind: "a", id: a), NewTask(kind: "b", id: b),
                NewTask(kind: "waits", id: waits, after: [.init(parent: a), .init(parent: b, condition: .always)]),
                NewTask(kind: "ran", id: ran, after: [.init(parent: a)]))
            try await succeed(try #require(try await store.claim(kinds: ["a"]).first))
            let first = try #require(try await store.claim(kinds: ["ran"]).first)
            try await succeed(first)
            #expect(try await store.require(waits).state == .waiting)

            #expect(try await store.taskRetry(a).state == .ready)
            try await succeed(try #require(try await store.claim(kinds: ["b"]).first))
            #expect(try await store.require(waits).state == .waiting, "a retried parent has not finished")
            #expect(try await store.claim(kinds: ["waits"]).isEmpty)
            #expect(try await store.require(ran).state == .succeeded)

            try await succeed(try #require(try await store.claim(kinds: ["a"]).first))
            #expect(try await store.require(waits).state == .ready)
            #expect(try await store.claim(max: 10, kinds: ["waits", "ran"]).map(\.task.id) == [waits], "released once")
            #expect(try await store.require(ran).state == .succeeded)

            // Rerun once more and fail: the dependent that ran is not touched.
            #expect(try await store.taskRetry(a).state == .ready)
            let failing = try #require(try await store.claim(kinds: ["a"]).first)
            #expect(try await store.fail(failing.lease, retryable: false) == .applied(.failed))
            #expect(try await store.require(ran).state == .succeeded)

            let (p, c) = (TaskID.generate(), TaskID.generate())
            try await store.enqueue(NewTask(kind: "p", id: p), NewTask(kind: "c", id: c, after: [.init(parent: p)]))
            try await succeed(try #require(try await store.claim(kinds: ["p"]).first))
            try await succeed(try #require(try await store.claim(kinds: ["c"]).first))
            try await store.taskDelete(p)
            let listed = try await store.taskParents(TaskParentsParams(id: c))
            #expect(listed.parents.map(\.id) == [p] && listed.parents.map(\.state) == [.succeeded])
        }
    }

    /// Parents stored in the same batch as their dependent count it from their insert: a
    /// finished one whose dependent still waits is neither deleted nor cleaned; once the
    /// dependent has finished it may go.
    public static func parentsOfTheSameBatchCountTheirDependents(_ factory: any StoreFactory) async throws {
        try await factory.withStore { store in
            let (a, b) = (TaskID.generate(), TaskID.generate())
            let workflow = NewWorkflow(id: TaskID.generate(), name: "batch")
            var tasks = [
                NewTask(kind: "a", id: a), NewTask(kind: "b", id: b),
                NewTask(kind: "c", after: [.init(parent: a), .init(parent: b)]),
            ]
            for i in tasks.indices {
                tasks[i].workflowID = workflow.id
                tasks[i].node = "n\(i)"
            }
            let stored = try await store.taskEnqueueMany(TaskEnqueueParams(tasks: tasks, workflow: workflow))
            #expect(stored.map(\.state) == [.ready, .ready, .waiting])
            #expect(stored.map(\.workflowID) == [workflow.id, workflow.id, workflow.id] && stored[2].parentCount == 2)
            #expect(try await store.workflowGet(workflow.id)?.nodes.map(\.name) == ["n0", "n1", "n2"])
            let first = try #require(try await store.claim(kinds: ["a"]).first)
            #expect(try await store.complete(first, result: RawJSON(trusted: "1")) == .applied(.succeeded))
            await expectError(.conflict) { try await store.taskDelete(a) }
            _ = try await store.taskDeleteFinished(TaskDeleteFinishedParams(finishedBefore: Date().addingTimeInterval(3600)))
            #expect(try await store.taskGet(a) != nil, "retention keeps a parent whose result is still needed")
            let second = try #require(try await store.claim(kinds: ["b"]).first)
            #expect(try await store.complete(second) == .applied(.succeeded))
            let last = try #require(try await store.claim(kinds: ["c"]).first)
            #expect(try await store.complete(last) == .applied(.succeeded))
            try await store.taskDelete(a)
            #expect(try await store.taskGet(a) == nil, "a parent whose dependents have finished may go")
        }
    }

    /// A dependent added (by id) after its parent finished is settled at once: released for a
    /// satisfied edge, cancelled for one that can never be; an unknown parent is refused and
    /// nothing of the batch is stored.
    public static func dependentOfAFinishedParentSettlesAtOnce(_ factory: any StoreFactory) async throws {
        try await factory.withStore { store in
            let (ok, bad) = (TaskID.generate(), TaskID.generate())
            try await store.enqueue(NewTask(kind: "ok", id: ok), NewTask(kind: "bad", maxAttempts: 1, id: bad))
            for claimed in try await store.claim() {
                if claimed.task.id == ok {
                    _ = try await store.complete(claimed, result: RawJSON(trusted: "42"))
                } else {
                    _ = try await store.fail(claimed.lease)
                }
            }
            let added = try await store.enqueue(
                NewTask(kind: "after-ok", after: [.init(parent: ok)]), NewTask(kind: "after-bad", after: [.init(parent: bad)]),
                NewTask(kind: "on-error", after: [.init(parent: bad, condition: .failure)]))
            #expect(added.map(\.state) == [.ready, .cancelled, .ready])
            #expect(try await store.taskParents(TaskParentsParams(id: added[0].id)).parents.first?.result?.text == "42")
            let before = try await store.all().count
            await expectError(.invalidArgument) {
                try await store.enqueue(NewTask(kind: "a"), NewTask(kind: "orphan", after: [.init(parent: TaskID.generate())]))
            }
            #expect(try await store.all().count == before, "nothing of a refused batch is stored")
            // A finished parent whose dependent still waits is neither deleted nor cleaned.
            let waiting = try await store.enqueue(NewTask(kind: "w", after: [.init(parent: ok), .init(parent: added[0].id)]))
            #expect(waiting[0].state == .waiting)
            await expectError(.conflict) { try await store.taskDelete(ok) }
            let cleaned = try await store.taskDeleteFinished(TaskDeleteFinishedParams(finishedBefore: Date().addingTimeInterval(3600)))
            #expect(try await store.taskGet(ok) != nil, "retention keeps a parent whose result is still needed")
            #expect(cleaned >= 1, "other finished tasks are cleaned")
        }
    }

    /// The last parents of 1,000 dependents complete from two stores at once, in interleaved
    /// batches: every dependent is released exactly once (claimable once); repeated acks are
    /// stale and release nothing.
    public static func concurrentLastParentsReleaseEachDependentOnce(_ factory: any StoreFactory) async throws {
        try await factory.withStore { store in
            let second = try await factory.makeSecondStore(sharing: store)
            let rounds = 1000
            var tasks: [NewTask] = []
            var pairs: [(TaskID, TaskID)] = []
            for _ in 0..<rounds {
                let (a, b) = (TaskID.generate(), TaskID.generate())
                pairs.append((a, b))
                tasks.append(NewTask(kind: "parent", id: a))
                tasks.append(NewTask(kind: "parent", id: b))
                tasks.append(NewTask(kind: "child", after: [.init(parent: a), .init(parent: b)]))
            }
            for chunk in stride(from: 0, to: tasks.count, by: 600) {
                try await store.enqueue(Array(tasks[chunk..<min(chunk + 600, tasks.count)]))
            }
            var leases: [TaskID: LeaseRef] = [:]
            while leases.count < 2 * rounds {
                let claimed = try await store.claim(max: 1000, kinds: ["parent"])
                try #require(!claimed.isEmpty)
                for c in claimed { leases[c.task.id] = c.lease }
            }
            let left = pairs.map { leases[$0.0]! }
            let right = pairs.map { leases[$0.1]! }
            func ackAll(_ s: any TaskStore, _ ls: [LeaseRef], reversed: Bool) async throws -> Int {
                var applied = 0
                let batches = stride(from: 0, to: ls.count, by: 10).map { Array(ls[$0..<min($0 + 10, ls.count)]) }
                for batch in reversed ? batches.reversed() : batches {
                    let outcomes = try await s.taskAckMany(
                        TaskAckParams(acks: batch.map { .complete(TaskCompletion(lease: $0, result: RawJSON(trusted: "1"))) }))
                    applied += outcomes.filter { $0 == .applied(.succeeded) }.count
                }
                return applied
            }
            async let one = ackAll(store, left, reversed: false)
            async let two = ackAll(second, right, reversed: true)
            let (appliedOne, appliedTwo) = try await (one, two)
            #expect(appliedOne == rounds && appliedTwo == rounds)
            // Repeated acks from either side are stale.
            #expect(try await ackAll(second, left, reversed: false) == 0)
            var children = Set<TaskID>()
            var claims = 0
            while true {
                let claimed = try await store.claim(max: 1000, kinds: ["child"])
                if claimed.isEmpty { break }
                claims += claimed.count
                for c in claimed { children.insert(c.task.id) }
            }
            #expect(claims == rounds && children.count == rounds, "each dependent released exactly once")
            await factory.dispose(second)
        }
    }

    /// A workflow's record lists its nodes by name with their states; a cancel stops every
    /// live node (a running one learns of it at its heartbeat) and the workflow ends cancelled.
    public static func workflowIsReadAndCancelled(_ factory: any StoreFactory) async throws {
        try await factory.withStore { store in
            let workflow = NewWorkflow(id: TaskID.generate(), name: "nightly")
            let (a, b, c) = (TaskID.generate(), TaskID.generate(), TaskID.generate())
            _ = try await store.taskEnqueueMany(
                TaskEnqueueParams(
                    tasks: [
                        NewTask(kind: "extract", id: a, workflowID: workflow.id, node: "extract"),
                        NewTask(kind: "load", id: b, after: [.init(parent: a)], workflowID: workflow.id, node: "load"),
                        NewTask(
                            kind: "notify", id: c, after: [.init(parent: b, condition: .failure)], workflowID: workflow.id, node: "notify"),
                    ], workflow: workflow))
            var record = try #require(try await store.workflowGet(workflow.id))
            #expect(record.name == "nightly" && record.state == .running && !record.cancelRequested)
            #expect(record.nodes.map(\.name) == ["extract", "load", "notify"])
            #expect(record.nodes.map(\.state) == [.ready, .waiting, .waiting])
            let loadRecord = try await store.require(b)
            #expect(loadRecord.workflowID == workflow.id && loadRecord.node == "load")
            let running = try #require(try await store.claim().first)
            _ = try await store.complete(running, result: RawJSON(trusted: "1"))
            let load = try #require(try await store.claim().first)
            record = try await store.workflowCancel(workflow.id)
            #expect(record.state == .cancelled && record.cancelRequested)
            #expect(record.nodes.map(\.state) == [.succeeded, .cancelled, .cancelled])
            #expect(try await store.heartbeat(load.lease) == .cancelled)
            #expect(try await store.workflowGet(TaskID.generate()) == nil)
            await expectError(.notFound) { try await store.workflowCancel(TaskID.generate()) }

            // Succeeded: an error callback that was not needed is skipped, not a failure.
            let done = NewWorkflow(id: TaskID.generate())
            let (x, y) = (TaskID.generate(), TaskID.generate())
            _ = try await store.taskEnqueueMany(
                TaskEnqueueParams(
                    tasks: [
                        NewTask(kind: "x", id: x, workflowID: done.id, node: "x"),
                        NewTask(kind: "y", id: y, after: [.init(parent: x, condition: .failure)], workflowID: done.id, node: "on-error"),
                    ], workflow: done))
            let xc = try #require(try await store.claim(kinds: ["x"]).first)
            _ = try await store.complete(xc)
            let finished = try #require(try await store.workflowGet(done.id))
            #expect(finished.nodes.map(\.skipped) == [false, true])
            #expect(finished.state == .succeeded)
            // A deleted node leaves its workflow's record.
            try await store.taskDelete(x)
            #expect(try await store.workflowGet(done.id)?.nodes.map(\.name) == ["on-error"])
        }
    }
}

extension StoreConformance {
    /// The depth of a chain a cancel cascades through (the stores' triggers recurse once per
    /// level); docs/workflows.md states the limit this checks.
    public static let cascadeDepth = 600

    /// A chain of ``cascadeDepth`` dependents whose root fails for good is cancelled to its end
    /// in the root's transaction; an operator retry of the root re-opens it all.
    public static func cancelCascadesThroughALongChain(_ factory: any StoreFactory) async throws {
        try await factory.withStore { store in
            let ids = (0...cascadeDepth).map { _ in TaskID.generate() }
            var tasks = [NewTask(kind: "root", maxAttempts: 1, id: ids[0])]
            for level in 1...cascadeDepth { tasks.append(NewTask(kind: "link", id: ids[level], after: [.init(parent: ids[level - 1])])) }
            try await store.enqueue(tasks)
            let root = try #require(try await store.claim(kinds: ["root"]).first)
            #expect(try await store.fail(root.lease) == .applied(.failed))
            #expect(try await store.require(ids[cascadeDepth]).state == .cancelled, "the cancel reached the end of the chain")
            #expect(try await store.taskList(TaskListParams(states: [.cancelled], limit: 1000)).tasks.count == min(1000, cascadeDepth))
            _ = try await store.taskRetry(ids[0])
            #expect(try await store.taskList(TaskListParams(states: [.waiting], limit: 1000)).tasks.count == min(1000, cascadeDepth))
        }
    }
}

extension StoreConformance {
    /// A dependent added by id while its parent is completing, from another store instance,
    /// 200 times: each ends released exactly once (claimable once), whichever commits first.
    public static func dependentAddedWhileItsParentCompletesIsReleasedOnce(_ factory: any StoreFactory) async throws {
        try await factory.withStore { store in
            let second = try await factory.makeSecondStore(sharing: store)
            let rounds = 200
            let parents = (0..<rounds).map { _ in TaskID.generate() }
            try await store.enqueue(parents.map { NewTask(kind: "parent", id: $0) })
            var leases: [TaskID: LeaseRef] = [:]
            while leases.count < rounds {
                for c in try await store.claim(max: 1000, kinds: ["parent"]) { leases[c.task.id] = c.lease }
            }
            var children: [TaskID] = []
            for parent in parents {
                let child = TaskID.generate()
                children.append(child)
                async let completed = store.taskAckMany(
                    TaskAckParams(acks: [.complete(TaskCompletion(lease: leases[parent]!, result: RawJSON(trusted: "1")))]))
                async let added = second.enqueue(NewTask(kind: "child", id: child, after: [.init(parent: parent)]))
                let (outcomes, _) = try await (completed, added)
                #expect(outcomes == [.applied(.succeeded)])
            }
            var claimed: [TaskID] = []
            while true {
                let batch = try await store.claim(max: 1000, kinds: ["child"])
                if batch.isEmpty { break }
                claimed += batch.map(\.task.id)
            }
            #expect(claimed.count == rounds && Set(claimed) == Set(children), "each dependent released exactly once")
            await factory.dispose(second)
        }
    }
}
