import Foundation

/// One failed attempt, kept in the task's error history.
public struct AttemptError: Sendable, Hashable, Codable {
    public var attempt: Int
    public var at: Date
    public var message: String

    public init(attempt: Int, at: Date, message: String) {
        self.attempt = attempt
        self.at = at
        self.message = message
    }
}

/// A task as stored: what was submitted, where it is in its life, and what happened to it.
public struct TaskRecord: Sendable, Hashable {
    public var id: TaskID
    public var kind: String
    public var queue: String
    public var args: RawJSON
    public var priority: Int
    public var state: TaskState
    /// Attempts started so far (0 until the first claim).
    public var attempt: Int
    public var maxAttempts: Int
    /// When the task may run (for `pending`), or when it became claimable.
    public var runAt: Date
    public var leaseOwner: String?
    public var leaseExpiresAt: Date?
    /// Per-attempt time limit in seconds, if any.
    public var timeout: Double?
    public var retry: RetryPolicy?
    public var result: RawJSON?
    public var lastError: String?
    public var errors: [AttemptError]
    public var uniqueKey: String?
    public var tags: [String]
    public var createdAt: Date
    public var startedAt: Date?
    public var finishedAt: Date?
    /// The workflow the task belongs to, if any.
    public var workflowID: TaskID?
    /// Its node name in the workflow (how dependents' `ctx.parents` name it).
    public var node: String?
    /// How many parents it waits for or waited for; `nil`: none. Their results are read with
    /// `GET /v1/tasks/{id}/parents` (``TaskStore/taskParents(_:)``), not copied into the task.
    public var parentCount: Int?
    /// `prepend`: the parents' results go in front of the arguments when it runs.
    public var pass: ResultPassing?
    /// The last progress a worker reported (read by `GET /v1/tasks/{id}` and listings; a
    /// claimed task does not carry it).
    public var progress: TaskProgress?
    /// The W3C `traceparent` of the span that submitted it, when the node traced it.
    public var traceparent: String?

    public init(
        id: TaskID, kind: String, queue: String, args: RawJSON, priority: Int, state: TaskState,
        attempt: Int, maxAttempts: Int, runAt: Date, leaseOwner: String? = nil,
        leaseExpiresAt: Date? = nil, timeout: Double? = nil, retry: RetryPolicy? = nil,
        result: RawJSON? = nil, lastError: String? = nil, errors: [AttemptError] = [],
        uniqueKey: String? = nil, tags: [String] = [], createdAt: Date, startedAt: Date? = nil,
        finishedAt: Date? = nil, workflowID: TaskID? = nil, node: String? = nil, parentCount: Int? = nil,
        pass: ResultPassing? = nil, progress: TaskProgress? = nil, traceparent: String? = nil
    ) {
        self.progress = progress
        self.traceparent = traceparent
        self.id = id
        self.kind = kind
        self.queue = queue
        self.args = args
        self.priority = priority
        self.state = state
        self.attempt = attempt
        self.maxAttempts = maxAttempts
        self.runAt = runAt
        self.leaseOwner = leaseOwner
        self.leaseExpiresAt = leaseExpiresAt
        self.timeout = timeout
        self.retry = retry
        self.result = result
        self.lastError = lastError
        self.errors = errors
        self.uniqueKey = uniqueKey
        self.tags = tags
        self.createdAt = createdAt
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.workflowID = workflowID
        self.node = node
        self.parentCount = parentCount
        self.pass = pass
    }
}

extension TaskRecord: Codable {
    enum CodingKeys: String, CodingKey {
        case id, kind, queue, args, priority, state, attempt
        case maxAttempts = "max_attempts"
        case runAt = "run_at"
        case leaseOwner = "lease_owner"
        case leaseExpiresAt = "lease_expires_at"
        case timeout, retry, result
        case lastError = "last_error"
        case errors
        case uniqueKey = "unique_key"
        case tags
        case createdAt = "created_at"
        case startedAt = "started_at"
        case finishedAt = "finished_at"
        case workflowID = "workflow_id"
        case node
        case parentCount = "parents"
        case pass, progress, traceparent
    }
}

/// A task handed to a worker, with the lease that fences its completion.
public struct ClaimedTask: Sendable, Hashable, Codable {
    public var task: TaskRecord
    /// Unguessable token issued with this claim; completions must present it.
    public var leaseToken: String

    public init(task: TaskRecord, leaseToken: String) {
        self.task = task
        self.leaseToken = leaseToken
    }

    enum LeaseKeys: String, CodingKey {
        case leaseToken = "lease_token"
    }

    /// On the wire a claimed task is the task's own object with `lease_token` beside its fields.
    public init(from decoder: any Decoder) throws {
        task = try TaskRecord(from: decoder)
        leaseToken = try decoder.container(keyedBy: LeaseKeys.self).decode(String.self, forKey: .leaseToken)
    }

    public func encode(to encoder: any Encoder) throws {
        try task.encode(to: encoder)
        var c = encoder.container(keyedBy: LeaseKeys.self)
        try c.encode(leaseToken, forKey: .leaseToken)
    }

    public var lease: LeaseRef { LeaseRef(id: task.id, token: leaseToken) }
}

/// Counts of a queue's tasks by state, with the `run_at` of its oldest ready task and
/// whether it is paused (`GET /v1/queues`; the node answers them from its counts cache).
public struct QueueCounts: Sendable, Hashable, Codable {
    public var name: String
    public var counts: [String: Int]
    /// The earliest `run_at` of the queue's `ready` tasks: how long the oldest has waited.
    public var oldestReadyAt: Date?
    /// Whether claims skip the queue (`nil` where the source does not say).
    public var paused: Bool?

    public init(name: String, counts: [TaskState: Int], oldestReadyAt: Date? = nil, paused: Bool? = nil) {
        self.name = name
        var all: [String: Int] = [:]
        for state in TaskState.allCases { all[state.rawValue] = counts[state] ?? 0 }
        self.counts = all
        self.oldestReadyAt = oldestReadyAt
        self.paused = paused
    }

    public func count(_ state: TaskState) -> Int { counts[state.rawValue] ?? 0 }

    enum CodingKeys: String, CodingKey {
        case name, counts, paused
        case oldestReadyAt = "oldest_ready_at"
    }

    /// The counts of a store's `queue, state, count, min(run_at)` rows, one per queue, sorted by
    /// name (rows of an unknown state are ignored; `min(run_at)` counts for `ready` rows only).
    public static func grouping(_ rows: [(queue: String, state: String, count: Int, earliest: Date?)]) -> [QueueCounts] {
        var byQueue: [String: (counts: [TaskState: Int], oldest: Date?)] = [:]
        for row in rows {
            guard let state = TaskState(rawValue: row.state) else { continue }
            byQueue[row.queue, default: ([:], nil)].counts[state] = row.count
            if state == .ready { byQueue[row.queue]!.oldest = row.earliest }
        }
        return byQueue.keys.sorted().map { QueueCounts(name: $0, counts: byQueue[$0]!.counts, oldestReadyAt: byQueue[$0]!.oldest) }
    }
}

/// One page of a task listing, newest first.
public struct TaskPage: Sendable, Hashable, Codable {
    public var tasks: [TaskRecord]
    /// Pass back as `cursor` for the next page; `nil` on the last page.
    public var nextCursor: String?

    public init(tasks: [TaskRecord], nextCursor: String?) {
        self.tasks = tasks
        self.nextCursor = nextCursor
    }

    enum CodingKeys: String, CodingKey {
        case tasks
        case nextCursor = "next_cursor"
    }
}
