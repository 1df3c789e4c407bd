import BatonCore
import Logging
import Synchronization

/// What a handler knows about the attempt it runs: the task, its attempt, a logger carrying
/// `task_id`, `kind`, `attempt` and `worker`, and whether it should stop.
public struct TaskContext: Sendable {
    public let taskID: TaskID
    public let kind: String
    /// This attempt's number, 1-based.
    public let attempt: Int
    public let maxAttempts: Int
    public let queue: String
    /// The id of the worker running the attempt.
    public let worker: String
    /// The task's parents with their outcomes and results, in the order it listed them (empty
    /// for a task without parents). Results travel by reference: they are read from the node
    /// (paged) the first time a handler asks, or when the attempt starts for a task that passes
    /// them in its arguments, never copied into the task.
    public func parents() async throws -> [ParentResult] {
        try await parentResults.get()
    }

    /// The parent of this node name (or id, for a parent outside a workflow).
    public func parent(_ name: String) async throws -> ParentResult? {
        try await parents().first { $0.name == name }
    }

    let parentResults: ParentResults

    /// Tasks to store with this attempt's successful completion, in the same transaction
    /// (freundallein/sqs-scheduler's multistage tasks): they join the task's workflow, and none exists unless the
    /// completion commits. A follow-up may name this task in `after`.
    public func followUp(_ task: NewTask) {
        followUps.add(task)
    }

    let followUps = FollowUps()

    /// Reports how far this attempt got: `fraction` from 0 to 1 (clamped) and a message for
    /// people. The latest report is sent about once a second (with a heartbeat of this lease),
    /// stored with the task, and shown by `baton status`, `GET /v1/tasks/{id}` and the event
    /// stream. Cheap to call often. Without a runtime (a context made by hand) it does nothing.
    public func progress(_ fraction: Double, _ message: String? = nil) {
        guard let reports, let lease else { return }
        let clamped = fraction.isFinite ? min(1, max(0, fraction)) : 0
        var text = message
        if let message, !Limits.hasLength(message, 0...Limits.maxProgressMessageLength) {
            text = String(String.UnicodeScalarView(message.unicodeScalars.prefix(Limits.maxProgressMessageLength)))
        }
        reports.report(lease, TaskProgress(fraction: clamped, message: text))
    }

    let reports: ProgressReports?
    let lease: LeaseRef?

    /// The logger given at creation, without this attempt's metadata.
    let baseLogger: Logger
    let stop: StopFlag

    /// A logger carrying `task_id`, `kind`, `attempt` and `worker`. Built when asked for, so
    /// an attempt whose handler never logs pays nothing for the metadata.
    public var logger: Logger {
        var logger = baseLogger
        logger[metadataKey: "task_id"] = .stringConvertible(taskID)
        logger[metadataKey: "kind"] = .string(kind)
        logger[metadataKey: "attempt"] = .stringConvertible(attempt)
        logger[metadataKey: "worker"] = .string(worker)
        return logger
    }

    public init(
        taskID: TaskID, kind: String, attempt: Int, maxAttempts: Int, queue: String, worker: String, logger: Logger
    ) {
        self.init(
            taskID: taskID, kind: kind, attempt: attempt, maxAttempts: maxAttempts, queue: queue, worker: worker,
            logger: logger, stop: StopFlag())
    }

    init(
        taskID: TaskID, kind: String, attempt: Int, maxAttempts: Int, queue: String, worker: String, logger: Logger,
        stop: StopFlag, parents: ParentResults = ParentResults(), lease: LeaseRef? = nil, reports: ProgressReports? = nil
    ) {
        self.lease = lease
        self.reports = reports
        self.taskID = taskID
        self.kind = kind
        self.attempt = attempt
        self.maxAttempts = maxAttempts
        self.queue = queue
        self.worker = worker
        self.baseLogger = logger
        self.stop = stop
        self.parentResults = parents
    }

    /// Whether the handler should stop: an operator cancelled the task (learned at the next
    /// heartbeat), its lease was lost, its timeout passed, or the worker is shutting down and
    /// the grace period ended. The handler's Swift task is cancelled in each of these cases too.
    public var isCancelled: Bool { stop.reason != nil || Task.isCancelled }

    /// Why the handler should stop, if it should.
    public var stopReason: StopReason? { stop.reason ?? (Task.isCancelled ? .shutdown : nil) }

    /// Throws `CancellationError` when ``isCancelled`` is true.
    public func checkCancellation() throws {
        if isCancelled { throw CancellationError() }
    }
}

/// A task's parents, read once when first asked for (or given when the attempt starts).
final class ParentResults: Sendable {
    private let load: (@Sendable () async throws -> [ParentResult])?
    private let cached = Mutex<[ParentResult]?>(nil)

    /// No parents.
    init() {
        load = nil
        cached.withLock { $0 = [] }
    }

    init(loaded: [ParentResult]) {
        load = nil
        cached.withLock { $0 = loaded }
    }

    init(load: @escaping @Sendable () async throws -> [ParentResult]) {
        self.load = load
    }

    func get() async throws -> [ParentResult] {
        if let known = cached.withLock({ $0 }) { return known }
        let loaded = try await load?() ?? []
        cached.withLock { $0 = loaded }
        return loaded
    }
}

/// The follow-up tasks a handler asked for (``TaskContext/followUp(_:)``).
final class FollowUps: Sendable {
    private let tasks = Mutex<[NewTask]>([])
    func add(_ task: NewTask) { tasks.withLock { $0.append(task) } }
    var all: [NewTask] { tasks.withLock { $0 } }
}

/// Why a running handler was told to stop.
public enum StopReason: Sendable, Hashable {
    /// An operator cancelled the task.
    case cancelled
    /// The worker no longer holds the task's lease (it was rescued, or the task is gone).
    case leaseLost
    /// The attempt ran longer than its timeout.
    case timedOut
    /// The worker is shutting down and the grace period ended; the task is released.
    case shutdown
}

/// A one-way flag with waiters: set once with a reason, observed by the handler's context and
/// awaited by the attempt's watcher.
final class StopFlag: Sendable {
    private struct State {
        var reason: StopReason?
        var waiters: [UInt64: CheckedContinuation<StopReason?, Never>] = [:]
        var nextWaiter: UInt64 = 0
    }
    private let state = Mutex(State())

    var reason: StopReason? { state.withLock { $0.reason } }

    /// Sets the reason unless one is set already; returns whether this call set it.
    @discardableResult
    func set(_ reason: StopReason) -> Bool {
        let waiters = state.withLock { s -> [CheckedContinuation<StopReason?, Never>]? in
            guard s.reason == nil else { return nil }
            s.reason = reason
            let all = Array(s.waiters.values)
            s.waiters.removeAll()
            return all
        }
        guard let waiters else { return false }
        for waiter in waiters { waiter.resume(returning: reason) }
        return true
    }

    /// Returns the reason once it is set, or `nil` if the calling task is cancelled first.
    func wait() async -> StopReason? {
        let id = state.withLock { s -> UInt64 in
            s.nextWaiter &+= 1
            return s.nextWaiter
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<StopReason?, Never>) in
                let immediate = state.withLock { s -> StopReason?? in
                    if let reason = s.reason { return .some(reason) }
                    if Task.isCancelled { return .some(nil) }
                    s.waiters[id] = continuation
                    return .none
                }
                if let immediate { continuation.resume(returning: immediate) }
            }
        } onCancel: {
            let waiter = state.withLock { $0.waiters.removeValue(forKey: id) }
            waiter?.resume(returning: nil)
        }
    }
}
