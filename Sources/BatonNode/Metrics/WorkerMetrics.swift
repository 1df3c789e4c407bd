import BatonWorker
import Prometheus

/// A `baton worker`'s Prometheus metrics (`--metrics-port`): the attempts it ran, as it saw
/// them, and its slots. Named `baton_worker_*`, apart from the node's series, so that a
/// Prometheus scraping both never counts an attempt twice. No label holds a task id.
public final class WorkerMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry
    private let series: MetricSeries
    private let running: Gauge
    private let slots: Gauge

    static let attempts = MetricSeries.Metric(
        name: "baton_worker_attempts_total",
        help: "Attempts this worker ran, by outcome: succeeded, retry, failed, cancelled, lease_expired, released.")
    static let run = MetricSeries.Metric(name: "baton_worker_run_seconds", help: "Handler run time on this worker, by outcome.")
    static let runningTasks = MetricSeries.Metric(name: "baton_worker_running_tasks", help: "Tasks this worker runs now.")
    static let concurrency = MetricSeries.Metric(name: "baton_worker_concurrency", help: "Tasks this worker runs at once at most.")

    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
        self.series = MetricSeries(registry: registry)
        running = registry.makeGauge(descriptor: Self.runningTasks.descriptor)
        slots = registry.makeGauge(descriptor: Self.concurrency.descriptor)
    }

    /// Counts an attempt's end (the runtime's observer).
    public func record(_ report: AttemptReport) {
        let labels: KeyValuePairs<String, String> = ["queue": report.queue, "kind": report.kind, "outcome": report.outcome]
        series.counter(Self.attempts, labels).increment()
        series.histogram(Self.run, labels, NodeMetrics.runBuckets).record(report.run)
    }

    /// The exposition (Prometheus text format 0.0.4), with the runtime's gauges read now.
    public func exposition(_ runtime: WorkerRuntime) -> [UInt8] {
        running.set(to: Double(runtime.runningCount))
        slots.set(to: Double(runtime.concurrency))
        return registry.emitToBuffer()
    }
}
