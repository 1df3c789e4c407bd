import ArgumentParser
import BatonBench
import BatonCore
import Foundation

/// `baton bench`: drives a real Baton with no-op tasks and reports what users compare:
/// enqueue, drain and end-to-end rates, pick-up latency, peak memory and CPU per task. The
/// benchmark is the BatonBench library; this command parses its flags and prints its report.
struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure a real Baton: enqueue and drain rates, pick-up latency, memory and CPU per task.",
        discussion: """
            Modes: --backlog (default) enqueues every task, then starts the workers and times the drain; \
            --steady RATE submits RATE tasks per second while idle workers wait (pick-up latency); \
            --prefill P measures claim latency with P ready tasks queued against an almost empty queue. \
            --workers inprocess runs the store, dispatcher, completer and workers in this process; \
            --workers http spawns a `baton serve` node (--nodes of them on one PostgreSQL store) and \
            --worker-processes `baton worker` processes on loopback, spread over the nodes. Everything it starts is stopped and its temporary database removed when it ends. \
            With --json the last line on stdout is one JSON object (see docs/benchmarks.md).
            """
    )

    @Option(
        help:
            "The store: `sqlite` (a fresh temporary file, removed afterwards), sqlite:PATH, or postgres://user:pass@host:port/db (a fresh schema, dropped afterwards, unless the URL names one)."
    )
    var store: String = "sqlite"
    @Option(help: "inprocess (store and workers in this process) or http (a `baton serve` child and `baton worker` children).")
    var workers: BenchWorkers = .inprocess
    @Option(help: "Tasks to run (with --prefill: claims timed per phase).") var tasks: Int = 10_000
    @Option(help: "`baton worker` processes with --workers http.") var workerProcesses: Int = 2
    @Option(help: "`baton serve` nodes with --workers http on a PostgreSQL store; workers and submissions are spread over them.")
    var nodes: Int = 1
    @Option(help: "Tasks run at once per worker runtime (process).") var concurrency: Int = 1000
    @Option(help: "Most tasks one claim takes (in-process; HTTP workers use the node's default, 1000).")
    var claimBatch: Int = Defaults.claimBatch
    @Option(help: "Size in bytes of each task's args (a JSON object holding a string).") var payload: Int = 0
    @Flag(help: "Enqueue every task, then start the workers (the default).") var backlog = false
    @Option(help: "Submit tasks one at a time at this rate (tasks/s) while the workers run.") var steady: Double?
    @Option(help: "Claim-latency mode: queue this many ready tasks, then time claims against an almost empty queue.")
    var prefill: Int?
    @Option(help: "Concurrent submit requests when enqueueing over HTTP.") var enqueueConcurrency: Int = 4
    @Option(help: "Backlog as workflows: chains of this many tasks, each waiting for the one before.") var chains: Int?
    @Option(help: "Backlog as workflows: chords of this many tasks, a body waiting for all the others.") var chords: Int?
    @Flag(help: "With --chords: submit the chords one at a time to the idle workers; reports each body's wait after its last member.")
    var fanIn = false
    @Flag(help: "Print the report as one JSON line (the last line on stdout).") var json = false
    @Flag(help: "Run the node without Prometheus metrics (to measure what they cost).") var noMetrics = false

    func validate() throws {
        do throws(BenchError) { try benchSettings.validate() } catch { throw ValidationError(error.message) }
        let modes = [backlog, steady != nil, prefill != nil, fanIn].filter { $0 }.count
        guard modes <= 1 else { throw ValidationError("give one of --backlog, --steady, --prefill and --fan-in") }
        guard chains == nil || chords == nil else { throw ValidationError("give --chains or --chords, not both") }
    }

    var mode: BenchMode {
        if let steady { return .steady(rate: steady) }
        if let prefill { return .prefill(prefill) }
        if fanIn { return .fanIn }
        return .backlog
    }

    var benchSettings: BenchSettings {
        var settings = BenchSettings(
            store: store, workers: workers, tasks: tasks, workerProcesses: workerProcesses, concurrency: concurrency,
            claimBatch: claimBatch, payload: payload, mode: mode, enqueueConcurrency: enqueueConcurrency, nodes: nodes,
            batonExecutable: Self.executablePath, shape: chains.map { .chains($0) } ?? chords.map { .chords($0) } ?? .plain)
        settings.metrics = !noMetrics
        return settings
    }

    /// This process's own executable, which `--workers http` starts as its children.
    static var executablePath: String {
        if let resolved = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") { return resolved }
        return CommandLine.arguments[0]
    }

    func run() async throws {
        try await reportingErrors {
            try LogSetup.bootstrap(.warning, default: .warning)
            Benchmark.cleanUpOnInterrupt()
            var progress: (@Sendable (BenchProgress) -> Void)?
            if isatty(STDERR_FILENO) == 1 {
                let bar = BenchProgressBar()
                progress = { bar.show($0) }
            }
            let report: BenchReport
            do {
                report = try await Benchmark.run(benchSettings, progress: progress)
            } catch let error as BenchError {
                throw CLIError(error)
            }
            print(json ? report.jsonLine : report.text)
        }
    }
}

extension BenchWorkers: ExpressibleByArgument {}

extension CLIError {
    /// Maps a benchmark's error to its exit code.
    init(_ error: BenchError) {
        switch error.kind {
        case .invalidSettings: self = .usage(error.message)
        case .unreachable: self.init(message: error.message, code: ExitStatus.unreachable)
        case .failed: self.init(message: error.message, code: 1)
        }
    }
}
