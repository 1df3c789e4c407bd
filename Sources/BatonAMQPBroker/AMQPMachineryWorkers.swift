import BatonAMQP
import BatonCore
import BatonNIOClient
import BatonNode
import BatonRedis
import BatonRedisBroker
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// Machinery's workers running Baton's tasks over RabbitMQ (`amqp.machineryDispatch
/// QUEUE=AMQPQUEUE`; docs/brokers.md, "Machinery's workers over RabbitMQ"): Go programs built
/// with Machinery whose `Broker` and `ResultBackend` are both this RabbitMQ.
///
/// A ``BrokerDispatch`` with an ``AMQPMachinerySender`` sends each claimed task to the
/// workers' queue as a Machinery signature under the UUID of its attempt
/// (``Machinery/attemptUUID(_:)``, `baton_ID_ATTEMPT`). Machinery's AMQP result backend
/// publishes each state a worker writes to the exchange with the UUID as routing key, into a
/// queue of that name it declares; before sending, the node binds its own queue
/// (`amqp.machineryStates`) to the exchange with the same key, so every state reaches it too.
/// This role consumes that queue and applies what it reads:
///
/// - `SUCCESS`: the task succeeds with the worker's results, `[{"Type", "Value"}]`;
/// - `FAILURE`: the attempt fails with the worker's error; Baton retries it by its policy (the
///   signature's `RetryCount` is 0) under a new UUID;
/// - `RECEIVED`, `STARTED`, `PENDING`, `RETRY` (the worker's own `ErrRetryTaskLater`): the
///   task's lease is extended (by the dispatch lease, or the task's timeout and 5 s) when less
///   than half of that is left.
///
/// Once an attempt ended (or left the worker: cancelled, rescued), its binding is removed and
/// the worker's queue of that UUID deleted, with the copies of the states it kept.
///
/// The states queue outlives the nodes (not RabbitMQ: like the backend's own queues it is not
/// durable, so its bindings cost RabbitMQ no disk write) and is shared: a state is applied by
/// whichever node consumes it, from the store's lease when the node did not send the task
/// itself (another node on PostgreSQL, or this one before a restart); a state that arrives
/// while no node runs waits in the queue. Each state message is acknowledged after the store
/// took it.
public final class AMQPMachineryWorkers: Service, Sendable {
    /// What was done.
    public struct Stats: Sendable, Hashable {
        public var succeeded = 0
        public var failed = 0
        /// Outcomes refused by the store (a stale lease: rescued, cancelled or already applied).
        public var refused = 0
        /// Leases extended on a sign of life.
        public var extended = 0
        /// State messages that were not a Baton attempt's, or whose attempt no longer runs.
        public var ignored = 0
        /// Attempts whose binding and queue were cleaned up.
        public var cleaned = 0
        public init() {}
    }

    struct Entry {
        var lease: LeaseRef
        var uuid: String
        var extendBy: Duration
        /// When the lease runs out, as last set from here.
        var leaseEnds: ContinuousClock.Instant
    }

    /// Unacknowledged state messages the node holds at most.
    static let prefetch: UInt16 = 1000

    let amqp: AMQPConfiguration
    let api: NodeAPI
    /// The exchange the workers publish their states to (their `AMQP.Exchange`) and its type.
    let exchange: String
    let exchangeType: String
    /// The node's queue the states are bound to.
    let statesQueue: String
    let lease: Duration
    let logger: Logger
    private let entries = Mutex<[TaskID: Entry]>([:])
    /// UUIDs whose binding and worker's queue are to be removed.
    private let cleanups = Mutex<Set<String>>([])
    private let counts = Mutex(Stats())
    private let wake = Mutex<AsyncStream<Void>.Continuation?>(nil)
    /// State messages delivered and not yet applied.
    private let inbox = Mutex<[AMQPMessage]>([])
    /// The dispatch window, to extend with the leases.
    let window = Mutex<DispatchWindow?>(nil)

    public init(
        amqp: AMQPConfiguration, api: NodeAPI, exchange: String, exchangeType: String, statesQueue: String, lease: Duration,
        logger: Logger
    ) {
        self.amqp = amqp
        self.api = api
        self.exchange = exchange
        self.exchangeType = exchangeType
        self.statesQueue = statesQueue
        self.lease = lease
        self.logger = logger
    }

    public var stats: Stats { counts.withLock { $0 } }

    /// Declares what both the sender and this role need: the exchange as Machinery declares it,
    /// and the node's states queue (not durable: see the type's notes).
    func declareStates(on connection: AMQPConnection) async throws(AMQPError) {
        try await connection.declareExchange(exchange, type: exchangeType)
        try await connection.declareQueue(statesQueue, durable: false)
    }

    /// Records the tasks about to be sent (their states may come back before the send returns).
    func record(_ sent: [(task: ClaimedTask, uuid: String)]) {
        entries.withLock { e in
            for (item, uuid) in sent {
                e[item.task.id] = Entry(
                    lease: item.lease, uuid: uuid, extendBy: api.machineryLeaseExtension(item.task, lease: lease),
                    leaseEnds: .now + lease - .seconds(1))
            }
        }
    }

    /// Forgets tasks that were not sent after all, and unbinds their UUIDs.
    func forget(_ tasks: [ClaimedTask]) {
        let uuids = entries.withLock { e in
            tasks.compactMap { task -> String? in
                guard let entry = e[task.task.id], entry.lease == task.lease else { return nil }
                e[task.task.id] = nil
                return entry.uuid
            }
        }
        cleanUpLater(uuids)
    }

    private func cleanUpLater(_ uuids: some Collection<String>) {
        guard !uuids.isEmpty else { return }
        cleanups.withLock { $0.formUnion(uuids) }
        _ = wake.withLock { $0?.yield() }
    }

    /// From the emitter's thread: a task sent from here that moved other than through its
    /// worker (cancelled, rescued, retried by an operator) is forgotten, its UUID cleaned up.
    func note(_ batch: [NodeEvent]) {
        let ended = entries.withLock { e in
            batch.compactMap { event -> String? in
                guard case .transitioned(let move) = event, move.to != .running, let entry = e[move.id] else { return nil }
                if let attempt = move.attempt, let sent = Machinery.attempt(ofUUID: entry.uuid), attempt < sent.attempt { return nil }
                e[move.id] = nil
                return entry.uuid
            }
        }
        cleanUpLater(ended)
    }

    public func run() async throws {
        let listening = api.node.events.listen { [weak self] batch in self?.note(batch) }
        defer { listening.cancel() }
        logger.info(
            "Machinery workers over RabbitMQ: reading their states",
            metadata: ["amqp": "\(amqp)", "exchange": "\(exchange)", "states": "\(statesQueue)"])
        var pause = GrowingPause(from: .milliseconds(200))
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            var connection: AMQPConnection?
            do {
                let open = try await AMQPConnection.connect(amqp)
                connection = open
                try await declareStates(on: open)
                try await open.qos(prefetchCount: Self.prefetch)
                let deliveries = try await open.consume(statesQueue)
                pause.reset()
                try await cancelWhenGracefulShutdown { try await self.serve(deliveries, on: open) }
            } catch {
                if Task.isShuttingDownGracefully || Task.isCancelled { break }
                logger.warning(
                    "could not read Machinery workers' states from RabbitMQ; trying again",
                    metadata: ["queue": "\(statesQueue)", "error": "\((error as? AMQPError)?.message ?? "\(error)")"])
                await connection?.close()
                try? await Task.sleep(for: pause.next())
                continue
            }
            await connection?.close()
        }
        let s = stats
        logger.info(
            "Machinery workers over RabbitMQ: stopped",
            metadata: ["succeeded": "\(s.succeeded)", "failed": "\(s.failed)", "refused": "\(s.refused)", "ignored": "\(s.ignored)"])
    }

    /// Applies the states delivered, in batches (what came while the last batch was applied);
    /// cleans up ended attempts between batches. Returns on cancellation; throws when the
    /// connection or the store fails (unacknowledged states are delivered again).
    private func serve(_ deliveries: AsyncThrowingStream<AMQPMessage, any Error>, on connection: AMQPConnection) async throws {
        inbox.withLock { $0 = [] }
        let (signals, signal) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        wake.withLock { $0 = signal }
        defer { wake.withLock { $0 = nil } }
        signal.yield()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                defer { signal.finish() }
                for try await message in deliveries {
                    self.inbox.withLock { $0.append(message) }
                    signal.yield()
                }
            }
            for await _ in signals {
                let batch = inbox.withLock { taken in
                    defer { taken = [] }
                    return taken
                }
                if !batch.isEmpty {
                    try await apply(batch)
                    try await connection.ack(batch[batch.count - 1].deliveryTag, multiple: true)
                }
                try await cleanUp(on: connection)
            }
            try await group.waitForAll()
        }
    }

    /// What a batch of state messages says of each attempt: its final state if one came,
    /// otherwise its latest.
    private func reports(_ batch: [AMQPMessage]) -> [(uuid: String, id: TaskID, attempt: Int, report: Machinery.WorkerReport)] {
        var order: [String] = []
        var latest: [String: (id: TaskID, attempt: Int, report: Machinery.WorkerReport)] = [:]
        var ignored = 0
        for message in batch {
            let uuid = message.routingKey
            guard let (id, attempt) = Machinery.attempt(ofUUID: uuid), let text = message.text,
                let report = Machinery.workerReport(text, uuid: uuid)
            else {
                ignored += 1
                continue
            }
            if let seen = latest[uuid] {
                if case .running = seen.report { latest[uuid] = (id, attempt, report) }
            } else {
                order.append(uuid)
                latest[uuid] = (id, attempt, report)
            }
        }
        if ignored > 0 { counts.withLock { $0.ignored += ignored } }
        return order.map { (uuid: $0, id: latest[$0]!.id, attempt: latest[$0]!.attempt, report: latest[$0]!.report) }
    }

    /// Applies a batch of states; throws when the store did not take them.
    private func apply(_ batch: [AMQPMessage]) async throws {
        var acks: [TaskAck] = []
        var alive: [(lease: LeaseRef, by: Duration, uuid: String)] = []
        var ended: [String] = []
        let now = ContinuousClock.now
        for item in reports(batch) {
            guard let (lease, extendBy, leaseEnds) = try await held(item.id, attempt: item.attempt, uuid: item.uuid) else {
                counts.withLock { $0.ignored += 1 }
                ended.append(item.uuid)
                continue
            }
            switch item.report {
            case .succeeded(let results):
                acks.append(.complete(TaskCompletion(lease: lease, result: results)))
                ended.append(item.uuid)
            case .failed(let message):
                acks.append(.fail(TaskFailure(lease: lease, message: message, retryable: true)))
                ended.append(item.uuid)
            case .running:
                // A lease with more than half of an extension left is not written again: a task
                // that starts soon after it was sent costs no store write for its signs of life.
                if let leaseEnds, leaseEnds - now > extendBy / 2 { continue }
                alive.append((lease, extendBy, item.uuid))
            }
        }
        if !acks.isEmpty {
            guard let outcomes = await api.applyMachineryOutcomes(acks, logger: logger) else {
                throw BatonError(.unavailable, "the store did not take the Machinery workers' results")
            }
            entries.withLock { e in for ack in acks where e[ack.lease.id]?.lease == ack.lease { e[ack.lease.id] = nil } }
            counts.withLock { s in
                let tally = MachineryTally(outcomes)
                s.succeeded += tally.succeeded
                s.failed += tally.failed
                s.refused += tally.refused
            }
        }
        if !alive.isEmpty {
            let answered = await api.extendMachineryLeases(alive.map { ($0.lease, $0.by) }, logger: logger)
            var extended: [(TaskID, Duration)] = []
            for item in alive {
                guard let done = answered[item.lease] else { continue }
                if done {
                    extended.append((item.lease.id, item.by))
                    entries.withLock { e in if e[item.lease.id]?.lease == item.lease { e[item.lease.id]!.leaseEnds = now + item.by } }
                } else {
                    entries.withLock { e in if e[item.lease.id]?.lease == item.lease { e[item.lease.id] = nil } }
                    ended.append(item.uuid)
                }
            }
            counts.withLock { $0.extended += extended.count }
            if let window = window.withLock({ $0 }) {
                for (by, items) in Dictionary(grouping: extended, by: \.1) { window.extend(items.map(\.0), by: by) }
            }
        }
        cleanUpLater(ended)
    }

    /// The lease under which attempt `attempt` of task `id` runs on a Machinery worker, how
    /// long a sign of life extends it, and when it ends (`nil`: not known here): from what this
    /// node sent, else from the store; `nil` when that attempt no longer runs.
    private func held(_ id: TaskID, attempt: Int, uuid: String) async throws -> (LeaseRef, Duration, ContinuousClock.Instant?)? {
        if let entry = entries.withLock({ $0[id] }), entry.uuid == uuid { return (entry.lease, entry.extendBy, entry.leaseEnds) }
        guard let held = try await api.node.store.taskGetWithLease(id) else { return nil }
        guard held.task.state == .running, held.task.attempt == attempt, let token = held.leaseToken,
            held.task.leaseOwner?.hasPrefix("\(Machinery.workersBroker):") == true
        else { return nil }
        return (LeaseRef(id: id, token: token), api.machineryLeaseExtension(held.task, lease: lease), nil)
    }

    /// Unbinds the UUIDs of ended attempts from the states queue and deletes the queues the
    /// workers declared under them (with the copies of the states they kept).
    private func cleanUp(on connection: AMQPConnection) async throws(AMQPError) {
        let uuids = cleanups.withLock { taken in
            defer { taken = [] }
            return taken
        }
        guard !uuids.isEmpty else { return }
        let exchange = self.exchange
        let statesQueue = self.statesQueue
        let failures = await connection.atOnce(Array(uuids)) { uuid throws(AMQPError) in
            try await connection.unbindQueue(statesQueue, exchange: exchange, routingKey: uuid)
            try await connection.deleteQueue(uuid)
        }
        if let (_, failure) = failures.first {
            cleanups.withLock { $0.formUnion(uuids) }
            throw failure
        }
        counts.withLock { $0.cleaned += uuids.count }
    }
}

/// The sender of Machinery's workers over RabbitMQ: each claimed task's signature published,
/// persistent and confirmed by the server, to the workers' queue through the default
/// exchange. Where the workers write their states decides the rest:
///
/// - Machinery's AMQP result backend (``AMQPMachineryWorkers``): the signature goes under its
///   attempt's UUID, after the node's states queue was bound to the exchange with it;
/// - Machinery's Redis result backend (`amqp.machineryBackend = redis`; `MachineryWorkers` of
///   `BatonRedisBroker` reads it): the signature goes under the task's UUID, after its `PENDING`
///   state was written to Redis, as for the workers of a Redis broker.
actor AMQPMachinerySender: WorkSender {
    /// Where the workers' states are read.
    enum Backend {
        case amqp(AMQPMachineryWorkers)
        case redis(MachineryWorkers, RedisConfiguration)
    }

    nonisolated let broker = Machinery.workersBroker
    nonisolated let address: String
    let amqp: AMQPConfiguration
    let backend: Backend
    /// The queue Machinery's workers consume (their `DefaultQueue`), and the exchange it is
    /// bound to with its own name.
    let queue: String
    let exchange: String
    let exchangeType: String
    let api: NodeAPI
    let logger: Logger
    private var connection: AMQPConnection?
    private let redisConnection = ConnectionSlot<RedisConnection>()

    /// As Machinery's producers publish a signature: persistent JSON.
    static let properties = AMQPProperties(contentType: "application/json", deliveryMode: 2)

    init(
        amqp: AMQPConfiguration, backend: Backend, queue: String, exchange: String, exchangeType: String, api: NodeAPI,
        logger: Logger
    ) {
        self.amqp = amqp
        self.backend = backend
        self.queue = queue
        self.exchange = exchange
        self.exchangeType = exchangeType
        self.api = api
        self.logger = logger
        let results =
            switch backend {
            case .amqp: "states through RabbitMQ"
            case .redis(_, let redis): "states in Redis at \(redis.address)"
            }
        address = "RabbitMQ queue \(queue) at \(amqp.address) (Machinery workers, \(results))"
    }

    func prepare() async throws {
        _ = try await connected()
        if case .redis(_, let redis) = backend {
            _ = try await redisConnection.get { () async throws(RedisError) in try await RedisConnection.connect(redis) }
        }
    }

    func send(_ claimed: [ClaimedTask]) async -> WorkSendOutcome {
        guard !claimed.isEmpty else { return WorkSendOutcome() }
        // The signatures, and what must be done before they go.
        let ready: [(task: ClaimedTask, uuid: String, signature: String)]
        var refused: [(task: ClaimedTask, reason: String)] = []
        var unsent: [ClaimedTask] = []
        var pending: [[RedisArgument]] = []
        switch backend {
        case .amqp:
            var signed: [(task: ClaimedTask, uuid: String, signature: String)] = []
            for item in claimed {
                let uuid = Machinery.attemptUUID(item.task)
                do {
                    signed.append((item, uuid, try await api.machinerySignature(item.task, routingKey: queue, uuid: uuid)))
                } catch let error as BatonError where error.code == .invalidArgument {
                    refused.append((item, "cannot be sent to a Machinery worker: \(error.message)"))
                } catch {
                    // The store did not answer (a parent's result): not sent this time.
                    logger.warning(
                        "could not read a task's parents for Machinery", metadata: ["task_id": "\(item.task.id)", "error": "\(error)"])
                    unsent.append(item)
                }
            }
            ready = signed
        case .redis(let reader, _):
            let prepared = await reader.commands(for: claimed, key: queue, push: false)
            ready = prepared.sent.map { ($0.task, Machinery.workerUUID($0.task.task), $0.signature) }
            refused = prepared.refused
            unsent = prepared.unsent
            pending = prepared.commands
        }
        guard !ready.isEmpty else { return WorkSendOutcome(unsent: unsent, refused: refused) }
        let amqp: AMQPConnection
        do {
            amqp = try await connected()
            if case .redis(_, let redis) = backend {
                // PENDING at each task's UUID first, as Machinery's SendTask writes it.
                let replies = try await redisConnection.get { () async throws(RedisError) in try await RedisConnection.connect(redis) }
                    .sendAll(pending)
                if case .error(let message)? = replies.first(where: { if case .error = $0 { true } else { false } }) {
                    throw RedisError(.server, message)
                }
            }
        } catch {
            logger.warning(
                "could not reach RabbitMQ or the result backend; the tasks go back to ready",
                metadata: ["queue": "\(queue)", "count": "\(ready.count)", "error": "\(error)"])
            await redisConnection.drop()
            forget(ready.map(\.task))
            return WorkSendOutcome(unsent: ready.map(\.task) + unsent, refused: refused)
        }
        if case .amqp(let workers) = backend { workers.record(ready.map { ($0.task, $0.uuid) }) }
        let (queue, exchange) = (self.queue, self.exchange)
        let states: String? = if case .amqp(let workers) = backend { workers.statesQueue } else { nil }
        let failures = await amqp.atOnce(ready) { item throws(AMQPError) in
            if let states { try await amqp.bindQueue(states, exchange: exchange, routingKey: item.uuid) }
            try await amqp.publish(Array(item.signature.utf8), exchange: "", routingKey: queue, properties: Self.properties)
        }.map { ($0.0.task, $0.1) }
        guard let first = failures.first else { return WorkSendOutcome(unsent: unsent, refused: refused) }
        logger.warning(
            "RabbitMQ did not take some Machinery signatures; their tasks go back to ready",
            metadata: ["queue": "\(queue)", "count": "\(failures.count)", "error": "\(first.1.message)"])
        await connection?.close()
        connection = nil
        forget(failures.map(\.0))
        return WorkSendOutcome(unsent: failures.map(\.0) + unsent, refused: refused)
    }

    /// The reader of the states forgets tasks that were not sent after all.
    private func forget(_ tasks: [ClaimedTask]) {
        switch backend {
        case .amqp(let workers): workers.forget(tasks)
        case .redis(let reader, _): reader.forget(tasks)
        }
    }

    /// The open connection, or a new one with confirms on, the exchange, the workers' queue
    /// (durable, as they declare it; also bound with its own name, where a worker's
    /// `ErrRetryTaskLater` sends the signature back) and the states queue declared.
    private func connected() async throws(AMQPError) -> AMQPConnection {
        if let connection, connection.isActive { return connection }
        let (backend, queue, exchange, exchangeType) = (self.backend, self.queue, self.exchange, self.exchangeType)
        let (fresh, _) = try await AMQPConnection.connect(amqp) { fresh throws(AMQPError) in
            try await fresh.enableConfirms()
            if case .amqp(let workers) = backend {
                try await workers.declareStates(on: fresh)
            } else if !exchange.isEmpty {
                try await fresh.declareExchange(exchange, type: exchangeType)
            }
            try await fresh.declareQueue(queue)
            if !exchange.isEmpty { try await fresh.bindQueue(queue, exchange: exchange, routingKey: queue) }
        }
        connection = fresh
        return fresh
    }
}
