import BatonCore
import Logging
import ServiceLifecycle

/// Periodically treats running tasks whose lease expired (their worker vanished) as failed
/// attempts: retried with backoff, or `failed` when none are left (`store.leaseRescueMany`).
///
/// Stops at once on graceful shutdown. Run it on one node per store (the leader).
public struct LeaseRescuer: Service {
    public static let defaultBatch = 1000

    public let store: any TaskStore
    /// Time between passes; a change applies from the next pass.
    public let intervalSetting: LiveSetting<Duration>
    /// The policy of tasks and kinds that set none; a change applies from the next pass.
    public let defaultRetrySetting: LiveSetting<RetryPolicy>
    public var interval: Duration { intervalSetting.value }
    public var defaultRetry: RetryPolicy { defaultRetrySetting.value }
    /// The node's workers: a rescued task backs off as its kind's handler declared.
    public let workers: WorkerRegistry
    /// Where each pass that rescued tasks is reported, as a `rescued` event.
    public let events: NodeEvents
    public let batch: Int
    /// Passes run only while this node is the leader.
    public let leadership: any Leadership
    private let logger: Logger

    public init(
        store: any TaskStore, interval: Duration = Defaults.rescueInterval, defaultRetry: RetryPolicy = .default,
        workers: WorkerRegistry = WorkerRegistry(), events: NodeEvents = NodeEvents(), batch: Int = LeaseRescuer.defaultBatch,
        leadership: any Leadership = AlwaysLeader(), logger: Logger = Logger(label: "baton.rescuer")
    ) {
        self.init(
            store: store, interval: LiveSetting(interval), defaultRetry: LiveSetting(defaultRetry), workers: workers, events: events,
            batch: batch, leadership: leadership, logger: logger)
    }

    /// A rescuer whose interval and policy follow live settings.
    public init(
        store: any TaskStore, interval: LiveSetting<Duration>, defaultRetry: LiveSetting<RetryPolicy>, workers: WorkerRegistry,
        events: NodeEvents, batch: Int = LeaseRescuer.defaultBatch, leadership: any Leadership, logger: Logger
    ) {
        self.store = store
        self.intervalSetting = interval
        self.defaultRetrySetting = defaultRetry
        self.workers = workers
        self.events = events
        self.batch = max(1, batch)
        self.leadership = leadership
        self.logger = logger
    }

    public func run() async throws {
        await MaintenanceLoop.run(interval: intervalSetting, leadership: leadership, logger: logger) {
            let rescued = try await rescueOnce()
            if rescued > 0 { logger.info("rescued tasks with expired leases", metadata: ["count": "\(rescued)"]) }
        }
    }

    /// One pass: rescues every expired lease, batch after batch. Returns how many.
    @discardableResult
    public func rescueOnce() async throws -> Int {
        let defaultRetry = self.defaultRetry
        let events = self.events
        let rescued = try await events.timed(.rescue) {
            try await MaintenanceLoop.drain(batch: batch) { limit in
                let ended = try await store.leaseRescueMany(
                    LeaseRescueParams(defaultRetry: defaultRetry, kindRetry: workers.kindRetry, limit: limit))
                // Each ended attempt, as an ack's would be (its cause: the lease expired).
                events.emit(
                    ended.lazy.map {
                        NodeEvent.transitioned(
                            TaskTransition(
                                id: $0.id, from: .running, to: $0.state, attempt: $0.attempt, queue: $0.queue, kind: $0.kind,
                                leaseExpired: true))
                    })
                return ended.count
            }
        }
        if rescued > 0 { events.emit(.rescued(count: rescued)) }
        return rescued
    }
}
