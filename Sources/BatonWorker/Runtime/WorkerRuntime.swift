import BatonCore
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// Counts of what a worker runtime did, for tests, benchmarks and its final log line.
public struct WorkerStats: Sendable, Hashable {
    /// Claim requests sent to the source.
    public var claimRequests = 0
    /// Tasks claimed.
    public var claimed = 0
    /// Attempts acknowledged as completed.
    public var succeeded = 0
    /// Attempts acknowledged as failed (the store decides between a retry and `failed`).
    public var failed = 0
    /// Tasks given back without using an attempt (shutdown, or no handler for their kind).
    public var released = 0
    /// Tasks stopped because an operator cancelled them (not acknowledged).
    public var cancelled = 0
    /// Tasks stopped because the worker no longer held their lease (not acknowledged).
    public var lost = 0

    public init() {}
}

/// How one attempt ended, as the worker that ran it saw it (for its metrics).
public struct AttemptReport: Sendable {
    public var queue: String
    public var kind: String
    /// `succeeded`, `retry` (failed, with attempts left), `failed`, `cancelled` (by an
    /// operator), `lease_expired` (the worker lost the lease) or `released` (shutdown).
    public var outcome: String
    /// From the handler's start to its end.
    public var run: Duration
}

/// The worker runtime: claims tasks in batches from a ``TaskSource``, runs each under the
/// handler registered for its kind within a concurrency limit, heartbeats all running tasks
/// in one batched call, acknowledges outcomes, and drains on graceful shutdown.
///
/// Under load, claims are batched: after a claim, the runtime waits until half its slots are
/// free or ``WorkerConfiguration/claimLinger`` has passed since the first slot freed, then
/// claims every free slot at once.
///
/// On graceful shutdown (ServiceLifecycle, or ``shutdownGracefully()``) it stops claiming
/// (the long-poll in flight is cancelled), lets running tasks finish for up to
/// ``WorkerConfiguration/shutdownGrace``, then releases the rest back to `ready` (no attempt
/// used), cancels their handlers, flushes pending acks and returns.
public final class WorkerRuntime: Service, Sendable {
    struct Entry {
        var lease: LeaseRef
        var stop: StopFlag
        var handler: HandlerHandle

        /// Tells the attempt to stop and cancels its handler.
        func stopAttempt(_ reason: StopReason) {
            stop.set(reason)
            handler.cancel()
        }
    }

    struct State {
        /// Tasks whose outcome is still undecided (heartbeated, released on shutdown).
        var running: [TaskID: Entry] = [:]
        /// Handlers alive, each holding a slot (a stopped handler holds it until it returns).
        var active = 0
        /// When a slot first freed since the last claim; `nil` while none did.
        var freeSince: ContinuousClock.Instant? = .now - .seconds(1)
        var stopping = false
        var stats = WorkerStats()
        /// Tasks run at once: the configuration's, until ``WorkerRuntime/setConcurrency(_:)``.
        var concurrency: Int
    }

    public let source: any TaskSource
    public let registry: HandlerRegistry
    public let configuration: WorkerConfiguration
    let logger: Logger
    let state: Mutex<State>
    /// Progress the handlers reported, sent by ``progressLoop()``.
    let progressReports = ProgressReports()
    /// Fired when a slot frees or shutdown begins.
    let slotsChanged = ReadySignal()
    /// Set when graceful shutdown begins.
    let stopRequested = StopFlag()
    /// Set when the drain is over: ends the heartbeat loop.
    let drained = StopFlag()
    /// Told how each attempt this worker settled ended (`baton worker --metrics-port`).
    let observer: (@Sendable (AttemptReport) -> Void)?

    public init(
        source: any TaskSource, registry: HandlerRegistry, configuration: WorkerConfiguration, logger: Logger,
        observer: (@Sendable (AttemptReport) -> Void)? = nil
    ) {
        self.observer = observer
        self.source = source
        self.registry = registry
        self.configuration = configuration
        self.state = Mutex(State(concurrency: configuration.concurrency))
        var logger = logger
        logger[metadataKey: "worker"] = "\(configuration.id)"
        self.logger = logger
    }

    public var stats: WorkerStats { state.withLock { $0.stats } }

    /// Tasks running now.
    public var runningCount: Int { state.withLock { $0.running.count } }

    /// Tasks run at once now.
    public var concurrency: Int { state.withLock { $0.concurrency } }

    /// Changes how many tasks run at once, while the runtime runs (a live reload of
    /// `worker.concurrency`). A higher limit claims for the new slots at once; under a lower
    /// one, running tasks finish and no new task is claimed until fewer than the limit run.
    public func setConcurrency(_ concurrency: Int) {
        let limit = max(1, concurrency)
        let old = state.withLock { s -> Int in
            defer { s.concurrency = limit }
            return s.concurrency
        }
        guard old != limit else { return }
        logger.info("worker concurrency changed", metadata: ["from": "\(old)", "to": "\(limit)"])
        slotsChanged.notify()
    }

    /// Begins a graceful shutdown, as ServiceLifecycle's graceful shutdown does: for callers
    /// that run the runtime outside a `ServiceGroup`.
    public func shutdownGracefully() {
        let first = state.withLock { s -> Bool in
            defer { s.stopping = true }
            return !s.stopping
        }
        guard first else { return }
        logger.info(
            "worker stopping: no new claims; running tasks get the grace period", metadata: ["grace": "\(configuration.shutdownGrace)"])
        stopRequested.set(.shutdown)
        slotsChanged.notify()
    }

    var isStopping: Bool { state.withLock { $0.stopping } }

    public func run() async throws {
        try configuration.validate()
        let kinds = servedKinds()
        logger.info(
            "worker started",
            metadata: [
                "queues": "\(configuration.queues.joined(separator: ","))", "kinds": "\(kinds.joined(separator: ","))",
                "concurrency": "\(concurrency)",
            ])
        // The source's own work (the HTTP ack sender): awaited below, after the last acks, and
        // not cancelled with the runtime, so that what the handlers finished is still sent.
        let sourceWork = Task { await source.run() }
        // Before the first claim, so that the node knows the kinds' retry policies.
        await announce(kinds: kinds)
        await withGracefulShutdownHandler {
            await withDiscardingTaskGroup { group in
                group.addTask { await self.heartbeatLoop() }
                group.addTask { await self.progressLoop() }
                if kinds.isEmpty {
                    logger.warning("no handler for any kind to serve: this worker claims nothing")
                    _ = await stopRequested.wait()
                } else {
                    await claimLoop(kinds: kinds, group: &group)
                }
                await drain()
                drained.set(.shutdown)
            }
        } onGracefulShutdown: {
            self.shutdownGracefully()
        }
        // Hard cancellation skips the grace period: whatever is still undecided goes back.
        await releaseUndecided(reason: "the worker was cancelled")
        source.stop()
        await sourceWork.value
        logger.info("worker stopped", metadata: Self.metadata(stats))
    }

    /// The kinds this worker claims: configured ones it has handlers for, else all registered.
    func servedKinds() -> [String] {
        let registered = registry.kinds
        guard let wanted = configuration.kinds else { return registered }
        let known = Set(registered)
        let unknown = wanted.filter { !known.contains($0) }
        if !unknown.isEmpty {
            logger.warning("ignoring kinds with no handler", metadata: ["kinds": "\(unknown.joined(separator: ","))"])
        }
        return wanted.filter { known.contains($0) }
    }

    // MARK: Claiming

    private func claimLoop(kinds: [String], group: inout DiscardingTaskGroup) async {
        var backoff = GrowingPause(jitter: true)
        while !isStopping && !Task.isCancelled {
            await waitForSlots()
            let want = state.withLock { s -> Int in
                s.freeSince = nil
                s.stats.claimRequests += 1
                return min(s.concurrency - s.active, configuration.claimBatch)
            }
            if isStopping || Task.isCancelled { break }
            if want <= 0 { continue }
            let claimed: [ClaimedTask]
            do {
                guard let tasks = try await claimUnlessStopped(want, kinds: kinds) else { break }
                claimed = tasks
                backoff.reset()
            } catch {
                if isStopping || Task.isCancelled { break }
                let delay = backoff.next()
                logger.warning("claim failed; retrying", metadata: ["error": "\(error)", "retry_in": "\(delay)"])
                state.withLock { $0.freeSince = .now - configuration.claimLinger }
                _ = await stopRequested.wait(timeout: delay)
                continue
            }
            if claimed.count < want || want >= configuration.claimBatch {
                // The queue ran dry, the long-poll ended, or the batch cap left slots free:
                // the free slots may claim again at once.
                let eligible = ContinuousClock.now - configuration.claimLinger
                state.withLock { s in s.freeSince = min(s.freeSince ?? eligible, eligible) }
            }
            if claimed.isEmpty { continue }
            if isStopping || Task.isCancelled {
                await release(claimed.map(\.lease), why: "claimed as the worker was stopping")
                break
            }
            let entries = claimed.map { Entry(lease: $0.lease, stop: StopFlag(), handler: HandlerHandle()) }
            state.withLock { s in
                s.stats.claimed += claimed.count
                s.active += claimed.count
                for e in entries { s.running[e.lease.id] = e }
            }
            for (task, entry) in zip(claimed, entries) {
                group.addTask {
                    await self.execute(task, entry: entry)
                    self.slotFreed()
                }
            }
        }
    }

    /// Waits until enough slots are free to claim: half of them, or any once the linger time
    /// has passed since the first one freed; returns at once when stopping.
    private func waitForSlots() async {
        while true {
            let generation = slotsChanged.generation
            let wait = state.withLock { s -> Duration? in
                if s.stopping { return nil }
                let threshold = max(1, s.concurrency / 2)
                let free = s.concurrency - s.active
                if free <= 0 { return .seconds(1) }
                if free >= threshold { return nil }
                guard let since = s.freeSince else { return .seconds(1) }
                let waited = ContinuousClock.now - since
                return waited >= configuration.claimLinger ? nil : configuration.claimLinger - waited
            }
            guard let wait, !Task.isCancelled else { return }
            await slotsChanged.wait(after: generation, timeout: wait)
        }
    }

    private func slotFreed() {
        state.withLock { s in
            s.active -= 1
            if s.freeSince == nil { s.freeSince = .now }
        }
        slotsChanged.notify()
    }

    private enum ClaimRace: Sendable {
        case claimed([ClaimedTask])
        case stop
    }

    /// Claims, unless graceful shutdown begins first: then the claim is cancelled, anything
    /// it took anyway is released, and the result is `nil`.
    private func claimUnlessStopped(_ max: Int, kinds: [String]) async throws -> [ClaimedTask]? {
        let c = configuration
        return try await withThrowingTaskGroup(of: ClaimRace.self) { group in
            group.addTask {
                .claimed(
                    try await self.source.claim(
                        worker: c.id, queues: c.queues, kinds: kinds, max: max, wait: c.claimWait, lease: c.lease))
            }
            group.addTask {
                _ = await self.stopRequested.wait()
                return .stop
            }
            let first = try await group.next()
            group.cancelAll()
            if case .claimed(let tasks)? = first { return tasks }
            if case .claimed(let late)? = try? await group.next(), !late.isEmpty {
                await release(late.map(\.lease), why: "claimed as the worker was stopping")
            }
            return nil
        }
    }

    // MARK: Heartbeats

    private func heartbeatLoop() async {
        while await drained.wait(timeout: configuration.heartbeatInterval) == nil {
            if Task.isCancelled { return }
            await announce(kinds: servedKinds())
            // Running tasks, and finished ones whose acks the source has not delivered yet
            // (their outcomes for the latter need no action: the ack decides).
            let running = state.withLock { $0.running.values.map(\.lease) }
            let runningSet = Set(running)
            let leases = running + source.pendingLeases.filter { !runningSet.contains($0) }
            guard !leases.isEmpty else { continue }
            // Progress not sent yet goes with it.
            await heartbeat(leases, progress: progressReports.take().filter { runningSet.contains($0.key) })
        }
    }

    /// Sends the handlers' progress about once a second, with a heartbeat of just the leases
    /// that reported (the regular heartbeat takes what is pending when it runs first).
    private func progressLoop() async {
        while await drained.wait(timeout: ProgressReports.interval) == nil {
            if Task.isCancelled { return }
            let reports = progressReports.take()
            guard !reports.isEmpty else { continue }
            let running = state.withLock { s in Set(s.running.values.map(\.lease)) }
            let current = reports.filter { running.contains($0.key) }
            guard !current.isEmpty else { continue }
            await heartbeat(Array(current.keys), progress: current)
        }
    }

    /// One heartbeat call; a cancelled or lost lease stops its attempt, a failure is logged.
    private func heartbeat(_ leases: [LeaseRef], progress: [LeaseRef: TaskProgress]) async {
        do {
            let outcomes = try await source.heartbeat(leases, lease: configuration.lease, progress: progress)
            for (lease, outcome) in zip(leases, outcomes) {
                switch outcome {
                case .extended: continue
                case .cancelled: abandon(lease, .cancelled)
                case .lost, .notFound: abandon(lease, .leaseLost)
                }
            }
        } catch {
            if Task.isCancelled { return }
            logger.warning(
                "heartbeat failed; leases run out unless the next one succeeds",
                metadata: ["error": "\(error)", "tasks": "\(leases.count)"])
        }
    }

    /// What this worker tells the node about itself now.
    func announcement(kinds: [String]) -> WorkerAnnouncement {
        WorkerAnnouncement(
            worker: configuration.id, queues: configuration.queues,
            kinds: kinds.map { KindAnnouncement(name: $0, retry: registry.registration(for: $0)?.retry) },
            concurrency: concurrency, running: runningCount, version: "baton/\(BatonVersion.current)")
    }

    /// Announces the worker; a failure is logged (the next heartbeat round tries again).
    private func announce(kinds: [String]) async {
        do {
            try await source.announce(announcement(kinds: kinds))
        } catch {
            if Task.isCancelled { return }
            logger.warning(
                "could not announce the worker to the node; its kinds' retry policies apply once it can",
                metadata: ["error": "\(error)"])
        }
    }

    /// Stops a running task whose outcome is no longer ours to write.
    private func abandon(_ lease: LeaseRef, _ reason: StopReason) {
        let entry = state.withLock { s -> Entry? in
            guard let entry = s.running[lease.id], entry.lease == lease else { return nil }
            s.running[lease.id] = nil
            if reason == .cancelled { s.stats.cancelled += 1 } else { s.stats.lost += 1 }
            return entry
        }
        guard let entry else { return }
        logger.info(
            reason == .cancelled ? "task cancelled by an operator: stopping it" : "lease lost: stopping the task",
            metadata: ["task_id": "\(lease.id)"])
        entry.stopAttempt(reason)
    }

    // MARK: Shutdown

    /// Waits for running tasks for up to the grace period, then releases the rest.
    private func drain() async {
        let deadline = ContinuousClock.now + configuration.shutdownGrace
        while !Task.isCancelled {
            let generation = slotsChanged.generation
            let active = state.withLock { $0.active }
            let now = ContinuousClock.now
            if active == 0 || now >= deadline { break }
            await slotsChanged.wait(after: generation, timeout: deadline - now)
        }
        await releaseUndecided(reason: "the shutdown grace period ended")
    }

    /// Takes every task whose outcome is undecided, releases it to `ready` and stops its handler.
    private func releaseUndecided(reason: String) async {
        let entries = state.withLock { s -> [Entry] in
            let all = Array(s.running.values)
            s.running.removeAll()
            s.stats.released += all.count
            return all
        }
        guard !entries.isEmpty else { return }
        await release(entries.map(\.lease), why: reason)
        for entry in entries { entry.stopAttempt(.shutdown) }
    }

    /// Releases leases, even from a cancelled task.
    func release(_ leases: [LeaseRef], why: String) async {
        guard !leases.isEmpty else { return }
        do {
            try await detached { try await self.source.release(leases) }
            logger.info("released tasks back to ready", metadata: ["count": "\(leases.count)", "reason": "\(why)"])
        } catch {
            logger.warning(
                "could not release tasks; they return when their leases expire",
                metadata: ["count": "\(leases.count)", "error": "\(error)"])
        }
    }

    static func metadata(_ stats: WorkerStats) -> Logger.Metadata {
        [
            "claimed": "\(stats.claimed)", "succeeded": "\(stats.succeeded)", "failed": "\(stats.failed)",
            "released": "\(stats.released)", "cancelled": "\(stats.cancelled)", "lost": "\(stats.lost)",
        ]
    }
}

/// Runs `work` outside the caller's cancellation: cleanup that must happen while shutting down.
func detached<T: Sendable>(_ work: @escaping @Sendable () async throws -> T) async throws -> T {
    try await Task { try await work() }.value
}

/// The Swift task running one attempt's handler, so that stopping the attempt cancels it,
/// even when the stop comes before the task is attached.
final class HandlerHandle: Sendable {
    private struct State {
        var task: Task<WorkerRuntime.AttemptOutcome, Never>?
        var cancelled = false
    }
    private let state = Mutex(State())

    init() {}

    func attach(_ task: Task<WorkerRuntime.AttemptOutcome, Never>) {
        let cancelled = state.withLock { s -> Bool in
            s.task = task
            return s.cancelled
        }
        if cancelled { task.cancel() }
    }

    func cancel() {
        let task = state.withLock { s -> Task<WorkerRuntime.AttemptOutcome, Never>? in
            s.cancelled = true
            return s.task
        }
        task?.cancel()
    }
}
