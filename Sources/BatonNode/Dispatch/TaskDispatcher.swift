import BatonCore
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// What a worker asks the node for.
public struct ClaimRequest: Sendable {
    public var worker: String
    public var queues: [String]
    public var kinds: [String]?
    public var max: Int
    /// How long to wait for work when none is ready (long-poll); zero returns at once.
    public var wait: Duration
    public var lease: Duration

    public init(worker: String, queues: [String], kinds: [String]? = nil, max: Int, wait: Duration, lease: Duration = Defaults.lease) {
        self.worker = worker
        self.queues = queues
        self.kinds = kinds
        self.max = max
        self.wait = wait
        self.lease = lease
    }
}

/// Coalesces the claims of every worker of a node into batched store claims.
///
/// A ServiceLifecycle `Service`: `run()` owns the claim loops (one per group, started as
/// child tasks when a group's first waiter arrives; claims made before it runs wait for it).
/// On graceful shutdown it stops claiming: every waiting claim is answered with nothing at
/// once, later claims too, and `run()` returns when the loops have ended.
///
/// Requests with the same queues, kinds and lease form a group. One claim loop per group
/// takes, in one store statement, what all of the group's waiting workers asked for and
/// shares it out in arrival order. When nothing is ready the loop sleeps until the store's
/// `ReadySignal` fires, the next delayed task is due, a waiter's deadline passes, or the
/// fallback poll interval elapses — whichever is first.
public final class TaskDispatcher: Service, Sendable {
    public struct Configuration: Sendable {
        /// Most tasks one claim statement takes.
        public var claimBatch: Int
        /// Longest sleep between claims while workers wait and nothing signals.
        public var fallbackPoll: Duration

        public init(claimBatch: Int = Defaults.claimBatch, fallbackPoll: Duration = Defaults.fallbackPoll) {
            self.claimBatch = claimBatch
            self.fallbackPoll = fallbackPoll
        }
    }

    private struct Key: Hashable {
        var queues: [String]
        var kinds: [String]
        var lease: Duration
    }

    private struct Waiter {
        var id: UInt64
        var worker: String
        var max: Int
        var deadline: ContinuousClock.Instant
        var continuation: CheckedContinuation<[ClaimedTask], any Error>
    }

    private struct Group {
        var waiters: [Waiter] = []
        var running = false
    }

    /// A claim that came back short: the queue had nothing more at that moment.
    private struct Dry {
        var generation: UInt64
        var at: ContinuousClock.Instant
        /// When the next delayed task of these queues is due, as the store said then.
        var nextDue: Date?
    }

    private struct State {
        var groups: [Key: Group] = [:]
        /// Per group, when it last ran dry. A new waiter does not claim again at once while
        /// nothing has signalled since and the fallback poll interval has not passed: many
        /// workers arriving at an empty queue cost no store statement each.
        var dry: [Key: Dry] = [:]
        var nextID: UInt64 = 0
        var stopped = false
    }

    public let store: any TaskStore
    public let configuration: Configuration
    /// The fallback poll interval in use: `configuration.fallbackPoll` until a reload changes it.
    public let fallbackPoll: LiveSetting<Duration>
    /// Where each claimed task is reported, as a `claimed` event.
    public let events: NodeEvents
    private let logger: Logger
    private let state = Mutex(State())
    /// Groups whose claim loop `run()` is to start.
    private let starts: AsyncStream<Key>
    private let startsContinuation: AsyncStream<Key>.Continuation

    public init(
        store: any TaskStore, configuration: Configuration = .init(), events: NodeEvents = NodeEvents(),
        logger: Logger = Logger(label: "baton.dispatcher")
    ) {
        self.store = store
        self.configuration = configuration
        self.fallbackPoll = LiveSetting(configuration.fallbackPoll)
        self.events = events
        self.logger = logger
        (starts, startsContinuation) = AsyncStream.makeStream(of: Key.self)
    }

    /// Runs the claim loops until graceful shutdown or cancellation.
    public func run() async throws {
        await withGracefulShutdownHandler {
            await withTaskCancellationHandler {
                await withDiscardingTaskGroup { group in
                    for await key in starts {
                        group.addTask { await self.claimLoop(key) }
                    }
                }
            } onCancel: {
                self.stop()
            }
        } onGracefulShutdown: {
            self.stop()
        }
    }

    /// Stops claiming: waiting claims answer with nothing, later ones at once; the loops end.
    private func stop() {
        let waiters = state.withLock { s -> [Waiter] in
            s.stopped = true
            defer { s.groups = s.groups.mapValues { group in Group(waiters: [], running: group.running) } }
            return s.groups.values.flatMap(\.waiters)
        }
        startsContinuation.finish()
        for waiter in waiters { waiter.continuation.resume(returning: []) }
        // Loops asleep until something is ready wake, find no waiter, and end.
        store.readySignal.notify()
    }

    /// Claims up to `request.max` tasks, waiting up to `request.wait` for some to be ready.
    /// Returns an empty array when the wait ends with nothing to claim.
    public func claim(_ request: ClaimRequest) async throws -> [ClaimedTask] {
        guard request.max > 0 else { return [] }
        let key = Key(queues: request.queues.sorted(), kinds: (request.kinds ?? []).sorted(), lease: request.lease)
        let deadline = ContinuousClock.now.advanced(by: max(.zero, request.wait))
        let id = state.withLock { s -> UInt64 in
            s.nextID &+= 1
            return s.nextID
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<[ClaimedTask], any Error>) in
                let start = state.withLock { s -> Bool in
                    if Task.isCancelled || s.stopped {
                        continuation.resume(returning: [])
                        return false
                    }
                    s.groups[key, default: Group()].waiters.append(
                        Waiter(id: id, worker: request.worker, max: request.max, deadline: deadline, continuation: continuation))
                    if s.groups[key]!.running { return false }
                    s.groups[key]!.running = true
                    return true
                }
                if start { startsContinuation.yield(key) }
            }
        } onCancel: {
            let waiter = state.withLock { s -> Waiter? in
                guard let index = s.groups[key]?.waiters.firstIndex(where: { $0.id == id }) else { return nil }
                return s.groups[key]!.waiters.remove(at: index)
            }
            waiter?.continuation.resume(returning: [])
        }
    }

    private func claimLoop(_ key: Key) async {
        // Known dry and nothing signalled since: wait for a signal before the first claim.
        let dry = state.withLock { $0.dry[key] }
        if let dry, store.readySignal.generation == dry.generation {
            let remaining = fallbackPoll.value - (ContinuousClock.now - dry.at)
            var wait = remaining
            if let due = dry.nextDue { wait = min(wait, .seconds(due.timeIntervalSinceNow)) }
            if wait > .zero {
                let earliest = state.withLock { $0.groups[key]?.waiters.map(\.deadline).min() }
                if let earliest {
                    await store.readySignal.wait(after: dry.generation, timeout: min(wait, earliest - ContinuousClock.now))
                }
                expireWaiters(key)
            }
        }
        while true {
            // Take every waiter's ask, oldest first, up to the batch limit.
            let next = state.withLock { s -> ([ClaimShare], UInt64)? in
                guard let group = s.groups[key], !group.waiters.isEmpty else {
                    s.groups[key] = nil
                    return nil
                }
                var shares: [ClaimShare] = []
                var total = 0
                for waiter in group.waiters where total < configuration.claimBatch {
                    let take = min(waiter.max, configuration.claimBatch - total)
                    shares.append(ClaimShare(worker: waiter.worker, max: take))
                    total += take
                }
                return (shares, store.readySignal.generation)
            }
            guard let (shares, generation) = next else { return }
            let asked = shares.reduce(0) { $0 + $1.max }

            let claimed: [ClaimedTask]
            do {
                claimed = try await events.timed(.claim) {
                    try await store.taskClaim(
                        TaskClaimParams(shares: shares, queues: key.queues, kinds: key.kinds.isEmpty ? nil : key.kinds, lease: key.lease))
                }
            } catch {
                let waiters = state.withLock { s -> [Waiter] in
                    let all = s.groups[key]?.waiters ?? []
                    s.groups[key] = nil
                    return all
                }
                for waiter in waiters { waiter.continuation.resume(throwing: error) }
                return
            }

            await distribute(claimed, key: key)
            if claimed.count >= asked { continue }

            // The queue ran dry: remember it, answer waiters whose time is up, then sleep until woken.
            let now = ContinuousClock.now
            let nextDue = try? await store.taskNextDueAt(queues: key.queues)
            state.withLock { $0.dry[key] = Dry(generation: generation, at: now, nextDue: nextDue) }
            guard let earliest = expireWaiters(key) else { continue }

            var sleep = min(fallbackPoll.value, earliest - now)
            if let nextDue {
                sleep = min(sleep, max(.seconds(nextDue.timeIntervalSinceNow), .milliseconds(1)))
            }
            await store.readySignal.wait(after: generation, timeout: sleep)
        }
    }

    /// Answers waiters whose deadline passed with nothing; returns the earliest remaining deadline.
    @discardableResult
    private func expireWaiters(_ key: Key) -> ContinuousClock.Instant? {
        let now = ContinuousClock.now
        let (expired, earliest) = state.withLock { s -> ([Waiter], ContinuousClock.Instant?) in
            guard var group = s.groups[key] else { return ([], nil) }
            let expired = group.waiters.filter { $0.deadline <= now }
            group.waiters.removeAll { $0.deadline <= now }
            let earliest = group.waiters.map(\.deadline).min()
            s.groups[key] = group
            return (expired, earliest)
        }
        for waiter in expired { waiter.continuation.resume(returning: []) }
        return earliest
    }

    /// Hands claimed tasks to the waiters they were claimed for, in arrival order.
    private func distribute(_ claimed: [ClaimedTask], key: Key) async {
        guard !claimed.isEmpty else { return }
        events.emit(
            claimed.lazy.map { c in
                let task = c.task
                let wait = task.startedAt.map { max(0, $0.timeIntervalSince(task.runAt)) } ?? 0
                return NodeEvent.claimed(
                    TaskRef(task), attempt: task.attempt, worker: task.leaseOwner ?? "", wait: .milliseconds(Int64(wait * 1000)))
            })
        var buckets: [String: ArraySlice<ClaimedTask>] = [:]
        for (owner, tasks) in Dictionary(grouping: claimed, by: { $0.task.leaseOwner ?? "" }) {
            buckets[owner] = tasks[...]
        }
        let served = state.withLock { s -> [(Waiter, [ClaimedTask])] in
            guard var group = s.groups[key] else { return [] }
            var served: [(Waiter, [ClaimedTask])] = []
            group.waiters.removeAll { waiter in
                guard var bucket = buckets[waiter.worker], !bucket.isEmpty else { return false }
                let take = Array(bucket.prefix(waiter.max))
                bucket.removeFirst(take.count)
                buckets[waiter.worker] = bucket
                served.append((waiter, take))
                return true
            }
            s.groups[key] = group
            return served
        }
        for (waiter, tasks) in served { waiter.continuation.resume(returning: tasks) }

        // Waiters that gave up while their claim was in flight: put their tasks back.
        let orphans = buckets.values.flatMap { $0 }.map { LeaseRef(id: $0.task.id, token: $0.leaseToken) }
        if !orphans.isEmpty {
            do {
                _ = try await store.taskReleaseMany(TaskReleaseParams(leases: orphans))
            } catch {
                logger.warning(
                    "could not release tasks of a cancelled claim; they return when their lease expires",
                    metadata: ["count": "\(orphans.count)", "error": "\(error)"])
            }
        }
    }
}
