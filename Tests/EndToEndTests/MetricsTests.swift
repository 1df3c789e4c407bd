import BatonClient
import BatonCore
import BatonTesting
import Foundation
import Testing

/// `GET /metrics` of a real `baton standalone` after known work, read with Prometheus' own
/// Python parser (`prometheus_client.parser` from PyPI, in .build-venv): every line of the
/// exposition must parse, and each series must hold what the work implies.
extension EndToEnd {
    @Suite(.serialized) struct MetricsTests {
        static let onCI = ProcessInfo.processInfo.environment["CI"] == "true"

        /// The venv's Python, if it has prometheus_client (scripts/python-venv.sh installs it).
        static let python = BuildVenv.python(importing: ["prometheus_client.parser"])

        /// Fetches and parses the exposition; every sample by its name and sorted labels.
        static let scraper = #"""
            import json, sys, urllib.request
            from prometheus_client.parser import text_string_to_metric_families
            text = urllib.request.urlopen(sys.argv[1] + "/metrics", timeout=10).read().decode()
            samples = {}
            for family in text_string_to_metric_families(text):
                for s in family.samples:
                    key = s.name + "{" + ",".join(f"{k}={v}" for k, v in sorted(s.labels.items())) + "}"
                    samples[key] = s.value
            print(json.dumps({"samples": samples, "types": {f.name: f.type for f in text_string_to_metric_families(text)}}))
            """#

        struct Scrape: Decodable {
            var samples: [String: Double]
            var types: [String: String]
            subscript(_ key: String) -> Double? { samples[key] }
        }

        static func scrape(_ url: String, python: String) throws -> Scrape {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: python)
            p.arguments = ["-c", scraper, url]
            let out = Pipe()
            let err = Pipe()
            p.standardOutput = out
            p.standardError = err
            try p.run()
            let data = out.fileHandleForReading.readDataToEndOfFile()
            let errors = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            p.waitUntilExit()
            try #require(p.terminationStatus == 0, "the parser refused the exposition: \(errors)")
            return try JSONDecoder().decode(Scrape.self, from: data)
        }

        @Test(
            .enabled(
                if: python != nil || onCI, "prometheus_client not in .build-venv (scripts/python-venv.sh; CI=true makes this a failure)"))
        func scrapeAfterKnownWorkHoldsEachSeries() async throws {
            let python = try #require(Self.python, "prometheus_client is required when CI=true (scripts/python-venv.sh)")
            let dir = try TempDir()
            let node = try BatonProcess([
                "standalone", "--db", dir.path("baton.db"), "--port", "0", "--poll", "0.05", "--counts-interval", "0.2",
                "--queues", "mq",
            ])
            defer { Task { await node.stop() } }
            let url = try await node.url()
            let client = BatonClient(servers: [URL(string: url)!])

            // 5 succeed; 3 fail twice (one retry each, then dead); 2 wait in a paused queue.
            _ = try await client.queueSetPaused("held", paused: true)
            let echoes = try await client.submit(
                (0..<5).map { NewTask(kind: "echo", args: try RawJSON(validating: "[\($0)]"), queue: "mq") })
            let failing = try await client.submit(
                (0..<3).map { _ in
                    NewTask(
                        kind: "fail", args: try RawJSON(validating: #"{"message":"boom"}"#), queue: "mq", maxAttempts: 2,
                        retry: .fixed(.milliseconds(50)))
                })
            _ = try await client.submit((0..<2).map { _ in NewTask(kind: "echo", queue: "held") })
            for task in echoes { #expect(try await client.wait(task.id, timeout: .seconds(30)).state == .succeeded) }
            for task in failing { #expect(try await client.wait(task.id, timeout: .seconds(30)).state == .failed) }

            // The gauges follow the counts cache (every 0.2 s here); the counters are final already.
            let m = try await eventually("the queue gauges to show the work", within: .seconds(20)) { () -> Scrape? in
                let m = try Self.scrape(url, python: python)
                return m["baton_queue_tasks{queue=mq,state=failed}"] == 3 ? m : nil
            }
            #expect(m["baton_queue_tasks{queue=mq,state=succeeded}"] == 5)
            #expect(m["baton_queue_tasks{queue=mq,state=ready}"] == 0)
            #expect(m["baton_queue_tasks{queue=held,state=ready}"] == 2)
            #expect(m["baton_queue_paused{queue=held}"] == 1)
            #expect(m["baton_queue_paused{queue=mq}"] == 0)
            #expect((m["baton_queue_oldest_ready_age_seconds{queue=held}"] ?? 0) > 0)
            #expect(m["baton_queue_oldest_ready_age_seconds{queue=mq}"] == 0)

            #expect(m["baton_tasks_submitted_total{kind=echo,queue=mq}"] == 5)
            #expect(m["baton_tasks_submitted_total{kind=fail,queue=mq}"] == 3)
            #expect(m["baton_tasks_submitted_total{kind=echo,queue=held}"] == 2)
            #expect(m["baton_tasks_claimed_total{queue=mq}"] == 11)
            #expect(m["baton_tasks_claimed_total{queue=held}"] == nil)
            #expect(m["baton_task_attempts_total{kind=echo,outcome=succeeded,queue=mq}"] == 5)
            #expect(m["baton_task_attempts_total{kind=fail,outcome=retry,queue=mq}"] == 3)
            #expect(m["baton_task_attempts_total{kind=fail,outcome=failed,queue=mq}"] == 3)
            #expect(m["baton_task_queue_wait_seconds_count{queue=mq}"] == 11)
            #expect(m["baton_task_run_seconds_count{kind=echo,outcome=succeeded,queue=mq}"] == 5)
            #expect(m["baton_task_run_seconds_count{kind=fail,outcome=retry,queue=mq}"] == 3)
            #expect((m["baton_store_op_seconds_count{op=claim}"] ?? 0) >= 1)
            #expect((m["baton_store_op_seconds_count{op=enqueue}"] ?? 0) == 3)
            #expect((m["baton_store_op_seconds_count{op=counts}"] ?? 0) >= 1)
            #expect(m["baton_node_is_leader{}"] == 1)
            #expect(m.types["baton_task_queue_wait_seconds"] == "histogram")
            #expect(m.types["baton_tasks_submitted"] == "counter")
            #expect(m.types["baton_queue_tasks"] == "gauge")
            // No task id in any label.
            let ids = (echoes + failing).map { $0.id.description }
            #expect(!m.samples.keys.contains { key in ids.contains { key.contains($0) } })

            // `GET /v1/queues` answers from the same cache and says how old it is.
            let queues = try await client.queuesResponse()
            #expect(queues.asOf != nil)
            #expect((queues.ageSeconds ?? -1) >= 0 && (queues.ageSeconds ?? 99) < 5)
            #expect(queues.queues.first { $0.name == "held" }?.paused == true)
            #expect(queues.queues.first { $0.name == "held" }?.oldestReadyAt != nil)
        }

        @Test(
            .enabled(
                if: python != nil || onCI, "prometheus_client not in .build-venv (scripts/python-venv.sh; CI=true makes this a failure)"))
        func aRemoteWorkerServesItsOwnMetrics() async throws {
            let python = try #require(Self.python, "prometheus_client is required when CI=true (scripts/python-venv.sh)")
            let dir = try TempDir()
            let node = try BatonProcess(["serve", "--db", dir.path("baton.db"), "--port", "0"])
            defer { Task { await node.stop() } }
            let url = try await node.url()
            let port = try unusedLocalPort()
            let worker = try BatonProcess([
                "worker", "--server", url, "--queues", "wq", "--concurrency", "3", "--metrics-port", "\(port)",
            ])
            defer { Task { await worker.stop() } }
            let client = BatonClient(servers: [URL(string: url)!])
            let echoes = try await client.submit((0..<4).map { _ in NewTask(kind: "echo", queue: "wq") })
            let failing = try await client.submit(
                (0..<2).map { _ in NewTask(kind: "fail", args: try RawJSON(validating: #"{"message":"x"}"#), queue: "wq", maxAttempts: 1) })
            for task in echoes { #expect(try await client.wait(task.id, timeout: .seconds(30)).state == .succeeded) }
            for task in failing { #expect(try await client.wait(task.id, timeout: .seconds(30)).state == .failed) }

            let metrics = "http://127.0.0.1:\(port)"
            let m = try await eventually("the worker's metrics", within: .seconds(10)) { () -> Scrape? in
                guard let m = try? Self.scrape(metrics, python: python) else { return nil }
                return m["baton_worker_attempts_total{kind=fail,outcome=failed,queue=wq}"] == 2 ? m : nil
            }
            #expect(m["baton_worker_attempts_total{kind=echo,outcome=succeeded,queue=wq}"] == 4)
            #expect(m["baton_worker_run_seconds_count{kind=echo,outcome=succeeded,queue=wq}"] == 4)
            #expect(m["baton_worker_concurrency{}"] == 3)
            #expect(m["baton_worker_running_tasks{}"] == 0)
            #expect(m.types["baton_worker_run_seconds"] == "histogram")
            // The worker's series are its own: none of the node's.
            #expect(!m.samples.keys.contains { $0.hasPrefix("baton_task_") || $0.hasPrefix("baton_queue_") })
        }
    }
}
