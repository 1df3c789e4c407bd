import BatonCore

/// How a node runs: its dispatcher and completer, its maintenance, the schedules it declares.
/// The CLI builds it from the settings; tests and benchmarks build it directly.
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

    public init(
        dispatcher: TaskDispatcher.Configuration = .init(), completer: TaskCompleter.Configuration = .init(),
        defaultRetry: RetryPolicy = .default, rescueInterval: Duration = Defaults.rescueInterval,
        retention: Duration = Defaults.retention, cleanInterval: Duration = Defaults.cleanInterval,
        scheduleInterval: Duration = ScheduleFirer.defaultInterval, schedules: [ScheduleDefinition] = [],
        workerForgetAfter: Duration = WorkerRegistry.defaultForgetAfter
    ) {
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
