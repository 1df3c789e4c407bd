import BatonCore
import Prometheus
import Synchronization

/// Labelled counters and histograms made once per label set in a Prometheus registry, for
/// ``NodeMetrics`` and ``WorkerMetrics``.
final class MetricSeries: Sendable {
    /// A series' full name (with its unit) and help text.
    struct Metric: Sendable {
        var name: String
        var help: String
        var descriptor: MetricNameDescriptor { MetricNameDescriptor(metricName: name, unitName: "", helpText: help) }
    }

    /// A metric's name and its labels, flattened (name, value, name, value, …).
    struct Key: Hashable {
        var name: String
        var labels: [String]
    }

    private struct Series {
        var counters: [Key: Counter] = [:]
        var histograms: [Key: ValueHistogram] = [:]
    }

    let registry: PrometheusCollectorRegistry
    private let series = Mutex(Series())

    init(registry: PrometheusCollectorRegistry) { self.registry = registry }

    static func pairs(_ flat: [String]) -> [(String, String)] {
        stride(from: 0, to: flat.count, by: 2).map { (flat[$0], flat[$0 + 1]) }
    }

    static func key(_ metric: Metric, _ labels: KeyValuePairs<String, String>) -> Key {
        var flat: [String] = []
        flat.reserveCapacity(labels.count * 2)
        for (name, value) in labels {
            flat.append(name)
            flat.append(value)
        }
        return Key(name: metric.name, labels: flat)
    }

    func counter(_ metric: Metric, _ labels: KeyValuePairs<String, String>) -> Counter {
        let key = Self.key(metric, labels)
        return series.withLock { s in
            if let counter = s.counters[key] { return counter }
            let counter = registry.makeCounter(descriptor: metric.descriptor, labels: Self.pairs(key.labels))
            s.counters[key] = counter
            return counter
        }
    }

    /// A histogram of seconds. Its values are `Double`s, not `Duration`s: a record compares the
    /// value with every bucket, and `Duration`'s comparison is a call into the standard
    /// library while `Double`'s is one instruction (the exposition reads the same).
    func histogram(
        _ metric: Metric, _ labels: KeyValuePairs<String, String>, _ buckets: [Duration]
    ) -> ValueHistogram {
        let key = Self.key(metric, labels)
        return series.withLock { s in
            if let histogram = s.histograms[key] { return histogram }
            let histogram = registry.makeValueHistogram(
                descriptor: metric.descriptor, labels: Self.pairs(key.labels), buckets: buckets.map(\.seconds))
            s.histograms[key] = histogram
            return histogram
        }
    }
}

extension Histogram where Value == Double {
    /// Records `duration` in seconds.
    func record(_ duration: Duration) { record(duration.seconds) }
}
