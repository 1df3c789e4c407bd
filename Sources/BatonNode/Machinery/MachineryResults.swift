import BatonCore
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// Where ``MachineryResults`` writes a task's states: Machinery's Redis result backend (a key at
/// the task's UUID) or its AMQP one (a queue named by the UUID), in `BatonRedisBroker` and
/// `BatonAMQPBroker`.
public protocol MachineryStateWriter: Sendable {
    /// Writes the states, each one task's (no task twice in one call). Returns which were
    /// written, by index, and the error that kept any from being written.
    func write(_ states: [MachineryStateWrite]) async -> MachineryWriteOutcome
    /// Closes what the writer holds open, after a failure and at the end; the next write opens
    /// it again.
    func close() async
    /// The backend in words for logs (its server, never a password).
    var backend: String { get }
}

/// One task's state to write: Machinery's `TaskState` JSON for the signature `uuid`.
public struct MachineryStateWrite: Sendable, Hashable {
    public var uuid: String
    public var json: [UInt8]

    public init(uuid: String, json: [UInt8]) {
        self.uuid = uuid
        self.json = json
    }
}

/// What ``MachineryStateWriter/write(_:)`` did: `written[i]` for the i-th state; `failure` why
/// some were not.
public struct MachineryWriteOutcome: Sendable {
    public var written: [Bool]
    public var failure: (any Error)?

    public init(written: [Bool], failure: (any Error)? = nil) {
        self.written = written
        self.failure = failure
    }

    /// None written, because of `failure`.
    public static func none(of count: Int, _ failure: any Error) -> Self {
        Self(written: Array(repeating: false, count: count), failure: failure)
    }
}

/// Machinery's result backend, kept by the node: the state of each task that came as a
/// Machinery signature is written where Machinery's `AsyncResult` reads it (``writer``: a
/// string at the signature's UUID in Redis, or a message in the queue named by it on an AMQP
/// server), as its `TaskState` JSON (``MachineryTaskState``: `STARTED`, `RETRY`, `SUCCESS`
/// with `Results`, `FAILURE` with `Error`), kept as long as the writer was told (Machinery's
/// `ResultsExpireIn`, one hour by default: ``defaultExpiry``). A Machinery producer whose
/// `ResultBackend` is that server then gets its results from `Get()`, as with Machinery's
/// workers.
///
/// What is written, and by which node: the node follows its own events. A task of a workflow
/// that this node stored or claimed is *watched*; its record is read when it is stored, claimed
/// or moves (an ack, a failure, a cancel, a rescue by this node), and written when its
/// Machinery state changed. A task is a Machinery task when its node name is its Machinery
/// UUID (``Machinery/taskID(_:)`` names its id); others are dropped at their first read. A
/// watched task still running is read again every ``recheckInterval``, and one not started yet
/// every minute, which covers what other nodes did to it (a rescue by the leader, a claim or
/// an ack through another node). `PENDING` is not written: Machinery's
/// producer writes it when it sends (Baton writes it only for a watched task that moves back
/// to it, such as an operator retry).
///
/// A failure can cancel dependents inside the store, without an event: after a `FAILURE` is
/// written, the states of its workflow are read (once per ``cascadeInterval``) and its watched
/// tasks that ended are written too, so a producer waiting for a chain's later task or a
/// chord's callback gets `FAILURE`, not a wait without end.
///
/// Not written: the states of tasks this node never stored or claimed and that no event of this
/// node names, and group metadata (Baton runs chords itself; Machinery's producer writes its own).
/// Nor, for a task of a queue Machinery's workers run (``workerQueues``), any state before it
/// ends: its workers write them, and `MachineryWorkers` turns a failure Baton retries into
/// `RETRY` only while the worker's `FAILURE` is still there, so a state read here before the next
/// attempt began can never be written over that attempt's.
public final class MachineryResults: Service, Sendable {
    public static let defaultExpiry: Duration = .seconds(3600)
    /// How often moved tasks are read and written at most.
    public static let flushInterval: Duration = .milliseconds(20)
    /// How often the workflows where a task failed are read for the tasks cancelled with it.
    public static let cascadeInterval: Duration = .milliseconds(200)
    /// How often the watched tasks still running are read again.
    public static let recheckInterval: Duration = .seconds(2)
    /// Every how many of those looks the watched tasks not written yet are read again too
    /// (every minute: they may have run through another node).
    public static let waitingRecheckEvery = 30
    /// Tasks watched at most; beyond, new ones are not watched (counted in ``Stats/unwatched``).
    public static let maxWatched = 200_000

    /// Counts of what was done.
    public struct Stats: Sendable, Hashable {
        /// States written.
        public var written = 0
        /// Tasks read that were not Machinery tasks.
        public var skipped = 0
        /// Tasks not watched because ``MachineryResults/maxWatched`` were.
        public var unwatched = 0
        /// Writes that failed (tried again).
        public var failed = 0
        public init() {}
    }

    private struct Watch {
        /// The Machinery state last written; nil: none yet.
        var written: String?
        var workflow: TaskID
    }

    private struct State {
        var watched: [TaskID: Watch] = [:]
        /// The watched tasks of each workflow.
        var byWorkflow: [TaskID: Set<TaskID>] = [:]
        /// Watched tasks to read at the next flush.
        var dirty: Set<TaskID> = []
        /// Workflows with a task written as FAILURE and other tasks still watched.
        var failedWorkflows: Set<TaskID> = []
        /// Tasks read and found not to be Machinery's, so that their claim is not read again
        /// (emptied when it reaches ``MachineryResults/maxWatched``).
        var others: Set<TaskID> = []
        var stats = Stats()

        @discardableResult
        mutating func watch(_ id: TaskID, of workflow: TaskID) -> Bool {
            if watched[id] != nil { return true }
            guard watched.count < MachineryResults.maxWatched else {
                stats.unwatched += 1
                return false
            }
            watched[id] = Watch(written: nil, workflow: workflow)
            byWorkflow[workflow, default: []].insert(id)
            return true
        }

        mutating func unwatch(_ id: TaskID) {
            guard let watch = watched.removeValue(forKey: id) else { return }
            byWorkflow[watch.workflow]?.remove(id)
            if byWorkflow[watch.workflow]?.isEmpty == true { byWorkflow[watch.workflow] = nil }
        }
    }

    /// The queues whose tasks Machinery's workers run (`redis.machineryDispatch`).
    let workerQueues: Set<String>
    let writer: any MachineryStateWriter
    let store: any NodeStore
    let events: NodeEvents
    let logger: Logger
    private let state = Mutex(State())
    private let stop = StopFlag()

    public init(
        writer: any MachineryStateWriter, store: any NodeStore, events: NodeEvents, workerQueues: Set<String> = [], logger: Logger
    ) {
        self.workerQueues = workerQueues
        self.writer = writer
        self.store = store
        self.events = events
        self.logger = logger
    }

    public var stats: Stats { state.withLock { $0.stats } }

    /// Follows the node's events and writes until graceful shutdown or cancellation; what moved
    /// before it returns is written first (when its backend answers).
    public func run() async throws {
        let listening = events.listen { [weak self] batch in self?.note(batch) }
        defer { listening.cancel() }
        logger.info("Machinery result backend started", metadata: ["backend": "\(writer.backend)"])
        var pause = GrowingPause()
        var lastRecheck = ContinuousClock.now
        var lastCascade = ContinuousClock.now
        var rechecks = 0
        await stop.run {
            while !self.stop.isSet {
                if ContinuousClock.now - lastRecheck >= Self.recheckInterval {
                    lastRecheck = .now
                    rechecks += 1
                    self.markRunningDirty(all: rechecks % Self.waitingRecheckEvery == 0)
                }
                do {
                    if ContinuousClock.now - lastCascade >= Self.cascadeInterval {
                        lastCascade = .now
                        try await self.markCancelled()
                    }
                    if try await self.flush() == 0 {
                        try? await Task.sleep(for: Self.flushInterval)
                    }
                    pause.reset()
                } catch {
                    self.state.withLock { $0.stats.failed += 1 }
                    self.logger.warning(
                        "Machinery result backend: reading or writing a state failed; trying again",
                        metadata: ["backend": "\(self.writer.backend)", "error": "\(error)"])
                    await self.writer.close()
                    try? await Task.sleep(for: pause.next())
                }
            }
        }
        _ = try? await flush()
        await writer.close()
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
                case .enqueued(let ref), .claimed(let ref, _, _, _):
                    guard let workflow = ref.workflowID, !s.others.contains(ref.id), s.watch(ref.id, of: workflow) else { continue }
                    s.dirty.insert(ref.id)
                case .transitioned(let move):
                    if s.watched[move.id] != nil { s.dirty.insert(move.id) }
                default:
                    continue
                }
            }
        }
    }

    /// Marks for reading the watched tasks that ended in the workflows where a task failed
    /// (dependents cancelled by its failure, which the store does without an event): one read
    /// of each workflow's states, then only the tasks that ended are read whole.
    private func markCancelled() async throws {
        let workflows = state.withLock { s -> Set<TaskID> in
            defer { s.failedWorkflows = [] }
            return s.failedWorkflows
        }
        for workflow in workflows {
            let ended: [TaskID]
            do {
                ended = try await store.workflowGet(workflow)?.nodes.filter(\.state.isTerminal).map(\.id) ?? []
            } catch {
                state.withLock { _ = $0.failedWorkflows.insert(workflow) }
                throw error
            }
            state.withLock { s in
                for id in ended where s.watched[id] != nil { s.dirty.insert(id) }
            }
        }
    }

    /// Marks for reading the watched tasks last written as running or backing off, and with
    /// `all`, also those not written yet (waiting to run, here or through another node).
    private func markRunningDirty(all: Bool) {
        state.withLock { s in
            for (id, watch) in s.watched where all || watch.written == "STARTED" || watch.written == "RETRY" { s.dirty.insert(id) }
        }
    }

    /// Reads the tasks marked and writes the states that changed, in one call to the writer.
    /// Returns how many tasks it read. The tasks whose state was not written stay marked.
    private func flush() async throws -> Int {
        let ids = state.withLock { s -> [TaskID] in
            defer { s.dirty = [] }
            return Array(s.dirty)
        }
        guard !ids.isEmpty else { return 0 }
        var read: [(id: TaskID, key: String, state: MachineryTaskState)] = []
        var dropped: [TaskID] = []
        do {
            for id in ids {
                guard let record = try await store.taskGet(id), let key = record.node, Machinery.taskID(key) == record.id else {
                    dropped.append(id)
                    continue
                }
                // A Machinery worker has it (``MachineryWorkers``), or will: the workers write its
                // states until it ends.
                if record.state == .running, record.leaseOwner?.hasPrefix("\(Machinery.workersBroker):") == true { continue }
                if !record.state.isTerminal, workerQueues.contains(record.queue) { continue }
                read.append((id, key, MachineryTaskState(record)))
            }
        } catch {
            state.withLock { $0.dirty.formUnion(ids) }
            throw error
        }
        let changed = state.withLock { s -> [(id: TaskID, key: String, state: MachineryTaskState)] in
            for id in dropped where s.watched[id] != nil {
                s.unwatch(id)
                s.stats.skipped += 1
                if s.others.count >= Self.maxWatched { s.others = [] }
                s.others.insert(id)
            }
            // A state that changed; PENDING only back after another (an operator retry): before,
            // it is the producer's.
            return read.filter { task in
                guard let watch = s.watched[task.id], watch.written != task.state.state else { return false }
                return task.state.state != "PENDING" || watch.written != nil
            }
        }
        // Only the states to be written are encoded.
        let encoder = JSONEncoder()
        let pending: [(id: TaskID, state: String, write: MachineryStateWrite)]
        do {
            pending = try changed.map { task in
                (task.id, task.state.state, MachineryStateWrite(uuid: task.key, json: Array(try encoder.encode(task.state))))
            }
        } catch {
            state.withLock { $0.dirty.formUnion(changed.map(\.id)) }
            throw error
        }
        guard !pending.isEmpty else { return ids.count }
        let outcome = await writer.write(pending.map(\.write))
        state.withLock { s in
            for (write, written) in zip(pending, outcome.written) {
                guard written else {
                    s.dirty.insert(write.id)
                    continue
                }
                s.stats.written += 1
                guard let watch = s.watched[write.id] else { continue }
                switch write.state {
                case "SUCCESS":
                    s.unwatch(write.id)
                case "FAILURE":
                    // Its dependents may have been cancelled with it, in the store, without an
                    // event (``markCancelled()``).
                    s.unwatch(write.id)
                    if s.byWorkflow[watch.workflow] != nil { s.failedWorkflows.insert(watch.workflow) }
                default:
                    s.watched[write.id]?.written = write.state
                }
            }
        }
        if let failure = outcome.failure { throw failure }
        return ids.count
    }
}
