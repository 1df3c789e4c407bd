import BatonCore
import BatonNode
import BatonRedis
import Configuration
import Foundation
import Logging
import ServiceLifecycle

/// Where a node meets Redis and which roles it runs there (docs/brokers.md, "Redis ingest").
///
/// Keys read by ``init(reader:)`` (each also a `BATON_*` variable, see docs/cli.md); all are
/// read at startup (a change needs a restart):
/// - `redis.url` (`BATON_REDIS_URL`): the server, `redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]`
///   or `rediss://` for TLS (a secret: shown with the password as `***`)
/// - `redis.ingest` (`BATON_REDIS_INGEST`): lists a node takes submissions from, a comma list
///   of keys; producers append with `RPUSH` (Machinery's Redis broker: its queue, by default
///   `machinery_tasks`)
/// - `redis.delayed` (`BATON_REDIS_DELAYED`): a sorted set a node also takes submissions
///   from, whatever their score (Machinery's Redis broker puts a signature with a future `ETA`
///   in `delayed_tasks`; Baton stores it at once, to run at its `ETA`)
/// - `redis.deadLetter` (`BATON_REDIS_DEAD_LETTER`): the list where a message that cannot be
///   submitted goes, with the reason (default `baton:dead`)
/// - `redis.visibility` (`BATON_REDIS_VISIBILITY`): seconds a message taken by a node and not
///   yet stored stays its own before any node takes it again, at least 1 (default 60)
/// - `redis.results` (`BATON_REDIS_RESULTS`): `true` to keep Machinery's Redis result backend:
///   the states of Machinery tasks written at their UUIDs (``MachineryResults``; default false)
/// - `redis.resultsExpireIn` (`BATON_REDIS_RESULTS_EXPIRE_IN`): seconds such a state is kept,
///   Machinery's `ResultsExpireIn`, at least 1 (default 3600)
/// - `redis.caFile` (`BATON_REDIS_CA_FILE`): PEM CA certificates to trust for `rediss://`
///   instead of the system's (a private CA)
/// - `redis.dispatch` (`BATON_REDIS_DISPATCH`): Baton queues whose ready tasks a node sends to
///   Redis work lists, a comma list of `QUEUE=KEY`, e.g. `default=baton:work:default` (the
///   dispatch role, ``RedisWorkSender``; workers report over HTTP)
/// - `redis.machineryDispatch` (`BATON_REDIS_MACHINERY_DISPATCH`): Baton queues whose ready
///   tasks a node sends to Machinery's workers, a comma list of `QUEUE=KEY`, e.g.
///   `default=machinery_tasks` (the list a worker pops: its `DefaultQueue`); the workers'
///   result backend must be this Redis (``MachineryWorkers``)
/// - `redis.window` (`BATON_REDIS_WINDOW`): most tasks of one Baton queue in flight on Redis at
///   once, 1...10000 (default 100)
/// - `redis.lease` (`BATON_REDIS_LEASE`): seconds a dispatched task's lease lasts before its
///   worker's first heartbeat, at least 1 (default 300): the time a message may wait in its list
/// - `redis.work` (`BATON_REDIS_WORK`): the work list a `baton worker` takes its tasks from
///   (``RedisHTTPTaskSource``; it reports to the node over HTTP)
public struct RedisBrokerConfiguration: Sendable {
    public var redis: RedisConfiguration?
    public var ingest: [String]
    public var delayed: String?
    public var deadLetter: String
    public var visibility: Duration
    /// Whether the node keeps Machinery's result backend (``MachineryResults``).
    public var results: Bool
    public var resultsExpireIn: Duration
    /// Baton queue → Redis work list (dispatch role), in the order given.
    public var dispatch: [(queue: String, key: String)]
    /// Baton queue → the list Machinery's workers pop (``MachineryWorkers``).
    public var machineryDispatch: [(queue: String, key: String)]
    /// Baton queues whose tasks Machinery's workers take from another broker (RabbitMQ) and
    /// whose states they write to this Redis: `redis.results` leaves their states to them, as
    /// for ``machineryDispatch``'s.
    public var otherMachineryWorkerQueues: Set<String> = []
    /// The dispatch role's window and lease (`redis.window`, `redis.lease`).
    public var dispatchSettings: DispatchSettings
    /// The work list a worker takes its tasks from.
    public var work: String?

    public static let defaultDeadLetter = "baton:dead"
    public static let defaultVisibility: Duration = .seconds(60)
    /// The longest key Baton takes a name of (the keys it derives add a few characters).
    public static let maxKeyLength = 200

    public init(
        redis: RedisConfiguration? = nil, ingest: [String] = [], delayed: String? = nil, deadLetter: String = defaultDeadLetter,
        visibility: Duration = defaultVisibility, results: Bool = false, resultsExpireIn: Duration = MachineryResults.defaultExpiry,
        dispatch: [(queue: String, key: String)] = [], machineryDispatch: [(queue: String, key: String)] = [],
        dispatchSettings: DispatchSettings = DispatchSettings(), work: String? = nil
    ) {
        self.dispatch = dispatch
        self.machineryDispatch = machineryDispatch
        self.dispatchSettings = dispatchSettings
        self.work = work
        self.redis = redis
        self.ingest = ingest
        self.delayed = delayed
        self.deadLetter = deadLetter
        self.visibility = visibility
        self.results = results
        self.resultsExpireIn = resultsExpireIn
    }

    /// The settings keys ``init(reader:)`` reads; none reloads.
    public static let configKeys = [
        "redis.url", "redis.ingest", "redis.delayed", "redis.deadLetter", "redis.visibility", "redis.results", "redis.resultsExpireIn",
        "redis.caFile", "redis.dispatch", "redis.machineryDispatch", "redis.window", "redis.lease", "redis.work",
    ]

    /// The configuration from the settings; throws `invalidArgument` naming the key of a bad value.
    public init(reader: ConfigReader) throws(BatonError) {
        self.init()
        if let text = reader.text("redis.url", isSecret: true) {
            do {
                redis = try RedisConfiguration(url: text)
            } catch {
                throw .invalidArgument("redis.url: \(error.message)")
            }
        }
        if let caFile = reader.text("redis.caFile") {
            guard redis?.tls == true else {
                throw .invalidArgument("redis.caFile is for a TLS server: redis.url must be rediss://")
            }
            guard FileManager.default.isReadableFile(atPath: caFile) else {
                throw .invalidArgument("redis.caFile: cannot read \(caFile)")
            }
            redis?.caFile = caFile
        }
        for item in reader.list("redis.ingest") ?? [] {
            let key = try Self.key(item, setting: "redis.ingest")
            guard !ingest.contains(key) else { throw .invalidArgument("redis.ingest names the list \(key) twice") }
            ingest.append(key)
        }
        delayed = try reader.text("redis.delayed").map { text throws(BatonError) in try Self.key(text, setting: "redis.delayed") }
        if let text = reader.text("redis.deadLetter") { deadLetter = try Self.key(text, setting: "redis.deadLetter") }
        visibility = try reader.seconds("redis.visibility", default: Self.defaultVisibility, minimum: 1)
        results = try reader.flag("redis.results")
        resultsExpireIn = try reader.seconds("redis.resultsExpireIn", default: MachineryResults.defaultExpiry, minimum: 1)
        dispatch = try reader.queueMap("redis.dispatch", example: "default=baton:work:default").map { queue, key throws(BatonError) in
            (queue, try Self.key(key, setting: "redis.dispatch"))
        }
        machineryDispatch = try reader.queueMap("redis.machineryDispatch", example: "default=machinery_tasks").map {
            queue, key throws(BatonError) in (queue, try Self.key(key, setting: "redis.machineryDispatch"))
        }
        dispatchSettings = try DispatchSettings(reader: reader, prefix: "redis")
        work = try reader.text("redis.work").map { text throws(BatonError) in try Self.key(text, setting: "redis.work") }
        try validate()
    }

    /// Checks that the roles have what they need.
    public func validate() throws(BatonError) {
        if (hasNodeRoles || work != nil) && redis == nil {
            throw .invalidArgument(
                "redis.ingest, redis.delayed, redis.results, redis.dispatch, redis.machineryDispatch and redis.work need redis.url "
                    + "(--redis-url redis://HOST:PORT)")
        }
        try dispatchSettings.validate(prefix: "redis")
        if let delayed, ingest.contains(delayed) {
            throw .invalidArgument("redis.delayed (\(delayed)) is also in redis.ingest: a key is a list or a sorted set, not both")
        }
        let sources = ingest + (delayed.map { [$0] } ?? [])
        if sources.contains(deadLetter) {
            throw .invalidArgument("redis.deadLetter (\(deadLetter)) is also a source of submissions; name another list")
        }
        var lists = Set(sources + [deadLetter])
        var queues: Set<String> = []
        for (setting, items) in [("redis.dispatch", dispatch), ("redis.machineryDispatch", machineryDispatch)] {
            for (queue, key) in items {
                guard lists.insert(key).inserted else {
                    throw .invalidArgument(
                        "\(setting) sends queue \(queue) to \(key), which is already a source, the dead-letter list or another queue's work list"
                    )
                }
                guard queues.insert(queue).inserted else {
                    throw .invalidArgument("\(setting) sends queue \(queue), which redis.dispatch or redis.machineryDispatch already sends")
                }
            }
        }
    }

    /// Whether a node runs any Redis role.
    public var hasNodeRoles: Bool { !ingest.isEmpty || delayed != nil || results || !dispatch.isEmpty || !machineryDispatch.isEmpty }

    /// The node's Redis services that this configuration asks for: the ingest when it names
    /// sources, Machinery's result backend when `redis.results` is on, a dispatch per
    /// `redis.dispatch` and `redis.machineryDispatch` item (first: they stop before the
    /// others), and the reader of Machinery workers' states with the latter.
    public func services(api: NodeAPI, logger: Logger) throws(BatonError) -> [any Service] {
        guard let redis else { return [] }
        var services: [any Service] = []
        let machinery =
            machineryDispatch.isEmpty
            ? nil
            : MachineryWorkers(
                redis: redis, api: api, expiry: resultsExpireIn, dispatched: machineryDispatch, lease: dispatchSettings.lease,
                logger: logger)
        var senders: [(queue: String, sender: any WorkSender)] = dispatch.map {
            ($0.queue, RedisWorkSender(redis: redis, key: $0.key, logger: logger))
        }
        if let machinery {
            senders += machineryDispatch.map {
                ($0.queue, RedisWorkSender(redis: redis, key: $0.key, machinery: machinery, logger: logger))
            }
        }
        let dispatches = BrokerDispatch.roles(node: api.node, senders: senders, settings: dispatchSettings, logger: logger)
        services += dispatches
        if let machinery {
            machinery.window.withLock { $0 = dispatches.first?.inFlight }
            services.append(machinery)
        }
        if !sources.isEmpty { services.append(try RedisIngest(configuration: self, api: api, logger: logger)) }
        if results {
            services.append(
                MachineryResults(
                    redis: redis, store: api.node.store, events: api.node.events, expiry: resultsExpireIn,
                    workerQueues: Set(machineryDispatch.map(\.queue)).union(otherMachineryWorkerQueues), logger: logger))
        }
        return services
    }

    /// The sources of ``RedisIngest``: the lists, then the sorted set.
    public var sources: [RedisIngest.Source] {
        ingest.map { RedisIngest.Source(key: $0, kind: .list) } + (delayed.map { [RedisIngest.Source(key: $0, kind: .sortedSet)] } ?? [])
    }

    /// A key as Baton takes it: 1 to ``maxKeyLength`` characters, no whitespace or control
    /// character (keys are names here, and derived keys append to them).
    static func key(_ text: String, setting: String) throws(BatonError) -> String {
        let key = text.trimmingCharacters(in: .whitespaces)
        guard Limits.hasLength(key, 1...maxKeyLength) else {
            throw .invalidArgument("\(setting): a key is 1 to \(maxKeyLength) characters, got '\(key)'")
        }
        guard !key.unicodeScalars.contains(where: { $0.properties.isWhitespace || $0.value < 0x20 || $0.value == 0x7F }) else {
            throw .invalidArgument("\(setting): a key has no spaces or control characters, got '\(key)'")
        }
        return key
    }
}
