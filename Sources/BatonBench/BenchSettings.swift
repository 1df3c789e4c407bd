import BatonCore

/// Where the benchmark's workers run.
public enum BenchWorkers: String, Codable, Sendable {
    /// The store, the node's dispatcher and completer and one worker runtime in this process.
    case inprocess
    /// `baton serve` children (one per node) and `baton worker` children on loopback.
    case http
}

/// What the benchmark measures.
public enum BenchMode: Sendable, Equatable {
    /// Enqueue every task, then start the workers and time the drain.
    case backlog
    /// Submit tasks at `rate` per second while idle workers wait: pick-up latency.
    case steady(rate: Double)
    /// Queue this many ready tasks, then time claims against an almost empty queue.
    case prefill(Int)
    /// Chords (`--chords`) one at a time: the delay from a chord's last member to its body.
    case fanIn
}

/// One benchmark run's settings: the options of `baton bench`, whose flags the validation
/// messages name.
public struct BenchSettings: Sendable {
    /// `sqlite` (a fresh temporary file, removed afterwards), `sqlite:PATH`, or a PostgreSQL URL
    /// (a fresh schema, dropped afterwards, unless the URL names one).
    public var store: String
    public var workers: BenchWorkers
    /// Tasks to run (prefill mode: claims timed per phase).
    public var tasks: Int
    /// `baton worker` processes with ``BenchWorkers/http`` (none are started in prefill mode).
    public var workerProcesses: Int
    /// Tasks run at once per worker runtime (process).
    public var concurrency: Int
    /// Most tasks one claim takes (in-process; HTTP workers use the node's default).
    public var claimBatch: Int
    /// Size in bytes of each task's args (a JSON object holding a string).
    public var payload: Int
    public var mode: BenchMode
    /// Concurrent submit requests when enqueueing over HTTP.
    public var enqueueConcurrency: Int
    /// `baton serve` nodes with ``BenchWorkers/http``; above 1 they need a PostgreSQL store.
    public var nodes: Int
    /// The `baton` executable that ``BenchWorkers/http`` starts as `baton serve` and `baton
    /// worker` children; required with it.
    public var batonExecutable: String?
    /// How the backlog's tasks are linked (backlog mode only).
    public var shape: BenchShape = .plain
    /// Whether the node keeps Prometheus metrics (its default); off for an A/B of their cost.
    public var metrics = true

    public init(
        store: String = "sqlite", workers: BenchWorkers = .inprocess, tasks: Int = 10_000, workerProcesses: Int = 2,
        concurrency: Int = 1000, claimBatch: Int = Defaults.claimBatch, payload: Int = 0, mode: BenchMode = .backlog,
        enqueueConcurrency: Int = 4, nodes: Int = 1, batonExecutable: String? = nil, shape: BenchShape = .plain
    ) {
        self.store = store
        self.workers = workers
        self.tasks = tasks
        self.workerProcesses = workerProcesses
        self.concurrency = concurrency
        self.claimBatch = claimBatch
        self.payload = payload
        self.mode = mode
        self.enqueueConcurrency = enqueueConcurrency
        self.nodes = nodes
        self.batonExecutable = batonExecutable
        self.shape = shape
    }

    /// Throws an ``BenchError/Kind/invalidSettings`` error for the first setting out of range.
    public func validate() throws(BenchError) {
        func require(_ condition: Bool, _ message: @autoclosure () -> String) throws(BenchError) {
            if !condition { throw BenchError(.invalidSettings, message()) }
        }
        try require(tasks >= 1, "--tasks must be at least 1")
        try require(workerProcesses >= 1, "--worker-processes must be at least 1")
        try require((1...16).contains(nodes), "--nodes must be between 1 and 16")
        if nodes > 1 {
            try require(workers == .http, "--nodes needs --workers http")
            let location = try? StoreLocation(store)
            guard case .postgres = location else {
                throw BenchError(.invalidSettings, "--nodes above 1 needs a shared store: --store postgres://…")
            }
        }
        try require((1...100_000).contains(concurrency), "--concurrency must be between 1 and 100000")
        try require((1...10_000).contains(claimBatch), "--claim-batch must be between 1 and 10000")
        try require(payload >= 0 && payload <= Limits.defaultMaxArgsBytes - 16, "--payload is out of range")
        try require((1...64).contains(enqueueConcurrency), "--enqueue-concurrency must be between 1 and 64")
        switch shape {
        case .plain: break
        case .chains(let n), .chords(let n):
            try require(mode == .backlog || mode == .fanIn, "--chains and --chords need the backlog mode (or --fan-in)")
            try require((2...Limits.maxParents).contains(n), "--chains and --chords take 2 to \(Limits.maxParents) tasks")
            try require(tasks % n == 0, "--tasks must be a multiple of the \(shape.name)")
        }
        switch mode {
        case .backlog: break
        case .steady(let rate): try require(rate > 0 && rate.isFinite, "--steady needs a positive rate")
        case .prefill(let count): try require(count >= 1, "--prefill must be at least 1")
        case .fanIn:
            guard case .chords = shape else { throw BenchError(.invalidSettings, "--fan-in needs --chords") }
        }
        if workers == .http {
            try require(batonExecutable != nil, "--workers http needs the path of the `baton` executable")
        }
    }

    /// The `baton worker` processes actually started: none in process, none in prefill mode.
    var startedWorkerProcesses: Int {
        guard workers == .http else { return 0 }
        if case .prefill = mode { return 0 }
        return workerProcesses
    }

    /// The args every task carries: `{}` or `{"p":"xxx…"}` of exactly `payload` bytes.
    var args: RawJSON {
        guard payload >= 9 else { return .emptyObject }
        return RawJSON(trusted: "{\"p\":\"" + String(repeating: "x", count: payload - 8) + "\"}")
    }
}
