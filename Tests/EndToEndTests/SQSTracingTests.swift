import BatonClient
import BatonCore
import BatonTesting
import Foundation
import Testing

extension EndToEnd.SQSPipelineTests {
    /// The trace context travels in SQS work messages (`baton.traceparent`): a task submitted
    /// with a `traceparent`, dispatched to SQS by one `baton serve` process and run by a
    /// `baton worker` that reaches only SQS (`--sqs-work`, `--sqs-results`), gets a consumer
    /// span from the worker that is the child of, and linked to, the node's producer span.
    /// Every process here makes its queues itself (`--sqs-create-queues`).
    @Test func aTaskIsTracedThroughSQS() async throws {
        guard let endpoint = Self.skipUnlessMoto() else { return }
        typealias Tracing = EndToEnd.TracingTests
        let spans = Recorder<Tracing.ExportedSpan>()
        let requests = Recorder<String>()
        try await withStandInServer(Tracing.collector(spans, requests: requests)) { port in
            let collector = "http://127.0.0.1:\(port)"
            let suffix = UUID().uuidString.prefix(8).lowercased()
            let (work, results) = ("sqs://baton-traced-work-\(suffix)", "sqs://baton-traced-results-\(suffix)")
            let otel = ["OTEL_EXPORTER_OTLP_PROTOCOL": "http/json", "OTEL_BSP_SCHEDULE_DELAY": "100"]
            let dir = try TempDir()
            let node = try BatonProcess(
                [
                    "serve", "--db", dir.path("baton.db"), "--port", "0", "--sqs-endpoint", endpoint, "--sqs-dispatch", "traced=\(work)",
                    "--sqs-results", results, "--sqs-create-queues",
                ],
                environment: Self.awsEnvironment.merging(otel) { $1 }.merging([
                    "OTEL_EXPORTER_OTLP_ENDPOINT": collector, "OTEL_SERVICE_NAME": "sqs-node",
                ]) { $1 })
            defer { Task { await node.stop() } }
            let url = try await node.url()
            let worker = try BatonProcess(
                [
                    "worker", "--sqs-work", work, "--sqs-results", results, "--sqs-endpoint", endpoint, "--sqs-create-queues",
                    "--otlp-endpoint", collector,
                ],
                environment: Self.awsEnvironment.merging(otel) { $1 }.merging(["OTEL_SERVICE_NAME": "sqs-worker"]) { $1 })
            defer { Task { await worker.stop() } }

            let traceID = Tracing.hex(16)
            let id = try await Tracing.submit(url, traceparent: "00-\(traceID)-\(Tracing.hex(8))-01")
            let done = try await BatonClient(servers: [URL(string: url)!]).wait(id, timeout: .seconds(60))
            #expect(done.state == .succeeded, "\(done.lastError ?? "")")
            let (send, process) = try await Tracing.sendAndProcess(spans, traceID: traceID)
            #expect(send.service == "sqs-node" && send.kind == 4)
            #expect(done.traceparent == "00-\(traceID)-\(send.spanID)-01")
            #expect(process.service == "sqs-worker")
            #expect(process.kind == 5, "SPAN_KIND_CONSUMER")
            #expect(process.parentSpanID == send.spanID, "the worker read the context from the SQS work message")
            #expect(process.links.contains { $0.traceID == traceID && $0.spanID == send.spanID }, "\(process.links)")
            #expect(process.attributes["messaging.destination.name"] == "traced")
            #expect(process.attributes["messaging.message.id"] == id.description)
            #expect(process.attributes["baton.task.attempt"] == "1")
        }
    }
}
