import AsyncHTTPClient
import BatonCore
import BatonSQS
import BatonWorker
import Foundation
import Logging

/// A worker's tasks from an SQS work queue, its outcomes to the node over HTTP
/// (`baton worker --sqs-work Q --server URL`, docs/brokers.md): the work messages carry the
/// tasks, and everything else is the HTTP worker protocol (``HTTPTaskSource``), fenced by the
/// lease token each work message names.
///
/// - A claim is a `ReceiveMessage`, as for ``SQSTaskSource``, then one heartbeat to the node
///   for the tasks received: a task cancelled (or rescued, or finished) while its message
///   waited in the queue is dropped before it runs, and its message deleted. If the node
///   cannot be reached, the tasks run, and their first regular heartbeat decides.
/// - A heartbeat goes to the node (`POST /v1/workers/heartbeat`); the messages of the leases
///   it extended are hidden for the lease more, and those of tasks the node says were
///   cancelled, rescued or finished are deleted (the runtime stops their handlers).
/// - Acks are sent in batches over HTTP; a work message is deleted once the node answered its
///   ack. A worker killed in between leaves the message to come back: its task's lease is then
///   gone, so the heartbeat of the new run stops it and deletes the message.
/// - Parent results, follow-up tasks and the worker's announcement (`GET /v1/workers`) go
///   over HTTP too.
/// - A release makes the messages visible again at once, for another worker, as over SQS.
public final class SQSHTTPTaskSource: TaskSource {
    public let work: SQSQueue
    public let http: HTTPTaskSource
    let messages: SQSWorkMessages
    let logger: Logger

    public init(
        work: SQSQueue, servers: [URL], token: String? = nil, httpClient: HTTPClient = HTTPTaskSource.defaultHTTPClient,
        configuration: HTTPTaskSource.Configuration = .init(), logger: Logger
    ) {
        let messages = SQSWorkMessages(queue: work, logger: logger)
        self.work = work
        self.messages = messages
        self.logger = logger
        self.http = HTTPTaskSource(
            servers: servers, token: token, httpClient: httpClient, configuration: configuration, logger: logger,
            delivered: { acks in await messages.delete(acks.map(\.lease)) })
    }

    /// Work messages received and not yet settled.
    public var heldCount: Int { messages.count }

    // MARK: TaskSource

    public func claim(worker: String, queues: [String], kinds: [String], max: Int, wait: Duration, lease: Duration)
        async throws -> [ClaimedTask]
    {
        let received = try await messages.receive(max: max, wait: wait, lease: lease)
        // The messages were just hidden for `lease`: only the node's leases are extended here.
        let (runnable, ended) = try await http.checkDelivered(received, lease: lease, waitedIn: "queue")
        if !ended.isEmpty { await messages.delete(ended) }
        return runnable
    }

    public func heartbeat(_ leases: [LeaseRef], lease: Duration, progress: [LeaseRef: TaskProgress]) async throws
        -> [HeartbeatOutcome]
    {
        guard !leases.isEmpty else { return [] }
        let outcomes = try await http.heartbeat(leases, lease: lease, progress: progress)
        do {
            try await messages.settle(leases, outcomes: outcomes, lease: lease)
        } catch {
            if Task.isCancelled { throw CancellationError() }
            // The node has the lease; a message that shows up again runs under the same token
            // and whichever outcome arrives second is refused.
            logger.warning(
                "could not extend the work messages' visibility; the node kept their leases",
                metadata: ["count": "\(leases.count)", "error": "\(error)"])
        }
        return outcomes
    }

    public func ack(_ ack: TaskAck) { http.ack(ack) }

    public func run() async { await http.run() }

    public func stop() { http.stop() }

    public func flush() async { await http.flush() }

    public var pendingLeases: [LeaseRef] { http.pendingLeases }

    public func release(_ leases: [LeaseRef]) async throws {
        try await messages.release(leases)
    }

    public func announce(_ announcement: WorkerAnnouncement) async throws {
        try await http.announce(announcement)
    }

    public func parents(of id: TaskID, cursor: Int?, limit: Int) async throws -> ParentPage {
        try await http.parents(of: id, cursor: cursor, limit: limit)
    }

    /// Completes over HTTP with the follow-ups, then deletes the work message (also when the
    /// node refused the lease: the task has moved on without it).
    public func complete(_ completion: TaskCompletion, followUps: [NewTask]) async throws {
        try await http.complete(completion, followUps: followUps) { await messages.delete([completion.lease]) }
    }
}
