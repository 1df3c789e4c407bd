import BatonCore
import BatonNode
import BatonRedis
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// Machinery's Redis result backend, kept by the node: the state of each task that came as a
/// Machinery signature is written where Machinery's `AsyncResult` reads it — a string at the
/// key of the signature's UUID holding its `TaskState` JSON (``MachineryTaskState``:
/// `STARTED`, `RETRY`, `SUCCESS` with `Results`, `FAILURE` with `Error`), expiring after
/// ``expiry`` (Machinery's `ResultsExpireIn`, one hour by default). A Machinery producer whose
/// `ResultBackend` is that Redis then gets its results from `Get()`, as with Machinery's workers.
///
/// What is written, and by which node: the node follows its own events. A task of a workflow
/// that this node stored or claimed is *watched*; its record is read when it is claimed or
/// moves (an ack, a failure, a cancel, a rescue by this node), and written when its Machinery
/// state changed. A watched task still running is read again every ``recheckInterval``, which
/// covers what other nodes did to it (a rescue by the leader, an ack through another node). A
/// task is a Machinery task when its node name is its Machinery UUID (``Machinery/taskID(_:)``
/// names its id); others are dropped at their first read. `PENDING` is not written: Machinery's
/// producer writes it when it sends (Baton writes it only for a watched task that moves back
/// to it, such as an operator retry).
///
/// Not written: the states of tasks this node never stored or claimed and that no event of this
/// node names (a dependent cancelled by its parent's failure, until something claims or reads
/// it), and group metadata (Baton runs chords itself; Machinery's producer writes its own).
public final class MachineryResults: Service, Sendable {
    public static let defaultExpiry: Duration = .seconds(3600)
    /// How often moved tasks are read and written at most.
    public static let flushInterval: Duration = .milliseconds(20)
    /// How often the watched tasks still running are read again.
    public static let recheckInterval: Duration = .seconds(2)
    /// Tasks watched at most; beyond, new ones are not watched (counted in ``Stats/unwatched``).
    public static let maxWatched = 200_000

    /// Counts of what was done.
    public struct Stats: Sendable, Hashable {
        /// States written to Redis.
        public var written = 0
        /// Tasks read that were not Machinery tasks.
        public var skipped = 0
        /// Tasks not watched because ``MachineryResults/maxWatched`` were.
        public var unwatched = 0
        /// Writes that failed (tried again).
        public var failed = 0
        public init() {}
    }

    private struct State {
        /// Watched tasks and the Machinery state last written (nil: none yet).
        var watched: [TaskID: String?] = [:]
        /// Watched tasks to read at the next flush.
        var dirty: Set<TaskID> = []
        var stats = Stats()
    }

    public let expiry: Duration
    let redis: RedisConfiguration
    let store: any NodeStore
    let events: NodeEvents
    let logger: Logger
    private let state = Mutex(State())
    private let stopped = Atomic<Bool>(false)

    public init(
        redis: RedisConfiguration, store: any NodeStore, events: NodeEvents, expiry: Duration = defaultExpiry,
        logger: Logger = Logger(label: "baton.redis.results")
    ) {
        self.redis = redis
        self.store = store
        self.events = events
        self.expiry = expiry
        self.logger = logger
    }

    public var stats: Stats { state.withLock { $0.stats } }

    /// Follows the node's events and writes until graceful shutdown or cancellation; what moved
    /// before it returns is written first (when Redis answers).
    public func run() async throws {
        let listening = events.listen { [weak self] batch in self?.note(batch) }
        defer { listening.cancel() }
        logger.info("Machinery result backend started", metadata: ["redis": "\(redis)", "expiry_s": "\(expiry.components.seconds)"])
        var connection: RedisConnection?
        var pause = Duration.milliseconds(100)
        var lastRecheck = ContinuousClock.now
        await withGracefulShutdownHandler {
            await withTaskCancellationHandler {
                while !self.stopped.load(ordering: .relaxed) {
                    if ContinuousClock.now - lastRecheck >= Self.recheckInterval {
                        lastRecheck = .now
                        self.markRunningDirty()
                    }
                    do {
                        if try await self.flush(&connection) == 0 {
                            try? await Task.sleep(for: Self.flushInterval)
                        }
                        pause = .milliseconds(100)
                    } catch {
                        self.state.withLock { $0.stats.failed += 1 }
                        self.logger.warning(
                            "Machinery result backend: reading or writing a state failed; trying again",
                            metadata: ["redis": "\(self.redis)", "error": "\(error)"])
                        await connection?.close()
                        connection = nil
                        try? await Task.sleep(for: pause)
                        pause = min(pause * 2, .seconds(5))
                    }
                }
            } onCancel: {
                self.stopped.store(true, ordering: .relaxed)
            }
        } onGracefulShutdown: {
            self.stopped.store(true, ordering: .relaxed)
        }
        _ = try? await flush(&connection)
        await connection?.close()
        let stats = self.stats
        logger.info(
            "Machinery result backend stopped",
            metadata: ["written": "\(stats.written)", "failed": "\(stats.failed)", "unwatched": "\(stats.unwatched)"])
    }

    /// From the emitter's thread: watches the workflow tasks stored or claimed here, and marks
    /// watched tasks that were claimed or moved.
    func note(_ batch: [NodeEvent]) {
        state.withLock { s in
            for event in batch {
                switch event {
                case .enqueued(let ref):
                    guard ref.workflowID != nil else { continue }
                    Self.watch(ref.id, in: &s)
                case .claimed(let ref, _, _, _):
                    guard ref.workflowID != nil, Self.watch(ref.id, in: &s) else { continue }
                    s.dirty.insert(ref.id)
                case .transitioned(let move):
                    if s.watched[move.id] != nil { s.dirty.insert(move.id) }
                default:
                    continue
                }
            }
        }
    }

    @discardableResult
    private static func watch(_ id: TaskID, in s: inout State) -> Bool {
        if s.watched[id] != nil { return true }
        guard s.watched.count < maxWatched else {
            s.stats.unwatched += 1
            return false
        }
        s.watched[id] = .some(nil)
        return true
    }

    /// Marks for reading the watched tasks last written as running or backing off.
    private func markRunningDirty() {
        state.withLock { s in
            for (id, written) in s.watched where written == "STARTED" || written == "RETRY" { s.dirty.insert(id) }
        }
    }

    /// Reads the tasks marked and writes the states that changed, in one pipeline. Returns how
    /// many tasks it read. On a Redis error the tasks stay marked.
    private func flush(_ connection: inout RedisConnection?) async throws -> Int {
        let ids = state.withLock { s -> [TaskID] in
            defer { s.dirty = [] }
            return Array(s.dirty)
        }
        guard !ids.isEmpty else { return 0 }
        var writes: [(id: TaskID, state: String, command: [RedisArgument])] = []
        var dropped: [TaskID] = []
        do {
            for id in ids {
                guard let record = try await store.taskGet(id), let key = record.node, Machinery.taskID(key) == record.id else {
                    dropped.append(id)
                    continue
                }
                let taskState = MachineryTaskState(record)
                let json = try JSONEncoder().encode(taskState)
                let millis = expiry.components.seconds * 1000 + expiry.components.attoseconds / 1_000_000_000_000_000
                writes.append(
                    (id, taskState.state, ["SET", RedisArgument(key), RedisArgument(bytes: Array(json)), "PX", RedisArgument(millis)]))
            }
        } catch {
            state.withLock { $0.dirty.formUnion(ids) }
            throw error
        }
        let pending = state.withLock { s -> [(id: TaskID, state: String, command: [RedisArgument])] in
            for id in dropped where s.watched.removeValue(forKey: id) != nil { s.stats.skipped += 1 }
            return writes.filter { s.watched[$0.id] != nil && s.watched[$0.id]! != $0.state }
        }
        guard !pending.isEmpty else { return ids.count }
        do {
            let open = try await RedisConnection.reusing(&connection, redis)
            let replies = try await open.sendAll(pending.map(\.command))
            if let failure = replies.first(where: { if case .error = $0 { true } else { false } }) {
                throw RedisError(.server, failure.string ?? "an error reply")
            }
        } catch {
            state.withLock { $0.dirty.formUnion(pending.map(\.id)) }
            throw error
        }
        state.withLock { s in
            for write in pending {
                s.stats.written += 1
                if write.state == "SUCCESS" || write.state == "FAILURE" {
                    s.watched.removeValue(forKey: write.id)
                } else if s.watched[write.id] != nil {
                    s.watched[write.id] = .some(write.state)
                }
            }
        }
        return ids.count
    }
}
