import BatonCore
import Configuration

/// How a node runs: its dispatcher and completer, its maintenance, the schedules it declares.
/// The CLI builds it from the settings (``init(reader:)``); tests and benchmarks build it directly.
///
/// Keys read by ``init(reader:)`` (each also a `BATON_*` variable, see docs/cli.md); every one
/// **reloads** (``NodeServices/apply(_:)``):
/// - `node.fallbackPoll` (`BATON_NODE_FALLBACK_POLL`): seconds between store polls when nothing
///   wakes the claimers, at least 0.001 (default 1)
/// - `node.retention` (`BATON_NODE_RETENTION`): seconds finished tasks are kept (default 7 days)
/// - `node.rescueInterval` (`BATON_NODE_RESCUE_INTERVAL`): seconds between lease-rescue passes,
///   at least 0.01 (default 5)
/// - `node.cleanInterval` (`BATON_NODE_CLEAN_INTERVAL`): seconds between retention passes, at
///   least 0.01 (default 600)
/// - `node.countsInterval` (`BATON_NODE_COUNTS_INTERVAL`): seconds between counts of the queues
///   (`GET /v1/queues`, the queue gauges of `/metrics`), at least 0.05 (default 5)
/// - `node.eventWindow` (`BATON_NODE_EVENT_WINDOW`): seconds the cluster's event log keeps
///   events on PostgreSQL (`GET /v1/events` resumes within it), at least 1 (default 600)
/// - `retry.policy`, `retry.backoff`, `retry.cap`: the retry policy of tasks and kinds that set
///   none (``RetryPolicy/init(reader:)``)
///
/// Read at startup only (``startupKeys``):
/// - `node.metrics` (`BATON_NODE_METRICS`): keep Prometheus metrics and serve `GET /metrics`
///   (default true)
///
/// Declared schedules (the settings file's `schedules:` section) are read by the CLI.
public struct NodeConfiguration: Sendable {
    public var dispatcher: TaskDispatcher.Configuration
    public var completer: TaskCompleter.Configuration
    /// The retry policy of tasks and kinds that set none.
    public var defaultRetry: RetryPolicy
    /// Time between lease-rescue passes (leader only).
    public var rescueInterval: Duration
    /// How long finished tasks are kept.
    public var retention: Duration
    /// Time between retention passes (leader only).
    public var cleanInterval: Duration
    /// Time between schedule-firing passes (leader only).
    public var scheduleInterval: Duration
    /// Schedules declared in the node's settings, upserted when the node starts.
    public var schedules: [ScheduleDefinition]
    /// A worker silent this long is no longer listed.
    public var workerForgetAfter: Duration
    /// Time between counts of the queues (``QueueCountsCache``).
    public var countsInterval: Duration
    /// How long the cluster's event log keeps events (PostgreSQL; ``ClusterEventFeed``).
    public var eventWindow: Duration
    /// Whether the node keeps Prometheus metrics (``NodeMetrics``); they make its event stream
    /// observed, so the hot path reports what it does.
    public var metrics: Bool
    /// Kinds whose arguments must be a flat JSON object of strings, refused on submit
    /// otherwise (``NewTask/validateStringArgs()``): the CLI sets them from `sqs.stringKinds`
    /// (freundallein/sqs-scheduler's workers read params as strings). Needs a new node.
    public var stringArgKinds: Set<String> = []

    public init(
        dispatcher: TaskDispatcher.Configuration = .init(), completer: TaskCompleter.Configuration = .init(),
        defaultRetry: RetryPolicy = .default, rescueInterval: Duration = Defaults.rescueInterval,
        retention: Duration = Defaults.retention, cleanInterval: Duration = Defaults.cleanInterval,
        scheduleInterval: Duration = ScheduleFirer.defaultInterval, schedules: [ScheduleDefinition] = [],
        workerForgetAfter: Duration = WorkerRegistry.defaultForgetAfter, countsInterval: Duration = QueueCountsCache.defaultInterval,
        metrics: Bool = true, eventWindow: Duration = ClusterEventFeed.defaultWindow
    ) {
        self.eventWindow = eventWindow
        self.countsInterval = countsInterval
        self.metrics = metrics
        self.dispatcher = dispatcher
        self.completer = completer
        self.defaultRetry = defaultRetry
        self.rescueInterval = rescueInterval
        self.retention = retention
        self.cleanInterval = cleanInterval
        self.scheduleInterval = scheduleInterval
        self.schedules = schedules
        self.workerForgetAfter = workerForgetAfter
    }
}

extension NodeConfiguration {
    /// The settings keys ``init(reader:)`` reads; all of them reload.
    public static let configKeys =
        [
            "node.fallbackPoll", "node.retention", "node.rescueInterval", "node.cleanInterval", "node.countsInterval", "node.eventWindow",
        ]
        + RetryPolicy.configKeys

    /// The settings keys ``init(reader:)`` reads that need a restart.
    public static let startupKeys = ["node.metrics"]

    /// The configuration from the settings; throws `invalidArgument` naming the key of a bad value.
    public init(reader: ConfigReader) throws(BatonError) {
        self.init()
        dispatcher.fallbackPoll = try reader.seconds("node.fallbackPoll", default: Defaults.fallbackPoll, minimum: 0.001)
        retention = try reader.seconds("node.retention", default: Defaults.retention)
        rescueInterval = try reader.seconds("node.rescueInterval", default: Defaults.rescueInterval, minimum: 0.01)
        cleanInterval = try reader.seconds("node.cleanInterval", default: Defaults.cleanInterval, minimum: 0.01)
        countsInterval = try reader.seconds("node.countsInterval", default: QueueCountsCache.defaultInterval, minimum: 0.05)
        eventWindow = try reader.seconds("node.eventWindow", default: ClusterEventFeed.defaultWindow, minimum: 1)
        defaultRetry = try RetryPolicy(reader: reader)
        metrics = try reader.flag("node.metrics", default: true)
    }
}

/// The settings of a running node that a reload changes (``NodeServices/apply(_:)``), each read
/// by the part that uses it when it uses it (the fallback poll is the dispatcher's own,
/// ``TaskDispatcher/fallbackPoll``).
public final class NodeLiveSettings: Sendable {
    public let retention: LiveSetting<Duration>
    public let rescueInterval: LiveSetting<Duration>
    public let cleanInterval: LiveSetting<Duration>
    public let countsInterval: LiveSetting<Duration>
    public let eventWindow: LiveSetting<Duration>
    /// The node's retry policy for the lease rescuer.
    public let defaultRetry: LiveSetting<RetryPolicy>
    /// The policy acks apply instead of the store's own `defaultRetry`: `nil` until a reload
    /// sets the node's policy (the store was opened with the same settings).
    public let ackRetry: LiveSetting<RetryPolicy?>

    public init(_ configuration: NodeConfiguration) {
        retention = LiveSetting(configuration.retention)
        rescueInterval = LiveSetting(configuration.rescueInterval)
        cleanInterval = LiveSetting(configuration.cleanInterval)
        countsInterval = LiveSetting(configuration.countsInterval)
        eventWindow = LiveSetting(configuration.eventWindow)
        defaultRetry = LiveSetting(configuration.defaultRetry)
        ackRetry = LiveSetting(nil)
    }
}
