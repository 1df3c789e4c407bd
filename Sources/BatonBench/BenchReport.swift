import BatonCore
import Foundation

/// What a benchmark reports; ``jsonLine`` (`baton bench --json`) is one line with these
/// snake_case keys, ``text`` the human rendering. Figures that do not apply to the mode are `nil`.
public struct BenchReport: Encodable, Sendable {
    public struct CPU: Encodable, Sendable {
        public var server: Double?
        public var workers: Double?
        /// The benchmark's own driver (enqueue, polling) when it is a separate process.
        public var driver: Double?
        public var total: Double
    }

    /// Prefill mode: one claim of one task, without and with the prefill queued.
    public struct ClaimLatency: Encodable, Sendable {
        /// One claim of one task from a queue holding only that task.
        public var empty: LatencySummary?
        /// The same with the prefill's ready tasks queued.
        public var prefilled: LatencySummary?
        public var ratioP50: Double?
        public var ratioP99: Double?
        public var prefillTasks: Int
        public var prefillEnqueueTasksPerS: Double?

        enum CodingKeys: String, CodingKey {
            case empty, prefilled
            case ratioP50 = "ratio_p50"
            case ratioP99 = "ratio_p99"
            case prefillTasks = "prefill_tasks"
            case prefillEnqueueTasksPerS = "prefill_enqueue_tasks_per_s"
        }
    }

    /// The settings as reported (`store` as `sqlite`, `sqlite:PATH` or `postgres`).
    public struct Settings: Encodable, Sendable {
        public var store: String
        public var workers: String
        public var tasks: Int
        public var workerProcesses: Int
        /// `baton serve` nodes (1 unless --nodes).
        public var nodes: Int
        public var concurrency: Int
        public var claimBatch: Int
        public var payload: Int
        public var mode: String
        /// `plain`, `chains of N` or `chords of N`.
        public var shape: String
        public var rate: Double?
        public var prefill: Int?

        enum CodingKeys: String, CodingKey {
            case store, workers, tasks
            case workerProcesses = "worker_processes"
            case nodes, concurrency
            case claimBatch = "claim_batch"
            case payload, mode, shape, rate, prefill
        }

        init(_ s: BenchSettings, storeDescription: String) {
            store = storeDescription
            workers = s.workers.rawValue
            tasks = s.tasks
            workerProcesses = s.startedWorkerProcesses
            nodes = s.workers == .http ? s.nodes : 0
            concurrency = s.concurrency
            claimBatch = s.claimBatch
            payload = s.payload
            shape = s.shape.name
            switch s.mode {
            case .backlog: mode = "backlog"
            case .steady(let r):
                mode = "steady"
                rate = r
            case .prefill(let n):
                mode = "prefill"
                prefill = n
            case .fanIn:
                mode = "fan-in"
            }
        }
    }

    public var enqueueTasksPerS: Double?
    public var drainTasksPerS: Double?
    public var endToEndTasksPerS: Double?
    public var enqueueS: Double?
    public var drainS: Double?
    public var firstDoneS: Double?
    public var latencyMs: LatencySummary?
    /// Chords: from the commit of the last member's completion to the body's claim (store clock, ms).
    public var fanInMs: LatencySummary?
    /// Chords, in-process only: from the moment the last member's completion committed to the
    /// start of the body's handler (the process's monotonic clock, ms).
    public var fanInCommitMs: LatencySummary?
    /// Of those, bodies that started before their last member's completion was reported: the
    /// ack had committed, but its completer had not resumed yet, so the delay was measured from
    /// the report before (an upper bound).
    public var fanInCommitEarly: Int?
    /// How the latency was measured.
    public var latencySource: String
    public var serverPeakRSSMB: Double?
    public var workerPeakRSSMB: Double?
    public var cpuSPer1000: Double?
    public var cpuS: CPU?
    public var claimLatencyMs: ClaimLatency?
    public var settings: Settings

    enum CodingKeys: String, CodingKey {
        case enqueueTasksPerS = "enqueue_tasks_per_s"
        case drainTasksPerS = "drain_tasks_per_s"
        case endToEndTasksPerS = "end_to_end_tasks_per_s"
        case enqueueS = "enqueue_s"
        case drainS = "drain_s"
        case firstDoneS = "first_done_s"
        case latencyMs = "latency_ms"
        case fanInMs = "fan_in_ms"
        case fanInCommitMs = "fan_in_commit_ms"
        case fanInCommitEarly = "fan_in_commit_early"
        case latencySource = "latency_source"
        case serverPeakRSSMB = "server_peak_rss_mb"
        case workerPeakRSSMB = "worker_peak_rss_mb"
        case cpuSPer1000 = "cpu_s_per_1000"
        case cpuS = "cpu_s"
        case claimLatencyMs = "claim_latency_ms"
        case settings
    }

    init(settings: BenchSettings, store: BenchStore, latencySource: String) {
        self.settings = Settings(settings, storeDescription: store.description)
        self.latencySource = latencySource
    }

    /// Every key is written, `null` where a figure does not apply to the mode.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        func r(_ x: Double?) -> Double? { x.map(BenchFormat.round) }
        try c.encode(r(enqueueTasksPerS), forKey: .enqueueTasksPerS)
        try c.encode(r(drainTasksPerS), forKey: .drainTasksPerS)
        try c.encode(r(endToEndTasksPerS), forKey: .endToEndTasksPerS)
        try c.encode(r(enqueueS), forKey: .enqueueS)
        try c.encode(r(drainS), forKey: .drainS)
        try c.encode(r(firstDoneS), forKey: .firstDoneS)
        try c.encode(latencyMs, forKey: .latencyMs)
        try c.encode(fanInMs, forKey: .fanInMs)
        try c.encode(fanInCommitMs, forKey: .fanInCommitMs)
        try c.encode(fanInCommitEarly, forKey: .fanInCommitEarly)
        try c.encode(latencySource, forKey: .latencySource)
        try c.encode(r(serverPeakRSSMB), forKey: .serverPeakRSSMB)
        try c.encode(r(workerPeakRSSMB), forKey: .workerPeakRSSMB)
        try c.encode(r(cpuSPer1000), forKey: .cpuSPer1000)
        try c.encode(cpuS, forKey: .cpuS)
        try c.encode(claimLatencyMs, forKey: .claimLatencyMs)
        try c.encode(settings, forKey: .settings)
    }

    /// One JSON object on one line (keys sorted), as `baton bench --json` prints it last.
    public var jsonLine: String {
        (try? BatonJSON.encoder().encode(self)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }

    /// The human rendering.
    public var text: String {
        func f(_ x: Double?, _ unit: String = "") -> String {
            guard let x else { return "-" }
            return String(format: x >= 100 ? "%.0f" : "%.3g", x) + unit
        }
        func l(_ s: LatencySummary?) -> String {
            guard let s else { return "-" }
            return "p50 \(f(s.p50)) · p90 \(f(s.p90)) · p99 \(f(s.p99)) · max \(f(s.max)) ms (\(s.count) samples)"
        }
        var lines: [(String, String)] = [
            (
                "settings",
                "\(settings.store), workers \(settings.workers)"
                    + (settings.workers == "http" ? " ×\(settings.workerProcesses)" : "")
                    + (settings.nodes > 1 ? ", \(settings.nodes) nodes" : "")
                    + ", \(settings.mode)\(settings.shape == "plain" ? "" : " (\(settings.shape))"), \(settings.tasks) tasks, concurrency \(settings.concurrency), claim batch \(settings.claimBatch), payload \(settings.payload) B"
            ),
            ("enqueue", "\(f(enqueueTasksPerS)) tasks/s (\(f(enqueueS)) s)"),
            ("drain", "\(f(drainTasksPerS)) tasks/s (\(f(drainS)) s, first done after \(f(firstDoneS)) s)"),
            ("end to end", "\(f(endToEndTasksPerS)) tasks/s"),
            ("pick-up latency", l(latencyMs) + " [\(latencySource)]"),
        ]
        if let fanIn = fanInMs {
            lines.append(("chord fan-in", l(fanIn) + " [last member's finished_at to the body's started_at]"))
        }
        if let fanIn = fanInCommitMs {
            lines.append(
                (
                    "chord fan-in, commit",
                    l(fanIn)
                        + " [last member's completion committed to the body's handler start; \(fanInCommitEarly ?? 0) started before that completion was reported: upper bounds]"
                ))
        }
        if let claim = claimLatencyMs {
            lines.append(("claim, empty queue", l(claim.empty)))
            lines.append(("claim, \(claim.prefillTasks) ready", l(claim.prefilled)))
            lines.append(("claim ratio", "p50 \(f(claim.ratioP50))x · p99 \(f(claim.ratioP99))x"))
        }
        lines.append(("server peak RSS", f(serverPeakRSSMB, " MB")))
        lines.append(("worker peak RSS", f(workerPeakRSSMB, " MB")))
        if let cpu = cpuS {
            lines.append(
                (
                    "CPU",
                    "\(f(cpuSPer1000)) s per 1,000 tasks (total \(f(cpu.total)) s: server \(f(cpu.server)), workers \(f(cpu.workers)), driver \(f(cpu.driver)))"
                ))
        }
        let width = lines.map(\.0.count).max() ?? 0
        return lines.map { $0.0.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + $0.1 }.joined(separator: "\n")
    }
}
