import Synchronization
import Tracing

/// Tasks traced from submit to run (docs/operations.md#traces), with OpenTelemetry's messaging
/// conventions: the node opens a `send {queue}` producer span around a submission and stores
/// its W3C `traceparent` with each task; the worker that runs the task opens a
/// `process {queue}` consumer span around the handler, a child of that context and linked to it.
///
/// The libraries speak only the swift-distributed-tracing API; the `baton` binary bootstraps
/// the tracer (swift-otel, OTLP/HTTP) and then calls ``enable()``. While tracing is off
/// nothing here runs on the hot paths: no span, no context, no stored column.
public enum TaskTrace {
    private static let enabled = Atomic<Bool>(false)

    /// Whether the process exports traces (set once, after the tracer is bootstrapped).
    public static var isEnabled: Bool { enabled.load(ordering: .relaxed) }

    /// Turns tracing on for this process: call after `InstrumentationSystem.bootstrap`.
    public static func enable() { enabled.store(true, ordering: .relaxed) }

    /// `messaging.system` of every span: OpenTelemetry's convention names the broker.
    public static let system = "baton"

    /// The W3C `traceparent` of `context`'s span, if it has one.
    public static func traceparent(of context: ServiceContext) -> String? {
        var carrier: [String: String] = [:]
        InstrumentationSystem.instrument.inject(context, into: &carrier, using: DictionaryInjector())
        return carrier["traceparent"]
    }

    /// The context a stored `traceparent` names (a remote parent), or `nil` if it names none.
    public static func context(traceparent: String) -> ServiceContext? {
        var context = ServiceContext.topLevel
        InstrumentationSystem.instrument.extract(["traceparent": traceparent], into: &context, using: DictionaryExtractor())
        return Self.traceparent(of: context) == nil ? nil : context
    }

    /// The context of the incoming headers (`traceparent`, `tracestate`) read by `value(for:)`,
    /// merged into the current one.
    public static func context(extractingFrom value: @escaping @Sendable (String) -> String?) -> ServiceContext {
        var context = ServiceContext.current ?? .topLevel
        InstrumentationSystem.instrument.extract(value, into: &context, using: FunctionExtractor())
        return context
    }

    /// The messaging attributes of a span about one task (or a batch, without `id`).
    public static func setAttributes(
        _ span: any Span, operation: String, queue: String?, kind: String?, id: TaskID?, attempt: Int? = nil, count: Int? = nil
    ) {
        span.attributes["messaging.system"] = system
        span.attributes["messaging.operation.type"] = operation
        span.attributes["messaging.operation.name"] = operation
        if let queue { span.attributes["messaging.destination.name"] = queue }
        if let kind { span.attributes["baton.task.kind"] = kind }
        if let id { span.attributes["messaging.message.id"] = id.description }
        if let attempt { span.attributes["baton.task.attempt"] = attempt }
        if let count, count != 1 { span.attributes["messaging.batch.message_count"] = count }
    }
}

private struct DictionaryInjector: Injector {
    func inject(_ value: String, forKey key: String, into carrier: inout [String: String]) { carrier[key] = value }
}

private struct DictionaryExtractor: Extractor {
    func extract(key: String, from carrier: [String: String]) -> String? { carrier[key] }
}

private struct FunctionExtractor: Extractor {
    func extract(key: String, from carrier: @Sendable (String) -> String?) -> String? { carrier(key) }
}
