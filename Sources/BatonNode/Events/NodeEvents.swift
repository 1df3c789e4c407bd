import BatonCore
import Foundation
import Synchronization

/// Something that happened on a node, as the node's event stream carries it.
public enum NodeEvent: Sendable, Hashable {
    /// Tasks were stored (a submit, a batch, a schedule's fire).
    case enqueued(TaskRef)
    /// A worker claimed a task: a new attempt. `wait` is how long it was claimable first
    /// (from its `run_at` to the claim, by the store's clock).
    case claimed(TaskRef, attempt: Int, worker: String, wait: Duration)
    /// A task moved from one state to another (an ack, a cancel, an operator retry, a rescue).
    case transitioned(TaskTransition)
    /// The lease rescuer treated this many expired leases as failed attempts.
    case rescued(count: Int)
    /// A schedule fired and submitted this many tasks.
    case scheduleFired(schedule: String, tasks: Int)
    /// This node became the cluster's leader, or stopped being it.
    case leadershipChanged(isLeader: Bool)
    /// A running attempt reported how far it got (sent with a heartbeat of a current lease).
    case progressed(TaskID, TaskProgress)
    /// One store call of the node's hot path or maintenance took this long (emitted only
    /// while the stream is observed).
    case storeOperation(StoreOperation, took: Duration)
}

/// The store calls a node times (``NodeEvent/storeOperation(_:took:)``).
public enum StoreOperation: String, Sendable, Hashable, CaseIterable {
    /// A batch claim of the dispatcher.
    case claim
    /// A batch of acknowledgements (completions, failures) written by the completer.
    case ack
    /// A submit: one task, a batch, or a workflow.
    case enqueue
    /// A refresh of the queue counts cache.
    case counts
    /// A pass of the lease rescuer.
    case rescue
}

extension NodeEvents {
    /// Runs `body`, a store call, and emits how long it took as `op` when the stream is observed.
    @inlinable
    public func timed<T>(_ op: StoreOperation, _ body: () async throws -> T) async rethrows -> T {
        guard isObserved else { return try await body() }
        let start = ContinuousClock.now
        let result = try await body()
        emit(.storeOperation(op, took: ContinuousClock.now - start))
        return result
    }
}

/// A task as events name it.
public struct TaskRef: Sendable, Hashable {
    public var id: TaskID
    public var queue: String
    public var kind: String
    /// The task's workflow, if it belongs to one.
    public var workflowID: TaskID?

    public init(id: TaskID, queue: String, kind: String, workflowID: TaskID? = nil) {
        self.id = id
        self.queue = queue
        self.kind = kind
        self.workflowID = workflowID
    }

    public init(_ task: TaskRecord) {
        self.init(id: task.id, queue: task.queue, kind: task.kind, workflowID: task.workflowID)
    }
}

/// One move of a task's state. `from`, `attempt`, `queue`, `kind` and `run` are set when the
/// emitter knows them (an ack's `from` is always `running`; a cancel answered by the store
/// with the task as it is afterwards does not say what it was before).
public struct TaskTransition: Sendable, Hashable {
    public var id: TaskID
    public var from: TaskState?
    public var to: TaskState
    public var attempt: Int?
    public var queue: String?
    public var kind: String?
    /// For the end of an attempt: from its claim to this transition.
    public var run: Duration?
    /// The attempt ended because its lease expired (the lease rescuer), not by an ack.
    public var leaseExpired: Bool

    public init(
        id: TaskID, from: TaskState?, to: TaskState, attempt: Int? = nil, queue: String? = nil, kind: String? = nil, run: Duration? = nil,
        leaseExpired: Bool = false
    ) {
        self.leaseExpired = leaseExpired
        self.id = id
        self.from = from
        self.to = to
        self.attempt = attempt
        self.queue = queue
        self.kind = kind
        self.run = run
    }
}

/// The node's event stream: the dispatcher, the completer, the node API and the maintenance
/// services emit into it; long-poll waiters, and later metrics, the dashboard and workflows,
/// consume it.
///
/// The hot path never waits for a consumer: with nobody listening, `emit` costs one atomic
/// load; each ``Subscription`` has a bounded buffer, and events that do not fit are dropped
/// and counted (``Subscription/dropped``, ``dropped``). Listeners (``listen(whenDemanded:_:)``)
/// are called synchronously by the emitter and must return at once (they are for in-process
/// indexes such as the long-poll waiters). A listener registered `whenDemanded` does not by
/// itself make the stream observed: its owner raises ``demand(_:)`` while it needs events (the
/// waiters, while a wait is in progress), so that a node nobody waits on keeps the fast path.
///
/// A node sees the events of the work it does itself: the tasks submitted, claimed and
/// acknowledged through it, the cancels and retries sent to it, and the rescues and schedule
/// fires it runs as leader. On PostgreSQL with several nodes, a task completed through
/// another node, or rescued by another leader, is not seen here; `GET /v1/events` shows them
/// through the cluster's event log (``ClusterEventFeed``), to which each node publishes this
/// stream while someone reads it.
public final class NodeEvents: Sendable {
    public static let defaultBufferSize = 4096

    private struct Consumers {
        var listeners: [UInt64: @Sendable ([NodeEvent]) -> Void] = [:]
        var subscriptions: [UInt64: Subscription] = [:]
        var nextID: UInt64 = 0
    }

    private let consumers = Mutex(Consumers())
    private let count = Atomic<Int>(0)
    private let droppedTotal = Atomic<Int>(0)

    public init() {}

    /// Events dropped by every subscription so far (each subscription's buffer was full).
    public var dropped: Int { droppedTotal.load(ordering: .relaxed) }

    /// Whether anything consumes events now: emitters that build events eagerly check it first.
    public var isObserved: Bool { count.load(ordering: .relaxed) > 0 }

    /// Raises (or, negative, lowers) the demand of a `whenDemanded` listener's owner.
    public func demand(_ delta: Int) {
        count.add(delta, ordering: .relaxed)
    }

    public func emit(_ event: NodeEvent) { emit(CollectionOfOne(event)) }

    public func emit(_ events: some Collection<NodeEvent>) {
        guard !events.isEmpty, count.load(ordering: .relaxed) > 0 else { return }
        let (listeners, subscriptions) = consumers.withLock { c in (Array(c.listeners.values), Array(c.subscriptions.values)) }
        let batch = Array(events)
        for listener in listeners { listener(batch) }
        for subscription in subscriptions {
            let lost = subscription.offer(batch)
            if lost > 0 { droppedTotal.add(lost, ordering: .relaxed) }
        }
    }

    /// Calls `listener` with every batch of events emitted from now until the returned
    /// token's `cancel()`. It runs on the emitter's thread: keep it short and non-blocking.
    public func listen(whenDemanded: Bool = false, _ listener: @escaping @Sendable ([NodeEvent]) -> Void) -> Cancellation {
        let id = consumers.withLock { c -> UInt64 in
            c.nextID &+= 1
            c.listeners[c.nextID] = listener
            return c.nextID
        }
        if !whenDemanded { count.add(1, ordering: .relaxed) }
        return Cancellation { [weak self] in
            guard let self else { return }
            let removed = self.consumers.withLock { $0.listeners.removeValue(forKey: id) != nil }
            if removed && !whenDemanded { self.count.subtract(1, ordering: .relaxed) }
        }
    }

    /// A stream of the events emitted from now on that `filter` accepts, buffered up to
    /// `bufferSize` (beyond that the newest are dropped and counted). Ends at `cancel()`.
    public func subscribe(
        bufferSize: Int = NodeEvents.defaultBufferSize, filter: @escaping @Sendable (NodeEvent) -> Bool = { _ in true }
    ) -> Subscription {
        let subscription = Subscription(bufferSize: max(1, bufferSize), filter: filter)
        let id = consumers.withLock { c -> UInt64 in
            c.nextID &+= 1
            c.subscriptions[c.nextID] = subscription
            return c.nextID
        }
        count.add(1, ordering: .relaxed)
        subscription.onCancel { [weak self] in
            guard let self else { return }
            let removed = self.consumers.withLock { $0.subscriptions.removeValue(forKey: id) != nil }
            if removed { self.count.subtract(1, ordering: .relaxed) }
        }
        return subscription
    }

    /// Stops a listener.
    public struct Cancellation: Sendable {
        let body: @Sendable () -> Void
        public func cancel() { body() }
    }

    /// One consumer's bounded view of the stream: `for await event in subscription`.
    public final class Subscription: AsyncSequence, Sendable {
        public typealias Element = NodeEvent

        private struct State {
            var buffer: [NodeEvent] = []
            var head = 0
            var waiter: CheckedContinuation<NodeEvent?, Never>?
            var finished = false
            var dropped = 0
            var onCancel: (@Sendable () -> Void)?
        }

        public let bufferSize: Int
        private let filter: @Sendable (NodeEvent) -> Bool
        private let state = Mutex(State())

        init(bufferSize: Int, filter: @escaping @Sendable (NodeEvent) -> Bool) {
            self.bufferSize = bufferSize
            self.filter = filter
        }

        /// Events this subscription lost because its buffer was full.
        public var dropped: Int { state.withLock { $0.dropped } }

        /// Ends the stream; a waiting `next()` returns `nil`.
        public func cancel() {
            let (waiter, onCancel) = state.withLock { s -> (CheckedContinuation<NodeEvent?, Never>?, (@Sendable () -> Void)?) in
                guard !s.finished else { return (nil, nil) }
                s.finished = true
                defer {
                    s.waiter = nil
                    s.onCancel = nil
                }
                return (s.waiter, s.onCancel)
            }
            waiter?.resume(returning: nil)
            onCancel?()
        }

        func onCancel(_ body: @escaping @Sendable () -> Void) {
            state.withLock { $0.onCancel = body }
        }

        /// Buffers what the filter accepts; returns how many were dropped.
        func offer(_ events: [NodeEvent]) -> Int {
            let accepted = events.filter(filter)
            guard !accepted.isEmpty else { return 0 }
            let (waiter, first, lost) = state.withLock { s -> (CheckedContinuation<NodeEvent?, Never>?, NodeEvent?, Int) in
                guard !s.finished else { return (nil, nil, 0) }
                var rest = accepted[...]
                var handed: NodeEvent?
                let waiter = s.waiter
                if waiter != nil {
                    handed = rest.removeFirst()
                    s.waiter = nil
                }
                let room = bufferSize - (s.buffer.count - s.head)
                let kept = rest.prefix(Swift.max(0, room))
                s.buffer.append(contentsOf: kept)
                let lost = rest.count - kept.count
                s.dropped += lost
                return (waiter, handed, lost)
            }
            if let waiter { waiter.resume(returning: first) }
            return lost
        }

        func next() async -> NodeEvent? {
            await withTaskCancellationHandler {
                await withCheckedContinuation { (continuation: CheckedContinuation<NodeEvent?, Never>) in
                    let ready = state.withLock { s -> (NodeEvent?, Bool) in
                        if s.head < s.buffer.count {
                            let event = s.buffer[s.head]
                            s.head += 1
                            if s.head > 1024 && s.head * 2 > s.buffer.count {
                                s.buffer.removeFirst(s.head)
                                s.head = 0
                            }
                            return (event, true)
                        }
                        if s.finished || Task.isCancelled { return (nil, true) }
                        s.waiter = continuation
                        return (nil, false)
                    }
                    if ready.1 { continuation.resume(returning: ready.0) }
                }
            } onCancel: {
                let waiter = state.withLock { s -> CheckedContinuation<NodeEvent?, Never>? in
                    defer { s.waiter = nil }
                    return s.waiter
                }
                waiter?.resume(returning: nil)
            }
        }

        public struct AsyncIterator: AsyncIteratorProtocol {
            let subscription: Subscription
            public mutating func next() async -> NodeEvent? { await subscription.next() }
        }

        public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(subscription: self) }
    }
}
