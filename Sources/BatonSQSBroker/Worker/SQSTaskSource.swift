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
/// - With a control queue (`--sqs-control`), the heartbeat messages name it (`reply_to`) and
///   the node answers there with the leases it did not extend (a stop message: the task was
///   cancelled, rescued or finished). The tasks of each claim are checked that way before
///   their handlers start (``checked(_:lease:)``): one the node stopped is dropped. The source long-polls it beside the work queue (until
///   shutdown) and reports those leases to the runtime as the next heartbeat's outcomes, as
///   ``SQSHTTPTaskSource`` reports the node's answer over HTTP: the runtime stops their
///   handlers, their work messages are deleted, and no result is sent for them. Without a
///   control queue every outcome is `extended`: the worker does not learn of a cancellation
///   (a cancelled task's result is refused by the node).
/// - Acks are sent as result messages, ten per `SendMessageBatch`, then the work messages are
///   deleted. A worker that dies in between leaves the work message to come back: the task
///   runs again and its second result is refused (the first one ended the lease).
/// - A release makes the message visible again at once, for another worker; the lease stays.
/// - Parents' results come with the work message when they fit in it
///   (``SQSWire/parentsRoom(_:)``); follow-up tasks go with the result message.
/// - The worker announces itself on the results queue (an announce message, at start and
///   then every ``announceInterval`` or when what it serves changed), so that the node lists
///   it and applies its kinds' retry policies.
public final class SQSTaskSource: TaskSource {
    public let work: SQSQueue
    public let results: SQSQueue
    /// The worker's own control queue, where the node answers its heartbeats; `nil`: none.
    public let control: SQSQueue?
    let logger: Logger
    let messages: SQSWorkMessages
    private let acks = BatchQueue<TaskAck>()
    private let unsent = Mutex<[LeaseRef: Int]>([:])
    /// Leases the node said it did not extend (stop messages), with why: reported as the
    /// outcome of the next heartbeat that names them, and their results are not sent.
    private let stops = Mutex<[LeaseRef: HeartbeatOutcome]>([:])
    /// Checks of tasks just received that wait for the node's answer (``checked(_:lease:)``).
    private let answers = CheckAnswers()
    /// The last announcement sent (without its `running`, which changes all the time), and when.
    private let announced = Mutex<(WorkerAnnouncement, ContinuousClock.Instant)?>(nil)

    /// How often an unchanged announcement is sent again: well within the node's
    /// ``WorkerRegistry/defaultForgetAfter`` (300 s), and one message a minute per worker.
    public static let announceInterval: Duration = .seconds(60)

    /// Attempts at sending one batch of results before it is given up (the tasks then come
    /// back when their leases run out).
    static let sendAttempts = 8

    /// The visibility timeout of a received control message (an unreadable one comes back after it).
    static let controlVisibility = 30

    public init(work: SQSQueue, results: SQSQueue, control: SQSQueue? = nil, logger: Logger) {
        self.work = work
        self.results = results
        self.control = control
        self.logger = logger
        self.messages = SQSWorkMessages(queue: work, logger: logger)
    }

    /// Work messages received and not yet settled.
    public var heldCount: Int { messages.count }

    // MARK: TaskSource

    public func claim(worker: String, queues: [String], kinds: [String], max: Int, wait: Duration, lease: Duration)
        async throws -> [ClaimedTask]
    {
        let received = try await messages.receive(max: max, wait: wait, lease: lease)
        return await checked(received, lease: lease)
    }

    /// How long a claim waits for the node's answer to its check: at most
    /// ``checkWaitLimit``, and a third of the lease.
    static func checkWait(lease: Duration) -> Duration { Swift.min(lease / 3, checkWaitLimit) }
    static let checkWaitLimit: Duration = .seconds(2)

    /// With a control queue, the tasks just received are checked with the node before their
    /// handlers start: a heartbeat message naming a `check`, which the node answers on the
    /// control queue (always, listing the leases it did not extend). Those are dropped: a task
    /// cancelled, rescued or finished while its message waited never runs here. Without an
    /// answer within ``checkWait(lease:)`` they all run, and their first heartbeat decides.
    private func checked(_ received: [ClaimedTask], lease: Duration) async -> [ClaimedTask] {
        guard control != nil, !received.isEmpty, let replyTo = await controlURL() else { return received }
        let check = UUID().uuidString.lowercased()
        let leases = received.map(\.lease)
        answers.open(check)
        do {
            let resultsURL = try await SQSWorkMessages.reach(results)
            _ = try await results.client.sendMessage(
                .init(queueURL: resultsURL, messageBody: SQSWire.heartbeatMessage(leases, lease: lease, replyTo: replyTo, check: check)))
        } catch {
            answers.close(check)
            logger.warning(
                "could not check the tasks received with the node; running them",
                metadata: ["error": "\(SQSWorkMessages.unavailable(error, results))"])
            return received
        }
        let limit = Self.checkWait(lease: lease)
        guard await answers.wait(check, limit: limit) else {
            logger.info(
                "no answer from the node to the check of the tasks received; running them (their first heartbeat decides)",
                metadata: ["tasks": "\(received.count)", "waited": "\(limit)"])
            return received
        }
        let stopped = stops.withLock { s in leases.map { s.removeValue(forKey: $0) } }
        return await messages.dropEnded(received, outcomes: stopped)
    }

    public func heartbeat(_ leases: [LeaseRef], lease: Duration, progress: [LeaseRef: TaskProgress]) async throws
        -> [HeartbeatOutcome]
    {
        guard !leases.isEmpty else { return [] }
        let stopped = stops.withLock { s in leases.map { s[$0] } }
        let until = Date().addingTimeInterval(lease.seconds)
        let outcomes = stopped.map { $0 ?? .extended(until: until) }
        try await messages.settle(leases, outcomes: outcomes, lease: lease)
        let extended = zip(leases, stopped).filter { $0.1 == nil }.map(\.0)
        if !extended.isEmpty {
            let resultsURL = try await SQSWorkMessages.reach(results)
            let replyTo = await controlURL()
            // About 80 bytes per lease: 1,000 per message stays well under SQS's 256 KiB.
            for start in stride(from: 0, to: extended.count, by: 1000) {
                let chunk = Array(extended[start..<Swift.min(start + 1000, extended.count)])
                do {
                    _ = try await results.client.sendMessage(
                        .init(queueURL: resultsURL, messageBody: SQSWire.heartbeatMessage(chunk, lease: lease, replyTo: replyTo)))
                } catch {
                    throw SQSWorkMessages.unavailable(error, results)
                }
            }
        }
        // Reported: the runtime stops those tasks. A stop whose result waits to be sent stays
        // until the result is dropped (``send(_:)``).
        let waiting = unsent.withLock { u in Set(leases.filter { u[$0] != nil }) }
        stops.withLock { s in
            for (ref, stop) in zip(leases, stopped) where stop != nil && !waiting.contains(ref) { s[ref] = nil }
        }
        return outcomes
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
        // The control queue is long-polled until shutdown, beside the runtime's claims.
        let listener = control.map { control in
            Task {
                _ = await control.consume(
                    role: "control", pollers: 1, visibilityTimeout: Self.controlVisibility, logger: logger
                ) { await self.handleControl($0, from: control) }
            }
        }
        _ = await acks.run(
            linger: .milliseconds(2), isFull: { $0.count >= SQSClient.maxBatchEntries }, take: { _ in SQSClient.maxBatchEntries },
            write: { batch in
                await self.send(batch)
                self.settled(batch)
            })
        // ``stop()``: the runtime is done; the listener's long poll is cancelled.
        listener?.cancel()
        await listener?.value
    }

    public func stop() { acks.finish() }

    public func flush() async { await acks.idle() }

    public var pendingLeases: [LeaseRef] { unsent.withLock { Array($0.keys) } }

    public func release(_ leases: [LeaseRef]) async throws {
        // A task the node stopped is not given to another worker: its message is deleted.
        let stopped = takeStops(leases)
        await messages.delete(Array(stopped))
        try await messages.release(leases.filter { !stopped.contains($0) })
    }

    /// Sends the announcement on the results queue when it changed (besides `running`) or
    /// ``announceInterval`` passed since the last one; otherwise nothing.
    public func announce(_ announcement: WorkerAnnouncement) async throws {
        var key = announcement
        key.running = 0
        let now = ContinuousClock.now
        let due = announced.withLock { last in
            guard let last, last.0 == key, now - last.1 < Self.announceInterval else { return true }
            return false
        }
        guard due else { return }
        let url = try await SQSWorkMessages.reach(results)
        do {
            _ = try await results.client.sendMessage(.init(queueURL: url, messageBody: try SQSWire.announceMessage(announcement)))
        } catch {
            throw SQSWorkMessages.unavailable(error, results)
        }
        announced.withLock { $0 = (key, now) }
    }

    /// The parents' outcomes that came with the task's work message (`baton.parent_results`),
    /// a page at a time. A message carries them only when they fit in it with the rest
    /// (``SQSWire/parentsRoom(_:)``, SQS's 256 KiB in all); beyond that this worker cannot read them.
    public func parents(of id: TaskID, cursor: Int?, limit: Int) async throws -> ParentPage {
        guard let parents = messages.parents(of: id) else {
            throw BatonError.unavailable(
                "the parents' results of task \(id) did not come with its SQS work message (they do not fit in SQS's "
                    + "\(SQSWire.maxMessageBytes) bytes with the rest of it), and a worker that sends its results over SQS cannot read them "
                    + "from the node: run it with --server instead of --sqs-results")
        }
        let start = min(max(0, cursor ?? 0), parents.count)
        let end = min(start + max(1, limit), parents.count)
        return ParentPage(parents: Array(parents[start..<end]), nextCursor: end < parents.count ? String(end) : nil)
    }

    /// Sends the completion with its follow-up tasks as one result message
    /// (`baton.follow_ups`), which the node stores in one transaction; then deletes the work
    /// message. A message over SQS's size limit is sent as a failure (not retried) saying so.
    public func complete(_ completion: TaskCompletion, followUps: [NewTask]) async throws {
        let lease = completion.lease
        if !takeStops([lease]).isEmpty {
            logger.info("result not sent: the node stopped its task", metadata: ["task_id": "\(lease.id)"])
            await messages.delete([lease])
            return
        }
        let attempt = messages.attempts(of: [lease])[0]
        var body = SQSWire.resultMessage(.complete(completion), attempt: attempt, followUps: try SQSWire.followUpsText(followUps))
        if body.utf8.count > SQSWire.maxMessageBytes {
            body = SQSWire.resultMessage(
                .fail(Self.tooLarge(lease, bytes: body.utf8.count, what: "the result with its follow-ups")), attempt: attempt)
        }
        await deliver([(lease, SQS.SendMessageBatchEntry(id: "f0", messageBody: body))])
    }

    // MARK: Results

    /// Sends one batch of result messages (retrying with backoff), then deletes their work
    /// messages.
    private func send(_ batch: [TaskAck]) async {
        // The node stopped these tasks (cancelled, rescued): their results would be refused.
        let stopped = takeStops(batch.map(\.lease))
        if !stopped.isEmpty {
            logger.info(
                "results not sent: the node stopped their tasks", metadata: ["task_ids": "\(stopped.map(\.id.description).sorted())"])
            await messages.delete(Array(stopped))
        }
        let batch = batch.filter { !stopped.contains($0.lease) }
        guard !batch.isEmpty else { return }
        let attempts = messages.attempts(of: batch.map(\.lease))
        var entries: [(LeaseRef, SQS.SendMessageBatchEntry)] = []
        for (i, (ack, attempt)) in zip(batch, attempts).enumerated() {
            var body = SQSWire.resultMessage(ack, attempt: attempt)
            if body.utf8.count > SQSWire.maxMessageBytes {
                body = SQSWire.resultMessage(.fail(Self.tooLarge(ack.lease, bytes: body.utf8.count, what: "the result")), attempt: attempt)
            }
            entries.append((ack.lease, SQS.SendMessageBatchEntry(id: "a\(i)", messageBody: body)))
        }
        await deliver(entries)
    }

    /// The failure sent instead of a result message SQS would refuse.
    private static func tooLarge(_ lease: LeaseRef, bytes: Int, what: String) -> TaskFailure {
        TaskFailure(
            lease: lease, message: "\(what) is \(bytes) bytes as an SQS message, more than SQS's limit of \(SQSWire.maxMessageBytes)",
            retryable: false)
    }

    /// Sends result messages (retrying with backoff), deleting each one's work message once
    /// SQS took it; gives up after ``sendAttempts`` (their tasks return when their leases run
    /// out).
    private func deliver(_ entries: [(LeaseRef, SQS.SendMessageBatchEntry)]) async {
        var pending = entries
        var pause = GrowingPause()
        for attempt in 1...Self.sendAttempts where !pending.isEmpty {
            do {
                let url = try await results.queueURL()
                let result = try await results.client.sendMessageBatch(.init(queueURL: url, entries: pending.map { $0.1 }))
                let failed = Set(result.failed.map(\.id))
                let sent = pending.filter { !failed.contains($0.1.id) }.map { $0.0 }
                await messages.delete(sent)
                pending = pending.filter { failed.contains($0.1.id) }
                if !pending.isEmpty {
                    logger.warning(
                        "SQS refused some result messages; retrying",
                        metadata: ["count": "\(pending.count)", "error": "\(result.failed.first.map { "\($0.code)" } ?? "")"])
                }
            } catch {
                results.noteFailure(error)
                logger.warning(
                    "could not send results to SQS; keeping them and retrying",
                    metadata: ["count": "\(pending.count)", "attempt": "\(attempt)", "error": "\(error)"])
            }
            if !pending.isEmpty && attempt < Self.sendAttempts {
                try? await Task.sleep(for: pause.next())
            }
        }
        if !pending.isEmpty {
            logger.error(
                "gave up sending results to SQS; their tasks return when their leases run out",
                metadata: ["count": "\(pending.count)"])
            messages.forget(pending.map { $0.0 })
        }
    }

    // MARK: Control queue

    /// The control queue's URL for a heartbeat's `reply_to`; `nil` without a control queue, or
    /// while it cannot be reached (logged: the heartbeat goes without it).
    private func controlURL() async -> String? {
        guard let control else { return nil }
        do {
            return try await SQSWorkMessages.reach(control)
        } catch {
            logger.warning(
                "control queue not reachable; heartbeating without it", metadata: ["queue": "\(control.address)", "error": "\(error)"])
            return nil
        }
    }

    /// Applies stop messages: the leases named that this worker holds are reported to the
    /// runtime by the next heartbeat; others (finished here already, or never here) are
    /// ignored. Each read message is deleted; an unreadable one is logged and left for the
    /// queue's redrive policy.
    func handleControl(_ received: [SQS.Message], from queue: SQSQueue) async {
        var done: [SQS.Message] = []
        for message in received {
            let control: SQSWire.ControlMessage
            do {
                control = try SQSWire.controlMessage(message.body)
            } catch {
                logger.error(
                    "unreadable control message left in the queue for its redrive policy",
                    metadata: ["message_id": "\(message.messageID)", "reason": "\(error.message)"])
                continue
            }
            let held = control.stops.filter { messages.holds($0.lease) }
            stops.withLock { s in for stop in held { s[stop.lease] = stop.outcome } }
            for stop in held {
                logger.info(
                    "the node stopped a task of this worker",
                    metadata: [
                        "task_id": "\(stop.lease.id)", "reason": "\(HeartbeatItemResult(id: stop.lease.id, outcome: stop.outcome).status)",
                    ])
            }
            // After its stops are recorded: the claim that waits reads them.
            if let check = control.check { answers.answer(check) }
            done.append(message)
        }
        await queue.delete(done, logger: logger)
    }

    /// Takes the stops recorded for these leases.
    private func takeStops(_ leases: [LeaseRef]) -> Set<LeaseRef> {
        stops.withLock { s in Set(leases.filter { s.removeValue(forKey: $0) != nil }) }
    }

    private func settled(_ batch: [TaskAck]) {
        // A stop that came while its result was being sent has nothing left to stop.
        _ = takeStops(batch.map(\.lease))
        unsent.withLock { pending in
            for ack in batch {
                let left = (pending[ack.lease] ?? 1) - 1
                pending[ack.lease] = left > 0 ? left : nil
            }
        }
    }
}

/// Answers to checks, matched by id: a claim opens its check before sending it, the control
/// queue's listener answers it, and the claim waits for the answer or a time limit. An answer
/// to a check no longer waited for is ignored.
package final class CheckAnswers: Sendable {
    private enum Entry {
        case open(CheckedContinuation<Bool, Never>?)
        case answered
    }

    private let entries = Mutex<[String: Entry]>([:])

    package init() {}

    package func open(_ id: String) { entries.withLock { $0[id] = .open(nil) } }

    package func close(_ id: String) { _ = entries.withLock { $0.removeValue(forKey: id) } }

    package func answer(_ id: String) {
        let waiter = entries.withLock { e -> CheckedContinuation<Bool, Never>? in
            guard case .open(let waiter)? = e[id] else { return nil }
            if waiter != nil { e[id] = nil } else { e[id] = .answered }
            return waiter
        }
        waiter?.resume(returning: true)
    }

    /// Whether the answer came within `limit`; the check is closed either way.
    package func wait(_ id: String, limit: Duration) async -> Bool {
        let timer = Task {
            try? await Task.sleep(for: limit)
            // Closed also when the wait below has not begun yet: it then finds no entry.
            let waiter = self.entries.withLock { e -> CheckedContinuation<Bool, Never>? in
                guard case .open(let waiter)? = e[id] else { return nil }
                e[id] = nil
                return waiter
            }
            waiter?.resume(returning: false)
        }
        defer { timer.cancel() }
        return await withCheckedContinuation { continuation in
            let now = entries.withLock { e -> Bool? in
                switch e[id] {
                case .answered?:
                    e[id] = nil
                    return true
                case .open?:
                    e[id] = .open(continuation)
                    return nil
                case nil:
                    return false
                }
            }
            if let now { continuation.resume(returning: now) }
        }
    }
}
