import BatonCore
import BatonNode
import BatonSQS
import Foundation
import Logging
import ServiceLifecycle

/// The dispatch role: sends ready tasks of one Baton queue to an SQS work queue, keeping at
/// most `window` of them in flight (``SQSInFlight``), so that priorities and cancellation keep
/// their meaning: what waits in the store can still be reordered or cancelled.
///
/// Tasks are claimed through the node's dispatcher (a lease of `lease`, owner `sqs:QUEUE`),
/// by priority, and sent as freundallein/sqs-scheduler's work messages (``SQSWire/workMessage(_:)``), ten per
/// `SendMessageBatch`. A task whose message SQS did not take is released back to `ready`
/// (no attempt used); one whose message is larger than SQS allows (256 KiB) fails for good
/// with that reason. A message lost on the way is sent again once its lease ran out: the
/// lease rescuer returns the task to `ready` and it is claimed again (with a new lease token,
/// so a late result of the lost one is refused). Delayed and backing-off tasks wait in the
/// store, never in SQS (whose delays stop at 15 minutes).
///
/// While the window is full, the dispatch asks the store every ``checkInterval`` which of the
/// tasks it sent (at least that long ago) are still running under the lease it sent them with
/// (``TaskStore/taskLeasesHeld(_:)``): a result applied by another node (PostgreSQL, a worker
/// reporting over HTTP to another node or a results queue read by several nodes) frees the
/// window within about that long, instead of at the lease's end.
public final class SQSDispatch: Service, Sendable {
    public let queueName: String
    public let queue: SQSQueue
    let node: NodeServices
    let inFlight: SQSInFlight
    let window: Int
    let lease: Duration
    /// Kinds whose work messages must carry only strings in `params` (`sqs.stringKinds`).
    let stringKinds: Set<String>
    let logger: Logger

    /// The longest a claim waits for ready tasks before the loop looks around again.
    static let claimWait: Duration = .seconds(5)
    /// Most tasks claimed at once.
    static let claimMax = 100
    /// How often a full window is checked against the store.
    static let checkInterval: Duration = .seconds(2)

    public init(
        node: NodeServices, queueName: String, queue: SQSQueue, inFlight: SQSInFlight, window: Int, lease: Duration,
        stringKinds: Set<String> = [], logger: Logger = Logger(label: "baton.sqs.dispatch")
    ) {
        self.stringKinds = stringKinds
        self.node = node
        self.queueName = queueName
        self.queue = queue
        self.inFlight = inFlight
        self.window = window
        self.lease = lease
        self.logger = logger
    }

    /// The name claims are made under (a task's `lease_owner` while it is on SQS).
    public var workerName: String { "sqs:\(queueName)" }

    public func run() async throws {
        let queueURL: String
        do {
            queueURL = try await cancelWhenGracefulShutdown { try await self.queue.queueURLWaiting(logger: self.logger, role: "dispatch") }
        } catch {
            return
        }
        logger.info(
            "SQS dispatch started", metadata: ["queue": "\(queueName)", "sqs_queue": "\(queue.address)", "window": "\(window)"])
        var backoff = Duration.milliseconds(100)
        var lastCheck = ContinuousClock.now
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            let generation = inFlight.changed.generation
            let free = window - inFlight.count(queue: queueName)
            if free <= 0, ContinuousClock.now - lastCheck >= Self.checkInterval {
                lastCheck = ContinuousClock.now
                if await releaseEndedElsewhere() > 0 { continue }
            }
            if free <= 0 {
                // Full: wait for results (or for the earliest lease to run out).
                let wait = inFlight.nextExpiry(queue: queueName).map { max(.milliseconds(10), $0 - ContinuousClock.now) } ?? .seconds(1)
                await inFlight.changed.wait(after: generation, timeout: min(wait, .seconds(1)))
                continue
            }
            let claimed: [ClaimedTask]
            do {
                let request = ClaimRequest(
                    worker: workerName, queues: [queueName], max: min(free, Self.claimMax), wait: Self.claimWait, lease: lease)
                claimed = try await cancelWhenGracefulShutdown { try await self.node.dispatcher.claim(request) }
            } catch {
                if Task.isShuttingDownGracefully || Task.isCancelled { break }
                logger.warning("claim for SQS dispatch failed; retrying", metadata: ["queue": "\(queueName)", "error": "\(error)"])
                try? await Task.sleep(for: backoff)
                backoff = min(backoff * 2, .seconds(5))
                continue
            }
            guard !claimed.isEmpty else { continue }
            inFlight.add(claimed.map(\.lease), queue: queueName, for: lease)
            if await send(claimed, to: queueURL) {
                backoff = .milliseconds(100)
            } else {
                try? await Task.sleep(for: backoff)
                backoff = min(backoff * 2, .seconds(5))
            }
        }
        logger.info("SQS dispatch stopped", metadata: ["queue": "\(queueName)"])
    }

    /// Takes out of the window the tasks sent at least ``checkInterval`` ago whose leases the
    /// store no longer holds (their attempts ended through another node). Returns how many.
    func releaseEndedElsewhere() async -> Int {
        let sent = inFlight.leases(queue: queueName, sentBefore: ContinuousClock.now - Self.checkInterval, max: window)
        guard !sent.isEmpty else { return 0 }
        do {
            let held = try await node.store.taskLeasesHeld(sent)
            let ended = sent.filter { !held.contains($0) }
            inFlight.remove(leases: ended)
            if !ended.isEmpty {
                logger.debug(
                    "tasks ended through another node left the window", metadata: ["queue": "\(queueName)", "count": "\(ended.count)"])
            }
            return ended.count
        } catch {
            logger.warning("could not check the SQS window against the store", metadata: ["queue": "\(queueName)", "error": "\(error)"])
            return 0
        }
    }

    /// Sends the claimed tasks' messages, ten per call, several calls at once. Returns `false`
    /// when SQS refused or could not be reached (those tasks were released).
    func send(_ claimed: [ClaimedTask], to queueURL: String) async -> Bool {
        var tooLarge: [(ClaimedTask, Int)] = []
        var refused: [(ClaimedTask, String)] = []
        var entries: [(ClaimedTask, SQS.SendMessageBatchEntry)] = []
        for (i, task) in claimed.enumerated() {
            if !stringKinds.isEmpty && stringKinds.contains(task.task.kind) {
                // Stored before the setting, or by a schedule: its worker would refuse it.
                do {
                    try NewTask.validateStringArgs(task.task.args, kind: task.task.kind)
                } catch {
                    refused.append((task, error.message))
                    continue
                }
            }
            var body = SQSWire.workMessage(task)
            if let parents = await inlineParents(of: task.task, maxBytes: SQSWire.parentsRoom(body)) {
                body = SQSWire.workMessage(task, parents: parents)
            }
            let bytes = body.utf8.count
            if bytes > SQSWire.maxMessageBytes {
                tooLarge.append((task, bytes))
            } else {
                entries.append((task, SQS.SendMessageBatchEntry(id: "t\(i)", messageBody: body)))
            }
        }
        if !tooLarge.isEmpty {
            await failForGood(
                tooLarge.map { ($0.0, "its SQS work message is \($0.1) bytes, more than SQS's limit of \(SQSWire.maxMessageBytes)") },
                "tasks too large for SQS failed")
        }
        if !refused.isEmpty { await failForGood(refused, "tasks whose arguments are not strings (sqs.stringKinds) failed") }
        let chunks = Self.chunks(entries, bytes: { $0.1.messageBody.utf8.count })
        let unsent = await withTaskGroup(of: [ClaimedTask].self) { group in
            for chunk in chunks {
                group.addTask { await self.sendChunk(chunk, to: queueURL) }
            }
            var unsent: [ClaimedTask] = []
            for await failed in group { unsent += failed }
            return unsent
        }
        guard !unsent.isEmpty else { return true }
        do {
            _ = try await node.store.taskReleaseMany(TaskReleaseParams(leases: unsent.map(\.lease)))
        } catch {
            logger.warning(
                "could not release tasks SQS did not take; they return when their leases run out",
                metadata: ["count": "\(unsent.count)", "error": "\(error)"])
        }
        inFlight.remove(unsent.map(\.task.id))
        return false
    }

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

    /// A dependent's parents' outcomes for its work message, when they take at most `maxBytes`
    /// (what is left of the message, ``SQSWire/parentsRoom(_:)``); `nil` otherwise, or when
    /// they cannot be read (the worker then reads them from the node, if it can reach it).
    private func inlineParents(of task: TaskRecord, maxBytes: Int) async -> String? {
        guard let count = task.parentCount, count > 0 else { return nil }
        do {
            // An outcome takes more than 64 bytes: past this many, they cannot fit.
            let parents = try await ParentPage.all(most: maxBytes / 64) {
                try await node.store.taskParents(TaskParentsParams(id: task.id, cursor: $0, limit: TaskParentsParams.maxLimit))
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

    /// Fails tasks their workers cannot take, for good, with the reason.
    private func failForGood(_ tasks: [(ClaimedTask, String)], _ headline: Logger.Message) async {
        let acks = tasks.map { task, reason in TaskAck.fail(TaskFailure(lease: task.lease, message: reason, retryable: false)) }
        logger.error(headline, metadata: ["count": "\(acks.count)", "reason": "\(tasks[0].1)"])
        _ = try? await node.completer.ackMany(acks)
        inFlight.remove(tasks.map(\.0.task.id))
    }
}
