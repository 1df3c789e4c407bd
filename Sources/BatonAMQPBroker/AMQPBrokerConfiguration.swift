import BatonAMQP
import BatonCore
import BatonNode
import BatonRedisBroker
import Configuration
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// Where a node meets RabbitMQ (an AMQP 0-9-1 server) and which queues it takes submissions
/// from (docs/brokers.md, "RabbitMQ ingest"). The defaults are Machinery's, so that a node takes
/// what a Machinery program with `Broker: "amqp://…"` sends.
///
/// Keys read by ``init(reader:)`` (each also a `BATON_*` variable, see docs/cli.md), all read at
/// startup:
/// - `amqp.url` (`BATON_AMQP_URL`): the server, `amqp://USER:PASSWORD@HOST:PORT/VHOST` or
///   `amqps://` for TLS (a secret: shown with the password as `***`)
/// - `amqp.ingest` (`BATON_AMQP_INGEST`): queues a node takes submissions from, a comma list
///   (Machinery's `DefaultQueue`, by default `machinery_tasks`)
/// - `amqp.exchange` (`BATON_AMQP_EXCHANGE`): the exchange the queues are bound to, declared
///   durable as Machinery declares it (default `machinery_exchange`; empty: no exchange, the
///   producers publish to the queues by name)
/// - `amqp.exchangeType` (`BATON_AMQP_EXCHANGE_TYPE`): direct, fanout, topic or headers
///   (default `direct`)
/// - `amqp.bindingKey` (`BATON_AMQP_BINDING_KEY`): the key the first queue is bound with
///   (Machinery's `BindingKey`, default `machinery_task`); every queue is also bound with its
///   own name, where Machinery's producers route a signature that names its queue
/// - `amqp.prefetch` (`BATON_AMQP_PREFETCH`): messages each queue's consumer holds unacknowledged
///   at most, 1–65535 (default 64)
/// - `amqp.deadLetter` (`BATON_AMQP_DEAD_LETTER`): the queue where a message that cannot be
///   submitted goes, with the reason (default `baton.dead`)
/// - `amqp.caFile` (`BATON_AMQP_CA_FILE`): PEM CA certificates to trust for `amqps://`
///   instead of the system's (a private CA)
/// - `amqp.dispatch` (`BATON_AMQP_DISPATCH`): Baton queues whose ready tasks a node sends to
///   RabbitMQ queues, a comma list of `QUEUE=AMQPQUEUE`, e.g. `default=baton.work` (the dispatch
///   role, ``AMQPWorkSender``; workers report over HTTP)
/// - `amqp.window` (`BATON_AMQP_WINDOW`): most tasks of one Baton queue in flight on RabbitMQ
///   at once, 1...10000 (default 100)
/// - `amqp.lease` (`BATON_AMQP_LEASE`): seconds a dispatched task's lease lasts before its
///   worker's first heartbeat, at least 1 (default 300)
/// - `amqp.work` (`BATON_AMQP_WORK`): the RabbitMQ queue a `baton worker` takes its tasks from
///   (``AMQPHTTPTaskSource``; it reports to the node over HTTP)
/// - `amqp.results` (`BATON_AMQP_RESULTS`): `true` to keep Machinery's AMQP result backend: the
///   states of Machinery tasks published to a queue per task, named by its UUID
///   (``AMQPStateWriter``; default false)
/// - `amqp.resultsExpireIn` (`BATON_AMQP_RESULTS_EXPIRE_IN`): seconds such a queue and its
///   messages are kept, Machinery's `ResultsExpireIn`, 1...2147483 (default 3600); it must be the
///   producers' value, which declares the same queues
/// - `amqp.machineryDispatch` (`BATON_AMQP_MACHINERY_DISPATCH`): Baton queues whose ready tasks
///   a node sends to Machinery's own workers, a comma list of `QUEUE=AMQPQUEUE` (the queue the
///   workers consume, their `DefaultQueue`); their `Broker` and `ResultBackend` are this server
///   and their `AMQP.Exchange` is `amqp.exchange` (``AMQPMachineryWorkers``)
/// - `amqp.machineryStates` (`BATON_AMQP_MACHINERY_STATES`): the node's queue that
///   receives those workers' states (default `baton.machinery.states`)
/// - `amqp.machineryBackend` (`BATON_AMQP_MACHINERY_BACKEND`): the workers' `ResultBackend`,
///   `amqp` (this server, the default) or `redis` (the node's `redis.url`, read as for
///   `redis.machineryDispatch`)
public struct AMQPBrokerConfiguration: Sendable {
    public var amqp: AMQPConfiguration?
    public var ingest: [String]
    public var exchange: String
    public var exchangeType: String
    public var bindingKey: String
    public var prefetch: Int
    public var deadLetter: String
    /// Baton queue → RabbitMQ queue (dispatch role), in the order given.
    public var dispatch: [(queue: String, amqpQueue: String)] = []
    /// The dispatch role's window and lease (`amqp.window`, `amqp.lease`).
    public var dispatchSettings = DispatchSettings()
    /// The RabbitMQ queue a worker takes its tasks from.
    public var work: String?
    /// Whether the node keeps Machinery's AMQP result backend (``AMQPStateWriter``), and how
    /// long its states are kept.
    public var results = false
    public var resultsExpireIn = MachineryResults.defaultExpiry
    /// Baton queue → the RabbitMQ queue Machinery's workers consume (``AMQPMachineryWorkers``).
    public var machineryDispatch: [(queue: String, amqpQueue: String)] = []
    /// The queue the states of Machinery's workers are bound to.
    public var machineryStates = defaultMachineryStates
    /// Where those workers write their states: `amqp` or `redis`.
    public var machineryBackend = "amqp"

    public static let defaultExchange = "machinery_exchange"
    public static let defaultBindingKey = "machinery_task"
    public static let defaultPrefetch = 64
    public static let defaultDeadLetter = "baton.dead"
    public static let defaultMachineryStates = "baton.machinery.states"
    static let exchangeTypes = ["direct", "fanout", "topic", "headers"]

    public init(
        amqp: AMQPConfiguration? = nil, ingest: [String] = [], exchange: String = defaultExchange, exchangeType: String = "direct",
        bindingKey: String = defaultBindingKey, prefetch: Int = defaultPrefetch, deadLetter: String = defaultDeadLetter
    ) {
        self.amqp = amqp
        self.ingest = ingest
        self.exchange = exchange
        self.exchangeType = exchangeType
        self.bindingKey = bindingKey
        self.prefetch = prefetch
        self.deadLetter = deadLetter
    }

    /// The settings keys ``init(reader:)`` reads; none reloads.
    public static let configKeys = [
        "amqp.url", "amqp.ingest", "amqp.exchange", "amqp.exchangeType", "amqp.bindingKey", "amqp.prefetch", "amqp.deadLetter",
        "amqp.caFile", "amqp.dispatch", "amqp.window", "amqp.lease", "amqp.work", "amqp.results", "amqp.resultsExpireIn",
        "amqp.machineryDispatch", "amqp.machineryStates", "amqp.machineryBackend",
    ]

    /// The configuration from the settings; throws `invalidArgument` naming the key of a bad value.
    public init(reader: ConfigReader) throws(BatonError) {
        self.init()
        if let text = reader.text("amqp.url", isSecret: true) {
            do {
                amqp = try AMQPConfiguration(url: text)
            } catch {
                throw .invalidArgument("amqp.url: \(error.message)")
            }
        }
        for item in reader.list("amqp.ingest") ?? [] {
            let queue = try Self.name(item, setting: "amqp.ingest")
            guard !ingest.contains(queue) else { throw .invalidArgument("amqp.ingest names the queue \(queue) twice") }
            ingest.append(queue)
        }
        // Set but empty: no exchange (the default exchange routes by queue name).
        if let raw = reader.string(forKey: ConfigKey("amqp.exchange")) {
            let text = raw.trimmingCharacters(in: .whitespaces)
            exchange = text.isEmpty ? "" : try Self.name(text, setting: "amqp.exchange")
        }
        if let text = reader.text("amqp.exchangeType") {
            guard Self.exchangeTypes.contains(text) else {
                throw .invalidArgument("amqp.exchangeType is one of \(Self.exchangeTypes.joined(separator: ", ")), got '\(text)'")
            }
            exchangeType = text
        }
        if let text = reader.text("amqp.bindingKey") { bindingKey = try Self.name(text, setting: "amqp.bindingKey") }
        prefetch = try reader.int("amqp.prefetch", default: Self.defaultPrefetch, range: 1...65535)
        if let text = reader.text("amqp.deadLetter") { deadLetter = try Self.name(text, setting: "amqp.deadLetter") }
        if let caFile = reader.text("amqp.caFile") {
            guard amqp?.tls == true else { throw .invalidArgument("amqp.caFile is for a TLS server: amqp.url must be amqps://") }
            guard FileManager.default.isReadableFile(atPath: caFile) else { throw .invalidArgument("amqp.caFile: cannot read \(caFile)") }
            amqp?.caFile = caFile
        }
        dispatch = try reader.queueMap("amqp.dispatch", example: "default=baton.work").map { queue, name throws(BatonError) in
            (queue, try Self.name(name, setting: "amqp.dispatch"))
        }
        dispatchSettings = try DispatchSettings(reader: reader, prefix: "amqp")
        work = try reader.text("amqp.work").map { text throws(BatonError) in try Self.name(text, setting: "amqp.work") }
        results = try reader.flag("amqp.results")
        // x-expires and x-message-ttl are 32-bit milliseconds in Machinery's declaration.
        resultsExpireIn = try reader.seconds(
            "amqp.resultsExpireIn", default: MachineryResults.defaultExpiry, minimum: 1, maximum: Double(Int32.max / 1000))
        machineryDispatch = try reader.queueMap("amqp.machineryDispatch", example: "default=machinery_work").map {
            queue, name throws(BatonError) in (queue, try Self.name(name, setting: "amqp.machineryDispatch"))
        }
        if let text = reader.text("amqp.machineryStates") { machineryStates = try Self.name(text, setting: "amqp.machineryStates") }
        if let text = reader.text("amqp.machineryBackend") {
            guard ["amqp", "redis"].contains(text) else {
                throw .invalidArgument("amqp.machineryBackend is amqp or redis (the Machinery workers' ResultBackend), got '\(text)'")
            }
            machineryBackend = text
        }
        try validate()
    }

    /// Checks that the roles have what they need.
    public func validate() throws(BatonError) {
        if (hasNodeRoles || work != nil) && amqp == nil {
            throw .invalidArgument(
                "amqp.ingest, amqp.dispatch, amqp.machineryDispatch, amqp.results and amqp.work need amqp.url (--amqp-url amqp://USER:PASSWORD@HOST:5672/)"
            )
        }
        try dispatchSettings.validate(prefix: "amqp")
        var queues = Set(ingest + [deadLetter])
        var sent = Set<String>()
        for (setting, items) in [("amqp.dispatch", dispatch), ("amqp.machineryDispatch", machineryDispatch)] {
            for (queue, name) in items {
                guard queues.insert(name).inserted else {
                    throw .invalidArgument(
                        "\(setting) sends queue \(queue) to \(name), which is already an ingest queue, the dead-letter queue or another queue's"
                    )
                }
                guard sent.insert(queue).inserted else {
                    throw .invalidArgument("\(setting) sends queue \(queue), which amqp.dispatch or amqp.machineryDispatch already sends")
                }
            }
        }
        if !machineryDispatch.isEmpty && machineryBackend == "amqp" {
            guard !exchange.isEmpty, ["direct", "topic"].contains(exchangeType) else {
                throw .invalidArgument(
                    "amqp.machineryDispatch needs amqp.exchange, the direct (or topic) exchange Machinery's workers publish their states to (their AMQP.Exchange)"
                )
            }
            guard !queues.contains(machineryStates) else {
                throw .invalidArgument("amqp.machineryStates (\(machineryStates)) is also another queue of the node's; name another queue")
            }
        }
        if ingest.contains(deadLetter) {
            throw .invalidArgument("amqp.deadLetter (\(deadLetter)) is also a queue of amqp.ingest; name another queue")
        }
    }

    /// Whether a node runs any AMQP role.
    public var hasNodeRoles: Bool { !ingest.isEmpty || !dispatch.isEmpty || !machineryDispatch.isEmpty || results }

    /// The node's AMQP services that this configuration asks for; `redis` is the node's Redis
    /// configuration, where Machinery's workers write their states with
    /// `amqp.machineryBackend = redis`.
    public func services(api: NodeAPI, redis: RedisBrokerConfiguration? = nil, logger: Logger) throws(BatonError) -> [any Service] {
        guard hasNodeRoles, let amqp else { return [] }
        var services: [any Service] = []
        var senders: [(queue: String, sender: any WorkSender)] = dispatch.map {
            ($0.queue, AMQPWorkSender(amqp: amqp, queue: $0.amqpQueue, logger: logger))
        }
        // Machinery's workers: the reader of their states and the sender, per backend.
        var reader: (service: any Service, follow: (DispatchWindow?) -> Void)?
        if !machineryDispatch.isEmpty {
            let backend: AMQPMachinerySender.Backend
            if machineryBackend == "redis" {
                guard let redis, let server = redis.redis else {
                    throw .invalidArgument("amqp.machineryBackend=redis needs redis.url (the Machinery workers' ResultBackend)")
                }
                let states = MachineryWorkers(
                    redis: server, api: api, expiry: redis.resultsExpireIn, dispatched: machineryDispatch.map { ($0.queue, $0.amqpQueue) },
                    lease: dispatchSettings.lease, withdraws: false, logger: logger)
                backend = .redis(states, server)
                reader = (states, { window in states.window.withLock { $0 = window } })
            } else {
                let states = AMQPMachineryWorkers(
                    amqp: amqp, api: api, exchange: exchange, exchangeType: exchangeType, statesQueue: machineryStates,
                    lease: dispatchSettings.lease, logger: logger)
                backend = .amqp(states)
                reader = (states, { window in states.window.withLock { $0 = window } })
            }
            senders += machineryDispatch.map {
                (
                    $0.queue,
                    AMQPMachinerySender(
                        amqp: amqp, backend: backend, queue: $0.amqpQueue, exchange: exchange, exchangeType: exchangeType, api: api,
                        logger: logger)
                )
            }
        }
        // The dispatches first: they stop before the others.
        let dispatches = BrokerDispatch.roles(node: api.node, senders: senders, settings: dispatchSettings, logger: logger)
        services += dispatches
        if let reader {
            reader.follow(dispatches.first?.inFlight)
            services.append(reader.service)
        }
        if !ingest.isEmpty { services.append(AMQPIngest(api: api, amqp: amqp, configuration: self, logger: logger)) }
        if results {
            let writer = AMQPStateWriter(amqp: amqp, expiry: resultsExpireIn, logger: logger)
            services.append(MachineryResults(writer: writer, store: api.node.store, events: api.node.events, logger: logger))
        }
        return services
    }

    /// A queue, exchange or key name as AMQP takes it: 1 to 255 bytes, no control character.
    static func name(_ text: String, setting: String) throws(BatonError) -> String {
        let name = text.trimmingCharacters(in: .whitespaces)
        guard !name.isEmpty, name.utf8.count <= 255 else {
            throw .invalidArgument("\(setting): an AMQP name is 1 to 255 bytes, got '\(name.prefix(60))'")
        }
        guard !name.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else {
            throw .invalidArgument("\(setting): an AMQP name has no control characters")
        }
        return name
    }
}
