import BatonClient
import BatonCore
import BatonTesting
import Foundation
import Hummingbird
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

extension EndToEnd {
    /// Traces from submit to run (docs/operations.md#traces), exported over OTLP/HTTP by a real
    /// node and a separate `baton worker` to a small collector standing in for OpenTelemetry's.
    @Suite(.serialized) struct TracingTests {
        /// An exported span, as OTLP's JSON encoding gives it.
        struct ExportedSpan: Sendable {
            var service: String
            var name: String
            var kind: Int
            var traceID: String
            var spanID: String
            var parentSpanID: String
            var links: [(traceID: String, spanID: String)]
            var attributes: [String: String]
        }

        /// A collector for OTLP/HTTP JSON at `/v1/traces`, recording every span it is sent.
        static func collector(_ spans: Recorder<ExportedSpan>, requests: Recorder<String>) -> Router<BasicRequestContext> {
            let router = Router()
            router.post("/v1/traces") { request, _ -> Response in
                let body = try await request.body.collect(upTo: 16 << 20)
                requests.record(request.headers[.contentType] ?? "")
                for span in Self.spans(in: Data(buffer: body)) { spans.record(span) }
                var headers = HTTPFields()
                headers[.contentType] = "application/json"
                return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: "{}")))
            }
            return router
        }

        static func spans(in body: Data) -> [ExportedSpan] {
            guard let root = try? JSONSerialization.jsonObject(with: body) as? [String: Any] else { return [] }
            var found: [ExportedSpan] = []
            for resourceSpans in root["resourceSpans"] as? [[String: Any]] ?? [] {
                let resource = attributes((resourceSpans["resource"] as? [String: Any])?["attributes"])
                for scope in resourceSpans["scopeSpans"] as? [[String: Any]] ?? [] {
                    for span in scope["spans"] as? [[String: Any]] ?? [] {
                        let links = (span["links"] as? [[String: Any]] ?? []).map {
                            (traceID: Self.id($0["traceId"]), spanID: Self.id($0["spanId"]))
                        }
                        found.append(
                            ExportedSpan(
                                service: resource["service.name"] ?? "", name: span["name"] as? String ?? "",
                                kind: Self.kind(span["kind"]), traceID: Self.id(span["traceId"]), spanID: Self.id(span["spanId"]),
                                parentSpanID: Self.id(span["parentSpanId"]), links: links,
                                attributes: attributes(span["attributes"])))
                    }
                }
            }
            return found
        }

        /// A trace or span id in hex. OTLP's JSON encoding specifies hex; swift-otel 1.6 sends
        /// protobuf's JSON form of bytes (base64), which is read here too.
        static func id(_ value: Any?) -> String {
            let text = value as? String ?? ""
            if text.count % 16 == 0, text.allSatisfy(\.isHexDigit) { return text.lowercased() }
            guard let bytes = Data(base64Encoded: text) else { return text }
            return bytes.map { String(format: "%02x", $0) }.joined()
        }

        /// OTLP's JSON gives enums as numbers (or, from some encoders, as names).
        static func kind(_ value: Any?) -> Int {
            if let n = value as? Int { return n }
            switch value as? String {
            case "SPAN_KIND_PRODUCER": return 4
            case "SPAN_KIND_CONSUMER": return 5
            default: return 0
            }
        }

        static func attributes(_ list: Any?) -> [String: String] {
            var out: [String: String] = [:]
            for item in list as? [[String: Any]] ?? [] {
                guard let key = item["key"] as? String, let value = item["value"] as? [String: Any], let first = value.first else {
                    continue
                }
                out[key] = "\(first.value)"
            }
            return out
        }

        /// The node's `send traced` and the worker's `process traced` spans of `traceID`, once
        /// both were exported.
        static func sendAndProcess(_ spans: Recorder<ExportedSpan>, traceID: String) async throws -> (ExportedSpan, ExportedSpan) {
            try await eventually("both spans exported", within: .seconds(20), every: .milliseconds(100)) {
                () -> (ExportedSpan, ExportedSpan)? in
                let all = spans.all
                guard let send = all.first(where: { $0.name == "send traced" && $0.traceID == traceID }),
                    let process = all.first(where: { $0.name == "process traced" && $0.traceID == traceID })
                else { return nil }
                return (send, process)
            }
        }

        static func hex(_ bytes: Int) -> String {
            (0..<bytes).map { _ in String(format: "%02x", Int.random(in: 1...255)) }.joined()
        }

        /// Submits a task with a `traceparent` header, as a traced producer would.
        static func submit(_ url: String, traceparent: String) async throws -> TaskID {
            var request = URLRequest(url: URL(string: "\(url)/v1/tasks")!)
            request.httpMethod = "POST"
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
            request.setValue(traceparent, forHTTPHeaderField: "traceparent")
            request.httpBody = Data(#"{"kind":"echo","args":{"n":1},"queue":"traced"}"#.utf8)
            let (data, response) = try await URLSession.shared.data(for: request)
            #expect((response as? HTTPURLResponse)?.statusCode == 201, "\(String(decoding: data, as: UTF8.self))")
            let object = try JSONSerialization.jsonObject(with: data) as? [String: Any]
            let text = object?["id"] as? String ?? ""
            guard let id = TaskID(text) else { throw BatonError.invalidArgument("the submit answered no task id: \(object ?? [:])") }
            return id
        }

        @Test func aTaskIsTracedFromItsSubmitterThroughTheNodeToTheWorker() async throws {
            let spans = Recorder<ExportedSpan>()
            let requests = Recorder<String>()
            try await withStandInServer(Self.collector(spans, requests: requests)) { port in
                let collector = "http://127.0.0.1:\(port)"
                let dir = try TempDir()
                // The node is configured by OpenTelemetry's variables, the worker by Baton's flag.
                let otel = ["OTEL_EXPORTER_OTLP_PROTOCOL": "http/json", "OTEL_BSP_SCHEDULE_DELAY": "100"]
                let node = try BatonProcess(
                    ["serve", "--db", dir.path("baton.db"), "--port", "0"],
                    environment: otel.merging(["OTEL_EXPORTER_OTLP_ENDPOINT": collector, "OTEL_SERVICE_NAME": "test-node"]) { $1 })
                defer { Task { await node.stop() } }
                let url = try await node.url()
                let worker = try BatonProcess(
                    ["worker", "--server", url, "--queues", "traced", "--otlp-endpoint", collector],
                    environment: otel.merging(["OTEL_SERVICE_NAME": "test-worker"]) { $1 })
                defer { Task { await worker.stop() } }

                let traceID = Self.hex(16)
                let submitterSpan = Self.hex(8)
                let id = try await Self.submit(url, traceparent: "00-\(traceID)-\(submitterSpan)-01")
                let client = BatonClient(servers: [URL(string: url)!])
                let done = try await client.wait(id, timeout: .seconds(30))
                #expect(done.state == .succeeded)
                // The task keeps the context of the span that submitted it.
                let stored = try #require(done.traceparent)
                #expect(stored.hasPrefix("00-\(traceID)-"), "\(stored)")

                let (send, process) = try await Self.sendAndProcess(spans, traceID: traceID)
                // The producer span: the node's, a child of the submitter's.
                #expect(send.service == "test-node")
                #expect(send.kind == 4, "SPAN_KIND_PRODUCER")
                #expect(send.parentSpanID == submitterSpan)
                #expect(stored == "00-\(traceID)-\(send.spanID)-01")
                #expect(send.attributes["messaging.system"] == "baton")
                #expect(send.attributes["messaging.destination.name"] == "traced")
                #expect(send.attributes["messaging.message.id"] == id.description)
                // The consumer span: the worker's, a child of the producer span and linked to it.
                #expect(process.service == "test-worker")
                #expect(process.kind == 5, "SPAN_KIND_CONSUMER")
                #expect(process.parentSpanID == send.spanID)
                #expect(process.links.contains { $0.traceID == traceID && $0.spanID == send.spanID }, "\(process.links)")
                #expect(process.attributes["messaging.system"] == "baton")
                #expect(process.attributes["messaging.destination.name"] == "traced")
                #expect(process.attributes["messaging.message.id"] == id.description)
                #expect(process.attributes["baton.task.kind"] == "echo")
                #expect(process.attributes["baton.task.attempt"] == "1")
                #expect(requests.all.allSatisfy { $0.hasPrefix("application/json") }, "OTEL_EXPORTER_OTLP_PROTOCOL is honoured")
            }
        }

        /// A submitter whose context is not sampled (`traceparent` flags `00`), under the default
        /// parent-based sampler: the node's `send` span and the worker's `process` span follow
        /// that decision, so nothing is exported, yet the task runs and keeps the context (with
        /// its flags) so that the worker could follow it. A worker with a span that does not
        /// record sets nothing on it.
        @Test func aSubmitterThatDoesNotSampleIsFollowedAllTheWay() async throws {
            let spans = Recorder<ExportedSpan>()
            let requests = Recorder<String>()
            try await withStandInServer(Self.collector(spans, requests: requests)) { port in
                let collector = "http://127.0.0.1:\(port)"
                let dir = try TempDir()
                let otel = [
                    "OTEL_EXPORTER_OTLP_ENDPOINT": collector, "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json", "OTEL_BSP_SCHEDULE_DELAY": "100",
                ]
                let node = try BatonProcess(["serve", "--db", dir.path("baton.db"), "--port", "0"], environment: otel)
                defer { Task { await node.stop() } }
                let url = try await node.url()
                let worker = try BatonProcess(["worker", "--server", url, "--queues", "traced"], environment: otel)
                defer { Task { await worker.stop() } }

                let traceID = Self.hex(16)
                let id = try await Self.submit(url, traceparent: "00-\(traceID)-\(Self.hex(8))-00")
                let done = try await BatonClient(servers: [URL(string: url)!]).wait(id, timeout: .seconds(30))
                #expect(done.state == .succeeded)
                let stored = try #require(done.traceparent)
                #expect(stored.hasPrefix("00-\(traceID)-") && stored.hasSuffix("-00"), "the unsampled context is kept: \(stored)")
                // A sampled task afterwards is exported: the pipeline works, the first was dropped.
                let sampledTrace = Self.hex(16)
                let sampled = try await Self.submit(url, traceparent: "00-\(sampledTrace)-\(Self.hex(8))-01")
                #expect(try await BatonClient(servers: [URL(string: url)!]).wait(sampled, timeout: .seconds(30)).state == .succeeded)
                _ = try await eventually("the sampled task's spans exported", within: .seconds(20), every: .milliseconds(100)) {
                    () -> Bool? in
                    let names = Set(spans.all.filter { $0.traceID == sampledTrace }.map(\.name))
                    return names.isSuperset(of: ["send traced", "process traced"]) ? true : nil
                }
                #expect(!spans.all.contains { $0.traceID == traceID }, "no span of the unsampled trace: \(spans.all.map(\.name))")
            }
        }

        @Test func otelSDKDisabledWinsOverAnEndpoint() async throws {
            let spans = Recorder<ExportedSpan>()
            let requests = Recorder<String>()
            try await withStandInServer(Self.collector(spans, requests: requests)) { port in
                let collector = "http://127.0.0.1:\(port)"
                let dir = try TempDir()
                let environment = [
                    "OTEL_EXPORTER_OTLP_ENDPOINT": collector, "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json", "OTEL_BSP_SCHEDULE_DELAY": "100",
                    "OTEL_SDK_DISABLED": "true",
                ]
                let node = try BatonProcess(
                    ["--db", dir.path("baton.db"), "--port", "0", "--queues", "traced", "--otlp-endpoint", collector],
                    environment: environment)
                defer { Task { await node.stop() } }
                let url = try await node.url()
                let id = try await Self.submit(url, traceparent: "00-\(Self.hex(16))-\(Self.hex(8))-01")
                let done = try await BatonClient(servers: [URL(string: url)!]).wait(id, timeout: .seconds(30))
                #expect(done.state == .succeeded)
                #expect(done.traceparent == nil, "no span, so no context is stored")
                // Spans would be exported within the 0.1 s batch delay; give it ten times that.
                try await Task.sleep(for: .seconds(1))
                #expect(requests.count == 0)
            }
        }
    }
}
