import BatonCore
import BatonWorker
import Foundation

/// The system under test, in process or over HTTP; ``BenchRunner`` runs the modes on it.
protocol BenchDriver: Sendable {
    /// Enqueues `count` tasks in batches of 1,000 as fast as this driver can; returns the
    /// seconds it took (preparing request bodies is not timed).
    func enqueueBacklog(count: Int, progress: ProgressReporter) async throws -> Double
    /// Submits a few tasks at once (steady mode); their ids are set.
    func submit(_ tasks: [NewTask]) async throws
    /// Submits one workflow of `count` tasks of the settings' shape (`--chains`, `--chords`).
    func submitShaped(_ count: Int) async throws
    func startWorkers() async throws
    func stopWorkers() async
    /// Tasks of the benchmark's queue in a terminal state.
    func finishedCount() async throws -> Int
    /// How often `finishedCount` is worth asking.
    var pollInterval: Duration { get }
    /// Whether `finishedCount` costs the node work (then it is asked sparingly).
    var pollIsCostly: Bool { get }
    /// Every finished task of the benchmark's queue, with its times.
    func finishedTasks() async throws -> [TaskRecord]
    /// When the handler started, per task, if this driver can see it (in-process).
    func handlerStarts() -> [TaskID: ContinuousClock.Instant]?
    /// The kind steady mode submits: `noop` where `handlerStarts` sees handlers start, else
    /// `probe`, whose result carries the worker's wall clock at handler start.
    var steadyKind: String { get }
    /// When the last and first tasks finished, if this driver counts completions itself.
    func finishTimes() -> (first: ContinuousClock.Instant, last: ContinuousClock.Instant)?
    /// Fan-in mode, where the driver sees both ends (in-process): per chord, from the moment
    /// the last member's completion committed (its `transitioned` event, emitted after the
    /// ack transaction) to the start of the body's handler, in ms, and how many bodies started
    /// before their last member's completion was reported (their delay, from the report
    /// before, is an upper bound); `nil` elsewhere.
    func fanInCommitDelays() -> (delays: [Double], early: Int)?
    /// Times one claim of one task (no handler); acknowledges it untimed.
    func timedClaim() async throws -> Duration
    /// CPU seconds so far: the node, the workers, this process.
    func cpu() -> (server: Double?, workers: Double?, driver: Double)
    func peakRSS() -> (server: Double?, workers: Double?)
    /// How `cpu().driver` relates to the others: in-process, this process is the node.
    var driverIsNode: Bool { get }
}

struct BenchRunner {
    let settings: BenchSettings
    let store: BenchStore
    let driver: any BenchDriver
    let progress: ProgressReporter

    func newTask(kind: String = "noop") -> NewTask {
        NewTask(kind: kind, args: settings.args, queue: store.queue, maxAttempts: 1, id: TaskID.generate())
    }

    /// Handler start minus submit, in ms, for tasks of the `probe` kind: both on the wall clock.
    private func probeLatencies(_ tasks: [TaskRecord], submitted: [TaskID: Int64]) -> [Double] {
        struct Probe: Decodable { var started_unix_ns: Int64 }
        let decoder = JSONDecoder()
        return tasks.compactMap { task in
            guard let at = submitted[task.id], let text = task.result?.text,
                let probe = try? decoder.decode(Probe.self, from: Data(text.utf8))
            else { return nil }
            return Double(probe.started_unix_ns - at) / 1_000_000
        }
    }

    func run() async throws -> BenchReport {
        switch settings.mode {
        case .backlog: try await backlog()
        case .steady(let rate): try await steady(rate: rate)
        case .prefill(let count): try await prefill(count)
        case .fanIn: try await fanIn()
        }
    }

    /// Chords one after another, each submitted once the one before has finished, with the
    /// workers idle in between: what a body waits from its last member's completion.
    private func fanIn() async throws -> BenchReport {
        guard case .chords(let size) = settings.shape else { throw BenchError(.invalidSettings, "--fan-in needs --chords") }
        let n = settings.tasks
        try await driver.startWorkers()
        try await Task.sleep(for: .seconds(1))
        let cpu0 = driver.cpu()
        let start = ContinuousClock.now
        for chord in 0..<(n / size) {
            try await driver.submitShaped(size)
            try await benchWait(
                "chord \(chord + 1)", total: (chord + 1) * size, progress: progress, interval: .milliseconds(5), adaptive: false,
                timeout: .seconds(600)
            ) {
                try await driver.finishedCount()
            }
        }
        let end = ContinuousClock.now
        var report = BenchReport(settings: settings, store: store, latencySource: "started_at - created_at (store clock, ms)")
        finishReport(&report, cpu0: cpu0)
        await driver.stopWorkers()
        progress.finish()
        let tasks = try await driver.finishedTasks()
        let seconds = (end - start).seconds
        report.drainS = seconds
        report.drainTasksPerS = Double(n) / seconds
        report.endToEndTasksPerS = Double(n) / seconds
        report.fanInMs = LatencySummary(BenchShape.fanInLatencies(tasks))
        if let commit = driver.fanInCommitDelays() {
            report.fanInCommitMs = LatencySummary(commit.delays)
            report.fanInCommitEarly = commit.early
        }
        return report
    }

    private func cpuTotal(_ c: (server: Double?, workers: Double?, driver: Double)) -> Double {
        (driver.driverIsNode ? 0 : (c.server ?? 0)) + (c.workers ?? 0) + c.driver
    }

    private func finishReport(_ report: inout BenchReport, cpu0: (server: Double?, workers: Double?, driver: Double)) {
        let cpu1 = driver.cpu()
        let server = cpu1.server.map { $0 - (cpu0.server ?? 0) }
        let workers = cpu1.workers.map { $0 - (cpu0.workers ?? 0) }
        let driverCPU = cpu1.driver - cpu0.driver
        let total = cpuTotal(cpu1) - cpuTotal(cpu0)
        func r(_ x: Double?) -> Double? { x.map(BenchFormat.round) }
        report.cpuS = BenchReport.CPU(
            server: r(driver.driverIsNode ? driverCPU : server), workers: r(workers),
            driver: r(driver.driverIsNode ? nil : driverCPU), total: BenchFormat.round(total))
        report.cpuSPer1000 = total / Double(settings.tasks) * 1000
        let rss = driver.peakRSS()
        report.serverPeakRSSMB = rss.server
        report.workerPeakRSSMB = rss.workers
    }

    /// Enqueue every task, then start the workers and time the drain.
    private func backlog() async throws -> BenchReport {
        let n = settings.tasks
        let cpu0 = driver.cpu()
        let enqueueS = try await driver.enqueueBacklog(count: n, progress: progress)
        progress.finish()
        let drainStart = ContinuousClock.now
        let drainStartDate = Date()
        try await driver.startWorkers()
        try await benchWait(
            "drain", total: n, progress: progress, interval: driver.pollInterval, adaptive: driver.pollIsCostly, timeout: .seconds(600)
        ) {
            try await driver.finishedCount()
        }
        let polledEnd = ContinuousClock.now
        var report = BenchReport(settings: settings, store: store, latencySource: "started_at - created_at (store clock, ms)")
        finishReport(&report, cpu0: cpu0)
        await driver.stopWorkers()
        progress.finish()

        let tasks = try await driver.finishedTasks()
        var drainS = (polledEnd - drainStart).seconds
        var firstDone: Double?
        if let times = driver.finishTimes() {
            drainS = (times.last - drainStart).seconds
            firstDone = (times.first - drainStart).seconds
        } else if let last = tasks.compactMap(\.finishedAt).max(), let first = tasks.compactMap(\.finishedAt).min() {
            // The node's clock is this machine's clock: finish times are exact to the millisecond.
            drainS = max(0.001, last.timeIntervalSince(drainStartDate))
            firstDone = first.timeIntervalSince(drainStartDate)
        }
        report.enqueueS = enqueueS
        report.drainS = drainS
        report.firstDoneS = firstDone
        report.enqueueTasksPerS = Double(n) / enqueueS
        report.drainTasksPerS = Double(n) / drainS
        report.endToEndTasksPerS = Double(n) / (enqueueS + drainS)
        report.latencyMs = LatencySummary(storeLatencies(tasks))
        if case .chords = settings.shape { report.fanInMs = LatencySummary(BenchShape.fanInLatencies(tasks)) }
        return report
    }

    private func storeLatencies(_ tasks: [TaskRecord]) -> [Double] {
        tasks.compactMap { t in t.startedAt.map { $0.timeIntervalSince(t.createdAt) * 1000 } }
    }

    /// Idle workers; tasks submitted at a fixed rate; pick-up latency.
    private func steady(rate: Double) async throws -> BenchReport {
        let n = settings.tasks
        try await driver.startWorkers()
        // Let the workers settle into their idle long-poll.
        try await Task.sleep(for: .seconds(1))
        let cpu0 = driver.cpu()
        // When each task was submitted: on this process's monotonic clock and on the wall clock.
        var submitted: [TaskID: (at: ContinuousClock.Instant, wall: Int64)] = [:]
        submitted.reserveCapacity(n)
        let start = ContinuousClock.now
        var count = 0
        while count < n {
            let elapsed = (ContinuousClock.now - start).seconds
            let due = min(n, Int(elapsed * rate) + 1)
            if due > count {
                let batch = (count..<due).map { _ in newTask(kind: driver.steadyKind) }
                let when = (at: ContinuousClock.now, wall: BuiltinKinds.unixNanoseconds())
                for t in batch { submitted[t.id!] = when }
                try await driver.submit(batch)
                count = due
                progress.update("submit", done: count, total: n)
            } else {
                let next = start + .seconds(Double(count) / rate)
                try await Task.sleep(until: next, clock: .continuous)
            }
        }
        let submitEnd = ContinuousClock.now
        progress.finish()
        try await benchWait(
            "finish", total: n, progress: progress, interval: driver.pollInterval, adaptive: driver.pollIsCostly, timeout: .seconds(600)
        ) {
            try await driver.finishedCount()
        }
        let polledEnd = ContinuousClock.now
        var report = BenchReport(settings: settings, store: store, latencySource: "")
        finishReport(&report, cpu0: cpu0)
        await driver.stopWorkers()
        progress.finish()
        let tasks = try await driver.finishedTasks()

        let starts = driver.handlerStarts()
        let probes = starts == nil ? probeLatencies(tasks, submitted: submitted.mapValues(\.wall)) : []
        if let starts {
            report.latencySource = "handler start - submit (monotonic clock, this process)"
            report.latencyMs = LatencySummary(
                submitted.compactMap { id, when in starts[id].map { ($0 - when.at).seconds * 1000 } })
        } else if probes.count == n {
            report.latencySource = "handler start (worker's wall clock, probe kind) - submit (wall clock, this process)"
            report.latencyMs = LatencySummary(probes)
        } else {
            report.latencySource = "started_at - created_at (store clock, ms resolution)"
            report.latencyMs = LatencySummary(storeLatencies(tasks))
        }
        let submitS = max(0.001, (submitEnd - start).seconds)
        var endS = (polledEnd - start).seconds
        if let times = driver.finishTimes() { endS = (times.last - start).seconds }
        report.enqueueS = submitS
        report.drainS = endS
        report.enqueueTasksPerS = Double(n) / submitS
        report.drainTasksPerS = Double(n) / endS
        report.endToEndTasksPerS = Double(n) / endS
        return report
    }

    /// Claim latency with `count` ready tasks queued, against an almost empty queue.
    private func prefill(_ count: Int) async throws -> BenchReport {
        let samples = settings.tasks
        let cpu0 = driver.cpu()
        // Warm up the connection and the statements.
        for _ in 0..<min(20, samples) {
            try await driver.submit([newTask()])
            _ = try await driver.timedClaim()
        }
        var empty: [Double] = []
        for i in 0..<samples {
            try await driver.submit([newTask()])
            empty.append(try await driver.timedClaim().seconds * 1000)
            progress.update("empty", done: i + 1, total: samples)
        }
        progress.finish()
        let prefillS = try await driver.enqueueBacklog(count: count, progress: progress)
        progress.finish()
        var full: [Double] = []
        for i in 0..<samples {
            try await driver.submit([newTask()])
            full.append(try await driver.timedClaim().seconds * 1000)
            progress.update("prefilled", done: i + 1, total: samples)
        }
        progress.finish()
        var report = BenchReport(settings: settings, store: store, latencySource: "one claim of one task, as a worker sees it")
        finishReport(&report, cpu0: cpu0)
        report.cpuSPer1000 = nil
        let e = LatencySummary(empty)
        let p = LatencySummary(full)
        report.claimLatencyMs = BenchReport.ClaimLatency(
            empty: e, prefilled: p,
            ratioP50: e.flatMap { e in p.map { BenchFormat.round($0.p50 / max(e.p50, 0.001)) } },
            ratioP99: e.flatMap { e in p.map { BenchFormat.round($0.p99 / max(e.p99, 0.001)) } },
            prefillTasks: count, prefillEnqueueTasksPerS: BenchFormat.round(Double(count) / prefillS))
        report.enqueueTasksPerS = Double(count) / prefillS
        report.enqueueS = prefillS
        report.latencyMs = p
        return report
    }
}
