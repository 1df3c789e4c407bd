import BatonCore
import BatonNode
import BatonSQS
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// The ingest role (freundallein/sqs-scheduler's submitter): long-polls a submissions queue and turns each
/// message into tasks through the node's submit.
///
/// Accepted bodies (``BrokerSubmission``): freundallein/sqs-scheduler's `submit:KIND` notifications,
/// batches of them, Baton's task JSON (one task or an array), and Machinery's signatures as its
/// SQS broker sends them (or a Machinery chain, group or chord), each message one workflow. Each message is submitted with
/// the idempotency key `sqs:<message id>`, so a message SQS delivers twice (its id is the
/// same) becomes its tasks once; it is deleted only after the submit committed. A message that
/// is not JSON, not one of those forms, too large, or refused by the submit's validation goes
/// to the dead-letter queue with the reason (``DeadLetters``). A store that cannot be reached
/// leaves the message where it is: it comes back after its visibility timeout.
public final class SQSIngest: Service, Sendable {
    /// Counts of what the ingest did.
    public struct Stats: Sendable, Hashable {
        public var received = 0
        /// Messages whose submit committed (a message delivered again answers with the tasks
        /// its first delivery stored, under its idempotency key).
        public var submitted = 0
        /// Of those, messages SQS had delivered before (`ApproximateReceiveCount` above 1).
        public var redelivered = 0
        /// Deletes skipped on purpose (``Faults``).
        public var skippedDeletes = 0
        /// Messages refused as unreadable.
        public var rejected = 0
        /// Messages left for another try (the submit failed for a reason not theirs).
        public var retried = 0
        public init() {}
    }

    /// Testing aid: after every `n`th committed message, its delete is skipped and the
    /// message made visible again at once, as if the node had stopped between the commit and
    /// the delete, so that SQS delivers it again.
    package struct Faults: Sendable {
        package var skipDeleteEvery: Int
        package init(skipDeleteEvery: Int) { self.skipDeleteEvery = skipDeleteEvery }
    }

    public let queue: SQSQueue
    /// Long polls run at once.
    static let pollers = 4
    let api: NodeAPI
    let deadLetters: DeadLetters
    let logger: Logger
    /// Seconds a received message stays hidden while its tasks are submitted.
    let visibilityTimeout: Int
    package let faults: Faults?
    private let state = Mutex(Stats())
    /// Messages done with so far (for ``Faults``).
    private let ticks = Mutex(0)

    public convenience init(
        api: NodeAPI, queue: SQSQueue, deadLetter: SQSQueue?, visibilityTimeout: Int = 60,
        logger: Logger = Logger(label: "baton.sqs.ingest")
    ) {
        self.init(api: api, queue: queue, deadLetter: deadLetter, visibilityTimeout: visibilityTimeout, faults: nil, logger: logger)
    }

    package init(api: NodeAPI, queue: SQSQueue, deadLetter: SQSQueue?, visibilityTimeout: Int = 60, faults: Faults?, logger: Logger) {
        self.api = api
        self.queue = queue
        self.deadLetters = DeadLetters(queue: deadLetter, logger: logger)
        self.visibilityTimeout = visibilityTimeout
        self.faults = faults
        self.logger = logger
    }

    public var stats: Stats { state.withLock { $0 } }

    /// Polls until graceful shutdown or cancellation; the messages of the last receive are
    /// handled before it returns.
    public func run() async throws {
        let ran = await queue.consume(
            role: "ingest", pollers: Self.pollers, visibilityTimeout: visibilityTimeout, systemAttributes: ["ApproximateReceiveCount"],
            logger: logger
        ) { await self.handle($0) }
        if ran { logger.info("SQS ingest stopped", metadata: Self.metadata(stats)) }
    }

    /// Submits each message's tasks (concurrently) and deletes the messages that are done.
    package func handle(_ messages: [SQS.Message]) async {
        guard !messages.isEmpty else { return }
        state.withLock { $0.received += messages.count }
        let done = await withTaskGroup(of: SQS.Message?.self) { group in
            for message in messages {
                group.addTask { await self.submit(message) ? message : nil }
            }
            var done: [SQS.Message] = []
            for await message in group { if let message { done.append(message) } }
            return done
        }
        var delete: [SQS.Message] = []
        var reshow: [SQS.Message] = []
        for message in done {
            let tick = ticks.withLock { n -> Int in
                n += 1
                return n
            }
            let skip = faults.map { $0.skipDeleteEvery > 0 && tick % $0.skipDeleteEvery == 0 } ?? false
            if skip { state.withLock { $0.skippedDeletes += 1 } }
            if skip { reshow.append(message) } else { delete.append(message) }
        }
        await queue.delete(delete, logger: logger)
        for message in reshow {
            // As if the node stopped after the commit: SQS delivers the message again.
            if let url = try? await queue.queueURL() {
                try? await queue.client.changeMessageVisibility(
                    .init(queueURL: url, receiptHandle: message.receiptHandle, visibilityTimeout: 0))
            }
        }
    }

    /// Submits one message's tasks; whether the message is done with (committed, or moved
    /// to the dead-letter queue).
    private func submit(_ message: SQS.Message) async -> Bool {
        let reason: String
        do {
            guard message.body.utf8.count <= SQSWire.maxMessageBytes else {
                throw BatonError(.tooLarge, "the message is \(message.body.utf8.count) bytes, more than SQS's \(SQSWire.maxMessageBytes)")
            }
            try await api.submit(message.body, idempotencyKey: Self.idempotencyKey(message))
            let again = (message.approximateReceiveCount ?? 1) > 1
            state.withLock { s in
                s.submitted += 1
                if again { s.redelivered += 1 }
            }
            if again {
                logger.debug(
                    "SQS message delivered again; submitted under its idempotency key", metadata: ["message_id": "\(message.messageID)"])
            }
            return true
        } catch let error as BatonError where BrokerSubmission.isTheMessagesFault(error) {
            reason = error.message
        } catch {
            state.withLock { $0.retried += 1 }
            logger.warning(
                "could not submit an SQS message's tasks; it will be tried again",
                metadata: ["message_id": "\(message.messageID)", "error": "\(error)"])
            return false
        }
        state.withLock { $0.rejected += 1 }
        return await deadLetters.reject(message, from: queue, reason: reason, role: "ingest")
    }

    /// The idempotency key of a message: `sqs:<message id>` (the same on every delivery).
    static func idempotencyKey(_ message: SQS.Message) -> String { "sqs:\(message.messageID)" }

    static func metadata(_ stats: Stats) -> Logger.Metadata {
        [
            "received": "\(stats.received)", "submitted": "\(stats.submitted)", "redelivered": "\(stats.redelivered)",
            "rejected": "\(stats.rejected)", "retried": "\(stats.retried)",
        ]
    }
}
