import BatonCore
import BatonNode
import BatonSQS
import Foundation
import Logging
import ServiceLifecycle

/// The SQS dispatch role: a ``BrokerDispatch`` whose work goes to an SQS work queue as
/// freundallein/sqs-scheduler's work messages (``SQSWorkSender``). A node's `--sqs-dispatch
/// QUEUE=ADDRESS` makes one; a worker reads the queue (`--sqs-work`).
public final class SQSDispatch: Service, Sendable {
    public let dispatch: BrokerDispatch
    public let queue: SQSQueue

    public init(
        node: NodeServices, queueName: String, queue: SQSQueue, inFlight: DispatchWindow, window: Int, lease: Duration,
        stringKinds: Set<String> = [], logger: Logger = Logger(label: "baton.sqs.dispatch")
    ) {
        self.queue = queue
        dispatch = BrokerDispatch(
            node: node, queueName: queueName,
            sender: SQSWorkSender(queue: queue, store: node.store, stringKinds: stringKinds, logger: logger),
            inFlight: inFlight, window: window, lease: lease, logger: logger)
    }

    public var queueName: String { dispatch.queueName }

    /// The name claims are made under (a task's `lease_owner` while it is on SQS).
    public var workerName: String { dispatch.workerName }

    public func run() async throws { try await dispatch.run() }

    /// Splits messages into `SendMessageBatch` calls: at most ten messages each, and at most
    /// SQS's 256 KiB in all (the limit is on the sum of a batch's bodies, not only on each).
    static func chunks<T>(_ items: [T], bytes: (T) -> Int) -> [[T]] {
        var chunks: [[T]] = []
        var current: [T] = []
        var total = 0
        for item in items {
            let size = bytes(item)
            if !current.isEmpty && (current.count == SQSClient.maxBatchEntries || total + size > SQSWire.maxMessageBytes) {
                chunks.append(current)
                current = []
                total = 0
            }
            current.append(item)
            total += size
        }
        if !current.isEmpty { chunks.append(current) }
        return chunks
    }
}

/// Sends work messages to an SQS work queue, ten per `SendMessageBatch`, several calls at
/// once. A message larger than SQS allows (256 KiB) is refused for good with that reason; a
/// dependent's parents' outcomes go in its message when they fit (``SQSWire/parentsRoom(_:)``).
/// Kinds in `stringKinds` must have a flat object of strings as arguments (freundallein/sqs-scheduler's
/// Go worker reads nothing else).
struct SQSWorkSender: WorkSender {
    let queue: SQSQueue
    let store: any TaskStore
    let stringKinds: Set<String>
    let logger: Logger

    var broker: String { "sqs" }
    var address: String { "\(queue.address)" }

    func prepare() async throws {
        _ = try await queue.queueURL()
    }

    func send(_ claimed: [ClaimedTask]) async -> WorkSendOutcome {
        var outcome = WorkSendOutcome()
        var entries: [(ClaimedTask, SQS.SendMessageBatchEntry)] = []
        for (i, task) in claimed.enumerated() {
            if !stringKinds.isEmpty && stringKinds.contains(task.task.kind) {
                // Stored before the setting, or by a schedule: its worker would refuse it.
                do {
                    try NewTask.validateStringArgs(task.task.args, kind: task.task.kind)
                } catch {
                    outcome.refused.append((task, "\(error.message) (sqs.stringKinds)"))
                    continue
                }
            }
            var body = SQSWire.workMessage(task)
            if let parents = await inlineParents(of: task.task, maxBytes: SQSWire.parentsRoom(body)) {
                body = SQSWire.workMessage(task, parents: parents)
            }
            let bytes = body.utf8.count
            if bytes > SQSWire.maxMessageBytes {
                outcome.refused.append(
                    (task, "its SQS work message is \(bytes) bytes, more than SQS's limit of \(SQSWire.maxMessageBytes)"))
            } else {
                entries.append((task, SQS.SendMessageBatchEntry(id: "t\(i)", messageBody: body)))
            }
        }
        guard !entries.isEmpty else { return outcome }
        let queueURL: String
        do {
            queueURL = try await queue.queueURL()
        } catch {
            queue.noteFailure(error)
            outcome.unsent = entries.map(\.0)
            return outcome
        }
        let chunks = SQSDispatch.chunks(entries, bytes: { $0.1.messageBody.utf8.count })
        outcome.unsent = await withTaskGroup(of: [ClaimedTask].self) { group in
            for chunk in chunks {
                group.addTask { await self.sendChunk(chunk, to: queueURL) }
            }
            var unsent: [ClaimedTask] = []
            for await failed in group { unsent += failed }
            return unsent
        }
        return outcome
    }

    /// A dependent's parents' outcomes for its work message, when they take at most `maxBytes`
    /// (what is left of the message, ``SQSWire/parentsRoom(_:)``); `nil` otherwise, or when
    /// they cannot be read (the worker then reads them from the node, if it can reach it).
    private func inlineParents(of task: TaskRecord, maxBytes: Int) async -> String? {
        guard let count = task.parentCount, count > 0 else { return nil }
        do {
            // An outcome takes more than 64 bytes: past this many, they cannot fit.
            let parents = try await ParentPage.all(most: maxBytes / 64) {
                try await store.taskParents(TaskParentsParams(id: task.id, cursor: $0, limit: TaskParentsParams.maxLimit))
            }
            return parents.flatMap { SQSWire.inlineParents($0, maxBytes: maxBytes) }
        } catch {
            logger.warning(
                "could not read a dependent's parents for its work message", metadata: ["task": "\(task.id)", "error": "\(error)"])
            return nil
        }
    }

    /// One `SendMessageBatch`; the tasks whose messages SQS did not take.
    private func sendChunk(_ chunk: [(ClaimedTask, SQS.SendMessageBatchEntry)], to queueURL: String) async -> [ClaimedTask] {
        do {
            let result = try await queue.client.sendMessageBatch(.init(queueURL: queueURL, entries: chunk.map { $0.1 }))
            guard !result.failed.isEmpty else { return [] }
            let failed = Set(result.failed.map(\.id))
            logger.warning(
                "SQS refused some work messages; their tasks go back to ready",
                metadata: ["count": "\(failed.count)", "error": "\(result.failed.first.map { "\($0.code): \($0.message ?? "")" } ?? "")"])
            return chunk.filter { failed.contains($0.1.id) }.map { $0.0 }
        } catch {
            queue.noteFailure(error)
            logger.warning(
                "could not send work messages to SQS; their tasks go back to ready",
                metadata: ["queue": "\(queue.address)", "count": "\(chunk.count)", "error": "\(error)"])
            return chunk.map { $0.0 }
        }
    }
}
