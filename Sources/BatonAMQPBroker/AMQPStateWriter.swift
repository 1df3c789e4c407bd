import BatonAMQP
import BatonCore
import BatonNIOClient
import BatonNode
import Foundation
import Logging
import Synchronization

/// Machinery's AMQP result backend as ``MachineryResults`` writes it (`amqp.results`,
/// docs/brokers.md): each state is a message in a queue of its own per task, named by the
/// signature's UUID, where Machinery's `AsyncResult` takes them one at a time (`basic.get`)
/// until it reads `SUCCESS` or `FAILURE`.
///
/// The queue is declared as Machinery declares it — not durable, deleted when unused, with
/// `x-message-ttl` and `x-expires` of ``expiry`` in milliseconds (Machinery's
/// `ResultsExpireIn`) — and the state published to it through the default exchange (which
/// routes by queue name, so no binding is needed), persistent JSON, confirmed by the server. A
/// producer declares the same queue (and binds it to its exchange) when it sends
/// (`SetStatePending`) and when it reads, so either side may come first.
///
/// A queue that exists with other arguments (the producer's `ResultsExpireIn` is not
/// ``expiry``) makes the server close the connection (406); the states then go to that queue
/// without declaring it, and a warning says to set `amqp.resultsExpireIn` to the producers'
/// value.
public final class AMQPStateWriter: MachineryStateWriter {
    public let amqp: AMQPConfiguration
    public let expiry: Duration
    let logger: Logger
    private let connection = ConnectionSlot<AMQPConnection>()
    /// Queues found declared with other arguments: published to without declaring (emptied
    /// when it reaches ``maxRemembered``).
    private let declaredElsewhere = Mutex<Set<String>>([])
    private let undeclaredQueues = Mutex(0)

    /// States written at once on the connection.
    static let concurrency = 256
    static let maxRemembered = 100_000

    public init(
        amqp: AMQPConfiguration, expiry: Duration = MachineryResults.defaultExpiry, logger: Logger
    ) {
        self.amqp = amqp
        self.expiry = expiry
        self.logger = logger
    }

    public var backend: String { "the AMQP server at \(amqp.address)" }

    /// How many queues were found declared with other arguments (and written to undeclared).
    public var queuesDeclaredElsewhere: Int { undeclaredQueues.withLock { $0 } }

    /// The arguments Machinery declares a task's state queue with.
    var queueArguments: [String: AMQPFieldValue] {
        let millis = AMQPFieldValue.int32(Int32(clamping: expiry.inMilliseconds))
        return ["x-message-ttl": millis, "x-expires": millis]
    }

    public func write(_ states: [MachineryStateWrite]) async -> MachineryWriteOutcome {
        var written = Array(repeating: false, count: states.count)
        var mismatched: [Int] = []
        for start in stride(from: 0, to: states.count, by: Self.concurrency) {
            let open: AMQPConnection
            do {
                open = try await connected()
            } catch {
                return MachineryWriteOutcome(written: written, failure: error)
            }
            let indices = Array(start..<min(start + Self.concurrency, states.count))
            let failures = await open.atOnce(indices) { i throws(AMQPError) in
                try await self.publish(states[i], on: open, declare: !self.isDeclaredElsewhere(states[i].uuid))
            }
            for i in indices { written[i] = true }
            for (i, _) in failures { written[i] = false }
            guard let first = failures.first?.1 else { continue }
            await close()
            // A declare that does not match closes the connection, failing what else was in
            // flight on it: each is tried again on its own below.
            guard failures.contains(where: { $0.1.replyCode == 406 }) else {
                return MachineryWriteOutcome(written: written, failure: first)
            }
            mismatched += failures.map(\.0)
        }
        for i in mismatched.sorted() {
            do throws(AMQPError) {
                try await writeAlone(states[i])
                written[i] = true
            } catch {
                await close()
                return MachineryWriteOutcome(written: written, failure: error)
            }
        }
        return MachineryWriteOutcome(written: written)
    }

    /// Writes one state alone on the connection (nothing else in flight fails with it): its
    /// queue declared first, and when the declaration does not match, the state published to
    /// the queue as it is.
    private func writeAlone(_ state: MachineryStateWrite) async throws(AMQPError) {
        do {
            try await publish(state, on: try await connected(), declare: !isDeclaredElsewhere(state.uuid))
        } catch let error where error.replyCode == 406 {
            await close()
            declaredElsewhere.withLock { known in
                if known.count >= Self.maxRemembered { known = [] }
                known.insert(state.uuid)
            }
            let count = undeclaredQueues.withLock { n in
                n += 1
                return n
            }
            // The first, then one in a hundred: a producer whose setting differs does it for every task.
            if count % 100 == 1 {
                logger.warning(
                    "a Machinery task's result queue exists with another expiry; set amqp.resultsExpireIn to the producers' ResultsExpireIn",
                    metadata: [
                        "queue": "\(state.uuid)", "expiry_s": "\(expiry.components.seconds)", "queues_so_far": "\(count)",
                        "error": "\(error.message)",
                    ])
            }
            try await publish(state, on: try await connected(), declare: false)
        }
    }

    private func isDeclaredElsewhere(_ uuid: String) -> Bool { declaredElsewhere.withLock { $0.contains(uuid) } }

    /// Declares the task's queue (creating it, as Machinery would, when no reader or producer
    /// has yet), then publishes the state to it through the default exchange, which routes by
    /// queue name: no binding is needed, whatever exchange the producer binds its queues to.
    private func publish(_ state: MachineryStateWrite, on amqp: AMQPConnection, declare: Bool) async throws(AMQPError) {
        if declare { try await amqp.declareQueue(state.uuid, durable: false, autoDelete: true, arguments: queueArguments) }
        try await amqp.publish(
            state.json, exchange: "", routingKey: state.uuid, properties: AMQPProperties(contentType: "application/json", deliveryMode: 2))
    }

    public func close() async { await connection.drop() }

    /// The open connection, or a new one with confirms on.
    private func connected() async throws(AMQPError) -> AMQPConnection {
        let amqp = self.amqp
        return try await connection.get { () async throws(AMQPError) in
            try await AMQPConnection.connect(amqp) { fresh throws(AMQPError) in try await fresh.enableConfirms() }.0
        }
    }
}
