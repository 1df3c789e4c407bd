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

    /// The context a stored `traceparent` names (a remote parent), or `nil` if it names none
    /// (it is not a version-00 W3C `traceparent`, or its trace or parent id is all zeros).
    ///
    /// The form is checked here, once, so that a worker does not have to inject the extracted
    /// context again to learn whether the tracer understood it (that round trip was most of
    /// this function's cost per task).
    public static func context(traceparent: String) -> ServiceContext? {
        guard isTraceparent(traceparent) else { return nil }
        var context = ServiceContext.topLevel
        InstrumentationSystem.instrument.extract(["traceparent": traceparent], into: &context, using: DictionaryExtractor())
        return context
    }

    /// Whether `text` is a version-00 W3C `traceparent` (`00-TRACEID-PARENTID-FLAGS`, lower
    /// case hex) whose ids are not all zeros: the form Baton's nodes store.
    static func isTraceparent(_ text: String) -> Bool {
        var text = text
        return text.withUTF8 { bytes in
            let dash = UInt8(ascii: "-")
            let zero = UInt8(ascii: "0")
            guard bytes.count == 55, bytes[0] == zero, bytes[1] == zero, bytes[2] == dash, bytes[35] == dash, bytes[52] == dash
            else { return false }
            func isHex(_ range: Range<Int>) -> (ok: Bool, zero: Bool) {
                var allZero = true
                for i in range {
                    let b = bytes[i]
                    guard (b >= zero && b <= UInt8(ascii: "9")) || (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "f")) else {
                        return (false, allZero)
                    }
                    if b != zero { allZero = false }
                }
                return (true, allZero)
            }
            let trace = isHex(3..<35)
            let parent = isHex(36..<52)
            let flags = isHex(53..<55)
            return trace.ok && parent.ok && flags.ok && !trace.zero && !parent.zero
        }
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
        // One update, not one per attribute: each assignment to `span.attributes` copies the
        // whole set under the span's lock.
        span.updateAttributes { attributes in
            // Room for all of them at once: grown one by one, the set was rehashed three times.
            attributes.reserveCapacity(attributes.count + 8)
            attributes["messaging.system"] = system
            attributes["messaging.operation.type"] = operation
            attributes["messaging.operation.name"] = operation
            if let queue { attributes["messaging.destination.name"] = queue }
            if let kind { attributes["baton.task.kind"] = kind }
            if let id { attributes["messaging.message.id"] = id.description }
            if let attempt { attributes["baton.task.attempt"] = attempt }
            if let count, count != 1 { attributes["messaging.batch.message_count"] = count }
        }
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
