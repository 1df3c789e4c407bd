import BatonAMQP
import BatonAMQPBroker
import BatonCore
import BatonNode
import BatonTesting
import Foundation
import Testing

/// Machinery's AMQP result backend kept by the node, against a real RabbitMQ
/// (`scripts/with-rabbitmq.sh`): a producer does what Machinery's AMQP backend does — declares a
/// queue per task named by its UUID (not durable, deleted when unused, `x-message-ttl` and
/// `x-expires` of its `ResultsExpireIn`), bound to the exchange with the UUID, publishes its
/// `PENDING` there when it sends, and reads the states one at a time with `basic.get` until one
/// is `SUCCESS` or `FAILURE` (`AsyncResult.Get`) — and a worker runs the tasks through the
/// node's worker protocol.
@Suite("Machinery's AMQP result backend against RabbitMQ", .serialized)
struct MachineryAMQPResultsTests {
    /// What Machinery's producer and readers do with a task's state queue.
    struct Producer {
        let amqp: AMQPConnection
        let exchange: String
        /// The producer's `ResultsExpireIn`, in milliseconds.
        let expiryMS: Int32

        var arguments: [String: AMQPFieldValue] { ["x-message-ttl": .int32(expiryMS), "x-expires": .int32(expiryMS)] }

        /// Machinery's `Connect` for a task's queue: the exchange, the queue, its binding.
        func declare(_ uuid: String) async throws {
            try await amqp.declareExchange(exchange, type: "direct")
            try await amqp.declareQueue(uuid, durable: false, autoDelete: true, arguments: arguments)
            try await amqp.bindQueue(uuid, exchange: exchange, routingKey: uuid)
        }

        /// `SetStatePending`, as `SendTask` does before it publishes the signature.
        func pending(_ uuid: String, _ name: String) async throws {
            try await declare(uuid)
            let state =
                #"{"TaskUUID":"\#(uuid)","TaskName":"\#(name)","State":"PENDING","Results":null,"Error":"","CreatedAt":"2026-12-06T00:00:00Z","TTL":0}"#
            try await amqp.publish(
                Array(state.utf8), exchange: exchange, routingKey: uuid,
                properties: AMQPProperties(contentType: "application/json", deliveryMode: 2))
        }

        /// `GetState`: the next state in the task's queue, taken and acknowledged; nil: none yet.
        func next(_ uuid: String) async throws -> [String: Any]? {
            try await declare(uuid)
            guard let message = try await amqp.get(uuid) else { return nil }
            try await amqp.ack(message.deliveryTag)
            #expect(message.properties.contentType == "application/json")
            #expect(message.properties.deliveryMode == 2)
            return try #require(try JSONSerialization.jsonObject(with: Data(message.body)) as? [String: Any])
        }

        /// `AsyncResult.Get`: reads states until one is final (or one of `until`); returns them all.
        func states(_ uuid: String, until: Set<String> = ["SUCCESS", "FAILURE"]) async throws -> [[String: Any]] {
            var seen: [[String: Any]] = []
            try await eventually("\(uuid) to reach \(until.sorted())", within: .seconds(15), every: .milliseconds(20)) {
                () -> Bool? in
                while let state = try await next(uuid) {
                    seen.append(state)
                    if let name = state["State"] as? String, until.contains(name) { return true }
                }
                return nil
            }
            return seen
        }
    }

    static func uuid() -> String { "task_\(UUID().uuidString.lowercased())" }

    static func start(
        _ server: AMQPConfiguration, expiry: Duration
    ) async throws -> (BrokerHarness, MachineryResults, AMQPStateWriter, BrokerHarness.Running) {
        let harness = try await BrokerHarness()
        let writer = AMQPStateWriter(amqp: server, expiry: expiry, logger: testLogger("writer"))
        let results = MachineryResults(
            writer: writer, store: harness.api.node.store, events: harness.api.node.events, logger: testLogger("results"))
        return (harness, results, writer, harness.start([results]))
    }

    static func claim(_ harness: BrokerHarness, _ kind: String) async throws -> ClaimedTask {
        try #require(try await harness.api.claim(ClaimBody(worker: "machinery-worker", kinds: [kind], waitMS: 5000)).first)
    }

    @Test func aMachineryProducerReadsEachStateFromItsTasksQueue() async throws {
        guard let server = try AMQPConnectionTests.server() else { return }
        let exchange = "machinery_exchange.\(UUID().uuidString.prefix(8).lowercased())"
        let (harness, results, writer, running) = try await Self.start(server, expiry: .seconds(120))
        let amqp = try await AMQPConnection.connect(server)
        try await amqp.enableConfirms()
        let producer = Producer(amqp: amqp, exchange: exchange, expiryMS: 120_000)
        let (sum, product, broken, flaky) = (Self.uuid(), Self.uuid(), Self.uuid(), Self.uuid())
        // The producer writes PENDING for what it sends: the chain's first task, a failing task
        // and one retried; the chain's next task is not sent by it (nor its PENDING written).
        for (uuid, name) in [(sum, "add"), (broken, "divide"), (flaky, "fetch")] { try await producer.pending(uuid, name) }
        for signature in [
            goSignature(sum, "add", args: [1, 1], onSuccess: [goSignature(product, "multiply", args: [5])]),
            goSignature(broken, "divide", args: [1, 0]), goSignature(flaky, "fetch", retryCount: 1),
        ] {
            _ = try await harness.api.submitMachineryWorkflow(try RawJSON(trusted: signature).parsed(), idempotencyKey: nil)
        }

        let add = try await Self.claim(harness, "add")
        var sumStates = try await producer.states(sum, until: ["STARTED"])
        #expect(
            try await harness.api.ack([
                .complete(TaskCompletion(lease: add.lease, result: RawJSON(trusted: #"[{"Type":"int64","Value":2}]"#)))
            ]) == [.applied(.succeeded)])
        sumStates += try await producer.states(sum)
        // The producer's PENDING first, then what the node published, in order.
        #expect(sumStates.map { $0["State"] as? String } == ["PENDING", "STARTED", "SUCCESS"])
        let succeeded = try #require(sumStates.last)
        #expect(succeeded["TaskUUID"] as? String == sum && succeeded["TaskName"] as? String == "add")
        let listed = try #require(succeeded["Results"] as? [[String: Any]])
        #expect(listed.count == 1 && listed[0]["Type"] as? String == "int64" && listed[0]["Value"] as? Int == 2)

        // The chain's next task: its queue is declared by the node (the producer has not read it
        // yet), so the states wait there for the producer.
        let multiply = try await Self.claim(harness, "multiply")
        try await eventually("the node to write the chain's next task's start", within: .seconds(10), every: .milliseconds(20)) {
            () -> Bool? in results.stats.written >= 3 ? true : nil
        }
        #expect(
            try await harness.api.ack([.complete(TaskCompletion(lease: multiply.lease, result: RawJSON(trusted: "10")))]) == [
                .applied(.succeeded)
            ])
        try await eventually("the node to write the chain's next task", within: .seconds(10), every: .milliseconds(20)) {
            () -> Bool? in results.stats.written >= 4 ? true : nil
        }
        let productStates = try await producer.states(product)
        #expect(productStates.map { $0["State"] as? String } == ["STARTED", "SUCCESS"])
        let ten = try #require(productStates.last?["Results"] as? [[String: Any]])
        #expect(ten.count == 1 && ten[0]["Type"] as? String == "int64" && ten[0]["Value"] as? Int == 10)

        // Failed with an attempt left: RETRY, then the next attempt; failed for good: FAILURE.
        let fetch = try await Self.claim(harness, "fetch")
        _ = try await producer.states(flaky, until: ["STARTED"])
        #expect(
            try await harness.api.ack([.fail(TaskFailure(lease: fetch.lease, message: "timeout", retryAfter: .zero))]) == [
                .applied(.pending)
            ])
        let retrying = try await producer.states(flaky, until: ["RETRY"])
        #expect(retrying.map { $0["State"] as? String } == ["RETRY"])
        #expect(retrying.last?["Error"] as? String == "timeout")
        let again = try await Self.claim(harness, "fetch")
        #expect(again.task.attempt == 2)
        #expect(
            try await harness.api.ack([.fail(TaskFailure(lease: again.lease, message: "timeout again"))]) == [.applied(.failed)])
        let fetchStates = try await producer.states(flaky)
        #expect(fetchStates.last?["State"] as? String == "FAILURE" && fetchStates.last?["Error"] as? String == "timeout again")

        let divide = try await Self.claim(harness, "divide")
        #expect(
            try await harness.api.ack([.fail(TaskFailure(lease: divide.lease, message: "division by zero", retryable: false))]) == [
                .applied(.failed)
            ])
        let failed = try #require(try await producer.states(broken).last)
        #expect(failed["State"] as? String == "FAILURE" && failed["Error"] as? String == "division by zero")

        await running.stop()
        #expect(results.stats.failed == 0, "\(results.stats)")
        #expect(writer.queuesDeclaredElsewhere == 0)
        for uuid in [sum, product, broken, flaky] { _ = try? await amqp.deleteQueue(uuid) }
        await amqp.close()
    }

    /// A producer whose `ResultsExpireIn` differs from the node's declares the task's queue with
    /// other arguments, which RabbitMQ refuses to declare again (406, the connection closed): the
    /// node publishes to that queue without declaring it, and a task written in the same flush
    /// with matching arguments is written too.
    @Test func aQueueDeclaredWithAnotherExpiryStillGetsTheStates() async throws {
        guard let server = try AMQPConnectionTests.server() else { return }
        let exchange = "machinery_exchange.\(UUID().uuidString.prefix(8).lowercased())"
        let (harness, results, writer, running) = try await Self.start(server, expiry: .seconds(3600))
        let amqp = try await AMQPConnection.connect(server)
        try await amqp.enableConfirms()
        let other = Producer(amqp: amqp, exchange: exchange, expiryMS: 60_000)
        let same = Producer(amqp: amqp, exchange: exchange, expiryMS: 3_600_000)
        let (mismatched, matching) = (Self.uuid(), Self.uuid())
        try await other.pending(mismatched, "echo")
        try await same.pending(matching, "echo")
        for uuid in [mismatched, matching] {
            _ = try await harness.api.submitMachineryWorkflow(try RawJSON(trusted: goSignature(uuid, "echo")).parsed(), idempotencyKey: nil)
        }
        let claimed = try await harness.api.claim(ClaimBody(worker: "w", kinds: ["echo"], max: 2, waitMS: 5000))
        #expect(claimed.count == 2)
        #expect(
            try await harness.api.ack(claimed.map { .complete(TaskCompletion(lease: $0.lease, result: RawJSON(trusted: #""ok""#))) })
                == [.applied(.succeeded), .applied(.succeeded)])
        for (producer, uuid) in [(other, mismatched), (same, matching)] {
            let states = try await producer.states(uuid)
            #expect(states.first?["State"] as? String == "PENDING" && states.last?["State"] as? String == "SUCCESS", "\(uuid)")
            let values = try #require(states.last?["Results"] as? [[String: Any]])
            #expect(values.first?["Type"] as? String == "string" && values.first?["Value"] as? String == "ok")
        }
        await running.stop()
        #expect(results.stats.failed == 0, "\(results.stats)")
        // One queue written to undeclared: the mismatched one, once (the node remembers it).
        #expect(writer.queuesDeclaredElsewhere == 1)
        for uuid in [mismatched, matching] { _ = try? await amqp.deleteQueue(uuid) }
        await amqp.close()
    }
}
