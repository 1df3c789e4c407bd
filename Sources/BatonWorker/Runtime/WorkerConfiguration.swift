import BatonCore
import Configuration
import Foundation

/// How a ``WorkerRuntime`` runs.
///
/// Keys read by ``init(reader:)`` (each also a `BATON_*` variable, see docs/cli.md):
/// - `worker.concurrency` (`BATON_WORKER_CONCURRENCY`): tasks run at once, 1...10000 (default 16);
///   **reloads** (``WorkerRuntime/setConcurrency(_:)``: a lower value lets running tasks finish)
/// - `worker.queues` (`BATON_WORKER_QUEUES`): comma list (default `default`)
/// - `worker.kinds` (`BATON_WORKER_KINDS`): comma list (default: every registered kind)
/// - `worker.id` (`BATON_WORKER_ID`): default `<hostname>-<pid>`
/// - `worker.lease` (`BATON_WORKER_LEASE`): seconds, at least 0.05 (default 30); heartbeats every third
/// - `worker.shutdownGrace` (`BATON_WORKER_SHUTDOWN_GRACE`): seconds (default 30)
/// - `worker.faults` (`BATON_WORKER_FAULTS`): a testing aid that fails a fraction of attempts
///   on purpose (``FaultInjection``), e.g. `0.3` or `email.send=0.5,0.1` (default off)
public struct WorkerConfiguration: Sendable {
    /// How long one claim waits for work when none is ready (long-poll).
    public static let defaultClaimWait: Duration = .seconds(30)

    /// Names this worker in leases and logs; default `<hostname>-<pid>`.
    public var id: String
    public var queues: [String]
    /// Kinds to claim; `nil`: every kind the registry has a handler for. A worker only ever
    /// claims kinds it has a handler for: kinds here without one are ignored with a warning.
    public var kinds: [String]?
    /// Tasks run at once.
    public var concurrency: Int
    /// Each claim's lease; heartbeats extend it.
    public var lease: Duration
    /// Time between batched heartbeats; default a third of the lease.
    public var heartbeatInterval: Duration
    public var claimWait: Duration
    /// Time running tasks get to finish on graceful shutdown before they are released.
    public var shutdownGrace: Duration
    /// Most tasks asked for in one claim.
    public var claimBatch: Int
    /// Under load, how long after the first slot frees the runtime waits for more to free
    /// before it claims (unless half the slots are free already): one claim for many slots.
    public var claimLinger: Duration

    public static let defaultClaimLinger: Duration = .milliseconds(1)
    /// Attempts failed on purpose before their handler runs (a testing aid; `nil`: none).
    public var faults: FaultInjection?

    public init(
        id: String = WorkerConfiguration.defaultID(), queues: [String] = [Defaults.queue], kinds: [String]? = nil,
        concurrency: Int = Defaults.concurrency, lease: Duration = Defaults.lease, heartbeatInterval: Duration? = nil,
        claimWait: Duration = WorkerConfiguration.defaultClaimWait, shutdownGrace: Duration = Defaults.shutdownGrace,
        claimBatch: Int = Defaults.claimBatch, claimLinger: Duration = WorkerConfiguration.defaultClaimLinger
    ) {
        self.id = id
        self.queues = queues
        self.kinds = kinds
        self.concurrency = concurrency
        self.lease = lease
        self.heartbeatInterval = heartbeatInterval ?? lease / Defaults.heartbeatDivisor
        self.claimWait = claimWait
        self.shutdownGrace = shutdownGrace
        self.claimBatch = claimBatch
        self.claimLinger = claimLinger
    }

    /// `<hostname>-<pid>`, cut to the worker id limit.
    public static func defaultID() -> String {
        let host = ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "worker"
        let id = "\(host.isEmpty ? "worker" : host)-\(ProcessInfo.processInfo.processIdentifier)"
        return String(id.prefix(Limits.maxWorkerIDLength))
    }

    /// The settings keys ``init(reader:)`` reads.
    public static let configKeys = [
        "worker.concurrency", "worker.queues", "worker.kinds", "worker.id", "worker.lease", "worker.shutdownGrace", "worker.faults",
    ]
    /// Those of ``configKeys`` a running worker applies without a restart.
    public static let reloadableKeys: Set<String> = ["worker.concurrency"]
    public static let concurrencyRange = 1...10_000

    /// The configuration from the settings, validated; throws `invalidArgument` naming the key
    /// of a bad value. Kinds are not checked against a registry here (the runtime warns about
    /// kinds it has no handler for).
    public init(reader: ConfigReader) throws(BatonError) {
        self.init()
        if let id = reader.text("worker.id") { self.id = id }
        concurrency = try reader.int("worker.concurrency", default: Defaults.concurrency, range: Self.concurrencyRange)
        if let queues = reader.list("worker.queues") {
            for queue in queues { try NewTask.validateName(queue, field: "worker.queues", maxLength: Limits.maxQueueLength) }
            self.queues = queues
        }
        kinds = reader.list("worker.kinds")
        lease = try reader.seconds("worker.lease", default: Defaults.lease, minimum: 0.05)
        heartbeatInterval = lease / Defaults.heartbeatDivisor
        shutdownGrace = try reader.seconds("worker.shutdownGrace", default: Defaults.shutdownGrace)
        if let faults = reader.text("worker.faults"), !faults.isEmpty { self.faults = try FaultInjection(parsing: faults) }
        try validate()
    }

    /// Checks the values; the first problem found is reported, naming the field.
    public func validate() throws(BatonError) {
        try Limits.validateWorkerID(id, field: "worker id")
        if queues.isEmpty { throw .invalidArgument("a worker needs at least one queue") }
        if concurrency < 1 { throw .invalidArgument("concurrency must be at least 1, got \(concurrency)") }
        if claimBatch < 1 { throw .invalidArgument("claim batch must be at least 1, got \(claimBatch)") }
        if lease <= .zero { throw .invalidArgument("lease must be positive") }
        if heartbeatInterval <= .zero || heartbeatInterval >= lease {
            throw .invalidArgument("heartbeat interval must be positive and shorter than the lease")
        }
        if claimWait < .zero { throw .invalidArgument("claim wait must not be negative") }
        if claimLinger < .zero { throw .invalidArgument("claim linger must not be negative") }
        if shutdownGrace < .zero { throw .invalidArgument("shutdown grace must not be negative") }
    }
}
