import BatonCore
import BatonSQS
import BatonWorker
import Foundation
import Logging
import Synchronization

/// A worker's side of an SQS work queue: receives work messages as claimed tasks and keeps
/// each one's receipt handle while its task runs, to extend its visibility, delete it once
/// the task's outcome is delivered, or make it visible again. Both worker modes use it:
/// results over SQS (``SQSTaskSource``) and results over HTTP (``SQSHTTPTaskSource``).
final class SQSWorkMessages: Sendable {
    struct Held {
        var receiptHandle: String
        var attempt: Int
        /// The parents' outcomes the message carried (`baton.parent_results`).
        var parents: [ParentResult]?
    }

    let queue: SQSQueue
    let logger: Logger
    private let held = Mutex<[LeaseRef: Held]>([:])

    init(queue: SQSQueue, logger: Logger) {
        self.queue = queue
        self.logger = logger
    }

    /// Work messages received and not yet settled.
    var count: Int { held.withLock { $0.count } }

    /// Whether the message of `lease` is held (its task runs here, or its outcome is on its way).
    func holds(_ lease: LeaseRef) -> Bool {
        held.withLock { $0[lease] != nil }
    }

    /// The parents' outcomes the held message of task `id` carried, if it carried them.
    func parents(of id: TaskID) -> [ParentResult]? {
        held.withLock { h in h.first { $0.key.id == id }?.value.parents }
    }

    /// The attempt a held message carries (1 when unknown).
    func attempts(of leases: [LeaseRef]) -> [Int] {
        held.withLock { h in leases.map { h[$0]?.attempt ?? 1 } }
    }

    /// One `ReceiveMessage` (long poll, at most 10 messages and 20 s), each message hidden
    /// for `lease`; a work message Baton cannot read is logged and left for the queue's
    /// redrive policy. A message received again while its task runs here keeps its newest
    /// receipt and is not claimed twice.
    func receive(max: Int, wait: Duration, lease: Duration) async throws -> [ClaimedTask] {
        let queueURL = try await reach()
        let request = SQS.ReceiveMessageRequest(
            queueURL: queueURL, maxNumberOfMessages: Swift.min(Swift.max(1, max), SQSClient.maxBatchEntries),
            waitTimeSeconds: Swift.min(SQSClient.maxWaitTimeSeconds, Swift.max(0, Int(wait.seconds.rounded(.down)))),
            visibilityTimeout: Self.seconds(lease))
        let messages: [SQS.Message]
        do {
            messages = try await queue.client.receiveMessage(request).messages
        } catch {
            if Task.isCancelled { throw CancellationError() }
            throw Self.unavailable(error, queue)
        }
        var claimed: [ClaimedTask] = []
        for message in messages {
            let task: ClaimedTask
            let parents: [ParentResult]?
            do {
                (task, parents) = try SQSWire.work(fromMessage: message.body)
            } catch {
                logger.error(
                    "unreadable work message left in the queue for its redrive policy",
                    metadata: ["message_id": "\(message.messageID)", "reason": "\(error.message)"])
                continue
            }
            let fresh = held.withLock { h -> Bool in
                let known = h[task.lease] != nil
                h[task.lease] = Held(receiptHandle: message.receiptHandle, attempt: task.task.attempt, parents: parents)
                return !known
            }
            if fresh { claimed.append(task) }
        }
        return claimed
    }

    /// Hides the held messages of `leases` for `lease` more (`ChangeMessageVisibilityBatch`).
    func extend(_ leases: [LeaseRef], lease: Duration) async throws {
        let receipts = held.withLock { h in leases.compactMap { h[$0]?.receiptHandle } }
        try await changeVisibility(receipts, to: Self.seconds(lease), prefix: "v")
    }

    /// Applies a heartbeat's outcomes to the held messages, whichever way the node answered
    /// (over HTTP, or a stop message on the control queue): the messages of leases that ended
    /// (the task was cancelled, rescued, or its outcome applied) are deleted, so that they do
    /// not come back; those of the leases extended are hidden for `lease` more. Throws when
    /// the visibility could not be changed (the deletions are done by then).
    func settle(_ leases: [LeaseRef], outcomes: [HeartbeatOutcome], lease: Duration) async throws {
        var extended: [LeaseRef] = []
        var ended: [LeaseRef] = []
        for (ref, outcome) in zip(leases, outcomes) {
            if case .extended = outcome { extended.append(ref) } else { ended.append(ref) }
        }
        await delete(ended)
        try await extend(extended, lease: lease)
    }

    /// Makes the held messages of `leases` visible again at once, for another worker, and
    /// forgets them (the task's lease stays: the next worker runs it under the same token).
    func release(_ leases: [LeaseRef]) async throws {
        let receipts = held.withLock { h in leases.compactMap { h.removeValue(forKey: $0)?.receiptHandle } }
        try await changeVisibility(receipts, to: 0, prefix: "r")
    }

    /// Deletes the held messages of `leases` (their outcome is delivered, or no longer
    /// wanted); a failure is logged: a message that comes back runs again, and its result is
    /// refused by its lease token.
    func delete(_ leases: [LeaseRef]) async {
        let receipts = held.withLock { h in leases.compactMap { h.removeValue(forKey: $0)?.receiptHandle } }
        guard !receipts.isEmpty, let url = try? await queue.queueURL() else { return }
        for start in stride(from: 0, to: receipts.count, by: SQSClient.maxBatchEntries) {
            let chunk = receipts[start..<Swift.min(start + SQSClient.maxBatchEntries, receipts.count)]
            let entries = chunk.enumerated().map { SQS.DeleteMessageBatchEntry(id: "d\($0.offset)", receiptHandle: $0.element) }
            do {
                _ = try await queue.client.deleteMessageBatch(.init(queueURL: url, entries: entries))
            } catch {
                logger.warning("could not delete work messages", metadata: ["count": "\(chunk.count)", "error": "\(error)"])
            }
        }
    }

    /// The received tasks the node says ended while their messages waited in the queue
    /// (cancelled, rescued, finished): their messages are deleted and they never run. Returns
    /// the others, in order.
    func dropEnded(_ received: [ClaimedTask], outcomes: [HeartbeatOutcome?]) async -> [ClaimedTask] {
        var runnable: [ClaimedTask] = []
        var ended: [(LeaseRef, HeartbeatOutcome)] = []
        for (task, outcome) in zip(received, outcomes) {
            switch outcome {
            case nil, .extended?: runnable.append(task)
            case let outcome?: ended.append((task.lease, outcome))
            }
        }
        guard !ended.isEmpty else { return runnable }
        await delete(ended.map(\.0))
        for (ref, outcome) in ended {
            logger.info(
                "task ended while its work message waited in the queue: dropped before it ran",
                metadata: ["task_id": "\(ref.id)", "outcome": "\(outcome)"])
        }
        return runnable
    }

    /// Forgets the held messages of `leases` without touching them (they come back after
    /// their visibility timeout).
    func forget(_ leases: [LeaseRef]) {
        held.withLock { h in for lease in leases { h.removeValue(forKey: lease) } }
    }

    private func changeVisibility(_ receipts: [String], to seconds: Int, prefix: String) async throws {
        guard !receipts.isEmpty else { return }
        let url = try await reach()
        for start in stride(from: 0, to: receipts.count, by: SQSClient.maxBatchEntries) {
            let chunk = receipts[start..<Swift.min(start + SQSClient.maxBatchEntries, receipts.count)]
            let entries = chunk.enumerated().map {
                SQS.ChangeMessageVisibilityBatchEntry(id: "\(prefix)\($0.offset)", receiptHandle: $0.element, visibilityTimeout: seconds)
            }
            do {
                _ = try await queue.client.changeMessageVisibilityBatch(.init(queueURL: url, entries: entries))
            } catch {
                throw Self.unavailable(error, queue)
            }
        }
    }

    /// The queue's URL; `BatonError.unavailable` while SQS cannot be reached.
    func reach() async throws -> String {
        try await Self.reach(queue)
    }

    static func reach(_ queue: SQSQueue) async throws -> String {
        do {
            return try await queue.queueURL()
        } catch {
            if Task.isCancelled { throw CancellationError() }
            throw unavailable(error, queue)
        }
    }

    static func unavailable(_ error: any Error, _ queue: SQSQueue) -> BatonError {
        if let baton = error as? BatonError { return baton }
        queue.noteFailure(error)
        return BatonError.unavailable("SQS queue \(queue.address): \(error)")
    }

    /// Whole seconds for a visibility timeout, 1...43200 (SQS's 12 h).
    static func seconds(_ duration: Duration) -> Int {
        Swift.min(43_200, Swift.max(1, Int(duration.seconds.rounded(.up))))
    }
}
