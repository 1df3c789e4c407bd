import BatonAMQP
import BatonCore
import BatonNode
import Crypto
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// The ingest role on RabbitMQ: consumes queues and turns each message into tasks through the
/// node's submit — what Machinery's AMQP broker publishes (a signature's JSON), or any producer
/// that publishes the forms of ``BrokerSubmission``.
///
/// Nothing is lost and nothing is stored twice when a node stops at any point: a message is
/// acknowledged only after its submit committed (or after it was published, confirmed, to
/// the dead-letter queue); a message whose node stopped before is delivered again by RabbitMQ,
/// to this node or another, and submitted under the same idempotency key (its `message-id`
/// property, or else the SHA-256 of its body), so that a submit that had committed answers
/// with what it stored. A Machinery signature carries its UUID, so the same signature is one
/// task wherever it comes from.
///
/// At start the node declares what Machinery's workers declare: the exchange (durable), each
/// queue (durable), the first queue bound with the binding key and every queue with its own
/// name. A message that is not JSON, not one of the forms, too large, or refused by the
/// submit's validation goes to the dead-letter queue as `{"source", "reason", "body", "at"}`;
/// one that fails for the node's reasons (the store unreachable) is handed back to RabbitMQ
/// after a pause that grows while submits keep failing (up to 5 s).
public final class AMQPIngest: Service, Sendable {
    /// Counts of what the ingest did.
    public struct Stats: Sendable, Hashable {
        /// Messages delivered.
        public var delivered = 0
        /// Delivered again after an earlier delivery was not acknowledged.
        public var redelivered = 0
        /// Messages whose submit committed (or had committed).
        public var submitted = 0
        /// Messages moved to the dead-letter queue.
        public var rejected = 0
        /// Submits that failed for the node's reasons; their messages were handed back.
        public var retried = 0
        public init() {}
    }

    /// The largest message submitted (a larger one goes to the dead letters).
    public static let maxMessageBytes = 16 << 20

    let api: NodeAPI
    let amqp: AMQPConfiguration
    let configuration: AMQPBrokerConfiguration
    let logger: Logger
    private let state = Mutex(Stats())
    private let stop = StopFlag()
    /// Submits running now.
    private let running = Atomic<Int>(0)
    /// The pause before handing back a message whose submit failed for the node's reasons
    /// (milliseconds; 0 while submits succeed).
    private let stall = Atomic<Int>(0)

    public init(api: NodeAPI, amqp: AMQPConfiguration, configuration: AMQPBrokerConfiguration, logger: Logger) {
        self.api = api
        self.amqp = amqp
        self.configuration = configuration
        self.logger = logger
    }

    public var stats: Stats { state.withLock { $0 } }

    /// Consumes until graceful shutdown or cancellation; the submits under way finish (and are
    /// acknowledged) before it returns, what was delivered and not started is handed back.
    public func run() async throws {
        logger.info(
            "AMQP ingest started",
            metadata: [
                "amqp": "\(amqp)", "queues": "\(configuration.ingest.joined(separator: ","))",
                "exchange": "\(configuration.exchange)", "dead_letter": "\(configuration.deadLetter)",
            ])
        await stop.run {
            await self.consume()
        }
        let stats = self.stats
        logger.info(
            "AMQP ingest stopped",
            metadata: [
                "delivered": "\(stats.delivered)", "redelivered": "\(stats.redelivered)", "submitted": "\(stats.submitted)",
                "rejected": "\(stats.rejected)", "retried": "\(stats.retried)",
            ])
    }

    private var isStopped: Bool { stop.isSet }

    /// Connects, declares, consumes every queue on one channel; on a failure, logs it and does
    /// it all again after a pause that grows up to 5 s.
    private func consume() async {
        var pause = GrowingPause(from: .milliseconds(200))
        while !isStopped {
            var connection: AMQPConnection?
            do throws(AMQPError) {
                let amqp = try await AMQPConnection.connect(self.amqp)
                connection = amqp
                try await declare(on: amqp)
                try await amqp.qos(prefetchCount: UInt16(configuration.prefetch))
                var streams: [(String, AsyncThrowingStream<AMQPMessage, any Error>)] = []
                for queue in configuration.ingest { streams.append((queue, try await amqp.consume(queue))) }
                pause.reset()
                let failure = await withTaskGroup(of: (any Error)?.self) { group in
                    for (queue, stream) in streams {
                        group.addTask { await self.read(stream, from: queue, on: amqp) }
                    }
                    group.addTask {
                        // On stop: let the submits under way finish (10 s at most), then close,
                        // which hands back what was delivered and not started.
                        while !self.isStopped && amqp.isActive { try? await Task.sleep(for: .milliseconds(100)) }
                        let until = ContinuousClock.now + .seconds(10)
                        while self.running.load(ordering: .relaxed) > 0 && ContinuousClock.now < until {
                            try? await Task.sleep(for: .milliseconds(20))
                        }
                        await amqp.close()
                        return nil
                    }
                    var first: (any Error)?
                    for await error in group where first == nil { first = error }
                    return first
                }
                if let failure, !isStopped { throw (failure as? AMQPError) ?? AMQPError(.closed, "\(failure)") }
            } catch {
                logger.warning("AMQP ingest: \(error.message); trying again", metadata: ["pause": "\(pause.current)"])
                await connection?.close()
                try? await Task.sleep(for: pause.next())
            }
        }
    }

    /// The exchange, the queues and their bindings, as Machinery's workers declare them, and
    /// the dead-letter queue.
    private func declare(on amqp: AMQPConnection) async throws(AMQPError) {
        if !configuration.exchange.isEmpty {
            try await amqp.declareExchange(configuration.exchange, type: configuration.exchangeType)
        }
        for (i, queue) in configuration.ingest.enumerated() {
            try await amqp.declareQueue(queue)
            guard !configuration.exchange.isEmpty else { continue }
            if i == 0 { try await amqp.bindQueue(queue, exchange: configuration.exchange, routingKey: configuration.bindingKey) }
            if i != 0 || queue != configuration.bindingKey {
                try await amqp.bindQueue(queue, exchange: configuration.exchange, routingKey: queue)
            }
        }
        try await amqp.declareQueue(configuration.deadLetter)
        try await amqp.enableConfirms()
    }

    /// One queue's deliveries, each submitted in a task of its own (the prefetch bounds how
    /// many); returns the error that ended the stream, `nil` when it ended on stop.
    private func read(_ stream: AsyncThrowingStream<AMQPMessage, any Error>, from queue: String, on amqp: AMQPConnection) async
        -> (any Error)?
    {
        await withDiscardingTaskGroup { group in
            do {
                for try await message in stream {
                    // Stopping: not started, handed back when the connection closes.
                    if isStopped { continue }
                    running.add(1, ordering: .relaxed)
                    group.addTask {
                        await self.handle(message, from: queue, on: amqp)
                        self.running.subtract(1, ordering: .relaxed)
                    }
                }
                return nil
            } catch {
                if isStopped { return nil }
                // The server cancelled this consumer (its queue deleted) or the connection
                // ended: close it, so that every queue is declared and consumed again.
                await amqp.close()
                return error
            }
        }
    }

    private func handle(_ message: AMQPMessage, from queue: String, on amqp: AMQPConnection) async {
        state.withLock { s in
            s.delivered += 1
            if message.redelivered { s.redelivered += 1 }
        }
        let key = Self.idempotencyKey(message)
        let reason: String
        do {
            guard message.body.count <= Self.maxMessageBytes else {
                throw BatonError(.tooLarge, "the message is \(message.body.count) bytes, more than \(Self.maxMessageBytes)")
            }
            guard let text = message.text else { throw BatonError.invalidArgument("the message is not UTF-8 text") }
            try await api.submit(text, idempotencyKey: key)
            state.withLock { $0.submitted += 1 }
            stall.store(0, ordering: .relaxed)
            try? await amqp.ack(message.deliveryTag)
            return
        } catch let error as BatonError where BrokerSubmission.isTheMessagesFault(error) {
            reason = error.message
        } catch {
            state.withLock { $0.retried += 1 }
            let wait = min(max(stall.load(ordering: .relaxed) * 2, 100), 5000)
            stall.store(wait, ordering: .relaxed)
            logger.warning(
                "AMQP ingest: could not submit a message; it is handed back to RabbitMQ",
                metadata: ["queue": "\(queue)", "idempotency_key": "\(key)", "error": "\(error)", "pause_ms": "\(wait)"])
            try? await Task.sleep(for: .milliseconds(wait))
            try? await amqp.nack(message.deliveryTag, requeue: true)
            return
        }
        let body = message.text ?? String(decoding: message.body, as: UTF8.self)
        let letter = BrokerSubmission.deadLetter(source: "amqp:\(queue)", reason: reason, body: body, at: Date().formatted(.iso8601))
        do {
            try await amqp.publish(Array(letter.utf8), exchange: "", routingKey: configuration.deadLetter, properties: .persistent)
            state.withLock { $0.rejected += 1 }
            logger.warning(
                "AMQP ingest: message refused, moved to \(configuration.deadLetter)",
                metadata: ["queue": "\(queue)", "reason": "\(reason)"])
            try? await amqp.ack(message.deliveryTag)
        } catch {
            // Not acknowledged: delivered again once this connection is gone.
            logger.warning(
                "AMQP ingest: could not move a refused message to \(configuration.deadLetter): \(error.message)",
                metadata: ["queue": "\(queue)"])
        }
    }

    /// The idempotency key of a message: `amqp:id:<message-id>` when it has one, else
    /// `amqp:sha256:<digest of its body>` (the same on every delivery).
    public static func idempotencyKey(_ message: AMQPMessage) -> String {
        if let id = message.properties.messageID, !id.isEmpty { return "amqp:id:\(id)" }
        return "amqp:sha256:" + SHA256.hash(data: message.body).map { String(format: "%02x", $0) }.joined()
    }
}
