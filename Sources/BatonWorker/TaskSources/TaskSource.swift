import BatonCore

/// Where a worker's tasks come from and where their outcomes go: the local store through the
/// node's dispatcher and completer (`LocalTaskSource` in BatonNode), or a node over HTTP
/// (``HTTPTaskSource``).
public protocol TaskSource: Sendable {
    /// Claims up to `max` ready tasks of the given queues and kinds, waiting up to `wait` for
    /// some to become ready (long-poll). Returns an empty array when the wait ends with none.
    /// Throws `BatonError.unavailable` while the source cannot be reached.
    func claim(worker: String, queues: [String], kinds: [String], max: Int, wait: Duration, lease: Duration)
        async throws -> [ClaimedTask]

    /// Extends the leases of running tasks, storing the progress reported with some of them;
    /// one outcome per lease, in order.
    func heartbeat(_ leases: [LeaseRef], lease: Duration, progress: [LeaseRef: TaskProgress]) async throws -> [HeartbeatOutcome]

    /// Queues a completion or failure. Returns at once; the source writes acks in batches.
    func ack(_ ack: TaskAck)

    /// Returns running tasks to `ready` without using an attempt (graceful shutdown).
    func release(_ leases: [LeaseRef]) async throws

    /// Returns once every ack queued so far has been written.
    func flush() async

    /// The source's own background work (the HTTP source sends acks here), run by the
    /// ``WorkerRuntime`` beside its claims until ``stop()``, outside the runtime's
    /// cancellation so that the last acks still go out. Sources without any return at once.
    func run() async

    /// Ends ``run()`` once everything queued has been written.
    func stop()

    /// Tells the node who this worker is: its queues, its kinds with their retry policies, its
    /// concurrency and how many tasks it runs now. Sent when the worker starts and with each
    /// heartbeat round; the node applies the kinds' policies to failures and lease rescues.
    func announce(_ announcement: WorkerAnnouncement) async throws

    /// The leases of finished tasks whose acks the source holds and has not written yet: the
    /// runtime heartbeats them with its running tasks until they are written.
    var pendingLeases: [LeaseRef] { get }

    /// A page of a task's parents with their results (docs/workflows.md), for a task that
    /// waited for parents (`parentCount`): read before its handler runs.
    func parents(of id: TaskID, cursor: Int?, limit: Int) async throws -> ParentPage

    /// Completes a task and stores its follow-up tasks in the same transaction (a handler's
    /// ``TaskContext/followUp(_:)``); written at once, not batched. Throws `staleLease` when
    /// the lease was lost: then no follow-up exists.
    func complete(_ completion: TaskCompletion, followUps: [NewTask]) async throws
}

extension TaskSource {
    /// Extends the leases of running tasks; one outcome per lease, in order.
    public func heartbeat(_ leases: [LeaseRef], lease: Duration) async throws -> [HeartbeatOutcome] {
        try await heartbeat(leases, lease: lease, progress: [:])
    }

    public func run() async {}
    public func stop() {}
    public var pendingLeases: [LeaseRef] { [] }
}
