import BatonTesting
import Foundation
import Testing

/// `baton bench` on a small N: it must finish, print valid JSON as its last line, and leave
/// nothing behind. No timing is asserted.
@Suite(.serialized) struct BenchSmokeTests {
    @Test func inProcessBacklogPrintsTheFigures() async throws {
        let report = try await runBench(["--store", "sqlite", "--tasks", "2000"])
        try checkThroughputFigures(report, workers: "inprocess", processes: 0)
    }

    @Test func httpWorkersBacklogPrintsTheFigures() async throws {
        let report = try await runBench(["--store", "sqlite", "--workers", "http", "--worker-processes", "2", "--tasks", "2000"])
        try checkThroughputFigures(report, workers: "http", processes: 2)
        let cpu = try #require(report["cpu_s"] as? [String: Any])
        #expect((cpu["server"] as? Double ?? 0) > 0)
        #expect((cpu["workers"] as? Double ?? 0) > 0)
    }

    @Test func steadyModeMeasuresPickUpLatencyOfEveryTask() async throws {
        let report = try await runBench(["--tasks", "40", "--steady", "100"])
        let latency = try #require(report["latency_ms"] as? [String: Any])
        #expect(latency["count"] as? Int == 40)
        #expect((latency["max"] as? Double ?? -1) >= (latency["p50"] as? Double ?? 0))
        let settings = try #require(report["settings"] as? [String: Any])
        #expect(settings["mode"] as? String == "steady")
    }

    /// Over HTTP the latency is taken where the worker process starts the handler (the
    /// `probe` kind's wall clock), not from the store's timestamps.
    @Test func httpSteadyModeMeasuresLatencyAtTheWorkersHandler() async throws {
        let report = try await runBench(["--workers", "http", "--worker-processes", "1", "--tasks", "30", "--steady", "100"])
        let latency = try #require(report["latency_ms"] as? [String: Any])
        #expect(latency["count"] as? Int == 30)
        #expect((latency["p50"] as? Double ?? 0) > 0, "a handler starts after its submit: \(latency)")
        #expect((latency["max"] as? Double ?? -1) >= (latency["p99"] as? Double ?? 0))
        let source = try #require(report["latency_source"] as? String)
        #expect(source.contains("probe"), "\(source)")
    }

    /// Fan-in in-process: one sample per chord from both ends, the commit-based one measured
    /// where the node reports the completion and the body's handler starts.
    @Test func inProcessFanInReportsOneSamplePerChord() async throws {
        let report = try await runBench(["--tasks", "300", "--chords", "100", "--fan-in", "--concurrency", "16"])
        for key in ["fan_in_ms", "fan_in_commit_ms"] {
            let figure = try #require(report[key] as? [String: Any], "\(key) missing")
            #expect(figure["count"] as? Int == 3, "\(key): \(figure)")
            #expect((figure["p50"] as? Double ?? -1) >= 0, "\(key): \(figure)")
        }
        let early = try #require(report["fan_in_commit_early"] as? Int)
        #expect((0...3).contains(early))
    }

    @Test func invalidOptionsAreAUsageError() async throws {
        let result = try await baton(["bench", "--tasks", "0"])
        #expect(result.status == 64)
    }

    // MARK: Helpers

    /// Runs `baton bench --json …`, checks it left no process or temporary directory, and
    /// returns the last stdout line parsed.
    private func runBench(_ arguments: [String]) async throws -> [String: Any] {
        // A temporary directory of its own, so that another bench on the machine cannot be
        // mistaken for this one's leftovers.
        let tmp = try TempDir()
        let result = try await baton(["bench", "--json"] + arguments, environment: ["TMPDIR": tmp.url.path], timeout: .seconds(60))
        #expect(result.status == 0, "stderr: \(result.stderr)")
        let running = Self.processes(withEnvironment: "TMPDIR=\(tmp.url.path)")
        #expect(running.isEmpty, "bench children still running: \(running)")
        let left = (try? FileManager.default.contentsOfDirectory(atPath: tmp.url.path)) ?? []
        #expect(left.filter { $0.hasPrefix("baton-benchrun-") }.isEmpty, "temporary directory left behind: \(left)")
        let last = try #require(result.stdout.split(separator: "\n").last, "no output; stderr: \(result.stderr)")
        let object = try JSONSerialization.jsonObject(with: Data(last.utf8))
        return try #require(object as? [String: Any])
    }

    private func checkThroughputFigures(_ report: [String: Any], workers: String, processes: Int) throws {
        for key in [
            "enqueue_tasks_per_s", "drain_tasks_per_s", "end_to_end_tasks_per_s", "server_peak_rss_mb", "worker_peak_rss_mb",
            "cpu_s_per_1000",
        ] {
            let value = report[key] as? Double
            #expect(value != nil, "\(key) missing or not a number")
            #expect((value ?? 0) > 0, "\(key) is not positive")
        }
        let latency = try #require(report["latency_ms"] as? [String: Any])
        for key in ["p50", "p90", "p99", "max"] {
            #expect(latency[key] as? Double != nil, "latency_ms.\(key) missing")
        }
        #expect((latency["p50"] as? Double ?? 1) <= (latency["p99"] as? Double ?? 0))
        #expect(latency["count"] as? Int == 2000)
        let settings = try #require(report["settings"] as? [String: Any])
        #expect(settings["workers"] as? String == workers)
        #expect(settings["tasks"] as? Int == 2000)
        #expect(settings["worker_processes"] as? Int == processes)
        #expect(settings["mode"] as? String == "backlog")
        for key in ["store", "concurrency", "claim_batch", "payload"] {
            #expect(settings[key] != nil, "settings.\(key) missing")
        }
    }

    /// Processes whose environment holds `entry`: a bench's children inherit its `TMPDIR`.
    static func processes(withEnvironment entry: String) -> [String] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { pid -> String? in
            guard Int(pid) != nil, let environ = FileManager.default.contents(atPath: "/proc/\(pid)/environ"),
                environ.split(separator: 0).contains(where: { $0.elementsEqual(entry.utf8) }),
                let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline")
            else { return nil }
            return "\(pid): " + String(decoding: data.map { $0 == 0 ? 0x20 : $0 }, as: UTF8.self)
        }
    }

}
