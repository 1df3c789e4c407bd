import Foundation

/// The one seam every backend implements (SQLite, PostgreSQL).
///
/// Every transition is one atomic statement or transaction, guarded by the expected current
/// state and, for a running task, by its lease token. Time comes from the store's clock.
/// The conformance suite in `Tests/StoreConformanceTests` runs unchanged against each store.
public protocol TaskStore: Sendable {
    /// Inserts all tasks in one transaction: all or nothing. Returns them as stored, in order.
    func taskEnqueueMany(_ p: TaskEnqueueParams) async throws -> [TaskRecord]

    /// Promotes due `pending` tasks, then claims up to `p.totalMax` ready tasks of the given
    /// queues (and kinds) in one statement: highest priority first, then earliest `run_at`,
    /// then submission order. Each claimed task's `leaseOwner` names the share it went to.
    func taskClaim(_ p: TaskClaimParams) async throws -> [ClaimedTask]

    /// Extends the leases of running tasks; per item, whether it still holds its lease.
    func taskHeartbeatMany(_ p: TaskHeartbeatParams) async throws -> [HeartbeatOutcome]

    /// Applies completions and failures in one transaction, each fenced by its lease token.
    /// Returns one outcome per ack, in order.
    func taskAckMany(_ p: TaskAckParams) async throws -> [AckOutcome]

    /// ``taskAckMany(_:)`` that also says, for each applied ack, which attempt it ended: the
    /// event stream's `transitioned` events carry it. Costs a few more columns per row, so the
    /// node asks for it only while someone observes its events.
    func taskAckManyReporting(_ p: TaskAckParams) async throws -> [AckReport]

    /// Returns running tasks to `ready` without using up an attempt (graceful shutdown).
    func taskReleaseMany(_ p: TaskReleaseParams) async throws -> Int

    /// Cancels a non-terminal task. Throws `notFound`, or `conflict` if it is terminal.
    func taskCancel(_ id: TaskID) async throws -> TaskRecord

    /// Operator retry of a terminal task: back to `ready` with a new attempt allowed.
    /// Throws `notFound`, or `conflict` if it is not terminal.
    func taskRetry(_ id: TaskID) async throws -> TaskRecord

    /// Deletes a terminal task. Throws `notFound`, or `conflict` if it is not terminal.
    func taskDelete(_ id: TaskID) async throws

    func taskGet(_ id: TaskID) async throws -> TaskRecord?

    /// ``taskGet(_:)`` with the token of the task's current lease, for the drop-in routes whose
    /// clients complete a running task by its id alone (docs/compat.md): they complete it
    /// under the lease the store holds, on any node. No interface shows the token.
    func taskGetWithLease(_ id: TaskID) async throws -> TaskWithLease?

    /// Which of these leases are still their tasks' current ones (the task is `running` under
    /// that token). Only a read: nothing is extended. The SQS dispatch asks it to learn which
    /// of the tasks it sent ended through another node.
    func taskLeasesHeld(_ leases: [LeaseRef]) async throws -> Set<LeaseRef>

    /// Newest first, filtered, with an opaque cursor.
    func taskList(_ p: TaskListParams) async throws -> TaskPage

    /// Counts per queue and state, every queue that has tasks.
    func queueCounts() async throws -> [QueueCounts]

    /// Treats running tasks whose lease expired as failed attempts: retried with backoff, or
    /// `failed` when none are left. Returns the attempts it ended.
    func leaseRescueMany(_ p: LeaseRescueParams) async throws -> [RescuedLease]

    /// Deletes terminal tasks finished before `p.finishedBefore`. Returns how many.
    func taskDeleteFinished(_ p: TaskDeleteFinishedParams) async throws -> Int

    /// The earliest `run_at` of a `pending` task in these queues, if any: when the next
    /// delayed or backing-off task becomes due.
    func taskNextDueAt(queues: [String]) async throws -> Date?

    /// Fired after a commit in this process that made tasks ready or changed when the next
    /// pending task is due (an enqueue, a retry, a release, a rescue, a promotion).
    var readySignal: ReadySignal { get }

    /// The store's clock.
    func now() async throws -> Date

    // MARK: Workflows (docs/workflows.md)

    /// A task's parents with their outcomes, in the order the task lists them, a page at a
    /// time. Throws `notFound` for an unknown task.
    func taskParents(_ p: TaskParentsParams) async throws -> ParentPage

    /// A workflow and its nodes; `nil` if unknown.
    func workflowGet(_ id: TaskID) async throws -> WorkflowRecord?

    /// Marks the workflow cancelled and cancels every node that has not finished (running ones
    /// learn of it at their next heartbeat); the cancels cascade as any cancel does. Throws
    /// `notFound` for an unknown workflow.
    func workflowCancel(_ id: TaskID) async throws -> WorkflowRecord
}

/// A task as stored and the token of its current lease: `nil` unless it is running (or was
/// cancelled while running, until its worker learns of it).
public struct TaskWithLease: Sendable, Hashable {
    public var task: TaskRecord
    public var leaseToken: String?

    public init(task: TaskRecord, leaseToken: String?) {
        self.task = task
        self.leaseToken = leaseToken
    }
}

public struct TaskEnqueueParams: Sendable {
    public var tasks: [NewTask]
    /// A caller's key for this request: a store that supports it (`UniqueTaskStore`) answers a
    /// repeated key with the tasks it first stored, inserting nothing (kept 24 h).
    public var idempotencyKey: String?
    /// A workflow stored in the same transaction as its tasks (whose `workflowID` name it).
    public var workflow: NewWorkflow?
    /// Refuse (`conflict`) a task whose unique key is held instead of answering with the
    /// holder: a workflow's nodes must all be its own.
    public var strictUnique: Bool
    /// What an idempotency key is checked against when the tasks are not the request as sent
    /// (a workflow's tasks have ids generated per request); `nil`: the tasks' fingerprint.
    public var requestFingerprint: String?
    /// A running task completed in the same transaction, before the tasks are inserted: its
    /// follow-ups (docs/workflows.md) exist only if its completion committed. A stale lease
    /// throws `staleLease` (an unknown task `notFound`) and inserts nothing.
    public var completing: TaskCompletion?
    public init(
        tasks: [NewTask], idempotencyKey: String? = nil, workflow: NewWorkflow? = nil, strictUnique: Bool = false,
        requestFingerprint: String? = nil
    ) {
        self.tasks = tasks
        self.idempotencyKey = idempotencyKey
        self.workflow = workflow
        self.strictUnique = strictUnique
        self.requestFingerprint = requestFingerprint
        self.completing = nil
    }

    /// The completion of `parent` with its follow-up tasks: each joins the parent's workflow
    /// (named `<parent's node>.<n>` unless it has a name) and is validated, its error naming it.
    public init(completing completion: TaskCompletion, of parent: TaskRecord, followUps: [NewTask], maxArgsBytes: Int) throws(BatonError) {
        var tasks = followUps
        for i in tasks.indices {
            tasks[i].workflowID = parent.workflowID
            if parent.workflowID != nil, tasks[i].node == nil { tasks[i].node = "\(parent.node ?? parent.id.description).\(i)" }
            do {
                try tasks[i].validate(maxArgsBytes: maxArgsBytes)
            } catch {
                throw BatonError(error.code, "follow_ups[\(i)]: \(error.message)")
            }
        }
        self.init(tasks: tasks)
        self.completing = completion
    }

    /// The fingerprint an idempotency key is recorded with.
    public func fingerprint() throws -> String {
        try requestFingerprint ?? TaskEnqueueOutcome.requestFingerprint(tasks)
    }
}

/// One worker's part of a coalesced claim.
public struct ClaimShare: Sendable, Hashable {
    public var worker: String
    public var max: Int
    public init(worker: String, max: Int) {
        self.worker = worker
        self.max = max
    }
}

public struct TaskClaimParams: Sendable {
    public var shares: [ClaimShare]
    public var queues: [String]
    /// `nil` or empty: any kind.
    public var kinds: [String]?
    public var lease: Duration

    public init(shares: [ClaimShare], queues: [String], kinds: [String]?, lease: Duration) {
        self.shares = shares
        self.queues = queues
        self.kinds = kinds
        self.lease = lease
    }

    public init(worker: String, queues: [String], kinds: [String]? = nil, max: Int, lease: Duration = Defaults.lease) {
        self.init(shares: [ClaimShare(worker: worker, max: max)], queues: queues, kinds: kinds, lease: lease)
    }

    public var totalMax: Int { shares.reduce(0) { $0 + $1.max } }
}

/// A task and the lease token its claim issued.
public struct LeaseRef: Sendable, Hashable, Codable {
    public var id: TaskID
    public var token: String
    public init(id: TaskID, token: String) {
        self.id = id
        self.token = token
    }
}

/// An attempt the lease rescuer ended: its task, and the state it moved to (`pending` for a
/// retry, `failed` when no attempts were left).
public struct RescuedLease: Sendable, Hashable {
    public var id: TaskID
    public var queue: String
    public var kind: String
    public var attempt: Int
    public var state: TaskState

    public init(id: TaskID, queue: String, kind: String, attempt: Int, state: TaskState) {
        self.id = id
        self.queue = queue
        self.kind = kind
        self.attempt = attempt
        self.state = state
    }
}

public struct TaskHeartbeatParams: Sendable {
    public var leases: [LeaseRef]
    public var lease: Duration
    /// Progress reported with some of the leases (validated): stored with the lease's task if
    /// the lease is current and the task's last progress is at least
    /// ``progressInterval`` old (else dropped: reports are coalesced per task).
    public var progress: [LeaseRef: TaskProgress]
    public init(leases: [LeaseRef], lease: Duration, progress: [LeaseRef: TaskProgress] = [:]) {
        self.leases = leases
        self.lease = lease
        self.progress = progress
    }

    /// The shortest time between two stored progress reports of one task. Workers send at
    /// most one per task per second; this bounds what any client can make the store write.
    public static let progressInterval: Duration = .milliseconds(500)
}

public enum HeartbeatOutcome: Sendable, Hashable {
    /// The lease now runs until this time.
    case extended(until: Date)
    /// The task was cancelled; the worker should stop it.
    case cancelled
    /// The token is not the task's current lease (rescued, or never issued).
    case lost
    case notFound
}

public struct TaskCompletion: Sendable, Hashable {
    public var lease: LeaseRef
    public var result: RawJSON
    public init(lease: LeaseRef, result: RawJSON) {
        self.lease = lease
        self.result = result
    }
}

public struct TaskFailure: Sendable, Hashable {
    public var lease: LeaseRef
    public var message: String
    /// `false` for "fail permanently": no retry whatever attempts are left.
    public var retryable: Bool
    /// "Retry later after D": overrides the retry policy's delay.
    public var retryAfter: Duration?

    public init(lease: LeaseRef, message: String, retryable: Bool = true, retryAfter: Duration? = nil) {
        self.lease = lease
        self.message = message
        self.retryable = retryable
        self.retryAfter = retryAfter
    }
}

public enum TaskAck: Sendable, Hashable {
    case complete(TaskCompletion)
    case fail(TaskFailure)

    public var lease: LeaseRef {
        switch self {
        case .complete(let c): c.lease
        case .fail(let f): f.lease
        }
    }
}

public struct TaskAckParams: Sendable {
    public var acks: [TaskAck]
    /// The kinds' retry policies, for failures of tasks that set none (``TaskLifecycle``'s
    /// precedence: retry-after, task, kind, then the store's `defaultRetry`).
    public var kindRetry: [String: RetryPolicy]
    /// The node's policy when it replaces the store's `defaultRetry` (after a live reload of
    /// the node's `retry` settings); `nil`: the store's.
    public var defaultRetry: RetryPolicy?
    public init(acks: [TaskAck], kindRetry: [String: RetryPolicy] = [:], defaultRetry: RetryPolicy? = nil) {
        self.acks = acks
        self.kindRetry = kindRetry
        self.defaultRetry = defaultRetry
    }
}

public enum AckOutcome: Sendable, Hashable {
    /// Applied; the task is now in this state (`succeeded`, `pending` for a retry, or `failed`).
    case applied(TaskState)
    /// The token is not the task's current lease, or the task is no longer running.
    case staleLease
    case notFound
}

/// What ``TaskStore/taskAckManyReporting(_:)`` says of one ack.
extension TaskStore {
    /// The error for a completion (with follow-ups) that was not applied.
    public static func completionRefused(_ outcome: AckOutcome, id: TaskID) -> BatonError {
        outcome == .notFound
            ? .taskNotFound(id)
            : .staleLease("task \(id) is not running under this lease token (never claimed, rescued, or already finished)")
    }
}

public struct AckReport: Sendable, Hashable {
    public var outcome: AckOutcome
    /// The attempt the ack ended, when it was applied.
    public var attempt: EndedAttempt?

    public init(outcome: AckOutcome, attempt: EndedAttempt? = nil) {
        self.outcome = outcome
        self.attempt = attempt
    }
}

/// An attempt that an ack (or a rescue) ended: which one, of which task, and how long it ran.
public struct EndedAttempt: Sendable, Hashable {
    public var attempt: Int
    public var queue: String
    public var kind: String
    /// From the claim to the transition, by the store's clock; `nil` if the claim time is unknown.
    public var ran: Duration?

    public init(attempt: Int, queue: String, kind: String, ran: Duration?) {
        self.attempt = attempt
        self.queue = queue
        self.kind = kind
        self.ran = ran
    }
}

public struct TaskReleaseParams: Sendable {
    public var leases: [LeaseRef]
    public init(leases: [LeaseRef]) { self.leases = leases }
}

public struct TaskListParams: Sendable, Hashable {
    public var states: [TaskState]?
    public var queue: String?
    public var kind: String?
    public var limit: Int
    /// From a previous page's `nextCursor`.
    public var cursor: String?
    /// Only tasks that carry this tag (schedules tag the tasks they fire with their name).
    public var tag: String?

    public static let maxLimit = 1000
    public static let defaultLimit = 100

    public init(
        states: [TaskState]? = nil, queue: String? = nil, kind: String? = nil, limit: Int = TaskListParams.defaultLimit,
        cursor: String? = nil, tag: String? = nil
    ) {
        self.states = states
        self.queue = queue
        self.kind = kind
        self.limit = limit
        self.cursor = cursor
        self.tag = tag
    }

    /// Checks the limit and decodes the cursor (a task id).
    public func validatedCursor() throws(BatonError) -> TaskID? {
        guard (1...Self.maxLimit).contains(limit) else {
            throw .invalidArgument("limit must be between 1 and \(Self.maxLimit), got \(limit)")
        }
        guard let cursor else { return nil }
        guard let id = TaskID(cursor) else { throw .invalidArgument("cursor '\(cursor)' is not valid") }
        return id
    }
}

public struct LeaseRescueParams: Sendable {
    /// The policy for tasks whose kind names none either.
    public var defaultRetry: RetryPolicy
    /// The kinds' retry policies, for tasks that name none: a rescued task backs off as its kind says.
    public var kindRetry: [String: RetryPolicy]
    public var limit: Int
    public init(defaultRetry: RetryPolicy = .default, kindRetry: [String: RetryPolicy] = [:], limit: Int = 1000) {
        self.defaultRetry = defaultRetry
        self.kindRetry = kindRetry
        self.limit = limit
    }

    public var policies: TaskLifecycle.RetryPolicies { TaskLifecycle.RetryPolicies(kinds: kindRetry, node: defaultRetry) }
}

public struct TaskDeleteFinishedParams: Sendable {
    public var finishedBefore: Date
    public var limit: Int
    public init(finishedBefore: Date, limit: Int = 10_000) {
        self.finishedBefore = finishedBefore
        self.limit = limit
    }
}
