import ArgumentParser
import BatonCore
import BatonPostgres
import Foundation
import Logging

/// `baton bench`: drives a real Baton with no-op tasks and reports what users compare:
/// enqueue, drain and end-to-end rates, pick-up latency, peak memory and CPU per task.
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
    @Flag(help: "Print the report as one JSON line (the last line on stdout).") var json = false

    func validate() throws {
        guard tasks >= 1 else { throw ValidationError("--tasks must be at least 1") }
        guard workerProcesses >= 1 else { throw ValidationError("--worker-processes must be at least 1") }
        guard (1...16).contains(nodes) else { throw ValidationError("--nodes must be between 1 and 16") }
        if nodes > 1 {
            guard workers == .http else { throw ValidationError("--nodes needs --workers http") }
            guard store.hasPrefix("postgres://") || store.hasPrefix("postgresql://") else {
                throw ValidationError("--nodes above 1 needs a shared store: --store postgres://…")
            }
        }
        guard (1...100_000).contains(concurrency) else { throw ValidationError("--concurrency must be between 1 and 100000") }
        guard (1...10_000).contains(claimBatch) else { throw ValidationError("--claim-batch must be between 1 and 10000") }
        guard payload >= 0 && payload <= Limits.defaultMaxArgsBytes - 16 else { throw ValidationError("--payload is out of range") }
        guard (1...64).contains(enqueueConcurrency) else { throw ValidationError("--enqueue-concurrency must be between 1 and 64") }
        let modes = [backlog, steady != nil, prefill != nil].filter { $0 }.count
        guard modes <= 1 else { throw ValidationError("give one of --backlog, --steady and --prefill") }
        if let steady, !(steady > 0 && steady.isFinite) { throw ValidationError("--steady needs a positive rate") }
        if let prefill, prefill < 1 { throw ValidationError("--prefill must be at least 1") }
    }

    var mode: BenchMode {
        if let steady { return .steady(rate: steady) }
        if let prefill { return .prefill(prefill) }
        return .backlog
    }

    func run() async throws {
        try await reportingErrors {
            try LogSetup.bootstrap(.warning, default: .warning)
            let settings = BenchSettings(
                store: store, workers: workers, tasks: tasks, workerProcesses: workers == .http && prefill == nil ? workerProcesses : 0,
                concurrency: concurrency, claimBatch: claimBatch, payload: payload, mode: mode,
                enqueueConcurrency: enqueueConcurrency, nodes: nodes)
            let cleanup = BenchCleanup.shared
            cleanup.installSignalHandlers()
            let progress = Progress(enabled: isatty(STDERR_FILENO) == 1)
            let report: BenchReport
            var location: BenchStore?
            do {
                let store = try BenchStore(settings.store, cleanup: cleanup)
                location = store
                switch settings.workers {
                case .inprocess:
                    report = try await InProcessBench(settings: settings, location: store, progress: progress).run()
                case .http:
                    report = try await HTTPBench(settings: settings, location: store, progress: progress, cleanup: cleanup).run()
                }
            } catch {
                progress.finish()
                cleanup.runAll()
                await location?.dropTemporarySchema()
                throw error
            }
            progress.finish()
            cleanup.runAll()
            await location?.dropTemporarySchema()
            if json {
                print(Output.jsonLine(report))
            } else {
                print(report.text)
            }
        }
    }
}

enum BenchWorkers: String, ExpressibleByArgument, Codable, Sendable {
    case inprocess
    case http
}

enum BenchMode: Sendable, Equatable {
    case backlog
    case steady(rate: Double)
    case prefill(Int)

    var name: String {
        switch self {
        case .backlog: "backlog"
        case .steady(let rate): "steady \(BenchFormat.number(rate))/s"
        case .prefill(let n): "prefill \(n)"
        }
    }
}

struct BenchSettings: Sendable {
    var store: String
    var workers: BenchWorkers
    var tasks: Int
    var workerProcesses: Int
    var concurrency: Int
    var claimBatch: Int
    var payload: Int
    var mode: BenchMode
    var enqueueConcurrency: Int
    /// `baton serve` nodes (http workers).
    var nodes: Int = 1

    /// The args every task carries: `{}` or `{"p":"xxx…"}` of exactly `payload` bytes.
    var args: RawJSON {
        guard payload >= 9 else { return .emptyObject }
        return RawJSON(trusted: "{\"p\":\"" + String(repeating: "x", count: payload - 8) + "\"}")
    }
}

/// Where the benchmark's tasks live: a temporary SQLite file (removed afterwards) or a given
/// one, or a PostgreSQL database (in a fresh schema, dropped afterwards, unless the URL names
/// one), plus a temporary directory for the children's logs. Tasks go to a queue of their own.
struct BenchStore: Sendable {
    var url: String
    var description: String
    var workDirectory: URL
    /// A fresh queue name, so a given database's other tasks do not count.
    var queue: String
    /// The PostgreSQL schema created for this run, dropped when it ends.
    var temporarySchema: String?

    var isPostgres: Bool { url.hasPrefix("postgres://") || url.hasPrefix("postgresql://") }

    init(_ text: String, cleanup: BenchCleanup) throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("baton-benchrun-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        cleanup.add { try? FileManager.default.removeItem(at: dir) }
        workDirectory = dir
        queue = "bench-" + UUID().uuidString.prefix(8).lowercased()
        if text == "sqlite" {
            url = "sqlite:\(dir.appendingPathComponent("bench.db").path)"
            description = "sqlite"
            return
        }
        switch try StoreLocation(text) {
        case .sqlite(let path):
            url = "sqlite:\(path)"
            description = "sqlite:\(path)"
        case .postgres(let postgres):
            let named = URLComponents(string: postgres)?.queryItems?.contains { $0.name == "schema" || $0.name == "search_path" } ?? false
            if named {
                url = postgres
            } else {
                let schema = "bench_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(12).lowercased()
                url = postgres + (postgres.contains("?") ? "&" : "?") + "schema=\(schema)"
                temporarySchema = schema
            }
            description = "postgres"
        }
    }

    /// Drops the run's temporary schema, if it made one.
    func dropTemporarySchema() async {
        guard temporarySchema != nil, let config = try? PostgresStoreConfiguration(url: url) else { return }
        do {
            try await PostgresTaskStore.withStore(config, logger: Logger(label: "baton.bench")) { try await $0.dropSchema() }
        } catch {
            FileHandle.standardError.write(Data("bench: could not drop the schema \(config.schema): \(error)\n".utf8))
        }
    }
}
