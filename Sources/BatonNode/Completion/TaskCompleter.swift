import BatonCore
import Logging
import ServiceLifecycle
import Synchronization

/// Writes completions and failures in batches: acks that arrive while a write is in flight
/// (or within the linger time) go into the next write, one store transaction per batch,
/// each ack still fenced by its own lease token.
///
/// A ServiceLifecycle `Service`: `run()` owns the write loop (acks queued before it starts
/// wait for it). On graceful shutdown it writes everything queued, then returns; an ack
/// queued after that is refused (`unavailable`). Put it in the node's service group after the
/// store and before everything that acknowledges (the HTTP server, in-process workers), so
/// that it stops after them and its last write happens while the store is still open.
public final class TaskCompleter: Service, Sendable {
    public struct Configuration: Sendable {
        /// How long the first ack of a batch waits for company.
        public var linger: Duration
        public var maxBatch: Int
        /// Attempts at writing a batch before its acks are given up (their tasks are then
        /// rescued when their leases expire).
        public var writeAttempts: Int

        public init(linger: Duration = Defaults.ackLinger, maxBatch: Int = Defaults.ackBatch, writeAttempts: Int = 3) {
            self.linger = linger
            self.maxBatch = maxBatch
            self.writeAttempts = writeAttempts
        }
    }

    private struct Entry {
        var ack: TaskAck
        var continuation: CheckedContinuation<AckOutcome, any Error>?
    }

    public let store: any TaskStore
    public let configuration: Configuration
    /// The node's workers: their kinds' retry policies go with every batch.
    public let workers: WorkerRegistry
    /// Where every applied ack is reported, as a `transitioned` event.
    public let events: NodeEvents
    /// The retry policy failures get instead of the store's `defaultRetry`, read per batch;
    /// `nil`: the store's (see ``NodeLiveSettings/ackRetry``).
    public let defaultRetry: LiveSetting<RetryPolicy?>
    private let logger: Logger
    private let queue = BatchQueue<Entry>()
    private let started = Atomic<Bool>(false)

    public init(
        store: any TaskStore, configuration: Configuration = .init(), workers: WorkerRegistry = WorkerRegistry(),
        events: NodeEvents = NodeEvents(), defaultRetry: LiveSetting<RetryPolicy?> = LiveSetting(nil),
        logger: Logger = Logger(label: "baton.completer")
    ) {
        self.store = store
        self.configuration = configuration
        self.defaultRetry = defaultRetry
        self.workers = workers
        self.events = events
        self.logger = logger
    }

    /// Writes a batch at once, as one store call, without joining the shared batch (for a
    /// request that brings a large batch of its own). Reported like every other batch.
    ///
    /// While nobody observes the node's events this is the plain store ack; otherwise the
    /// store also reports the attempts the acks ended, and each applied ack is emitted as a
    /// `transitioned` event with its attempt, queue, kind and run time.
    public func write(now acks: [TaskAck]) async throws -> [AckOutcome] {
        let params = TaskAckParams(acks: acks, kindRetry: workers.kindRetry, defaultRetry: defaultRetry.value)
        guard events.isObserved else { return try await store.taskAckMany(params) }
        let reports = try await events.timed(.ack) { try await store.taskAckManyReporting(params) }
        var transitions: [NodeEvent] = []
        for (ack, report) in zip(acks, reports) {
            guard case .applied(let to) = report.outcome else { continue }
            let ended = report.attempt
            transitions.append(
                .transitioned(
                    TaskTransition(
                        id: ack.lease.id, from: .running, to: to, attempt: ended?.attempt, queue: ended?.queue, kind: ended?.kind,
                        run: ended?.ran)))
        }
        events.emit(transitions)
        return reports.map(\.outcome)
    }

    /// Queues an ack and waits until its batch is written; returns its outcome.
    public func ack(_ ack: TaskAck) async throws -> AckOutcome {
        try await withCheckedThrowingContinuation { continuation in
            enqueue(Entry(ack: ack, continuation: continuation))
        }
    }

    /// Queues several acks and waits for all their outcomes, in order.
    public func ackMany(_ acks: [TaskAck]) async throws -> [AckOutcome] {
        try await withThrowingTaskGroup(of: (Int, AckOutcome).self) { group in
            for (i, a) in acks.enumerated() {
                group.addTask { (i, try await self.ack(a)) }
            }
            var outcomes = [AckOutcome](repeating: .notFound, count: acks.count)
            for try await (i, outcome) in group { outcomes[i] = outcome }
            return outcomes
        }
    }

    /// Queues an ack without waiting for it; a refused ack is logged.
    public func ackDetached(_ ack: TaskAck) {
        enqueue(Entry(ack: ack, continuation: nil))
    }

    /// Returns once every ack queued so far has been written (at once when `run()` has
    /// returned).
    public func flush() async {
        await queue.idle()
    }

    private func enqueue(_ entry: Entry) {
        guard !queue.append(entry) else { return }
        let error = BatonError.unavailable("the node is stopping: acknowledgement not written")
        if let continuation = entry.continuation {
            continuation.resume(throwing: error)
        } else {
            logger.warning("ack refused: the completer has stopped", metadata: ["task_id": "\(entry.ack.lease.id)"])
        }
    }

    /// Writes batches until graceful shutdown (or cancellation), then everything still queued.
    public func run() async throws {
        guard !started.exchange(true, ordering: .relaxed) else { throw BatonError(.internal, "a TaskCompleter runs once") }
        let maxBatch = configuration.maxBatch
        let left = await withGracefulShutdownHandler {
            await queue.run(
                linger: configuration.linger, isFull: { $0.count >= maxBatch }, take: { _ in maxBatch },
                write: { batch in await self.write(batch) })
        } onGracefulShutdown: {
            self.queue.finish()
        }
        for entry in left {
            entry.continuation?.resume(throwing: BatonError.unavailable("the node stopped before this acknowledgement was written"))
        }
        if !left.isEmpty {
            logger.warning(
                "acks not written at shutdown; their tasks are rescued when their leases expire", metadata: ["count": "\(left.count)"])
        }
    }

    private func write(_ batch: [Entry]) async {
        var lastError: (any Error)?
        for attempt in 1...max(1, configuration.writeAttempts) {
            do {
                let outcomes = try await write(now: batch.map(\.ack))
                for (entry, outcome) in zip(batch, outcomes) {
                    if let continuation = entry.continuation {
                        continuation.resume(returning: outcome)
                    } else if case .staleLease = outcome {
                        logger.warning("ack refused: lease no longer held", metadata: ["task_id": "\(entry.ack.lease.id)"])
                    }
                }
                return
            } catch {
                lastError = error
                logger.warning(
                    "ack batch write failed", metadata: ["attempt": "\(attempt)", "count": "\(batch.count)", "error": "\(error)"])
                try? await Task.sleep(for: .milliseconds(50 * attempt))
            }
        }
        for entry in batch {
            entry.continuation?.resume(throwing: lastError ?? BatonError.unavailable("ack write failed"))
        }
    }
}
