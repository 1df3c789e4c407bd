import AsyncHTTPClient
import BatonAMQP
import BatonCore
import BatonWorker
import Foundation
import Logging
import Synchronization

/// A worker's tasks from a RabbitMQ queue, its outcomes to the node over HTTP
/// (`baton worker --amqp-url URL --amqp-work QUEUE --server URL`, docs/brokers.md): the node's
/// dispatch role (``AMQPWorkSender``) publishes Baton's work messages (``WorkMessage``) to the
/// queue, and everything else is the HTTP worker protocol (``HTTPTaskSource``), fenced by the
/// lease token each work message names.
///
/// - The worker consumes the queue with a prefetch of its concurrency: RabbitMQ hands it at
///   most that many messages it has not acknowledged. A claim takes what has arrived (waiting
///   at most ``longestWait`` for the first), then sends one heartbeat to the node for them: a
///   task cancelled, rescued or finished while its message waited is dropped before it runs.
/// - A message is acknowledged once its task's outcome reached the node (or the node said the
///   task is no longer this lease's), so a worker that dies or loses its connection hands its
///   messages back to RabbitMQ at once, and another worker runs them under the same lease (if
///   the lease is still the task's; otherwise its heartbeat drops them).
/// - A release gives the messages back to the queue (`basic.nack` with requeue).
/// - An unreadable message is refused without requeue (dropped, or to the queue's
///   dead-letter exchange).
public final class AMQPHTTPTaskSource: TaskSource {
    public let http: HTTPTaskSource
    let deliveries: AMQPWorkDeliveries
    let logger: Logger

    /// The longest a claim waits for a first message: a stopping worker waits for it.
    public static let longestWait: Duration = .seconds(2)

    public init(
        amqp: AMQPConfiguration, queue: String, prefetch: Int, servers: [URL], token: String? = nil,
        httpClient: HTTPClient = HTTPTaskSource.defaultHTTPClient, configuration: HTTPTaskSource.Configuration = .init(),
        logger: Logger
    ) {
        let deliveries = AMQPWorkDeliveries(amqp: amqp, queue: queue, prefetch: prefetch, logger: logger)
        self.deliveries = deliveries
        self.logger = logger
        http = HTTPTaskSource(
            servers: servers, token: token, httpClient: httpClient, configuration: configuration, logger: logger,
            delivered: { acks in await deliveries.ack(acks.map(\.lease)) })
    }

    /// Messages received and not yet acknowledged or handed back.
    public var heldCount: Int { deliveries.heldCount }

    // MARK: TaskSource

    public func claim(worker: String, queues: [String], kinds: [String], max: Int, wait: Duration, lease: Duration)
        async throws -> [ClaimedTask]
    {
        let received = try await deliveries.take(max: Swift.max(1, max), wait: Swift.min(wait, Self.longestWait))
        let (runnable, ended) = try await http.checkDelivered(received, lease: lease, waitedIn: "queue")
        await deliveries.ack(ended)
        return runnable
    }

    public func heartbeat(_ leases: [LeaseRef], lease: Duration, progress: [LeaseRef: TaskProgress]) async throws
        -> [HeartbeatOutcome]
    {
        let outcomes = try await http.heartbeat(leases, lease: lease, progress: progress)
        // Tasks the node says ended (cancelled, rescued, finished): their messages are done with.
        await deliveries.ack(
            zip(leases, outcomes).compactMap { lease, outcome in
                if case .extended = outcome { return nil }
                return lease
            })
        return outcomes
    }

    public func ack(_ ack: TaskAck) { http.ack(ack) }

    public func run() async {
        await http.run()
        await deliveries.close()
    }

    public func stop() { http.stop() }

    public func flush() async { await http.flush() }

    public var pendingLeases: [LeaseRef] { http.pendingLeases }

    public func release(_ leases: [LeaseRef]) async throws { await deliveries.requeue(leases) }

    public func announce(_ announcement: WorkerAnnouncement) async throws { try await http.announce(announcement) }

    public func parents(of id: TaskID, cursor: Int?, limit: Int) async throws -> ParentPage {
        try await http.parents(of: id, cursor: cursor, limit: limit)
    }

    /// Completes over HTTP with the follow-ups, then acknowledges the message (also when the
    /// node refused the lease: the task has moved on without it).
    public func complete(_ completion: TaskCompletion, followUps: [NewTask]) async throws {
        try await http.complete(completion, followUps: followUps) { await deliveries.ack([completion.lease]) }
    }
}

/// A worker's consumer on a RabbitMQ work queue: connects, declares the queue, consumes it
/// with a prefetch, buffers the deliveries for claims, and keeps each claimed message's
/// delivery tag (and connection) until it is acknowledged or handed back. A lost connection is
/// opened again at the next claim; the messages it held went back to the queue with it.
final class AMQPWorkDeliveries: Sendable {
    private struct Delivery {
        var message: AMQPMessage
        var connection: AMQPConnection
    }

    private struct State {
        var connection: AMQPConnection?
        var consumer: Task<Void, Never>?
        var buffer: [Delivery] = []
        var held: [LeaseRef: Delivery] = [:]
        /// Why the consumer ended, for the next claim to say.
        var failure: String?
    }

    let amqp: AMQPConfiguration
    let queue: String
    let prefetch: Int
    let logger: Logger
    private let state = Mutex(State())
    private let arrived = ReadySignal()

    init(amqp: AMQPConfiguration, queue: String, prefetch: Int, logger: Logger) {
        self.amqp = amqp
        self.queue = queue
        self.prefetch = Swift.min(Swift.max(1, prefetch), Int(UInt16.max))
        self.logger = logger
    }

    var heldCount: Int { state.withLock { $0.held.count } }

    /// Up to `max` claimed tasks from the messages that arrived, waiting up to `wait` for the
    /// first; `BatonError.unavailable` while RabbitMQ cannot be reached.
    func take(max: Int, wait: Duration) async throws -> [ClaimedTask] {
        let generation = arrived.generation
        try await consuming()
        if state.withLock({ $0.buffer.isEmpty }) && wait > .zero {
            await arrived.wait(after: generation, timeout: wait)
        }
        let taken = state.withLock { s in
            let n = Swift.min(max, s.buffer.count)
            defer { s.buffer.removeFirst(n) }
            return Array(s.buffer.prefix(n))
        }
        var claimed: [ClaimedTask] = []
        for delivery in taken {
            let task: ClaimedTask
            do {
                guard let text = delivery.message.text else { throw BatonError.invalidArgument("the body is not UTF-8") }
                task = try WorkMessage.decode(text).task
            } catch {
                logger.error(
                    "unreadable work message refused (dropped, or to the queue's dead-letter exchange)",
                    metadata: ["queue": "\(queue)", "reason": "\((error as? BatonError)?.message ?? "\(error)")"])
                try? await delivery.connection.nack(delivery.message.deliveryTag, requeue: false)
                continue
            }
            // A message delivered again while its task runs here keeps its newest delivery and
            // is not claimed twice.
            let fresh = state.withLock { s in s.held.updateValue(delivery, forKey: task.lease) == nil }
            if fresh { claimed.append(task) }
        }
        return claimed
    }

    /// Acknowledges the held messages of `leases` (their outcome is delivered, or no longer
    /// wanted). One whose connection closed since went back to the queue already.
    func ack(_ leases: [LeaseRef]) async {
        var byConnection: [ObjectIdentifier: (connection: AMQPConnection, tags: [UInt64])] = [:]
        for delivery in forget(leases) where delivery.connection.isActive {
            byConnection[ObjectIdentifier(delivery.connection), default: (delivery.connection, [])].tags.append(
                delivery.message.deliveryTag)
        }
        // One write per connection for the whole batch.
        for (connection, tags) in byConnection.values {
            do {
                try await connection.ack(tags)
            } catch {
                logger.warning(
                    "could not acknowledge work messages",
                    metadata: ["queue": "\(queue)", "count": "\(tags.count)", "error": "\(error.message)"])
            }
        }
    }

    /// Hands the held messages of `leases` back to the queue, for another worker.
    func requeue(_ leases: [LeaseRef]) async {
        for delivery in forget(leases) where delivery.connection.isActive {
            try? await delivery.connection.nack(delivery.message.deliveryTag, requeue: true)
        }
    }

    /// Stops consuming and closes the connection: what it held goes back to the queue.
    func close() async {
        let (connection, consumer) = state.withLock { s in
            defer {
                s.connection = nil
                s.consumer = nil
                s.buffer = []
                s.held = [:]
            }
            return (s.connection, s.consumer)
        }
        await connection?.close()
        consumer?.cancel()
    }

    private func forget(_ leases: [LeaseRef]) -> [Delivery] {
        guard !leases.isEmpty else { return [] }
        return state.withLock { s in leases.compactMap { s.held.removeValue(forKey: $0) } }
    }

    /// Makes sure a consumer runs on an open connection.
    private func consuming() async throws {
        if state.withLock({ $0.connection?.isActive == true }) { return }
        let connection: AMQPConnection
        let stream: AsyncThrowingStream<AMQPMessage, any Error>
        do throws(AMQPError) {
            let (queue, prefetch) = (self.queue, self.prefetch)
            (connection, stream) = try await AMQPConnection.connect(amqp) { fresh throws(AMQPError) in
                try await fresh.qos(prefetchCount: UInt16(prefetch))
                try await fresh.declareQueue(queue)
                return try await fresh.consume(queue)
            }
        } catch {
            if Task.isCancelled { throw CancellationError() }
            let before = state.withLock { $0.failure }
            throw BatonError.unavailable(
                "RabbitMQ queue \(queue) at \(amqp.address): \(error.message)" + (before.map { " (before: \($0))" } ?? ""))
        }
        let consumer = Task { [arrived] in
            do {
                for try await message in stream {
                    self.state.withLock { $0.buffer.append(Delivery(message: message, connection: connection)) }
                    arrived.notify()
                }
                self.ended(connection, why: "the server cancelled the consumer")
            } catch {
                self.ended(connection, why: "\(error)")
            }
        }
        state.withLock { s in
            s.connection = connection
            s.consumer = consumer
            s.failure = nil
        }
        logger.info("consuming work messages", metadata: ["queue": "\(queue)", "prefetch": "\(prefetch)"])
    }

    /// The consumer of `connection` ended: its buffered messages went back to the queue with
    /// it (closed here, if the server only cancelled the consumer); the next claim reconnects.
    private func ended(_ connection: AMQPConnection, why: String) {
        let current = state.withLock { s -> Bool in
            s.buffer.removeAll { $0.connection === connection }
            guard s.connection === connection else { return false }
            s.connection = nil
            s.failure = why
            return true
        }
        if current {
            logger.warning("the work queue's consumer ended; reconnecting", metadata: ["queue": "\(queue)", "reason": "\(why)"])
        }
        Task { await connection.close() }
        arrived.notify()
    }
}
