import BatonCore
import BatonWorker
import Logging
import ServiceLifecycle

/// A scheduler node, built in one place from its store and configuration: the claim
/// coalescer (``TaskDispatcher``), the batch completer (``TaskCompleter``), the event stream
/// (``NodeEvents``), the workers it heard from (``WorkerRegistry``), the long-poll waiters,
/// and its maintenance services. `baton standalone`, `baton serve`, `baton bench` and the
/// tests all build their node here.
///
/// Everything long-running is a ServiceLifecycle `Service`; ``services(store:front:workers:)``
/// lists them in start order, so that a `ServiceGroup`'s graceful shutdown (last started,
/// first stopped) runs: in-process workers stop claiming and drain, the HTTP server stops,
/// maintenance stops, the dispatcher answers what still waits, the completer writes its last
/// batch, and only then the store closes.
public struct NodeServices: Sendable {
    public let store: any NodeStore
    public let leadership: any Leadership
    public let configuration: NodeConfiguration
    public let dispatcher: TaskDispatcher
    public let completer: TaskCompleter
    public let events: NodeEvents
    public let workers: WorkerRegistry
    /// Wakes `GET /v1/tasks/{id}/wait` long-polls when a task reaches a terminal state.
    public let waiters: TaskWaiters
    /// The settings a reload changes while the node runs (``apply(_:)``).
    public let live: NodeLiveSettings
    /// The node's Prometheus metrics (`nil` when the configuration turns them off).
    public let metrics: NodeMetrics?
    /// The queue counts `GET /v1/queues` and the gauges answer from.
    public let counts: QueueCountsCache
    /// The recent events, numbered, for `GET /v1/events` (records only while read).
    public let journal: EventJournal
    /// The cluster's event stream, when the store shares an event log between nodes
    /// (PostgreSQL): `GET /v1/events` reads it instead of ``journal``.
    public let cluster: ClusterEventFeed?
    /// How many readers of the events (`GET /v1/events`, `event.poll`) are open on this node.
    public let eventStreams = OpenEventStreams()
    /// Writes the workers this node hears from to the store, when the store shares a worker
    /// directory between nodes (PostgreSQL): `GET /v1/workers` then lists the cluster's.
    public let directory: WorkerDirectorySync?
    let logger: Logger

    public init(
        store: any NodeStore, leadership: any Leadership = AlwaysLeader(), configuration: NodeConfiguration = .init(),
        logger: Logger = Logger(label: "baton.node")
    ) {
        self.store = store
        self.leadership = leadership
        self.configuration = configuration
        self.logger = logger
        let live = NodeLiveSettings(configuration)
        self.live = live
        let events = NodeEvents()
        let workers = WorkerRegistry(forgetAfter: configuration.workerForgetAfter)
        self.events = events
        self.workers = workers
        self.dispatcher = TaskDispatcher(store: store, configuration: configuration.dispatcher, events: events, logger: logger)
        self.completer = TaskCompleter(
            store: store, configuration: configuration.completer, workers: workers, events: events, defaultRetry: live.ackRetry,
            logger: logger)
        self.waiters = TaskWaiters(events: events)
        let metrics = configuration.metrics ? NodeMetrics() : nil
        if let metrics { _ = events.listen { metrics.record($0) } }
        self.metrics = metrics
        self.journal = EventJournal(events: events)
        self.cluster = (store as? any ClusterEventLog).map {
            ClusterEventFeed(log: $0, events: events, leadership: leadership, window: live.eventWindow, logger: logger)
        }
        self.directory = (store as? any WorkerDirectory).map {
            WorkerDirectorySync(directory: $0, registry: workers, logger: logger)
        }
        self.counts = QueueCountsCache(
            store: store, interval: live.countsInterval, events: events, metrics: metrics,
            logger: logger)
    }

    /// Applies the reloadable settings of `configuration` (its keys: ``NodeConfiguration/configKeys``)
    /// to the running node: the dispatcher's next sleep, the maintenance services' next pass,
    /// and acks and rescues from their next batch use them. The rest of `configuration` (the
    /// completer's and dispatcher's batch sizes, the schedules) needs a new node.
    public func apply(_ configuration: NodeConfiguration) {
        dispatcher.fallbackPoll.set(configuration.dispatcher.fallbackPoll)
        live.retention.set(configuration.retention)
        live.rescueInterval.set(configuration.rescueInterval)
        live.cleanInterval.set(configuration.cleanInterval)
        live.countsInterval.set(configuration.countsInterval)
        live.eventWindow.set(configuration.eventWindow)
        live.defaultRetry.set(configuration.defaultRetry)
        live.ackRetry.set(configuration.defaultRetry)
        // Claimers asleep on the old poll interval start a new sleep with the new one.
        store.readySignal.notify()
    }

    /// The task source of in-process workers: claims through the dispatcher, acks through the
    /// completer, registration into the worker registry.
    public var localSource: LocalTaskSource { LocalTaskSource(dispatcher: dispatcher, completer: completer) }

    /// An in-process worker runtime over ``localSource``.
    public func inProcessWorker(registry: HandlerRegistry, configuration: WorkerConfiguration) -> WorkerRuntime {
        WorkerRuntime(source: localSource, registry: registry, configuration: configuration, logger: logger)
    }

    /// Declared schedules upserted now: for a store that is open already (SQLite), so that a
    /// bad declaration stops the node before it serves. The firer of ``maintenance(schedulesUpserted:)``
    /// then need not do it.
    public func upsertDeclaredSchedules() async throws {
        try await ScheduleFirer.startup(store, definitions: configuration.schedules, logger: logger)
    }

    /// The leader-only maintenance (lease rescue, retention, schedule firing) and the
    /// leadership monitor.
    public func maintenance(schedulesUpserted: Bool = false) -> [any Service] {
        [
            LeaseRescuer(
                store: store, interval: live.rescueInterval, defaultRetry: live.defaultRetry, workers: workers,
                events: events, leadership: leadership, logger: logger),
            ResultCleaner(
                store: store, interval: live.cleanInterval, retention: live.retention, leadership: leadership, logger: logger),
            ScheduleFirer(
                store: store, leadership: leadership, interval: configuration.scheduleInterval,
                definitions: schedulesUpserted ? [] : configuration.schedules, events: events, logger: logger),
            LeadershipMonitor(leadership: leadership, events: events, logger: logger),
        ]
    }

    /// Every service of the node in start order: the store's own service (a PostgreSQL pool,
    /// listener and elector; `nil` for SQLite) first, then the completer, the dispatcher, the
    /// maintenance,
    /// `front` (the HTTP server), the in-process `workers`, and the event streams last. A
    /// `ServiceGroup` stops them in the reverse order.
    public func services(
        store storeService: (any Service)?, front: [any Service] = [], workers: [any Service] = [], schedulesUpserted: Bool = false
    ) -> [any Service] {
        var services: [any Service] = storeService.map { [$0] } ?? []
        services.append(completer)
        services.append(dispatcher)
        services.append(counts)
        if let directory { services.append(directory) }
        services += maintenance(schedulesUpserted: schedulesUpserted)
        services += front
        services += workers
        // Stopped first: its readers' streams end, so the HTTP server is not held open by them.
        if let cluster { services.append(cluster) }
        services.append(journal)
        return services
    }
}
