import BatonCore
import Foundation
import Prometheus
import Synchronization

/// A node's Prometheus metrics (`GET /metrics`), fed by its event stream and its counts cache.
///
/// Counters and histograms follow the events the node emits (``NodeEvents``): submits,
/// claims (with each claim's queue wait), attempts' ends (with their run time), schedule fires,
/// store operations. Gauges are set from each refresh of the ``QueueCountsCache``, so a scrape
/// never counts the tasks table itself. No label ever holds a task id: labels are queues,
/// kinds, outcomes, schedules and store operations, all bounded by what operators configure.
///
/// The counters are this node's: on PostgreSQL with several nodes, sum them over the nodes. The
/// gauges are the cluster's (every node counts the shared tables).
public final class NodeMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry

    typealias Key = MetricSeries.Key

    private let series: MetricSeries
    /// `baton_store_op_seconds`, one series per operation, made at start: a store operation
    /// (one per claim and per ack batch) finds its series without building and hashing labels.
    private let storeOps: [StoreOperation: ValueHistogram]
    /// The gauges set by the last counts refresh, to remove those that disappear.
    private let queueGauges = Mutex<[Key: Gauge]>([:])

    /// Buckets of the queue-wait and store-operation histograms (seconds).
    public static let latencyBuckets: [Duration] = [
        .milliseconds(1), .milliseconds(2.5), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
        .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(5), .seconds(10),
        .seconds(30), .seconds(60), .seconds(300),
    ]
    /// Buckets of the handler run-time histogram (seconds).
    public static let runBuckets: [Duration] = [
        .milliseconds(5), .milliseconds(25), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2.5),
        .seconds(5), .seconds(10), .seconds(30), .seconds(60), .seconds(300), .seconds(900), .seconds(3600),
    ]

    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
        let series = MetricSeries(registry: registry)
        self.series = series
        storeOps = Dictionary(
            uniqueKeysWithValues: StoreOperation.allCases.map { op in
                (op, series.histogram(Self.storeOp, ["op": op.rawValue], Self.latencyBuckets))
            })
        leader.set(to: 0)
    }

    /// The exposition (Prometheus text format 0.0.4).
    public func exposition() -> [UInt8] { registry.emitToBuffer() }

    /// The content type of ``exposition()``.
    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    // MARK: Feeding

    /// Counts `events` (a listener of the node's event stream calls it; it returns at once).
    ///
    /// Events come in batches (a claim, an ack batch) whose labels mostly repeat, so the series
    /// of a run of events with the same labels are looked up once (``Recent``) and its counter
    /// is incremented once by the run's length: the registry's lock and the label hashing stay
    /// off the per-task path.
    public func record(_ events: [NodeEvent]) {
        var submitted = Recent<Counter>()
        var claimed = Recent<Counter>()
        var attempts = Recent<Counter>()
        var waits = Recent<ValueHistogram>()
        var runs = Recent<ValueHistogram>()
        for event in events {
            switch event {
            case .enqueued(let task):
                submitted.count(task.queue, task.kind) { counter(Self.submitted, ["queue": task.queue, "kind": task.kind]) }
            case .claimed(let task, _, _, let wait):
                claimed.count(task.queue) { counter(Self.claimed, ["queue": task.queue]) }
                waits.series(task.queue) { histogram(Self.queueWait, ["queue": task.queue], Self.latencyBuckets) }.record(wait)
            case .transitioned(let move):
                guard move.from == .running, let queue = move.queue, let kind = move.kind,
                    let outcome = move.leaseExpired ? "lease_expired" : Self.outcome(of: move.to)
                else { continue }
                let labels: KeyValuePairs<String, String> = ["queue": queue, "kind": kind, "outcome": outcome]
                attempts.count(queue, kind, outcome) { counter(Self.attempts, labels) }
                if let run = move.run { runs.series(queue, kind, outcome) { histogram(Self.run, labels, Self.runBuckets) }.record(run) }
            case .rescued:
                continue
            case .scheduleFired(let schedule, _):
                counter(Self.scheduleFires, ["schedule": schedule]).increment()
            case .leadershipChanged(let isLeader):
                leader.set(to: isLeader ? 1 : 0)
            case .progressed:
                continue
            case .storeOperation(let op, let took):
                storeOps[op]?.record(took)
            }
        }
        submitted.flush()
        claimed.flush()
        attempts.flush()
    }

    /// The series of the last labels seen in one ``record(_:)`` call, and, for a counter, the
    /// increments not yet added to it.
    private struct Recent<Series: AnyObject> {
        private var labels: (String, String, String)?
        private var current: Series?
        private var pending: Int64 = 0

        /// The series of these labels: the last one if they are the same, else `make()`'s.
        mutating func series(_ a: String, _ b: String = "", _ c: String = "", make: () -> Series) -> Series {
            if let current, let labels, labels == (a, b, c) { return current }
            flush()
            let made = make()
            labels = (a, b, c)
            current = made
            return made
        }

        /// Counts one event of these labels (added at the next change of labels or ``flush()``).
        mutating func count(_ a: String, _ b: String = "", _ c: String = "", make: () -> Series) where Series == Counter {
            _ = series(a, b, c, make: make)
            pending += 1
        }

        mutating func flush() {
            if pending > 0, let counter = current as? Counter { counter.increment(by: pending) }
            pending = 0
        }
    }

    /// The outcome label of an attempt that ended in `state`.
    static func outcome(of state: TaskState) -> String? {
        switch state {
        case .succeeded: "succeeded"
        case .pending, .ready: "retry"
        case .failed: "failed"
        case .cancelled: "cancelled"
        case .waiting, .running: nil
        }
    }

    /// Sets the queue gauges from a refresh of the counts: tasks per queue and state, the age
    /// of each queue's oldest ready task, whether it is paused. Series of queues no longer
    /// counted are removed.
    public func update(counts: [QueueCounts], paused: Set<String>, at now: Date) {
        var fresh: [Key: Double] = [:]
        for queue in counts {
            for state in TaskState.allCases {
                fresh[Key(name: Self.queueTasks.name, labels: ["queue", queue.name, "state", state.rawValue])] = Double(queue.count(state))
            }
            fresh[Key(name: Self.oldestReady.name, labels: ["queue", queue.name])] =
                queue.oldestReadyAt.map { max(0, now.timeIntervalSince($0)) } ?? 0
        }
        for queue in Set(counts.map(\.name)).union(paused) {
            fresh[Key(name: Self.queuePaused.name, labels: ["queue", queue])] = paused.contains(queue) ? 1 : 0
        }
        let descriptors = [Self.queueTasks, Self.oldestReady, Self.queuePaused]
        queueGauges.withLock { gauges in
            for (key, gauge) in gauges where fresh[key] == nil {
                registry.unregisterGauge(gauge)
                gauges[key] = nil
            }
            for (key, value) in fresh {
                let gauge =
                    gauges[key]
                    ?? registry.makeGauge(
                        descriptor: descriptors.first { $0.name == key.name }!.descriptor, labels: MetricSeries.pairs(key.labels))
                gauges[key] = gauge
                gauge.set(to: value)
            }
        }
    }

    // MARK: The catalogue

    typealias Metric = MetricSeries.Metric

    static let submitted = Metric(name: "baton_tasks_submitted_total", help: "Tasks stored through this node, by queue and kind.")
    static let claimed = Metric(name: "baton_tasks_claimed_total", help: "Tasks claimed through this node (attempts started).")
    static let attempts = Metric(
        name: "baton_task_attempts_total",
        help: "Attempts ended through this node, by outcome: succeeded, retry, failed, cancelled, lease_expired (the lease rescuer).")
    static let scheduleFires = Metric(name: "baton_schedule_fires_total", help: "Schedule ticks fired by this node (as leader).")
    static let queueWait = Metric(name: "baton_task_queue_wait_seconds", help: "From a task's run_at (ready) to its claim.")
    static let run = Metric(name: "baton_task_run_seconds", help: "From claim to the end of the attempt, by outcome.")
    static let storeOp = Metric(name: "baton_store_op_seconds", help: "Store operations of this node: one batch each.")
    static let queueTasks = Metric(name: "baton_queue_tasks", help: "Tasks per queue and state, from the node's counts cache.")
    static let oldestReady = Metric(
        name: "baton_queue_oldest_ready_age_seconds",
        help: "Age of the queue's oldest ready task (0 when none), from the counts cache.")
    static let queuePaused = Metric(name: "baton_queue_paused", help: "1 when claims skip the queue.")
    static let isLeader = Metric(name: "baton_node_is_leader", help: "1 while this node runs the cluster's maintenance.")

    private var leader: Gauge { registry.makeGauge(descriptor: Self.isLeader.descriptor) }

    // MARK: Series

    private func counter(_ metric: Metric, _ labels: KeyValuePairs<String, String>) -> Counter {
        series.counter(metric, labels)
    }

    private func histogram(_ metric: Metric, _ labels: KeyValuePairs<String, String>, _ buckets: [Duration]) -> ValueHistogram {
        series.histogram(metric, labels, buckets)
    }
}
