import BatonCore
import BatonSQS
import BatonWorker
import Foundation
import Logging
import Synchronization

/// A worker's tasks from an SQS work queue, its results to an SQS results queue: the worker
/// side of the dispatch and results roles (docs/brokers.md), so that ``WorkerRuntime`` runs the
/// same handlers as over HTTP.
///
/// - A claim is a `ReceiveMessage` (long poll, at most 10 messages and 20 s), each message
///   hidden for the lease; a work message Baton cannot read is logged and left for the queue's
///   redrive policy.
/// - A heartbeat extends the messages' visibility (`ChangeMessageVisibilityBatch`) and sends a
///   heartbeat message on the results queue, which the node applies as a lease extension.
///   The outcome is always `extended`: over SQS the worker does not learn of a cancellation
///   (a cancelled task's result is refused by the node).
/// - Acks are sent as result messages, ten per `SendMessageBatch`, then the work messages are
///   deleted. A worker that dies in between leaves the work message to come back: the task
///   runs again and its second result is refused (the first one ended the lease).
/// - A release makes the message visible again at once, for another worker; the lease stays.
/// - Parent results and follow-up tasks need the node: over SQS they are refused.
public final class SQSTaskSource: TaskSource {
    public let work: SQSQueue
    public let results: SQSQueue
    let logger: Logger
    let messages: SQSWorkMessages
    private let acks = BatchQueue<TaskAck>()
    private let unsent = Mutex<[LeaseRef: Int]>([:])

    /// Attempts at sending one batch of results before it is given up (the tasks then come
    /// back when their leases run out).
    static let sendAttempts = 8

    public init(work: SQSQueue, results: SQSQueue, logger: Logger) {
        self.work = work
        self.results = results
        self.logger = logger
        self.messages = SQSWorkMessages(queue: work, logger: logger)
    }

    /// Work messages received and not yet settled.
    public var heldCount: Int { messages.count }

    // MARK: TaskSource

    public func claim(worker: String, queues: [String], kinds: [String], max: Int, wait: Duration, lease: Duration)
        async throws -> [ClaimedTask]
    {
        try await messages.receive(max: max, wait: wait, lease: lease)
    }

    public func heartbeat(_ leases: [LeaseRef], lease: Duration, progress: [LeaseRef: TaskProgress]) async throws
        -> [HeartbeatOutcome]
    {
        guard !leases.isEmpty else { return [] }
        try await messages.extend(leases, lease: lease)
        let resultsURL = try await SQSWorkMessages.reach(results)
        // About 80 bytes per lease: 1,000 per message stays well under SQS's 256 KiB.
        for start in stride(from: 0, to: leases.count, by: 1000) {
            let chunk = Array(leases[start..<Swift.min(start + 1000, leases.count)])
            do {
                _ = try await results.client.sendMessage(
                    .init(queueURL: resultsURL, messageBody: SQSWire.heartbeatMessage(chunk, lease: lease)))
            } catch {
                throw SQSWorkMessages.unavailable(error, results)
            }
        }
        let until = Date().addingTimeInterval(lease.seconds)
        return leases.map { _ in .extended(until: until) }
    }

    public func ack(_ ack: TaskAck) {
        unsent.withLock { $0[ack.lease, default: 0] += 1 }
        if !acks.append(ack) {
            settled([ack])
            logger.warning(
                "ack after the worker stopped; the task returns when its lease runs out", metadata: ["task_id": "\(ack.lease.id)"])
        }
    }

    public func run() async {
        _ = await acks.run(
            linger: .milliseconds(2), isFull: { $0.count >= SQSClient.maxBatchEntries }, take: { _ in SQSClient.maxBatchEntries },
            write: { batch in
                await self.send(batch)
                self.settled(batch)
            })
    }

    public func stop() { acks.finish() }

    public func flush() async { await acks.idle() }

    public var pendingLeases: [LeaseRef] { unsent.withLock { Array($0.keys) } }

    public func release(_ leases: [LeaseRef]) async throws {
        try await messages.release(leases)
    }

    /// Nothing to announce over SQS (the node learns of the worker from its results).
    public func announce(_ announcement: WorkerAnnouncement) async throws {}

    public func parents(of id: TaskID, cursor: Int?, limit: Int) async throws -> ParentPage {
        throw BatonError.unavailable(
            "a worker that sends its results over SQS cannot read a task's parents: run it with --server instead of --sqs-results")
    }

    public func complete(_ completion: TaskCompletion, followUps: [NewTask]) async throws {
        throw BatonError.unavailable(
            "a worker that sends its results over SQS cannot submit follow-up tasks: run it with --server instead of --sqs-results")
    }

    // MARK: Results

    /// Sends one batch of result messages (retrying with backoff), then deletes their work
    /// messages.
    private func send(_ batch: [TaskAck]) async {
        let attempts = messages.attempts(of: batch.map(\.lease))
        var entries: [SQS.SendMessageBatchEntry] = []
        for (i, (ack, attempt)) in zip(batch, attempts).enumerated() {
            var body = SQSWire.resultMessage(ack, attempt: attempt)
            if body.utf8.count > SQSWire.maxMessageBytes {
                let failure = TaskFailure(
                    lease: ack.lease,
                    message:
                        "the result is \(body.utf8.count) bytes as an SQS message, more than SQS's limit of \(SQSWire.maxMessageBytes)",
                    retryable: false)
                body = SQSWire.resultMessage(.fail(failure), attempt: attempt)
            }
            entries.append(SQS.SendMessageBatchEntry(id: "a\(i)", messageBody: body))
        }
        var pending = Array(zip(batch, entries))
        var delay = Duration.milliseconds(100)
        for attempt in 1...Self.sendAttempts where !pending.isEmpty {
            do {
                let url = try await results.queueURL()
                let result = try await results.client.sendMessageBatch(.init(queueURL: url, entries: pending.map { $0.1 }))
                let failed = Set(result.failed.map(\.id))
                let sent = pending.filter { !failed.contains($0.1.id) }.map { $0.0 }
                await messages.delete(sent.map(\.lease))
                pending = pending.filter { failed.contains($0.1.id) }
                if !pending.isEmpty {
                    logger.warning(
                        "SQS refused some result messages; retrying",
                        metadata: ["count": "\(pending.count)", "error": "\(result.failed.first.map { "\($0.code)" } ?? "")"])
                }
            } catch {
                logger.warning(
                    "could not send results to SQS; keeping them and retrying",
                    metadata: ["count": "\(pending.count)", "attempt": "\(attempt)", "error": "\(error)"])
            }
            if !pending.isEmpty && attempt < Self.sendAttempts {
                try? await Task.sleep(for: delay)
                delay = Swift.min(delay * 2, .seconds(5))
            }
        }
        if !pending.isEmpty {
            logger.error(
                "gave up sending results to SQS; their tasks return when their leases run out",
                metadata: ["count": "\(pending.count)"])
            messages.forget(pending.map { $0.0.lease })
        }
    }

    private func settled(_ batch: [TaskAck]) {
        unsent.withLock { pending in
            for ack in batch {
                let left = (pending[ack.lease] ?? 1) - 1
                pending[ack.lease] = left > 0 ? left : nil
            }
        }
    }
}
