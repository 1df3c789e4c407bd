import Foundation

// The HTTP worker protocol's bodies, shared by the server (BatonServer), the remote worker
// (BatonWorker's HTTP task source) and the client (BatonClient). See docs/api.md.

/// Error body of every failed request: `{"error": {"code": "...", "message": "..."}}`.
public struct ErrorBody: Codable, Sendable, Hashable {
    public struct Detail: Codable, Sendable, Hashable {
        public var code: String
        public var message: String
        public init(code: String, message: String) {
            self.code = code
            self.message = message
        }
    }
    public var error: Detail
    public init(code: String, message: String) { error = Detail(code: code, message: message) }
    public init(_ error: BatonError) { self.init(code: error.code.description, message: error.message) }
}

/// `POST /v1/workers/claim`.
public struct ClaimBody: Codable, Sendable, Hashable {
    public var worker: String
    public var queues: [String]?
    public var kinds: [String]?
    public var max: Int?
    public var waitMS: Int?
    public var leaseMS: Int?

    public init(worker: String, queues: [String]? = nil, kinds: [String]? = nil, max: Int? = nil, waitMS: Int? = nil, leaseMS: Int? = nil) {
        self.worker = worker
        self.queues = queues
        self.kinds = kinds
        self.max = max
        self.waitMS = waitMS
        self.leaseMS = leaseMS
    }

    enum CodingKeys: String, CodingKey {
        case worker, queues, kinds, max
        case waitMS = "wait_ms"
        case leaseMS = "lease_ms"
    }
}

/// Answer to a claim: each task object carries its `lease_token` beside the task's fields.
public struct ClaimResponse: Codable, Sendable, Hashable {
    public var tasks: [ClaimedTask]
    public init(tasks: [ClaimedTask]) { self.tasks = tasks }
}

/// `POST /v1/tasks/{id}/heartbeat`.
public struct HeartbeatBody: Codable, Sendable, Hashable {
    public var leaseToken: String
    public var leaseMS: Int?
    /// How far the attempt got (`fraction`, `message`), stored with the task.
    public var progress: TaskProgress?
    public init(leaseToken: String, leaseMS: Int? = nil, progress: TaskProgress? = nil) {
        self.leaseToken = leaseToken
        self.leaseMS = leaseMS
        self.progress = progress
    }
    enum CodingKeys: String, CodingKey {
        case leaseToken = "lease_token"
        case leaseMS = "lease_ms"
        case progress
    }
}

public struct HeartbeatResponse: Codable, Sendable, Hashable {
    /// The task was cancelled: the worker should stop it; its completion will be refused.
    public var cancelled: Bool
    public var leaseExpiresAt: Date?
    public init(cancelled: Bool, leaseExpiresAt: Date?) {
        self.cancelled = cancelled
        self.leaseExpiresAt = leaseExpiresAt
    }
    enum CodingKeys: String, CodingKey {
        case cancelled
        case leaseExpiresAt = "lease_expires_at"
    }
}

/// `POST /v1/workers/heartbeat`: many leases at once.
public struct HeartbeatManyBody: Codable, Sendable, Hashable {
    public var worker: String?
    public var leases: [HeartbeatItem]
    public var leaseMS: Int?
    public init(worker: String?, leases: [HeartbeatItem], leaseMS: Int?) {
        self.worker = worker
        self.leases = leases
        self.leaseMS = leaseMS
    }
    enum CodingKeys: String, CodingKey {
        case worker, leases
        case leaseMS = "lease_ms"
    }
}

public struct LeaseItem: Codable, Sendable, Hashable {
    public var id: TaskID
    public var leaseToken: String
    public init(id: TaskID, leaseToken: String) {
        self.id = id
        self.leaseToken = leaseToken
    }
    public init(_ ref: LeaseRef) { self.init(id: ref.id, leaseToken: ref.token) }
    public var ref: LeaseRef { LeaseRef(id: id, token: leaseToken) }
    enum CodingKeys: String, CodingKey {
        case id
        case leaseToken = "lease_token"
    }
}

/// One lease of a batched heartbeat, with the progress its attempt reported, if any.
public struct HeartbeatItem: Codable, Sendable, Hashable {
    public var id: TaskID
    public var leaseToken: String
    public var progress: TaskProgress?
    public init(_ ref: LeaseRef, progress: TaskProgress? = nil) {
        self.id = ref.id
        self.leaseToken = ref.token
        self.progress = progress
    }
    public var ref: LeaseRef { LeaseRef(id: id, token: leaseToken) }
    enum CodingKeys: String, CodingKey {
        case id, progress
        case leaseToken = "lease_token"
    }
}

/// Per-lease answer of a batched heartbeat: `status` is `extended`, `cancelled`, `lost` or `not_found`.
public struct HeartbeatItemResult: Codable, Sendable, Hashable {
    public var id: TaskID
    public var status: String
    public var leaseExpiresAt: Date?
    public init(id: TaskID, outcome: HeartbeatOutcome) {
        self.id = id
        switch outcome {
        case .extended(let until):
            status = "extended"
            leaseExpiresAt = until
        case .cancelled: status = "cancelled"
        case .lost: status = "lost"
        case .notFound: status = "not_found"
        }
    }
    /// An answer as its `status` names it (read back with ``outcome``).
    public init(id: TaskID, status: String, leaseExpiresAt: Date? = nil) {
        self.id = id
        self.status = status
        self.leaseExpiresAt = leaseExpiresAt
    }
    public var outcome: HeartbeatOutcome {
        switch status {
        case "extended": .extended(until: leaseExpiresAt ?? Date())
        case "cancelled": .cancelled
        case "not_found": .notFound
        default: .lost
        }
    }
    enum CodingKeys: String, CodingKey {
        case id, status
        case leaseExpiresAt = "lease_expires_at"
    }
}

public struct HeartbeatManyResponse: Codable, Sendable, Hashable {
    public var results: [HeartbeatItemResult]
    public init(results: [HeartbeatItemResult]) { self.results = results }
}

/// `POST /v1/tasks/{id}/complete`.
public struct CompleteBody: Codable, Sendable, Hashable {
    public var leaseToken: String
    public var result: RawJSON?
    /// Tasks stored in the same transaction as the completion, in the task's workflow (seed
    /// 000's multistage tasks): none exists unless the completion commits.
    public var followUps: [NewTask]?
    public init(leaseToken: String, result: RawJSON?, followUps: [NewTask]? = nil) {
        self.leaseToken = leaseToken
        self.result = result
        self.followUps = followUps
    }
    enum CodingKeys: String, CodingKey {
        case leaseToken = "lease_token"
        case result
        case followUps = "follow_ups"
    }
}

/// `POST /v1/tasks/{id}/fail`.
public struct FailBody: Codable, Sendable, Hashable {
    public var leaseToken: String
    public var error: String
    /// `false`: fail permanently. Default `true`.
    public var retryable: Bool?
    /// Retry after this many milliseconds instead of the retry policy's delay.
    public var retryAfterMS: Int?
    public init(leaseToken: String, error: String, retryable: Bool? = nil, retryAfterMS: Int? = nil) {
        self.leaseToken = leaseToken
        self.error = error
        self.retryable = retryable
        self.retryAfterMS = retryAfterMS
    }
    enum CodingKeys: String, CodingKey {
        case leaseToken = "lease_token"
        case error, retryable
        case retryAfterMS = "retry_after_ms"
    }
}

/// One item of `POST /v1/workers/ack`: `outcome` is `complete` (with `result`) or `fail`
/// (with `error`, and optionally `retryable` and `retry_after_ms`).
public struct AckItem: Codable, Sendable, Hashable {
    public var id: TaskID
    public var leaseToken: String
    public var outcome: String
    public var result: RawJSON?
    public var error: String?
    public var retryable: Bool?
    public var retryAfterMS: Int?

    public init(_ ack: TaskAck) {
        id = ack.lease.id
        leaseToken = ack.lease.token
        switch ack {
        case .complete(let c):
            outcome = "complete"
            result = c.result
        case .fail(let f):
            outcome = "fail"
            error = f.message
            retryable = f.retryable
            retryAfterMS = f.retryAfter?.inMilliseconds
        }
    }

    public init(
        id: TaskID, leaseToken: String, outcome: String, result: RawJSON? = nil, error: String? = nil, retryable: Bool? = nil,
        retryAfterMS: Int? = nil
    ) {
        self.id = id
        self.leaseToken = leaseToken
        self.outcome = outcome
        self.result = result
        self.error = error
        self.retryable = retryable
        self.retryAfterMS = retryAfterMS
    }

    /// The store-level ack, or an error naming what is wrong with the item.
    public func toAck() throws(BatonError) -> TaskAck {
        let lease = LeaseRef(id: id, token: leaseToken)
        if let ms = retryAfterMS, ms < 0 { throw .invalidArgument("retry_after_ms must not be negative") }
        switch outcome {
        case "complete":
            return .complete(TaskCompletion(lease: lease, result: result ?? .null))
        case "fail":
            return .fail(
                TaskFailure(
                    lease: lease, message: error ?? "failed", retryable: retryable ?? true,
                    retryAfter: retryAfterMS.map { .milliseconds($0) }))
        default:
            throw .invalidArgument("ack outcome must be 'complete' or 'fail', got '\(outcome)'")
        }
    }

    enum CodingKeys: String, CodingKey {
        case id
        case leaseToken = "lease_token"
        case outcome, result, error, retryable
        case retryAfterMS = "retry_after_ms"
    }
}

public struct AckBody: Codable, Sendable, Hashable {
    public var acks: [AckItem]
    public init(acks: [AckItem]) { self.acks = acks }
}

/// Per-ack answer: `status` is `applied` (with the task's new `state`), `stale_lease` or `not_found`.
public struct AckItemResult: Codable, Sendable, Hashable {
    public var id: TaskID
    public var status: String
    public var state: TaskState?
    public init(id: TaskID, outcome: AckOutcome) {
        self.id = id
        switch outcome {
        case .applied(let s):
            status = "applied"
            state = s
        case .staleLease: status = "stale_lease"
        case .notFound: status = "not_found"
        }
    }
    public var outcome: AckOutcome {
        switch status {
        case "applied": .applied(state ?? .succeeded)
        case "not_found": .notFound
        default: .staleLease
        }
    }
}

public struct AckResponse: Codable, Sendable, Hashable {
    public var results: [AckItemResult]
    public init(results: [AckItemResult]) { self.results = results }
}

/// `POST /v1/workers/release`: give back tasks without using an attempt (worker shutdown).
public struct ReleaseBody: Codable, Sendable, Hashable {
    public var leases: [LeaseItem]
    public init(leases: [LeaseItem]) { self.leases = leases }
}

public struct ReleaseResponse: Codable, Sendable, Hashable {
    public var released: Int
    public init(released: Int) { self.released = released }
}

/// `GET /v1/queues`: counts as of `as_of`, `age_seconds` old when answered (a node counts in
/// the background, every `node.countsInterval`).
public struct QueuesResponse: Codable, Sendable, Hashable {
    public var queues: [QueueCounts]
    /// When the counts were taken (`nil` from a source that does not say).
    public var asOf: Date?
    /// How old the counts were when the node answered, in seconds.
    public var ageSeconds: Double?

    public init(queues: [QueueCounts], asOf: Date? = nil, ageSeconds: Double? = nil) {
        self.queues = queues
        self.asOf = asOf
        self.ageSeconds = ageSeconds
    }

    enum CodingKeys: String, CodingKey {
        case queues
        case asOf = "as_of"
        case ageSeconds = "age_seconds"
    }
}
