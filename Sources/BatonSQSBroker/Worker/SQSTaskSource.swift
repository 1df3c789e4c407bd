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
    struct Held {
        var receiptHandle: String
        var attempt: Int
    }

    public let work: SQSQueue
    public let results: SQSQueue
    let logger: Logger
    private let held = Mutex<[LeaseRef: Held]>([:])
    private let acks = BatchQueue<TaskAck>()
    private let unsent = Mutex<[LeaseRef: Int]>([:])

    /// Attempts at sending one batch of results before it is given up (the tasks then come
    /// back when their leases run out).
    static let sendAttempts = 8

    public init(work: SQSQueue, results: SQSQueue, logger: Logger) {
        self.work = work
        self.results = results
        self.logger = logger
    }

    /// Work messages received and not yet settled.
    public var heldCount: Int { held.withLock { $0.count } }

    // MARK: TaskSource

    public func claim(worker: String, queues: [String], kinds: [String], max: Int, wait: Duration, lease: Duration)
        async throws -> [ClaimedTask]
    {
        let queueURL = try await reach(work)
        let request = SQS.ReceiveMessageRequest(
            queueURL: queueURL, maxNumberOfMessages: Swift.min(Swift.max(1, max), SQSClient.maxBatchEntries),
            waitTimeSeconds: Swift.min(SQSClient.maxWaitTimeSeconds, Swift.max(0, Int(wait.seconds.rounded(.down)))),
            visibilityTimeout: Self.seconds(lease))
        let messages: [SQS.Message]
        do {
            messages = try await work.client.receiveMessage(request).messages
        } catch {
            if Task.isCancelled { throw CancellationError() }
            throw Self.unavailable(error, work)
        }
        var claimed: [ClaimedTask] = []
        for message in messages {
            let task: ClaimedTask
            do {
                task = try SQSWire.claimedTask(fromWorkMessage: message.body)
            } catch {
                logger.error(
                    "unreadable work message left in the queue for its redrive policy",
                    metadata: ["message_id": "\(message.messageID)", "reason": "\(error.message)"])
                continue
            }
            let fresh = held.withLock { h -> Bool in
                let known = h[task.lease] != nil
                // A message delivered again while it runs here: keep its newest receipt.
                h[task.lease] = Held(receiptHandle: message.receiptHandle, attempt: task.task.attempt)
                return !known
            }
            if fresh { claimed.append(task) }
        }
        return claimed
    }

    public func heartbeat(_ leases: [LeaseRef], lease: Duration, progress: [LeaseRef: TaskProgress]) async throws
        -> [HeartbeatOutcome]
    {
        guard !leases.isEmpty else { return [] }
        let receipts = held.withLock { h in leases.compactMap { h[$0]?.receiptHandle } }
        let workURL = try await reach(work)
        let visibility = Self.seconds(lease)
        for start in stride(from: 0, to: receipts.count, by: SQSClient.maxBatchEntries) {
            let chunk = receipts[start..<Swift.min(start + SQSClient.maxBatchEntries, receipts.count)]
            let entries = chunk.enumerated().map {
                SQS.ChangeMessageVisibilityBatchEntry(id: "v\($0.offset)", receiptHandle: $0.element, visibilityTimeout: visibility)
            }
            do {
                _ = try await work.client.changeMessageVisibilityBatch(.init(queueURL: workURL, entries: entries))
            } catch {
                throw Self.unavailable(error, work)
            }
        }
        let resultsURL = try await reach(results)
        // About 80 bytes per lease: 1,000 per message stays well under SQS's 256 KiB.
        for start in stride(from: 0, to: leases.count, by: 1000) {
            let chunk = Array(leases[start..<Swift.min(start + 1000, leases.count)])
            do {
                _ = try await results.client.sendMessage(
                    .init(queueURL: resultsURL, messageBody: SQSWire.heartbeatMessage(chunk, lease: lease)))
            } catch {
                throw Self.unavailable(error, results)
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
        let receipts = held.withLock { h in leases.compactMap { h.removeValue(forKey: $0)?.receiptHandle } }
        guard !receipts.isEmpty else { return }
        let url = try await reach(work)
        for start in stride(from: 0, to: receipts.count, by: SQSClient.maxBatchEntries) {
            let chunk = receipts[start..<Swift.min(start + SQSClient.maxBatchEntries, receipts.count)]
            let entries = chunk.enumerated().map {
                SQS.ChangeMessageVisibilityBatchEntry(id: "r\($0.offset)", receiptHandle: $0.element, visibilityTimeout: 0)
            }
            do {
                _ = try await work.client.changeMessageVisibilityBatch(.init(queueURL: url, entries: entries))
            } catch {
                throw Self.unavailable(error, work)
            }
        }
    }

    /// Nothing to announce over SQS (the node learns of the worker from its results).
    public func announce(_ announcement: WorkerAnnouncement) async throws {}

    public func parents(of id: TaskID, cursor: Int?, limit: Int) async throws -> ParentPage {
        throw BatonError.unavailable("a worker over SQS cannot read a task's parents: give it --server as well, or run the kind over HTTP")
    }

    public func complete(_ completion: TaskCompletion, followUps: [NewTask]) async throws {
        throw BatonError.unavailable("a worker over SQS cannot submit follow-up tasks: run the kind over HTTP")
    }

    // MARK: Results

    /// Sends one batch of result messages (retrying with backoff), then deletes their work
    /// messages.
    private func send(_ batch: [TaskAck]) async {
        let attempts = held.withLock { h in batch.map { h[$0.lease]?.attempt ?? 1 } }
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
                await deleteWork(sent)
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
            held.withLock { h in for (ack, _) in pending { h.removeValue(forKey: ack.lease) } }
        }
    }

    /// Deletes the work messages of acks whose results SQS has.
    private func deleteWork(_ acks: [TaskAck]) async {
        let receipts = held.withLock { h in acks.compactMap { h.removeValue(forKey: $0.lease) } }
        guard !receipts.isEmpty, let url = try? await work.queueURL() else { return }
        for start in stride(from: 0, to: receipts.count, by: SQSClient.maxBatchEntries) {
            let chunk = receipts[start..<Swift.min(start + SQSClient.maxBatchEntries, receipts.count)]
            let entries = chunk.enumerated().map {
                SQS.DeleteMessageBatchEntry(id: "d\($0.offset)", receiptHandle: $0.element.receiptHandle)
            }
            do {
                _ = try await work.client.deleteMessageBatch(.init(queueURL: url, entries: entries))
            } catch {
                // The result is on its way: a message that comes back runs again, and its
                // second result is refused.
                logger.warning("could not delete work messages", metadata: ["count": "\(chunk.count)", "error": "\(error)"])
            }
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

    // MARK: Helpers

    private func reach(_ queue: SQSQueue) async throws -> String {
        do {
            return try await queue.queueURL()
        } catch {
            if Task.isCancelled { throw CancellationError() }
            throw Self.unavailable(error, queue)
        }
    }

    static func unavailable(_ error: any Error, _ queue: SQSQueue) -> BatonError {
        if let baton = error as? BatonError { return baton }
        if let sqs = error as? SQSError, sqs.kind == .queueDoesNotExist { queue.forgetURL() }
        return BatonError.unavailable("SQS queue \(queue.address): \(error)")
    }

    /// Whole seconds for a visibility timeout, 1...43200 (SQS's 12 h).
    static func seconds(_ duration: Duration) -> Int {
        Swift.min(43_200, Swift.max(1, Int(duration.seconds.rounded(.up))))
    }
}
