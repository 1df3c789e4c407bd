import BatonCore
import Foundation

/// The node's operations, once: tasks, the worker protocol, workers, schedules and queues.
/// Every interface is a thin adapter over it: the REST routes and the JSON-RPC methods
/// decode their input, call one of these, and render the same JSON.
public struct NodeAPI: Sendable {
    public let node: NodeServices
    /// The limits in force, which a reload may change between requests.
    public let limits: LiveSetting<NodeAPILimits>

    /// The limits in force now (one lock: read it once per operation).
    public var configuration: NodeAPILimits { limits.value }

    public init(node: NodeServices, limits: NodeAPILimits = .init()) {
        self.init(node: node, limits: LiveSetting(limits))
    }

    /// An API whose limits follow a live setting.
    public init(node: NodeServices, limits: LiveSetting<NodeAPILimits>) {
        self.node = node
        self.limits = limits
    }

    /// Acks of one request at least this many go to the store as they are (already a batch);
    /// smaller ones join the completer's shared batch with other workers' acks.
    public static var directAckThreshold: Int { 64 }
    public static var maxClaim: Int { 1000 }
    /// A `wait` without `timeout` waits this long (capped by `maxWait`).
    public static var defaultWait: Duration { .seconds(30) }
    /// Fallback re-read of a waited-on task finished elsewhere (rescuer, another node).
    public static var waitPoll: Duration { .milliseconds(50) }

    // MARK: Tasks

    /// Checks a task before it is stored: its fields and size (``NewTask/validate(maxArgsBytes:)``),
    /// and for a kind of ``NodeConfiguration/stringArgKinds`` its arguments' types.
    public func validate(_ task: NewTask, maxArgsBytes: Int) throws(BatonError) {
        try task.validate(maxArgsBytes: maxArgsBytes)
        if !node.configuration.stringArgKinds.isEmpty && node.configuration.stringArgKinds.contains(task.kind) {
            try task.validateStringArgs()
        }
    }

    public func submit(_ task: NewTask) async throws -> TaskRecord {
        try validate(task, maxArgsBytes: configuration.maxArgsBytes)
        let stored = try await Self.traced([task], stored: \.self) { tasks in
            try await node.events.timed(.enqueue) { try await node.store.taskEnqueueMany(TaskEnqueueParams(tasks: tasks)) }
        }
        guard let first = stored.first else { throw BatonError(.internal, "the store returned no task") }
        node.events.emit(.enqueued(TaskRef(first)))
        return first
    }

    /// Validates and submits one task or a batch, with unique keys and an idempotency key:
    /// duplicates (an active task holds the unique key) and replays are reported, not stored.
    public func submitOutcome(_ tasks: [NewTask], idempotencyKey: String?) async throws -> TaskEnqueueOutcome {
        guard !tasks.isEmpty else { throw BatonError.invalidArgument("the batch is empty; submit at least one task") }
        let configuration = self.configuration
        guard tasks.count <= configuration.maxBatch else {
            throw BatonError(.tooLarge, "the batch has \(tasks.count) tasks, more than the limit of \(configuration.maxBatch)")
        }
        for (i, task) in tasks.enumerated() {
            do {
                try validate(task, maxArgsBytes: configuration.maxArgsBytes)
            } catch {
                throw tasks.count == 1 ? error : BatonError(error.code, "task [\(i)]: \(error.message)")
            }
        }
        let outcome = try await Self.traced(tasks, stored: \.tasks) { tasks in
            try await node.events.timed(.enqueue) {
                try await node.store.taskEnqueueManyOutcome(TaskEnqueueParams(tasks: tasks, idempotencyKey: idempotencyKey))
            }
        }
        if outcome.replayed && outcome.tasks.isEmpty {
            throw BatonError(
                .conflict,
                "this Idempotency-Key's request was applied before, and the tasks it created have been deleted since; "
                    + "submit with a new key to create them again")
        }
        node.events.emit(
            outcome.tasks.indices.lazy.filter { !outcome.duplicate[$0] }.map { NodeEvent.enqueued(TaskRef(outcome.tasks[$0])) })
        return outcome
    }

    public func get(_ id: TaskID) async throws -> TaskRecord {
        guard let task = try await node.store.taskGet(id) else { throw BatonError.taskNotFound(id) }
        return task
    }

    /// A task with the token of its current lease, for the drop-in routes whose clients complete
    /// a running task by its id alone (docs/compat.md); no interface answers the token.
    /// Throws `notFound` for an unknown task.
    public func getWithLease(_ id: TaskID) async throws -> TaskWithLease {
        guard let found = try await node.store.taskGetWithLease(id) else { throw BatonError.taskNotFound(id) }
        return found
    }

    /// `states` as names (`"ready"`), `limit` as given; all checked here.
    public func list(
        states: [String]?, queue: String?, kind: String?, limit: Int?, cursor: String?, tag: String? = nil
    ) async throws -> TaskPage {
        var params = TaskListParams()
        if let states, !states.isEmpty {
            params.states = try states.map { name in
                guard let state = TaskState(rawValue: name) else {
                    let valid = TaskState.allCases.map(\.rawValue).joined(separator: ", ")
                    throw BatonError.invalidArgument("state '\(name)' is not a task state (expected one of \(valid))")
                }
                return state
            }
        }
        if let queue, !queue.isEmpty { params.queue = queue }
        if let kind, !kind.isEmpty { params.kind = kind }
        if let limit { params.limit = limit }
        if let cursor, !cursor.isEmpty { params.cursor = cursor }
        if let tag, !tag.isEmpty { params.tag = tag }
        _ = try params.validatedCursor()
        return try await node.store.taskList(params)
    }

    /// Long-polls until the task is terminal or the timeout (seconds) passes; answers the task as it is then.
    public func wait(_ id: TaskID, timeout seconds: Double?) async throws -> TaskRecord {
        let timeout = try waitTimeout(seconds)
        let deadline = ContinuousClock.now.advanced(by: timeout)
        let node = self.node
        return try await node.waiters.withSignal(for: id) { signal in
            while true {
                let generation = signal.generation
                guard let task = try await node.store.taskGet(id) else { throw BatonError.taskNotFound(id) }
                let remaining = deadline - ContinuousClock.now
                if task.state.isTerminal || remaining <= .zero || Task.isCancelled { return task }
                await signal.wait(after: generation, timeout: min(remaining, Self.waitPoll))
            }
        }
    }

    public func cancel(_ id: TaskID) async throws -> TaskRecord {
        let task = try await node.store.taskCancel(id)
        node.events.emit(
            .transitioned(TaskTransition(id: id, from: nil, to: task.state, attempt: task.attempt, queue: task.queue, kind: task.kind)))
        return task
    }

    public func retry(_ id: TaskID) async throws -> TaskRecord {
        let task = try await node.store.taskRetry(id)
        node.events.emit(
            .transitioned(TaskTransition(id: id, from: nil, to: task.state, attempt: task.attempt, queue: task.queue, kind: task.kind)))
        return task
    }

    public func delete(_ id: TaskID) async throws {
        try await node.store.taskDelete(id)
    }

    public func queues() async throws -> QueuesResponse {
        try await node.counts.current()
    }

    // MARK: Worker protocol

    /// Claims for `body.worker`, waiting up to `wait_ms` (capped by `maxWait`) for tasks.
    /// With `presence` (the worker's connection), the claim stops when the worker leaves, and
    /// tasks claimed for it just before it left go back at once instead of at their lease's
    /// expiry.
    public func claim(_ body: ClaimBody, presence: (any ClientPresence)? = nil) async throws -> [ClaimedTask] {
        try Limits.validateWorkerID(body.worker)
        let queues = body.queues ?? [Defaults.queue]
        guard !queues.isEmpty else { throw BatonError.invalidArgument("queues must not be empty") }
        for queue in queues { try Self.checkQueueName(queue) }
        if let kinds = body.kinds {
            for kind in kinds { try NewTask.validateName(kind, field: "kind", maxLength: Limits.maxKindLength) }
        }
        let max = body.max ?? 1
        guard (1...Self.maxClaim).contains(max) else {
            throw BatonError.invalidArgument("max must be between 1 and \(Self.maxClaim), got \(max)")
        }
        let waitMS = body.waitMS ?? 0
        guard waitMS >= 0 else { throw BatonError.invalidArgument("wait_ms must not be negative, got \(waitMS)") }
        let lease = try leaseDuration(body.leaseMS)
        let request = ClaimRequest(
            worker: body.worker, queues: queues, kinds: body.kinds, max: max,
            wait: min(.milliseconds(waitMS), configuration.maxWait), lease: lease)
        node.workers.contact(body.worker)
        let dispatcher = node.dispatcher
        guard let connection = presence else { return try await dispatcher.claim(request) }
        let claimed = try await connection.cancellingOnClose { try await dispatcher.claim(request) }
        guard connection.isClosed, !claimed.isEmpty else { return claimed }
        _ = try await node.store.taskReleaseMany(
            TaskReleaseParams(leases: claimed.map { LeaseRef(id: $0.task.id, token: $0.leaseToken) }))
        return []
    }

    public func heartbeat(_ id: TaskID, _ body: HeartbeatBody) async throws -> HeartbeatResponse {
        let lease = try leaseDuration(body.leaseMS)
        let ref = LeaseRef(id: id, token: body.leaseToken)
        var progress: [LeaseRef: TaskProgress] = [:]
        if let reported = body.progress {
            try reported.validate()
            progress[ref] = reported
        }
        let outcomes = try await node.store.taskHeartbeatMany(TaskHeartbeatParams(leases: [ref], lease: lease, progress: progress))
        Self.emitProgress(progress, outcomes: outcomes, leases: [ref], events: node.events)
        switch outcomes.first {
        case .extended(let until):
            return HeartbeatResponse(cancelled: false, leaseExpiresAt: until)
        case .cancelled:
            return HeartbeatResponse(cancelled: true, leaseExpiresAt: nil)
        case .notFound, nil:
            throw BatonError.taskNotFound(id)
        case .lost:
            throw BatonError.staleLease("task \(id): the lease token is not the task's current lease")
        }
    }

    public func heartbeatMany(_ body: HeartbeatManyBody) async throws -> HeartbeatManyResponse {
        if let worker = body.worker { try Limits.validateWorkerID(worker) }
        let lease = try leaseDuration(body.leaseMS)
        guard !body.leases.isEmpty else { return HeartbeatManyResponse(results: []) }
        var progress: [LeaseRef: TaskProgress] = [:]
        for item in body.leases {
            guard let reported = item.progress else { continue }
            try reported.validate()
            progress[item.ref] = reported
        }
        let leases = body.leases.map(\.ref)
        let outcomes = try await node.store.taskHeartbeatMany(TaskHeartbeatParams(leases: leases, lease: lease, progress: progress))
        Self.emitProgress(progress, outcomes: outcomes, leases: leases, events: node.events)
        return HeartbeatManyResponse(results: zip(body.leases, outcomes).map { HeartbeatItemResult(id: $0.id, outcome: $1) })
    }

    /// Emits the progress reported with leases the store extended.
    public static func emitProgress(
        _ progress: [LeaseRef: TaskProgress], outcomes: [HeartbeatOutcome], leases: [LeaseRef], events: NodeEvents
    ) {
        guard !progress.isEmpty, events.isObserved else { return }
        var reported: [NodeEvent] = []
        for (lease, outcome) in zip(leases, outcomes) {
            guard case .extended = outcome, let p = progress[lease] else { continue }
            reported.append(.progressed(lease.id, p))
        }
        events.emit(reported)
    }

    public func complete(_ id: TaskID, _ body: CompleteBody) async throws -> TaskRecord {
        let result = body.result ?? .null
        try checkResult(result)
        if let followUps = body.followUps, !followUps.isEmpty {
            return try await completeWithFollowUps(
                TaskCompletion(lease: LeaseRef(id: id, token: body.leaseToken), result: result), followUps)
        }
        return try await applySingle(.complete(TaskCompletion(lease: LeaseRef(id: id, token: body.leaseToken), result: result)))
    }

    public func fail(_ id: TaskID, _ body: FailBody) async throws -> TaskRecord {
        if let ms = body.retryAfterMS, ms < 0 { throw BatonError.invalidArgument("retry_after_ms must not be negative, got \(ms)") }
        return try await applySingle(
            .fail(
                TaskFailure(
                    lease: LeaseRef(id: id, token: body.leaseToken), message: body.error, retryable: body.retryable ?? true,
                    retryAfter: body.retryAfterMS.map { .milliseconds($0) })))
    }

    private func applySingle(_ ack: TaskAck) async throws -> TaskRecord {
        let id = ack.lease.id
        switch try await node.completer.ack(ack) {
        case .applied:
            return try await get(id)
        case .staleLease:
            throw BatonError.staleLease("task \(id) is not running under this lease token (never claimed, rescued, or already finished)")
        case .notFound:
            throw BatonError.taskNotFound(id)
        }
    }

    /// The store-level acks of a batched ack body, or an error naming the bad item.
    public static func acks(_ body: AckBody) throws -> [TaskAck] {
        var acks: [TaskAck] = []
        acks.reserveCapacity(body.acks.count)
        for (i, item) in body.acks.enumerated() {
            do {
                acks.append(try item.toAck())
            } catch {
                throw BatonError(error.code, "acks[\(i)]: \(error.message)")
            }
        }
        return acks
    }

    public func ack(_ acks: [TaskAck]) async throws -> [AckOutcome] {
        let maxArgsBytes = configuration.maxArgsBytes
        for (i, ack) in acks.enumerated() {
            if case .complete(let c) = ack, c.result.byteCount > maxArgsBytes {
                throw BatonError(
                    .tooLarge, "acks[\(i)]: result is \(c.result.byteCount) bytes, more than the limit of \(maxArgsBytes)")
            }
        }
        if acks.isEmpty { return [] }
        if acks.count >= Self.directAckThreshold { return try await node.completer.write(now: acks) }
        return try await node.completer.ackMany(acks)
    }

    public func release(_ body: ReleaseBody) async throws -> ReleaseResponse {
        guard !body.leases.isEmpty else { return ReleaseResponse(released: 0) }
        return ReleaseResponse(released: try await node.store.taskReleaseMany(TaskReleaseParams(leases: body.leases.map(\.ref))))
    }

    // MARK: Checks

    private func leaseDuration(_ ms: Int?) throws -> Duration {
        let configuration = self.configuration
        guard let ms else { return configuration.defaultLease }
        let lease = Duration.milliseconds(ms)
        guard ms > 0, lease <= configuration.maxLease else {
            throw BatonError.invalidArgument(
                "lease_ms must be between 1 and \(Int(configuration.maxLease.seconds * 1000)), got \(ms)")
        }
        return lease
    }

    private func checkResult(_ result: RawJSON) throws {
        let maxArgsBytes = configuration.maxArgsBytes
        if result.byteCount > maxArgsBytes {
            throw BatonError(.tooLarge, "result is \(result.byteCount) bytes, more than the limit of \(maxArgsBytes)")
        }
    }

    public static func taskID(_ text: String) throws -> TaskID {
        guard let id = TaskID(text) else { throw BatonError.invalidArgument("'\(text)' is not a task id (a UUID)") }
        return id
    }
}
