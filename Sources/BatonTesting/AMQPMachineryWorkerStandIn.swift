import BatonAMQP
import BatonCore
import BatonRedis
import Foundation
import Synchronization
import Testing

/// A stand-in for a Machinery worker whose broker is RabbitMQ and result backend the same
/// RabbitMQ (or Redis, ``Backend/redis(_:)``, written as ``MachineryWorkerStandIn`` writes it),
/// doing what Machinery's source does (`brokers/amqp`, `worker.go`, `backends/amqp`; Machinery
/// is Go and cannot be fetched here): it declares its exchange (direct) and its queue (durable,
/// bound with its `BindingKey`), consumes with a prefetch, and for each delivery: a name it has
/// no function for is refused (`basic.nack`, requeued unless it was delivered before);
/// otherwise `RECEIVED` then `STARTED` are written, the function runs on the typed arguments,
/// `SUCCESS` with `[{"Type", "Value"}]` or `FAILURE` with the error is written, and the
/// delivery is acknowledged. Each state is written as the AMQP backend's `updateState` does:
/// the task's queue declared (named by the UUID, not durable, deleted when unused,
/// `x-message-ttl` and `x-expires` of `ResultsExpireIn`), bound to the exchange with the UUID,
/// the state published to the exchange with the UUID as routing key, persistent, confirmed.
public final class AMQPMachineryWorkerStandIn: Sendable {
    public typealias Function = MachineryWorkerStandIn.Function

    /// Where it writes the states (its `ResultBackend`).
    public enum Backend: Sendable {
        /// This RabbitMQ, `ResultsExpireIn` in milliseconds.
        case amqp(expiryMS: Int32)
        case redis(RedisConfiguration)
    }

    let server: AMQPConfiguration
    let exchange: String
    let queue: String
    let bindingKey: String
    let functions: [String: Function]
    let backend: Backend
    let taken = Mutex<[[String: JSONValue]]>([])
    let ended = Mutex(0)

    public init(
        server: AMQPConfiguration, exchange: String, queue: String, bindingKey: String, functions: [String: Function],
        backend: Backend = .amqp(expiryMS: 3_600_000)
    ) {
        self.server = server
        self.exchange = exchange
        self.queue = queue
        self.bindingKey = bindingKey
        self.functions = functions
        self.backend = backend
    }

    /// Every signature taken, as decoded.
    public var signatures: [[String: JSONValue]] { taken.withLock { $0 } }

    /// How many tasks it ran to their `SUCCESS` or `FAILURE`.
    public var finished: Int { ended.withLock { $0 } }

    /// Consumes and runs messages until cancelled; `drop` (given each signature) says to take a
    /// message, write `RECEIVED` and `STARTED`, and die with it (the connection closed without
    /// an acknowledgement, as a worker killed mid-task): `run` then returns. `hold` is how long
    /// each task runs after its `STARTED` state.
    public func run(drop: @escaping @Sendable ([String: JSONValue]) -> Bool = { _ in false }, hold: Duration = .zero) async throws {
        let consumer = try await AMQPConnection.connect(server)
        let states = try await Writer.open(backend, server)
        defer {
            Task {
                await consumer.close()
                await states.close()
            }
        }
        try await consumer.declareExchange(exchange, type: "direct")
        try await consumer.declareQueue(queue)
        try await consumer.bindQueue(queue, exchange: exchange, routingKey: bindingKey)
        try await consumer.qos(prefetchCount: 4)
        for try await delivery in try await consumer.consume(queue) {
            guard let text = delivery.text, case .object(let signature) = try RawJSON(validating: text).parsed(),
                case .string(let uuid)? = signature["UUID"], case .string(let name)? = signature["Name"]
            else {
                Issue.record("not a signature: \(delivery.text ?? "")")
                try await consumer.nack(delivery.deliveryTag, requeue: false)
                continue
            }
            guard let function = functions[name] else {
                try await consumer.nack(delivery.deliveryTag, requeue: !delivery.redelivered)
                continue
            }
            taken.withLock { $0.append(signature) }
            try await write(states, uuid, name, "RECEIVED")
            try await write(states, uuid, name, "STARTED")
            if drop(signature) {
                await consumer.close()
                return
            }
            if hold > .zero { try await Task.sleep(for: hold) }
            do {
                let results = try function(MachineryWorkerStandIn.arguments(signature))
                try await write(states, uuid, name, "SUCCESS", results: MachineryWorkerStandIn.results(results))
            } catch {
                try await write(states, uuid, name, "FAILURE", error: "\(error)")
            }
            ended.withLock { $0 += 1 }
            try await consumer.ack(delivery.deliveryTag)
        }
    }

    /// The connection states are written on.
    enum Writer: Sendable {
        case amqp(AMQPConnection, expiryMS: Int32)
        case redis(RedisConnection)

        static func open(_ backend: Backend, _ server: AMQPConfiguration) async throws -> Writer {
            switch backend {
            case .amqp(let expiryMS):
                let amqp = try await AMQPConnection.connect(server)
                try await amqp.enableConfirms()
                return .amqp(amqp, expiryMS: expiryMS)
            case .redis(let redis):
                return .redis(try await RedisConnection.connect(redis))
            }
        }

        func close() async {
            switch self {
            case .amqp(let amqp, _): await amqp.close()
            case .redis(let redis): await redis.close()
            }
        }
    }

    /// `SetState…`: on RabbitMQ the AMQP backend's `updateState` (the task's queue declared and
    /// bound, the state published through the exchange); on Redis, the Redis backend's.
    private func write(
        _ writer: Writer, _ uuid: String, _ name: String, _ state: String, results: JSONValue = .null, error: String = ""
    ) async throws {
        guard case .amqp(let amqp, let expiryMS) = writer else {
            if case .redis(let redis) = writer {
                try await MachineryWorkerStandIn.write(redis, uuid, state, results: results, error: error)
            }
            return
        }
        let expiry = AMQPFieldValue.int32(expiryMS)
        try await amqp.declareExchange(exchange, type: "direct")
        try await amqp.declareQueue(uuid, durable: false, autoDelete: true, arguments: ["x-message-ttl": expiry, "x-expires": expiry])
        try await amqp.bindQueue(uuid, exchange: exchange, routingKey: uuid)
        let json = RawJSON(
            .object([
                "TaskUUID": .string(uuid), "TaskName": .string(name), "State": .string(state), "Results": results,
                "Error": .string(error), "CreatedAt": .string("2026-12-07T00:00:00Z"), "TTL": .int(0),
            ]))
        try await amqp.publish(
            Array(json.text.utf8), exchange: exchange, routingKey: uuid,
            properties: AMQPProperties(contentType: "application/json", deliveryMode: 2))
    }
}
