import BatonAMQP
import BatonCore
import BatonNode
import Foundation
import Logging
import ServiceLifecycle

/// The RabbitMQ dispatch role's sender: a ``BrokerDispatch`` with it sends a Baton queue's
/// tasks to a durable RabbitMQ queue as Baton's work messages (``WorkMessage``, the text SQS
/// and Redis carry), persistent, through the default exchange, all of one claim at once, each
/// confirmed by the server before it counts as sent; workers consume the queue
/// (``AMQPHTTPTaskSource``) and report over HTTP. A node's `--amqp-dispatch QUEUE=AMQPQUEUE`
/// makes one (docs/brokers.md, "RabbitMQ dispatch").
actor AMQPWorkSender: WorkSender {
    nonisolated let broker = "amqp"
    nonisolated let address: String
    let amqp: AMQPConfiguration
    let queue: String
    let logger: Logger
    private var connection: AMQPConnection?

    init(amqp: AMQPConfiguration, queue: String, logger: Logger) {
        self.amqp = amqp
        self.queue = queue
        self.logger = logger
        address = "RabbitMQ queue \(queue) at \(amqp.address)"
    }

    func prepare() async throws {
        _ = try await connected()
    }

    func send(_ claimed: [ClaimedTask]) async -> WorkSendOutcome {
        guard !claimed.isEmpty else { return WorkSendOutcome() }
        let amqp: AMQPConnection
        do {
            amqp = try await connected()
        } catch {
            logger.warning(
                "could not reach RabbitMQ; the tasks go back to ready",
                metadata: ["queue": "\(queue)", "count": "\(claimed.count)", "error": "\(error.message)"])
            return WorkSendOutcome(unsent: claimed)
        }
        let queue = self.queue
        let failures = await amqp.atOnce(claimed) { task throws(AMQPError) in
            let properties = AMQPProperties(contentType: "application/json", deliveryMode: 2, messageID: WorkMessage.id(task.lease))
            try await amqp.publish(Array(WorkMessage.text(task).utf8), exchange: "", routingKey: queue, properties: properties)
        }
        guard let first = failures.first else { return WorkSendOutcome() }
        logger.warning(
            "RabbitMQ did not take some work messages; their tasks go back to ready",
            metadata: ["queue": "\(queue)", "count": "\(failures.count)", "error": "\(first.1.message)"])
        await connection?.close()
        connection = nil
        return WorkSendOutcome(unsent: failures.map(\.0))
    }

    /// The open connection, or a new one with confirms on and the queue declared (durable).
    private func connected() async throws(AMQPError) -> AMQPConnection {
        if let connection, connection.isActive { return connection }
        let queue = self.queue
        let (fresh, _) = try await AMQPConnection.connect(amqp) { fresh throws(AMQPError) in
            try await fresh.enableConfirms()
            try await fresh.declareQueue(queue)
        }
        connection = fresh
        return fresh
    }
}
