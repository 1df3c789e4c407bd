import Foundation

/// What a worker tells a node about itself: when it starts, and again with each heartbeat
/// round (`POST /v1/workers`, JSON-RPC `worker.register`). The node keeps the workers it
/// heard from recently (`WorkerRegistry` in BatonNode) and applies the kinds' retry policies to their
/// tasks' failures and lease rescues.
public struct WorkerAnnouncement: Codable, Sendable, Hashable {
    public var worker: String
    public var queues: [String]
    public var kinds: [KindAnnouncement]
    /// Tasks the worker runs at once.
    public var concurrency: Int
    /// Tasks it runs now.
    public var running: Int
    /// The worker's software and version, e.g. `baton/0.4.0` or `python-worker/1`.
    public var version: String?

    public init(
        worker: String, queues: [String], kinds: [KindAnnouncement], concurrency: Int, running: Int = 0, version: String? = nil
    ) {
        self.worker = worker
        self.queues = queues
        self.kinds = kinds
        self.concurrency = concurrency
        self.running = running
        self.version = version
    }

    public static let maxKinds = 1000
    public static let maxQueues = 100
    public static let maxVersionLength = 100

    /// Checks every field; the first problem found is named.
    /// The kinds, each name once: a kind announced twice counts as first announced (a JSON
    /// Schema cannot forbid repeating a name, so the contract does not either).
    public var distinctKinds: [KindAnnouncement] {
        var seen = Set<String>()
        return kinds.filter { seen.insert($0.name).inserted }
    }

    public func validate() throws(BatonError) {
        try Limits.validateWorkerID(worker)
        guard !queues.isEmpty, queues.count <= Self.maxQueues else {
            throw .invalidArgument("queues must name 1 to \(Self.maxQueues) queues")
        }
        for queue in queues { try NewTask.validateName(queue, field: "queue", maxLength: Limits.maxQueueLength) }
        guard kinds.count <= Self.maxKinds else { throw .invalidArgument("kinds must name at most \(Self.maxKinds) kinds") }
        for kind in kinds { try NewTask.validateName(kind.name, field: "kind", maxLength: Limits.maxKindLength) }
        guard (1...1_000_000).contains(concurrency) else {
            throw .invalidArgument("concurrency must be between 1 and 1000000, got \(concurrency)")
        }
        guard running >= 0 else { throw .invalidArgument("running must not be negative, got \(running)") }
        if let version, !Limits.hasLength(version, 1...Self.maxVersionLength) {
            throw .invalidArgument("version must be 1 to \(Self.maxVersionLength) characters")
        }
    }
}

/// A kind a worker has a handler for, and the retry policy the handler declared (if any).
public struct KindAnnouncement: Codable, Sendable, Hashable {
    public var name: String
    public var retry: RetryPolicy?

    public init(name: String, retry: RetryPolicy? = nil) {
        self.name = name
        self.retry = retry
    }
}

/// A worker as a node knows it (`GET /v1/workers`).
public struct WorkerInfo: Codable, Sendable, Hashable {
    public var worker: String
    public var queues: [String]
    public var kinds: [KindAnnouncement]
    public var concurrency: Int
    /// Tasks it ran at its last announcement.
    public var running: Int
    public var version: String?
    /// How it reaches the node: `http`, `sqs` (a worker that reaches it only through SQS) or
    /// `in-process`.
    public var transport: String
    public var firstSeen: Date
    /// Its last announcement or claim.
    public var lastSeen: Date

    public init(
        worker: String, queues: [String], kinds: [KindAnnouncement], concurrency: Int, running: Int, version: String?,
        transport: String, firstSeen: Date, lastSeen: Date
    ) {
        self.worker = worker
        self.queues = queues
        self.kinds = kinds
        self.concurrency = concurrency
        self.running = running
        self.version = version
        self.transport = transport
        self.firstSeen = firstSeen
        self.lastSeen = lastSeen
    }

    enum CodingKeys: String, CodingKey {
        case worker, queues, kinds, concurrency, running, version, transport
        case firstSeen = "first_seen"
        case lastSeen = "last_seen"
    }
}

/// `GET /v1/workers`.
public struct WorkerList: Codable, Sendable, Hashable {
    public var workers: [WorkerInfo]
    public init(workers: [WorkerInfo]) { self.workers = workers }
}
