import BatonCore
import BatonWorker

/// The in-process source of a standalone node: claims go through the node's
/// ``TaskDispatcher`` (coalesced with every other local claimer), acks through its
/// ``TaskCompleter`` (batched), heartbeats and releases straight to the store.
public struct LocalTaskSource: TaskSource {
    public let dispatcher: TaskDispatcher
    public let completer: TaskCompleter

    public init(dispatcher: TaskDispatcher, completer: TaskCompleter) {
        self.dispatcher = dispatcher
        self.completer = completer
    }

    public func claim(worker: String, queues: [String], kinds: [String], max: Int, wait: Duration, lease: Duration)
        async throws -> [ClaimedTask]
    {
        completer.workers.contact(worker)
        return try await dispatcher.claim(ClaimRequest(worker: worker, queues: queues, kinds: kinds, max: max, wait: wait, lease: lease))
    }

    /// Registers with the node's ``WorkerRegistry`` (the completer's), as `in-process`.
    public func announce(_ announcement: WorkerAnnouncement) async throws {
        try announcement.validate()
        completer.workers.announce(announcement, transport: "in-process")
    }

    public func heartbeat(_ leases: [LeaseRef], lease: Duration, progress: [LeaseRef: TaskProgress]) async throws
        -> [HeartbeatOutcome]
    {
        guard !leases.isEmpty else { return [] }
        let outcomes = try await dispatcher.store.taskHeartbeatMany(TaskHeartbeatParams(leases: leases, lease: lease, progress: progress))
        NodeAPI.emitProgress(progress, outcomes: outcomes, leases: leases, events: dispatcher.events)
        return outcomes
    }

    public func ack(_ ack: TaskAck) {
        completer.ackDetached(ack)
    }

    public func release(_ leases: [LeaseRef]) async throws {
        guard !leases.isEmpty else { return }
        _ = try await dispatcher.store.taskReleaseMany(TaskReleaseParams(leases: leases))
    }

    public func parents(of id: TaskID, cursor: Int?, limit: Int) async throws -> ParentPage {
        try await dispatcher.store.taskParents(TaskParentsParams(id: id, cursor: cursor, limit: limit))
    }

    public func complete(_ completion: TaskCompletion, followUps: [NewTask]) async throws {
        let store = dispatcher.store
        guard let parent = try await store.taskGet(completion.lease.id) else { throw BatonError.taskNotFound(completion.lease.id) }
        _ = try await store.taskEnqueueMany(
            try TaskEnqueueParams(completing: completion, of: parent, followUps: followUps, maxArgsBytes: Limits.defaultMaxArgsBytes))
    }

    public func flush() async {
        await completer.flush()
    }
}
