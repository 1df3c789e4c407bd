import BatonCore
import BatonNode
import BatonRedis
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// Machinery's workers running Baton's tasks (`redis.machineryDispatch QUEUE=KEY`;
/// docs/brokers.md, "Machinery workers"). A ``BrokerDispatch`` with a
/// ``RedisWorkSender`` in Machinery's format sends each claimed task to the Redis list a
/// Machinery worker pops (its `DefaultQueue`, `machinery_tasks` unless set) as a signature
/// (``Machinery/workerSignature(_:args:routingKey:uuid:)``), after writing its `PENDING` state at
/// its UUID as Machinery's `SendTask` does; this role reads the states the workers write to
/// Machinery's Redis result backend (the same Redis) and applies them to the store:
///
/// - `SUCCESS`: the task succeeds with the worker's results, `[{"Type", "Value"}]`;
/// - `FAILURE`: the attempt fails with the worker's error; Baton retries it by its policy (the
///   signature's `RetryCount` is 0: Baton counts the attempts) and sends it again. A failure
///   Baton retries is rewritten as `RETRY` (unless the value changed since it was read), so a
///   Machinery producer reading the result backend waits for the next attempt, as when
///   Machinery's own worker retries;
/// - `RECEIVED`, `STARTED`, `RETRY` (the worker's own `ErrRetryTaskLater`): each change
///   extends the task's lease by the dispatch lease (or the task's timeout, when longer), so a
///   task waits in the list and then runs for that long each; a worker gives no other sign.
///
/// A worker that dies holding a message (Machinery's Redis broker has no acknowledgement) loses
/// it; the task's lease runs out, the rescuer counts the attempt and it is sent again.
///
/// What was sent is kept in memory; at start the role takes up again the tasks a Machinery
/// worker holds in the store (`running` with the lease owner `machinery:QUEUE`), so that after a
/// node's restart (even a SIGKILL) their workers' states are read as before: a task that
/// finished while the node was down is applied at the first read instead of running again
/// when its lease ends. On PostgreSQL with several nodes dispatching one queue, a node that
/// starts also reads the states of the tasks the others sent; each result is applied once
/// (the store refuses the second).
public final class MachineryWorkers: Service, Sendable {
    /// How often the states of the tasks in flight are read: soon after a read that found
    /// some changed, then less and less often while none change, down to every 50 ms.
    public static let pollIntervals: ClosedRange<Duration> = .milliseconds(2)...(.milliseconds(50))
    /// Most keys read in one `MGET`.
    static let readBatch = 500
    /// The broker name in claims: a task's `lease_owner` is `machinery:QUEUE` while a
    /// Machinery worker has it.
    public static let broker = Machinery.workersBroker

    struct Entry {
        var lease: LeaseRef
        /// The attempt sent (an event of an earlier one, emitted late, leaves it alone).
        var attempt: Int
        var uuid: String
        /// The list and the message sent, to take it out if the task is cancelled first.
        var key: String
        var message: String
        /// The state last read (`PENDING`: the one written with the message).
        var seen: String
        /// The value last read at the UUID (first, the `PENDING` written with the message): an
        /// unchanged one is not parsed again.
        var lastValue: [UInt8]?
        /// How long each sign of life extends the lease.
        var extendBy: Duration
        /// Forgotten after this (no state came; the lease ran out and the task was rescued).
        var until: ContinuousClock.Instant
    }

    /// What was done.
    public struct Stats: Sendable, Hashable {
        public var succeeded = 0
        public var failed = 0
        /// Results refused by the store (a stale lease: rescued, cancelled or already applied).
        public var refused = 0
        /// Leases extended on a state change.
        public var extended = 0
        /// Messages of cancelled tasks taken out of their lists before a worker took them.
        public var withdrawn = 0
        /// Failures Baton retries, rewritten as `RETRY` for Machinery's producers.
        public var markedRetry = 0
        public init() {}
    }

    let redis: RedisConfiguration
    let api: NodeAPI
    let expiry: Duration
    /// Baton queue → the list its tasks are sent to, and the dispatch lease: what ``adopt()``
    /// takes up again at start.
    let dispatched: [(queue: String, key: String)]
    let lease: Duration
    /// Whether the signatures wait in Redis lists (``RedisWorkSender``), from which a cancelled
    /// task's is taken out; `false` when another broker carries them (RabbitMQ).
    let withdraws: Bool
    let logger: Logger
    private let entries = Mutex<[TaskID: Entry]>([:])
    /// Messages of tasks cancelled while in flight, to take out of their lists.
    private let withdrawals = Mutex<[(key: String, message: String)]>([])
    private let counts = Mutex(Stats())
    /// The dispatch window, to extend with the leases (set by ``RedisBrokerConfiguration``).
    public let window = Mutex<DispatchWindow?>(nil)
    private let stop = StopFlag()

    public init(
        redis: RedisConfiguration, api: NodeAPI, expiry: Duration, dispatched: [(queue: String, key: String)], lease: Duration,
        withdraws: Bool = true, logger: Logger
    ) {
        self.redis = redis
        self.api = api
        self.expiry = expiry
        self.dispatched = dispatched
        self.lease = lease
        self.withdraws = withdraws
        self.logger = logger
    }

    public var stats: Stats { counts.withLock { $0 } }

    /// The commands that send `claimed` to the list `key` (a `SET` of each task's `PENDING`
    /// state, then one `RPUSH`; without `push`, the `SET`s only, for a sender that carries the
    /// signatures itself), the tasks with their signatures, the tasks refused with why, and
    /// those not sent this time (a parent's result could not be read). Records what was sent.
    public func commands(for claimed: [ClaimedTask], key: String, push pushing: Bool = true) async -> (
        commands: [[RedisArgument]], sent: [(task: ClaimedTask, signature: String)], refused: [(task: ClaimedTask, reason: String)],
        unsent: [ClaimedTask]
    ) {
        var commands: [[RedisArgument]] = []
        var push: [RedisArgument] = ["RPUSH", RedisArgument(key)]
        var sent: [(task: ClaimedTask, signature: String)] = []
        var refused: [(task: ClaimedTask, reason: String)] = []
        var unsent: [ClaimedTask] = []
        var recorded: [(TaskID, Entry)] = []
        let now = Date()
        let millis = RedisArgument(expiry.inMilliseconds)
        for item in claimed {
            let task = item.task
            do {
                let signature = try await signature(task, key: key)
                let uuid = Machinery.workerUUID(task)
                let pending = Array(Machinery.pendingState(uuid: uuid, task: task, at: now).utf8)
                commands.append(["SET", RedisArgument(uuid), RedisArgument(bytes: pending), "PX", millis])
                push.append(RedisArgument(signature))
                sent.append((item, signature))
                recorded.append((task.id, entry(item, key: key, message: signature, lastValue: pending)))
            } catch let error as BatonError where error.code == .invalidArgument {
                refused.append((item, "cannot be sent to a Machinery worker: \(error.message)"))
            } catch {
                // The store did not answer (a parent's result): not sent this time.
                logger.warning("could not read a task's parents for Machinery", metadata: ["task_id": "\(task.id)", "error": "\(error)"])
                unsent.append(item)
            }
        }
        if pushing && !sent.isEmpty { commands.append(push) }
        entries.withLock { e in for (id, entry) in recorded { e[id] = entry } }
        return (commands, sent, refused, unsent)
    }

    /// What is kept of a task sent to `key` as `message`, its state last read `lastValue`.
    private func entry(_ item: ClaimedTask, key: String, message: String, lastValue: [UInt8]?) -> Entry {
        let task = item.task
        return Entry(
            lease: item.lease, attempt: task.attempt, uuid: Machinery.workerUUID(task), key: withdraws ? key : "",
            message: withdraws ? message : "", seen: "PENDING",
            lastValue: lastValue, extendBy: api.machineryLeaseExtension(task, lease: lease),
            until: .now + lease + .seconds(5))
    }

    /// The signature of `task` for the list `key`.
    private func signature(_ task: TaskRecord, key: String) async throws -> String {
        try await api.machinerySignature(task, routingKey: key)
    }

    /// Takes up again the tasks Machinery's workers hold in the store (sent before this node
    /// started): each is read as if just sent, and counts in the dispatch window. Returns how
    /// many.
    func adopt() async throws -> Int {
        let store = api.node.store
        var adopted: [(queue: String, entry: Entry)] = []
        for (queue, key) in dispatched {
            let owner = "\(Self.broker):\(queue)"
            var cursor: String?
            repeat {
                let page = try await store.taskList(
                    TaskListParams(states: [.running], queue: queue, limit: TaskListParams.maxLimit, cursor: cursor))
                cursor = page.nextCursor
                for task in page.tasks where task.leaseOwner == owner {
                    guard let held = try await store.taskGetWithLease(task.id), held.task.state == .running,
                        held.task.leaseOwner == owner, let token = held.leaseToken
                    else { continue }
                    let item = ClaimedTask(task: held.task, leaseToken: token)
                    // The message as it was sent, to take it out of the list if the task is
                    // cancelled before a worker takes it.
                    let message = withdraws ? (try? await signature(held.task, key: key)) ?? "" : ""
                    adopted.append((queue, entry(item, key: key, message: message, lastValue: nil)))
                }
            } while cursor != nil
        }
        entries.withLock { e in for (_, entry) in adopted where e[entry.lease.id] == nil { e[entry.lease.id] = entry } }
        if let window = window.withLock({ $0 }) {
            for (queue, items) in Dictionary(grouping: adopted, by: \.queue) {
                window.add(items.map(\.entry.lease), queue: queue, for: lease)
            }
        }
        return adopted.count
    }

    /// Forgets tasks that were not sent after all.
    public func forget(_ tasks: [ClaimedTask]) {
        entries.withLock { e in for task in tasks where e[task.task.id]?.lease == task.lease { e[task.task.id] = nil } }
    }

    /// From the emitter's thread: a task in flight that moved other than through a worker's
    /// report (cancelled, rescued, retried by an operator) leaves; a cancelled one's message
    /// is taken out of its list at the next poll, if no worker took it yet.
    func note(_ batch: [NodeEvent]) {
        var cancelled: [(key: String, message: String)] = []
        entries.withLock { e in
            for event in batch {
                guard case .transitioned(let move) = event, move.to != .running, let entry = e[move.id],
                    (move.attempt ?? entry.attempt) >= entry.attempt
                else { continue }
                e[move.id] = nil
                if move.to == .cancelled && !entry.message.isEmpty { cancelled.append((entry.key, entry.message)) }
            }
        }
        if !cancelled.isEmpty { withdrawals.withLock { $0 += cancelled } }
    }

    public func run() async throws {
        let listening = api.node.events.listen { [weak self] batch in self?.note(batch) }
        defer { listening.cancel() }
        logger.info("Machinery workers' results: reading", metadata: ["redis": "\(redis)"])
        var connection: RedisConnection?
        var interval = Self.pollIntervals.upperBound
        var pause = GrowingPause(from: Self.pollIntervals.upperBound)
        var adopted = false
        await stop.run {
            while !self.stop.isSet {
                do {
                    if !adopted {
                        let count = try await self.adopt()
                        adopted = true
                        if count > 0 {
                            self.logger.info(
                                "Machinery workers' results: reading those of tasks sent before this start",
                                metadata: ["tasks": "\(count)"])
                        }
                    }
                    let changed = try await self.poll(&connection)
                    pause.reset()
                    interval = changed ? Self.pollIntervals.lowerBound : min(interval * 2, Self.pollIntervals.upperBound)
                    try? await Task.sleep(for: interval)
                } catch {
                    self.logger.warning(
                        "could not read Machinery workers' states; trying again",
                        metadata: ["redis": "\(self.redis)", "error": "\(error)"])
                    await connection?.close()
                    connection = nil
                    try? await Task.sleep(for: pause.next())
                }
            }
        }
        await connection?.close()
        let s = stats
        logger.info(
            "Machinery workers' results: stopped",
            metadata: ["succeeded": "\(s.succeeded)", "failed": "\(s.failed)", "refused": "\(s.refused)"])
    }

    /// Reads the states of the tasks in flight and applies those that ended or changed; returns
    /// whether any had.
    func poll(_ connection: inout RedisConnection?) async throws -> Bool {
        let withdrawn = withdrawals.withLock { w in
            defer { w = [] }
            return w
        }
        if !withdrawn.isEmpty {
            let open = try await RedisConnection.reusing(&connection, redis)
            do {
                let replies = try await open.sendAll(withdrawn.map { ["LREM", RedisArgument($0.key), 1, RedisArgument($0.message)] })
                counts.withLock { $0.withdrawn += replies.reduce(0) { $0 + Int($1.int ?? 0) } }
            } catch {
                withdrawals.withLock { $0 += withdrawn }
                throw error
            }
        }
        let now = ContinuousClock.now
        let current = entries.withLock { e -> [(TaskID, Entry)] in
            e = e.filter { $0.value.until > now }
            return Array(e)
        }
        guard !current.isEmpty else { return false }
        let open = try await RedisConnection.reusing(&connection, redis)
        var changed = false
        for start in stride(from: 0, to: current.count, by: Self.readBatch) {
            let chunk = Array(current[start..<min(start + Self.readBatch, current.count)])
            let reply = try await open.command(["MGET"] + chunk.map { RedisArgument($0.1.uuid) })
            let values = reply.array ?? []
            var acks: [TaskAck] = []
            // The FAILURE values read, to turn into RETRY for the attempts Baton retries.
            var failures: [LeaseRef: (uuid: String, value: [UInt8])] = [:]
            var alive: [(LeaseRef, Duration, String)] = []
            var read: [(TaskID, LeaseRef, [UInt8])] = []
            for ((id, entry), value) in zip(chunk, values) {
                guard case .bulkString(let bytes?) = value, bytes != entry.lastValue else { continue }
                // A value that asks nothing more (unreadable, or the state already seen) is
                // remembered; one acted on is read again until the action took.
                guard let report = Machinery.workerReport(String(decoding: bytes, as: UTF8.self), uuid: entry.uuid) else {
                    read.append((id, entry.lease, bytes))
                    continue
                }
                switch report {
                case .succeeded(let results):
                    acks.append(.complete(TaskCompletion(lease: entry.lease, result: results)))
                case .failed(let message):
                    acks.append(.fail(TaskFailure(lease: entry.lease, message: message, retryable: true)))
                    failures[entry.lease] = (entry.uuid, bytes)
                case .running(let state) where state != entry.seen:
                    alive.append((entry.lease, entry.extendBy, state))
                case .running:
                    read.append((id, entry.lease, bytes))
                }
            }
            entries.withLock { e in for (id, lease, bytes) in read where e[id]?.lease == lease { e[id]!.lastValue = bytes } }
            changed = changed || !acks.isEmpty || !alive.isEmpty
            let retried = await apply(acks)
            await markRetrying(retried.compactMap { failures[$0] }, on: open)
            await extend(alive)
        }
        return changed
    }

    /// Applies the workers' outcomes (``NodeAPI/applyMachineryOutcomes(_:logger:)``); the tasks
    /// leave the entries whether applied or refused. Returns the leases of the failures applied
    /// as retries.
    private func apply(_ acks: [TaskAck]) async -> [LeaseRef] {
        guard !acks.isEmpty, let outcomes = await api.applyMachineryOutcomes(acks, logger: logger) else { return [] }
        entries.withLock { e in for ack in acks where e[ack.lease.id]?.lease == ack.lease { e[ack.lease.id] = nil } }
        counts.withLock { s in
            let tally = MachineryTally(outcomes)
            s.succeeded += tally.succeeded
            s.failed += tally.failed
            s.refused += tally.refused
        }
        return zip(acks, outcomes).compactMap { ack, outcome in
            if case .fail = ack, outcome == .applied(.pending) { ack.lease } else { nil }
        }
    }

    /// Replaces each of these `FAILURE` values with its `RETRY` (``Machinery/retryState(ofFailure:)``)
    /// if it is still the value at its UUID: the next attempt's states are never overwritten.
    /// A failed write is logged; the next attempt's `PENDING` replaces the value anyway.
    private func markRetrying(_ failures: [(uuid: String, value: [UInt8])], on redis: RedisConnection) async {
        let millis = RedisArgument(expiry.inMilliseconds)
        let commands = failures.compactMap { failure -> [RedisArgument]? in
            guard let retry = Machinery.retryState(ofFailure: String(decoding: failure.value, as: UTF8.self)) else { return nil }
            return [
                "EVAL", RedisArgument(Self.replaceScript), 1, RedisArgument(failure.uuid), RedisArgument(bytes: failure.value),
                RedisArgument(retry), millis,
            ]
        }
        guard !commands.isEmpty else { return }
        do {
            let replies = try await redis.sendAll(commands)
            if case .error(let message)? = replies.first(where: { if case .error = $0 { true } else { false } }) {
                throw RedisError(.server, message)
            }
            counts.withLock { $0.markedRetry += replies.count { $0.string == "OK" } }
        } catch {
            logger.warning(
                "could not write RETRY for Machinery tasks Baton retries", metadata: ["count": "\(commands.count)", "error": "\(error)"])
        }
    }

    /// `SET KEYS[1] ARGV[2] PX ARGV[3]` only while its value is `ARGV[1]`.
    static let replaceScript =
        "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) end return false"

    /// Extends the leases of tasks whose state changed (the worker took or started them).
    private func extend(_ alive: [(lease: LeaseRef, by: Duration, state: String)]) async {
        guard !alive.isEmpty else { return }
        let answered = await api.extendMachineryLeases(alive.map { ($0.lease, $0.by) }, logger: logger)
        var extended: [(TaskID, Duration)] = []
        entries.withLock { e in
            for item in alive where e[item.lease.id]?.lease == item.lease {
                guard let done = answered[item.lease] else { continue }
                guard done else {
                    // Cancelled, rescued or gone: what the worker writes now is not applied.
                    e[item.lease.id] = nil
                    continue
                }
                e[item.lease.id]!.seen = item.state
                e[item.lease.id]!.until = .now + item.by + .seconds(5)
                extended.append((item.lease.id, item.by))
            }
        }
        counts.withLock { $0.extended += extended.count }
        if let window = window.withLock({ $0 }) {
            for (by, items) in Dictionary(grouping: extended, by: \.1) { window.extend(items.map(\.0), by: by) }
        }
    }
}
