import ArgumentParser
import BatonAMQPBroker
import BatonCore
import BatonNode
import BatonRedisBroker
import BatonSQS
import BatonSQSBroker
import BatonServer
import BatonWorker
import Foundation
import Logging
import ServiceLifecycle

/// Options of a scheduler node (`standalone` and `serve`).
struct NodeOptions: ParsableArguments {
    @Option(help: "Address to listen on (BATON_HTTP_HOST, default 127.0.0.1).") var host: String?
    @Option(help: "Port to listen on; 0 takes a free one (BATON_HTTP_PORT, default 8080). The node's URL is the first line on stdout.")
    var port: Int?
    @Option(help: "Seconds between polls of the store when nothing wakes the node (default 1).") var poll: Double?
    @Option(help: "Seconds finished tasks are kept (default 7 days).") var retention: Double?
    @Option(help: "Seconds between lease-rescue passes (default 5).") var rescueInterval: Double?
    @Option(help: "Seconds between counts of the queues for GET /v1/queues and the queue gauges (default 5).")
    var countsInterval: Double?
    @Flag(help: "Keep no Prometheus metrics: GET /metrics answers 404 (BATON_NODE_METRICS=false).") var noMetrics = false
    @Option(help: "Retry policy for tasks and kinds that set none: exponential (default), fibonacci, fixed, none.")
    var retry: String?
    @Option(help: "Base delay in seconds of that policy (default 1).") var backoff: Double?
    @Flag(help: "Serve without tokens on a non-loopback address (BATON_INSECURE).") var insecure = false
    @Option(help: "PEM certificate chain: serve HTTPS (BATON_TLS_CERT; needs --tls-key).") var tlsCert: String?
    @Option(help: "PEM private key of --tls-cert (BATON_TLS_KEY).") var tlsKey: String?
    @Option(
        help:
            "Path prefix of the drop-in APIs of earlier systems (BATON_COMPAT_PREFIX, docs/compat.md), e.g. /compat or /compat/{token}; default: the root."
    )
    var compatPrefix: String?
    @Flag(help: "Do not serve the Go Distributed Task Scheduler's /jobs API (BATON_COMPAT_JOBS=false).") var noCompatJobs = false
    @Flag(help: "Do not serve taskq's /v1/tasks/enqueue, dequeue, update and /v1/about (BATON_COMPAT_TASKQ=false).")
    var noCompatTaskq = false
    @OptionGroup var sqs: SQSOptions
    @Option(help: "SQS submissions queue to take tasks from (BATON_SQS_INGEST), e.g. sqs://baton-submit.") var sqsIngest: String?
    @Option(help: "SQS queue for messages the node cannot read (BATON_SQS_DEAD_LETTER); unset: left for the queue's redrive policy.")
    var sqsDeadLetter: String?
    @Option(
        help: "Baton queues to send to SQS work queues, comma list of QUEUE=ADDRESS (BATON_SQS_DISPATCH), e.g. default=sqs://baton-work."
    )
    var sqsDispatch: String?
    @Option(help: "Most tasks of one queue in flight on SQS (BATON_SQS_WINDOW, default 100).") var sqsWindow: Int?
    @Option(help: "Seconds a dispatched task's lease lasts until its worker's first heartbeat (BATON_SQS_LEASE, default 300).")
    var sqsLease: Double?
    @Option(
        help:
            "Kinds sent as freundallein/sqs-scheduler's workers read them, a comma list (BATON_SQS_STRING_KINDS): their arguments must be a flat JSON object of strings."
    )
    var sqsStringKinds: String?
    @OptionGroup var redis: RedisOptions
    @Option(help: "Redis lists to take submissions from, a comma list (BATON_REDIS_INGEST), e.g. machinery_tasks.")
    var redisIngest: String?
    @Option(help: "A Redis sorted set to take submissions from too (BATON_REDIS_DELAYED), e.g. Machinery's delayed_tasks.")
    var redisDelayed: String?
    @Option(help: "Redis list for submissions the node refuses, with the reason (BATON_REDIS_DEAD_LETTER, default baton:dead).")
    var redisDeadLetter: String?
    @Option(help: "Seconds a taken submission stays with its node before any node takes it again (BATON_REDIS_VISIBILITY, default 60).")
    var redisVisibility: Double?
    @Flag(help: "Keep Machinery's Redis result backend: Machinery tasks' states at their UUIDs (BATON_REDIS_RESULTS).")
    var redisResults = false
    @Option(help: "Seconds those states are kept, Machinery's ResultsExpireIn (BATON_REDIS_RESULTS_EXPIRE_IN, default 3600).")
    var redisResultsExpireIn: Double?
    @Option(
        help:
            "Baton queues to send to Redis work lists, comma list of QUEUE=KEY (BATON_REDIS_DISPATCH), e.g. default=baton:work:default; workers take them with --redis-work."
    )
    var redisDispatch: String?
    @Option(
        help:
            "Baton queues to send to Machinery's workers, comma list of QUEUE=KEY (BATON_REDIS_MACHINERY_DISPATCH), e.g. default=machinery_tasks: the list a worker pops; its result backend must be --redis-url."
    )
    var redisMachineryDispatch: String?
    @Option(help: "Most tasks of one queue in flight on Redis (BATON_REDIS_WINDOW, default 100).") var redisWindow: Int?
    @Option(help: "Seconds a task sent to Redis keeps its lease until its worker's first heartbeat (BATON_REDIS_LEASE, default 300).")
    var redisLease: Double?
    @OptionGroup var amqpConnection: AMQPOptions
    @Option(help: "RabbitMQ queues to take submissions from, a comma list (BATON_AMQP_INGEST), e.g. Machinery's machinery_tasks.")
    var amqpIngest: String?
    @Option(help: "Exchange the queues are bound to (BATON_AMQP_EXCHANGE, default machinery_exchange; empty: none).")
    var amqpExchange: String?
    @Option(help: "Its type: direct, fanout, topic or headers (BATON_AMQP_EXCHANGE_TYPE, default direct).")
    var amqpExchangeType: String?
    @Option(help: "Key the first queue is bound with, Machinery's BindingKey (BATON_AMQP_BINDING_KEY, default machinery_task).")
    var amqpBindingKey: String?
    @Option(help: "Unacknowledged messages per queue at most (BATON_AMQP_PREFETCH, default 64).") var amqpPrefetch: Int?
    @Option(help: "Queue for submissions the node refuses, with the reason (BATON_AMQP_DEAD_LETTER, default baton.dead).")
    var amqpDeadLetter: String?
    @Option(
        help:
            "Baton queues to send to RabbitMQ queues, comma list of QUEUE=AMQPQUEUE (BATON_AMQP_DISPATCH), e.g. default=baton.work; workers take them with --amqp-work."
    )
    var amqpDispatch: String?
    @Option(help: "Most tasks of one queue in flight on RabbitMQ (BATON_AMQP_WINDOW, default 100).") var amqpWindow: Int?
    @Option(help: "Seconds a task sent to RabbitMQ keeps its lease until its worker's first heartbeat (BATON_AMQP_LEASE, default 300).")
    var amqpLease: Double?
    @Flag(help: "Keep Machinery's AMQP result backend: Machinery tasks' states in a queue per task (BATON_AMQP_RESULTS).")
    var amqpResults = false
    @Option(
        help: "Seconds those queues and states are kept, the producers' ResultsExpireIn (BATON_AMQP_RESULTS_EXPIRE_IN, default 3600).")
    var amqpResultsExpireIn: Double?
    @Option(
        help:
            "Baton queues whose tasks Machinery's own workers run, comma list of QUEUE=AMQPQUEUE (BATON_AMQP_MACHINERY_DISPATCH), e.g. default=machinery_work; their broker and result backend are --amqp-url."
    )
    var amqpMachineryDispatch: String?
    @Option(help: "The node's queue for those workers' states (BATON_AMQP_MACHINERY_STATES, default baton.machinery.states).")
    var amqpMachineryStates: String?
    @Option(help: "Those workers' ResultBackend: amqp (default) or redis (--redis-url) (BATON_AMQP_MACHINERY_BACKEND).")
    var amqpMachineryBackend: String?

    var flags: [String: String?] {
        sqs.flags.merging(redis.flags) { $1 }.merging(amqpConnection.flags) { $1 }.merging([
            "sqs.ingest": sqsIngest,
            "sqs.deadLetter": sqsDeadLetter,
            "sqs.dispatch": sqsDispatch,
            "sqs.window": sqsWindow.map(String.init),
            "sqs.lease": sqsLease.map { "\($0)" },
            "sqs.stringKinds": sqsStringKinds,
            "redis.ingest": redisIngest,
            "redis.delayed": redisDelayed,
            "redis.deadLetter": redisDeadLetter,
            "redis.visibility": redisVisibility.map { "\($0)" },
            "redis.results": redisResults ? "true" : nil,
            "redis.resultsExpireIn": redisResultsExpireIn.map { "\($0)" },
            "redis.dispatch": redisDispatch,
            "redis.machineryDispatch": redisMachineryDispatch,
            "redis.window": redisWindow.map(String.init),
            "redis.lease": redisLease.map { "\($0)" },
            "amqp.ingest": amqpIngest,
            "amqp.exchange": amqpExchange,
            "amqp.exchangeType": amqpExchangeType,
            "amqp.bindingKey": amqpBindingKey,
            "amqp.prefetch": amqpPrefetch.map(String.init),
            "amqp.deadLetter": amqpDeadLetter,
            "amqp.dispatch": amqpDispatch,
            "amqp.window": amqpWindow.map(String.init),
            "amqp.lease": amqpLease.map { "\($0)" },
            "amqp.results": amqpResults ? "true" : nil,
            "amqp.resultsExpireIn": amqpResultsExpireIn.map { "\($0)" },
            "amqp.machineryDispatch": amqpMachineryDispatch,
            "amqp.machineryStates": amqpMachineryStates,
            "amqp.machineryBackend": amqpMachineryBackend,
        ]) { $1 }.merging([
            "insecure": insecure ? "true" : nil,
            "compat.prefix": compatPrefix,
            "compat.jobs": noCompatJobs ? "false" : nil,
            "compat.taskq": noCompatTaskq ? "false" : nil,
            "tls.cert": tlsCert,
            "tls.key": tlsKey,
            "http.host": host,
            "http.port": port.map(String.init),
            "node.fallbackPoll": poll.map { "\($0)" },
            "node.retention": retention.map { "\($0)" },
            "node.rescueInterval": rescueInterval.map { "\($0)" },
            "node.countsInterval": countsInterval.map { "\($0)" },
            "node.metrics": noMetrics ? "false" : nil,
            "retry.policy": retry,
            "retry.backoff": backoff.map { "\($0)" },
        ]) { $1 }
    }
}

/// The Redis connection options a node and a worker share (docs/brokers.md).
struct RedisOptions: ParsableArguments {
    @Option(help: "Redis server of the Redis roles (BATON_REDIS_URL), e.g. redis://:password@127.0.0.1:6379/0; rediss:// for TLS.")
    var redisURL: String?
    @Option(help: "PEM CA certificates to trust for a rediss:// server instead of the system's (BATON_REDIS_CA_FILE).")
    var redisCaFile: String?

    var flags: [String: String?] { ["redis.url": redisURL, "redis.caFile": redisCaFile] }
}

/// The RabbitMQ connection options a node and a worker share (docs/brokers.md).
struct AMQPOptions: ParsableArguments {
    @Option(help: "RabbitMQ server of the AMQP roles (BATON_AMQP_URL), e.g. amqp://guest:guest@127.0.0.1:5672/; amqps:// for TLS.")
    var amqpURL: String?
    @Option(help: "PEM CA certificates to trust for an amqps:// server instead of the system's (BATON_AMQP_CA_FILE).")
    var amqpCaFile: String?

    var flags: [String: String?] { ["amqp.url": amqpURL, "amqp.caFile": amqpCaFile] }
}

/// The SQS options a node and a worker share (docs/brokers.md).
struct SQSOptions: ParsableArguments {
    @Option(help: "SQS endpoint, e.g. http://127.0.0.1:5000 for a local server (BATON_SQS_ENDPOINT; default AWS's).")
    var sqsEndpoint: String?
    @Option(help: "AWS region of the SQS queues (BATON_SQS_REGION; default AWS_REGION or the profile's).") var sqsRegion: String?
    @Option(help: "SQS results queue: a node applies the results workers send there; a worker sends there (BATON_SQS_RESULTS).")
    var sqsResults: String?
    @Flag(help: "Create the SQS queues this process uses when they do not exist (BATON_SQS_CREATE_QUEUES).")
    var sqsCreateQueues = false

    var flags: [String: String?] {
        [
            "sqs.endpoint": sqsEndpoint, "sqs.region": sqsRegion, "sqs.results": sqsResults,
            "sqs.createQueues": sqsCreateQueues ? "true" : nil,
        ]
    }
}

/// Where a node or a worker sends its traces (docs/operations.md#traces).
struct TracingOptions: ParsableArguments {
    @Option(
        help: """
            OpenTelemetry collector to send traces to over OTLP/HTTP, e.g. http://127.0.0.1:4318 (BATON_TRACING_ENDPOINT; \
            OTEL_EXPORTER_OTLP_ENDPOINT also turns tracing on, OTEL_SDK_DISABLED=true off).
            """)
    var otlpEndpoint: String?

    var flags: [String: String?] { ["tracing.endpoint": otlpEndpoint] }
}

/// Options of the workers a process runs (in-process for `standalone`, remote for `worker`).
struct WorkerOptions: ParsableArguments {
    @Option(help: "Tasks run at once (BATON_WORKER_CONCURRENCY, default 16).") var concurrency: Int?
    @Option(help: "Queues to serve, comma list (default: default).") var queues: String?
    @Option(help: "Kinds to serve, comma list (default: every built-in kind).") var kinds: String?
    @Option(help: "Worker id (default: host-pid).") var id: String?
    @Option(help: "Lease in seconds; heartbeats run every third of it (default 30).") var lease: Double?
    @Option(help: "Seconds running tasks get to finish on shutdown before they are released (default 30).") var shutdownGrace: Double?
    @Option(help: "Directory the `file` kind may read and write (BATON_FILES_ROOT); unset disables `file`.") var fileRoot: String?
    @Option(
        help:
            "Hosts and networks the `http` kind may reach although not public, comma list (BATON_HTTP_KIND_ALLOWLIST), e.g. localhost,10.0.0.0/8."
    )
    var httpAllowlist: String?
    @Option(
        help:
            "Testing aid: fail this fraction of attempts on purpose before the handler runs, overall or per kind (BATON_WORKER_FAULTS), e.g. 0.3 or email.send=0.5,0.1."
    )
    var faults: String?

    var flags: [String: String?] {
        [
            "worker.concurrency": concurrency.map(String.init),
            "worker.queues": queues,
            "worker.kinds": kinds,
            "worker.id": id,
            "worker.lease": lease.map { "\($0)" },
            "worker.faults": faults,
            "worker.shutdownGrace": shutdownGrace.map { "\($0)" },
            "files.root": fileRoot,
            "httpKind.allowlist": httpAllowlist,
        ]
    }

    /// The worker runtime's configuration from the settings (`WorkerConfiguration(reader:)`);
    /// kinds without a handler are refused here.
    static func configuration(_ settings: Settings, registry: HandlerRegistry) throws -> WorkerConfiguration {
        let config = try settings.read { reader throws(BatonError) in try WorkerConfiguration(reader: reader) }
        if let kinds = config.kinds {
            let unknown = kinds.filter { !registry.kinds.contains($0) }
            if !unknown.isEmpty {
                throw CLIError.usage(
                    "no handler for kind(s) \(unknown.joined(separator: ", ")); built-in kinds: \(registry.kinds.sorted().joined(separator: ", "))"
                )
            }
        }
        return config
    }

    /// A registry with every built-in kind, configured from the settings.
    static func builtinRegistry(_ settings: Settings) throws -> HandlerRegistry {
        let registry = HandlerRegistry()
        let http = try settings.read { reader throws(BatonError) in try HTTPKindConfiguration(reader: reader) }
        BuiltinKinds.register(into: registry, fileRoot: try fileRoot(settings), http: http)
        return registry
    }

    /// What a reload changes in a running worker: its concurrency.
    static func reloadTarget(_ runtime: WorkerRuntime) -> ReloadTarget {
        ReloadTarget { reader throws(BatonError) in
            let config = try WorkerConfiguration(reader: reader)
            return { runtime.setConcurrency(config.concurrency) }
        }
    }

    static func fileRoot(_ settings: Settings) throws -> URL? {
        guard let root = settings.string("files.root") else { return nil }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: root, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw CLIError.usage("files.root '\(root)' is not a directory")
        }
        return URL(fileURLWithPath: root, isDirectory: true)
    }
}

/// A scheduler node: the store, the claim dispatcher, the batched completer, maintenance,
/// the HTTP API, and optionally in-process workers.
struct Node {
    let settings: Settings
    let logger: Logger

    func run(store fallback: StoreLocation?, inProcessWorkers: Bool) async throws {
        var configuration = try settings.read { reader throws(BatonError) in try NodeConfiguration(reader: reader) }
        configuration.schedules = try YAMLSchedules.load(settings.configFile)
        let sqs = try settings.read { reader throws(BatonError) in try SQSBrokerConfiguration(reader: reader) }
        var redis = try settings.read { reader throws(BatonError) in try RedisBrokerConfiguration(reader: reader) }
        let amqp = try settings.read { reader throws(BatonError) in try AMQPBrokerConfiguration(reader: reader) }
        if amqp.machineryBackend == "redis" {
            guard redis.redis != nil || amqp.machineryDispatch.isEmpty else {
                throw CLIError.usage("amqp.machineryBackend=redis needs redis.url (the Machinery workers' ResultBackend)")
            }
            // Those workers write their own states to Redis: redis.results leaves them to them.
            redis.otherMachineryWorkerQueues = Set(amqp.machineryDispatch.map(\.queue))
        }
        configuration.stringArgKinds = sqs.stringKinds
        for schedule in configuration.schedules {
            do {
                try schedule.validate(stringArgKinds: sqs.stringKinds)
            } catch {
                throw CLIError.usage("schedule \(schedule.name) in \(settings.configFile ?? "the settings"): \(error.message)")
            }
        }
        let serverConfig = try settings.read { reader throws(BatonError) in try ServerConfiguration(reader: reader) }
        let opened = try await StoreLocation.openForNode(settings, fallback: fallback)
        logger.info("store opened", metadata: opened.logMetadata)
        let node = NodeServices(store: opened.store, leadership: opened.leadership, configuration: configuration, logger: logger)

        let host = serverConfig.host
        let scheme = serverConfig.tls == nil ? "http" : "https"
        let live = ServerLiveSettings(serverConfig)
        let app = makeApplication(
            node: node,
            configuration: serverConfig,
            live: live,
            logger: logger,
            server: try makeServerBuilder(serverConfig)
        ) { port in
            // The first line on stdout is the node's URL, so scripts and tests can find it.
            FileHandle.standardOutput.write(Data("\(scheme)://\(host):\(port)\n".utf8))
        }

        // A store that is open already (SQLite): a bad schedule declaration stops the node
        // before it serves. PostgreSQL's firer upserts them once the pool runs.
        let schedulesUpserted = opened.service == nil
        if schedulesUpserted { try await node.upsertDeclaredSchedules() }
        var workers: [any Service] = []
        var grace = Duration.seconds(5)
        var targets: [ReloadTarget] = [
            .logLevel(default: .info),
            ReloadTarget { reader throws(BatonError) in
                let next = try NodeConfiguration(reader: reader)
                return { node.apply(next) }
            },
            ReloadTarget { reader throws(BatonError) in
                var next = try ServerConfiguration(reader: reader)
                // The address and `insecure` keep their running values until a restart.
                next.host = serverConfig.host
                next.insecure = serverConfig.insecure
                try next.validateExposure()
                let applied = next
                return { live.apply(applied) }
            },
        ]
        if inProcessWorkers {
            let registry = try WorkerOptions.builtinRegistry(settings)
            let config = try WorkerOptions.configuration(settings, registry: registry)
            grace += config.shutdownGrace
            let runtime = node.inProcessWorker(registry: registry, configuration: config)
            workers.append(runtime)
            targets.append(WorkerOptions.reloadTarget(runtime))
        }
        let reloader = ConfigReloader(settings: settings, targets: targets, logger: Logger(label: "baton.config"))
        // The SQS roles (docs/brokers.md) stop before the HTTP server and the completer.
        var front: [any Service] = [app]
        if sqs.hasNodeRoles {
            let broker: SQSBroker
            do {
                broker = try SQSBroker(
                    configuration: sqs, api: NodeAPI(node: node, limits: serverConfig.limits), logger: Logger(label: "baton.sqs"))
            } catch {
                throw CLIError.usage("the SQS settings are refused: \(error)")
            }
            front += broker.services
        }
        if redis.hasNodeRoles {
            front += try redis.services(api: NodeAPI(node: node, limits: serverConfig.limits), logger: Logger(label: "baton.redis"))
        }
        if amqp.hasNodeRoles {
            front += try amqp.services(
                api: NodeAPI(node: node, limits: serverConfig.limits), redis: redis, logger: Logger(label: "baton.amqp"))
        }
        // The trace exporter runs first, so that it stops last and flushes what the others ended.
        let tracing = try TraceSetup.bootstrap(settings, serviceName: "baton").map { [$0] } ?? []
        let services =
            tracing + (reloader?.services ?? [])
            + node.services(store: opened.service, front: front, workers: workers, schedulesUpserted: schedulesUpserted)
        var groupConfig = ServiceGroupConfiguration(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        groupConfig.maximumGracefulShutdownDuration = grace
        try await ServiceGroup(configuration: groupConfig).run()
    }
}

struct Standalone: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a whole scheduler in one process: SQLite store, HTTP API and in-process workers (the default command).",
        discussion: "Uses baton.db in the working directory unless --store or --db says otherwise. Stops gracefully on Ctrl-C or SIGTERM."
    )

    @OptionGroup var common: CommonOptions
    @OptionGroup var node: NodeOptions
    @OptionGroup var worker: WorkerOptions
    @OptionGroup var tracing: TracingOptions

    func run() async throws {
        try await reportingErrors {
            let settings = try await common.settings(
                node.flags.merging(worker.flags) { $1 }.merging(tracing.flags) { $1 }, reloading: true)
            try LogSetup.bootstrap(try settings.logLevel(), default: .info)
            let logger = Logger(label: "baton")
            try await Node(settings: settings, logger: logger).run(store: .standaloneDefault, inProcessWorkers: true)
        }
    }
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a scheduler node: the store and the HTTP API, for remote workers (`baton worker`)."
    )

    @OptionGroup var common: CommonOptions
    @OptionGroup var node: NodeOptions
    @OptionGroup var tracing: TracingOptions

    func run() async throws {
        try await reportingErrors {
            let settings = try await common.settings(node.flags.merging(tracing.flags) { $1 }, reloading: true)
            try LogSetup.bootstrap(try settings.logLevel(), default: .info)
            let logger = Logger(label: "baton")
            try await Node(settings: settings, logger: logger).run(store: .standaloneDefault, inProcessWorkers: false)
        }
    }
}

struct Worker: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Run the built-in kinds against a node over HTTP, or take tasks from SQS (--sqs-work), Redis (--redis-work) or RabbitMQ (--amqp-work) and report over SQS (--sqs-results) or HTTP (--server).",
        discussion:
            "Claims in batches with long-poll, heartbeats, acknowledges in batches, backs off while the node is unreachable, and drains on SIGTERM."
    )

    @OptionGroup var common: CommonOptions
    @OptionGroup var worker: WorkerOptions
    @Option(help: "The node's URL (repeatable, or a comma list in BATON_SERVER).") var server: [String] = []
    @Option(help: "Bearer token (BATON_TOKEN).") var token: String?
    @Option(help: "PEM CA certificates to trust for an https node (BATON_CA_FILE).") var caFile: String?
    @OptionGroup var sqs: SQSOptions
    @Option(
        help:
            "SQS work queue to take tasks from instead of a node (BATON_SQS_WORK); results go to --sqs-results if given, else to the node (--server) over HTTP."
    )
    var sqsWork: String?
    @Option(
        help:
            "This worker's own SQS control queue, where the node answers its heartbeats with the tasks to stop, e.g. cancelled ones (BATON_SQS_CONTROL); needs --sqs-work and --sqs-results."
    )
    var sqsControl: String?
    @OptionGroup var redis: RedisOptions
    @Option(
        help:
            "Redis work list to take tasks from (BATON_REDIS_WORK; needs --redis-url), filled by a node's --redis-dispatch; results go to the node (--server) over HTTP."
    )
    var redisWork: String?
    @OptionGroup var amqp: AMQPOptions
    @Option(
        help:
            "RabbitMQ queue to take tasks from (BATON_AMQP_WORK; needs --amqp-url), filled by a node's --amqp-dispatch; results go to the node (--server) over HTTP."
    )
    var amqpWork: String?
    @OptionGroup var tracing: TracingOptions
    @Option(help: "Serve this worker's Prometheus metrics at /metrics on this port (BATON_METRICS_PORT; default: none).")
    var metricsPort: Int?
    @Option(help: "Address of the metrics port (BATON_METRICS_HOST, default 127.0.0.1).") var metricsHost: String?

    func run() async throws {
        try await reportingErrors {
            let settings = try await common.settings(
                worker.flags.merging(["server": server.isEmpty ? nil : server.joined(separator: ","), "token": token, "caFile": caFile]) {
                    $1
                }.merging(sqs.flags) { $1 }.merging(["sqs.work": sqsWork, "sqs.control": sqsControl]) { $1 }.merging(redis.flags) { $1 }
                    .merging(["redis.work": redisWork]) { $1 }.merging(amqp.flags) { $1 }.merging(["amqp.work": amqpWork]) { $1 }
                    .merging(tracing.flags) { $1 }
                    .merging(["metrics.port": metricsPort.map(String.init), "metrics.host": metricsHost]) { $1 }, reloading: true)
            try LogSetup.bootstrap(try settings.logLevel(), default: .info)
            let logger = Logger(label: "baton.worker")
            let urls = try parseServers(settings.list("server") ?? [TargetOptions.defaultServer])
            let registry = try WorkerOptions.builtinRegistry(settings)
            let config = try WorkerOptions.configuration(settings, registry: registry)
            let httpClient =
                try settings.string("caFile").map { try HTTPTaskSource.httpClient(caFile: $0) } ?? HTTPTaskSource.defaultHTTPClient
            let sqsConfig = try settings.read { reader throws(BatonError) in try SQSBrokerConfiguration(reader: reader) }
            let redisConfig = try settings.read { reader throws(BatonError) in try RedisBrokerConfiguration(reader: reader) }
            let amqpConfig = try settings.read { reader throws(BatonError) in try AMQPBrokerConfiguration(reader: reader) }
            guard [sqsConfig.work != nil, redisConfig.work != nil, amqpConfig.work != nil].filter({ $0 }).count <= 1 else {
                throw CLIError.usage("a worker takes its tasks from one place: --sqs-work, --redis-work or --amqp-work, not two")
            }
            let source: any TaskSource
            if let queue = amqpConfig.work, let amqp = amqpConfig.amqp {
                // Tasks from the RabbitMQ queue; heartbeats, results, parents and follow-ups over HTTP.
                source = AMQPHTTPTaskSource(
                    amqp: amqp, queue: queue, prefetch: config.concurrency, servers: urls, token: settings.string("token"),
                    httpClient: httpClient, logger: logger)
            } else if let key = redisConfig.work, let redis = redisConfig.redis {
                // Tasks from the Redis work list; heartbeats, results, parents and follow-ups over HTTP.
                source = RedisHTTPTaskSource(
                    redis: redis, key: key, servers: urls, token: settings.string("token"), httpClient: httpClient, logger: logger)
            } else if let work = sqsConfig.work, let results = sqsConfig.results {
                // Tasks from the SQS work queue, results to the SQS results queue (docs/brokers.md).
                do {
                    source = SQSTaskSource(
                        work: try sqsConfig.queue(work, logger: logger), results: try sqsConfig.queue(results, logger: logger),
                        control: try sqsConfig.control.map { try sqsConfig.queue($0, logger: logger) }, logger: logger)
                } catch {
                    throw CLIError.usage("the SQS settings are refused: \(error)")
                }
            } else if let work = sqsConfig.work {
                // Tasks from the SQS work queue; heartbeats, results, parents and follow-ups over HTTP.
                do {
                    source = SQSHTTPTaskSource(
                        work: try sqsConfig.queue(work, logger: logger), servers: urls,
                        token: settings.string("token"), httpClient: httpClient, logger: logger)
                } catch {
                    throw CLIError.usage("the SQS settings are refused: \(error)")
                }
            } else {
                source = HTTPTaskSource(servers: urls, token: settings.string("token"), httpClient: httpClient, logger: logger)
            }
            let servedPort = try settings.read(SettingsKeys.metricsPort)
            let metrics = servedPort.map { _ in WorkerMetrics() }
            let runtime = WorkerRuntime(
                source: source, registry: registry, configuration: config, logger: logger, observer: metrics.map { $0.record })
            let reloader = ConfigReloader(
                settings: settings, targets: [.logLevel(default: .info), WorkerOptions.reloadTarget(runtime)],
                logger: Logger(label: "baton.config"))
            let tracing = try TraceSetup.bootstrap(settings, serviceName: "baton-worker").map { [$0] } ?? []
            // The metrics server stops after the runtime, so a last scrape sees the drain.
            var metricsServer: [any Service] = []
            if let metrics, let servedPort {
                let host = settings.string("metrics.host") ?? "127.0.0.1"
                metricsServer.append(
                    makeMetricsApplication(host: host, port: servedPort, logger: logger, exposition: { metrics.exposition(runtime) }) {
                        port in logger.info("metrics served", metadata: ["url": "http://\(host):\(port)/metrics"])
                    })
            }
            var groupConfig = ServiceGroupConfiguration(
                services: tracing + (reloader?.services ?? []) + metricsServer + [runtime], gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger)
            groupConfig.maximumGracefulShutdownDuration = config.shutdownGrace + .seconds(5)
            try await ServiceGroup(configuration: groupConfig).run()
        }
    }
}

func parseServers(_ texts: [String]) throws(CLIError) -> [URL] {
    var urls: [URL] = []
    for text in texts {
        guard let url = URL(string: text), let scheme = url.scheme, ["http", "https"].contains(scheme), url.host != nil else {
            throw .usage("'\(text)' is not a node URL such as http://127.0.0.1:8080")
        }
        urls.append(url)
    }
    return urls
}
