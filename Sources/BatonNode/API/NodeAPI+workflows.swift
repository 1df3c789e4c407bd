import BatonCore
import Foundation

/// Workflows (docs/workflows.md): submit, read, wait, cancel, and a task's parents.
extension NodeAPI {
    /// A stored workflow, and whether it was a replay of an idempotency key.
    public struct WorkflowOutcome: Sendable {
        public var workflow: WorkflowRecord
        public var replayed: Bool
        /// The tasks this request stored (or, replayed, first stored) when they are not the
        /// whole workflow: a member of a group sent alone (``joinGroup``).
        public var tasks: [TaskID]?
    }

    /// Stores a compiled workflow and its tasks in one transaction: all or nothing. A unique
    /// key held by another task refuses the whole workflow (`conflict`): its nodes must all be
    /// its own. A repeated `idempotencyKey` answers the workflow it first stored.
    /// `fingerprint` identifies the request as sent (its ids are generated anew each time).
    public func submitWorkflow(
        _ submission: WorkflowSubmission, idempotencyKey: String?, fingerprint: String? = nil
    ) async throws -> WorkflowOutcome {
        guard !submission.tasks.isEmpty else { throw BatonError.invalidArgument("a workflow needs at least one node") }
        let outcome = try await storeNodes(
            submission.tasks, of: submission.workflow, idempotencyKey: idempotencyKey, fingerprint: fingerprint)
        // A replay answers the workflow first stored, whose id was generated for that request.
        let id = outcome.tasks.first?.workflowID ?? submission.workflow.id
        return WorkflowOutcome(workflow: try await workflow(id), replayed: outcome.replayed)
    }

    /// Validates and stores a workflow's tasks in one transaction, with `workflow` when it is
    /// new (else the tasks join theirs).
    func storeNodes(
        _ tasks: [NewTask], of workflow: NewWorkflow?, idempotencyKey: String?, fingerprint: String?
    ) async throws -> TaskEnqueueOutcome {
        let limits = configuration
        for task in tasks {
            do {
                try validate(task, maxArgsBytes: limits.maxArgsBytes)
            } catch {
                throw BatonError(error.code, "node '\(task.node ?? "?")': \(error.message)")
            }
        }
        let outcome = try await Self.traced(tasks, stored: \.tasks) { tasks in
            let params = TaskEnqueueParams(
                tasks: tasks, idempotencyKey: idempotencyKey, workflow: workflow, strictUnique: true, requestFingerprint: fingerprint)
            return try await node.events.timed(.enqueue) { () async throws -> TaskEnqueueOutcome in
                if idempotencyKey != nil { return try await node.store.taskEnqueueManyOutcome(params) }
                let tasks = try await node.store.taskEnqueueMany(params)
                return TaskEnqueueOutcome(tasks: tasks, duplicate: Array(repeating: false, count: tasks.count))
            }
        }
        if !outcome.replayed {
            node.events.emit(outcome.tasks.lazy.map { NodeEvent.enqueued(TaskRef($0)) })
        }
        return outcome
    }

    public func workflow(_ id: TaskID) async throws -> WorkflowRecord {
        guard let record = try await node.store.workflowGet(id) else { throw BatonError.notFound("workflow \(id) not found") }
        return record
    }

    /// Long-polls until the workflow has finished or the timeout (seconds) passes; answers the
    /// workflow as it is then.
    public func waitWorkflow(_ id: TaskID, timeout seconds: Double?) async throws -> WorkflowRecord {
        let deadline = ContinuousClock.now.advanced(by: try waitTimeout(seconds))
        while true {
            let record = try await workflow(id)
            let remaining = deadline - ContinuousClock.now
            if record.state.isTerminal || remaining <= .zero || Task.isCancelled { return record }
            try? await Task.sleep(for: min(remaining, Self.workflowWaitPoll))
        }
    }

    /// How often a workflow wait reads the workflow again.
    public static var workflowWaitPoll: Duration { .milliseconds(100) }

    public func cancelWorkflow(_ id: TaskID) async throws -> WorkflowRecord {
        // Waiters on its tasks see the cancels at their next read (`waitPoll`).
        try await node.store.workflowCancel(id)
    }

    /// Completes a running task and stores its follow-up tasks in the same transaction (seed
    /// 000's multistage tasks): in the task's workflow, if it has one, named `<its node>.<n>`
    /// unless named; none exists unless the completion commits.
    public func completeWithFollowUps(_ completion: TaskCompletion, _ followUps: [NewTask]) async throws -> TaskRecord {
        let limits = configuration
        guard followUps.count <= limits.maxBatch else {
            throw BatonError(.tooLarge, "\(followUps.count) follow-ups, more than the limit of \(limits.maxBatch)")
        }
        for (i, task) in followUps.enumerated() {
            do {
                try validate(task, maxArgsBytes: limits.maxArgsBytes)
            } catch {
                throw BatonError(error.code, "follow-up [\(i)]: \(error.message)")
            }
        }
        let parent = try await get(completion.lease.id)
        let stored = try await Self.traced(followUps, stored: \.self) { followUps in
            try await node.store.taskEnqueueMany(
                try TaskEnqueueParams(completing: completion, of: parent, followUps: followUps, maxArgsBytes: limits.maxArgsBytes))
        }
        let done = try await get(completion.lease.id)
        node.events.emit(
            [
                .transitioned(
                    TaskTransition(id: done.id, from: .running, to: done.state, attempt: done.attempt, queue: done.queue, kind: done.kind))
            ]
                + stored.map { NodeEvent.enqueued(TaskRef($0)) })
        return done
    }

    /// A parents cursor past any task's parents (larger cursors read as it).
    static let cursorEnd = Int(Int32.max)

    /// A task's parents with their outcomes, in the order it listed them, a page at a time.
    public func parents(_ id: TaskID, cursor: String?, limit: Int?) async throws -> ParentPage {
        var params = TaskParentsParams(id: id)
        if let limit { params.limit = limit }
        if let cursor, !cursor.isEmpty {
            // Digits, as `next_cursor` is (and as the API document says): a position past the
            // last parent, however large, gives an empty page.
            guard cursor.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }) else {
                throw BatonError.invalidArgument("cursor '\(cursor)' is not valid: use a page's next_cursor")
            }
            params.cursor = Int(cursor).map { min($0, Self.cursorEnd) } ?? Self.cursorEnd
        }
        try params.validate()
        return try await node.store.taskParents(params)
    }

    /// A wait's timeout: `seconds` if given (checked), else the default; capped by the maximum.
    func waitTimeout(_ seconds: Double?) throws -> Duration {
        var timeout = min(Self.defaultWait, configuration.maxWait)
        if let seconds {
            guard seconds.isFinite, seconds >= 0 else {
                throw BatonError.invalidArgument("timeout must be a non-negative number of seconds, got \(seconds)")
            }
            timeout = min(.milliseconds(Int64(min(seconds, 1e9) * 1000)), configuration.maxWait)
        }
        return timeout
    }
}
