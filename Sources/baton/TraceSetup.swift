import BatonCore
import Foundation
import Logging
import OTel
import ServiceLifecycle
import Tracing

/// Bootstraps tracing for a node or a worker (docs/operations.md#traces): swift-otel's tracer
/// exporting over OTLP/HTTP, and nothing else of it (Baton keeps its own logs and metrics).
///
/// On when an endpoint is given — `tracing.endpoint` (`--otlp-endpoint`,
/// `BATON_TRACING_ENDPOINT`), `OTEL_EXPORTER_OTLP_ENDPOINT` or
/// `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` — and off otherwise; `OTEL_SDK_DISABLED=true` always
/// wins. The standard `OTEL_*` variables (protocol, headers, timeout, service name, resource
/// attributes, sampler, batch processor) are honoured, and win over Baton's settings.
enum TraceSetup {
    static let keys = ["tracing.endpoint"]

    /// The exporter's service when tracing is on (run it first in the service group, so that
    /// it stops last and flushes the spans the others ended), `nil` when off.
    static func bootstrap(
        _ settings: Settings, serviceName: String, environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws -> (any Service)? {
        guard let endpoint = try endpoint(settings, environment: environment) else { return nil }
        var configuration = OTel.Configuration.default
        configuration.serviceName = serviceName
        configuration.logs.enabled = false
        configuration.metrics.enabled = false
        configuration.traces.enabled = true
        configuration.diagnosticLogger = .custom(Logger(label: "baton.tracing"))
        configuration.diagnosticLogLevel = .warning
        if let endpoint { configuration.traces.otlpExporter.endpoint = endpoint }
        do {
            let backend = try OTel.makeTracingBackend(configuration: configuration)
            InstrumentationSystem.bootstrap(backend.factory)
            TaskTrace.enable()
            return backend.service
        } catch {
            throw CLIError.usage("the tracing settings are refused: \(error)")
        }
    }

    /// `.some(url)`: on, exporting to Baton's setting (the traces URL); `.some(nil)`: on, with
    /// the `OTEL_*` variables' endpoint; `nil`: off.
    static func endpoint(_ settings: Settings, environment: [String: String]) throws -> String?? {
        if environment["OTEL_SDK_DISABLED"]?.trimmingCharacters(in: .whitespaces).lowercased() == "true" { return nil }
        if let text = settings.string("tracing.endpoint"), !text.isEmpty {
            guard let url = URL(string: text), let scheme = url.scheme, ["http", "https"].contains(scheme), url.host != nil else {
                throw CLIError.usage("tracing.endpoint '\(text)' is not an http(s) URL such as http://127.0.0.1:4318")
            }
            // As OTEL_EXPORTER_OTLP_ENDPOINT: the collector's base URL, traces at /v1/traces.
            return .some(url.path.isEmpty || url.path == "/" ? text.trimmingSuffix("/") + "/v1/traces" : text)
        }
        let variables = ["OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"]
        guard variables.contains(where: { !(environment[$0] ?? "").isEmpty }) else { return nil }
        return .some(nil)
    }
}

extension String {
    fileprivate func trimmingSuffix(_ suffix: String) -> String { hasSuffix(suffix) ? String(dropLast(suffix.count)) : self }
}
