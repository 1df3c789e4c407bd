import BatonCore
import Tracing

extension NodeAPI {
    /// Runs a submission of `tasks` in a `send {queue}` producer span when tracing is on
    /// (``TaskTrace``): a child of the submitter's context (an incoming `traceparent`), whose
    /// own context every task stores and carries to the worker that runs it. Off, it is `body`.
    static func traced<T>(
        _ tasks: [NewTask], stored: KeyPath<T, [TaskRecord]>? = nil, _ body: ([NewTask]) async throws -> T
    ) async throws -> T {
        guard TaskTrace.isEnabled, let first = tasks.first else { return try await body(tasks) }
        let oneQueue = tasks.allSatisfy { $0.queue == first.queue }
        let oneKind = tasks.allSatisfy { $0.kind == first.kind }
        return try await withSpan(oneQueue ? "send \(first.queue)" : "send", ofKind: .producer) { span in
            if span.isRecording {
                TaskTrace.setAttributes(
                    span, operation: "send", queue: oneQueue ? first.queue : nil, kind: oneKind ? first.kind : nil, id: nil,
                    count: tasks.count)
            }
            var tasks = tasks
            if let traceparent = TaskTrace.traceparent(of: span.context) {
                for i in tasks.indices { tasks[i].traceparent = traceparent }
            }
            let result = try await body(tasks)
            if span.isRecording, let records = stored.map({ result[keyPath: $0] }), records.count == 1 {
                span.attributes["messaging.message.id"] = records[0].id.description
            }
            return result
        }
    }
}
