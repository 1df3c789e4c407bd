import BatonAMQP
import BatonAMQPBroker
import BatonCore
import BatonNode
import BatonTesting
import Foundation
import Testing

/// The ingest role against a real RabbitMQ (`scripts/with-rabbitmq.sh`): producers publish as
/// Machinery's AMQP broker does, and a node over a fresh SQLite store takes the messages in.
@Suite("AMQP ingest against RabbitMQ", .serialized)
struct AMQPIngestTests {
    /// A configuration of this test's own names (exchange, queues, binding key, dead letters).
    static func configuration(_ test: String = #function) throws -> (AMQPConfiguration, AMQPBrokerConfiguration)? {
        guard let server = try TestServer.amqpURL(for: test).map({ try AMQPConfiguration(url: $0) }) else { return nil }
        let suffix = UUID().uuidString.prefix(8).lowercased()
        let broker = AMQPBrokerConfiguration(
            amqp: server, ingest: ["machinery_tasks.\(suffix)", "reports.\(suffix)"], exchange: "machinery_exchange.\(suffix)",
            bindingKey: "machinery_task.\(suffix)", prefetch: 8, deadLetter: "baton.dead.\(suffix)")
        return (server, broker)
    }

    /// Machinery's `Publish` on its AMQP broker with a direct exchange: the routing key is the
    /// signature's, else the binding key; it declares the exchange (durable) and a queue named
    /// after the routing key bound with it, and publishes persistent JSON with confirms.
    static func machineryPublish(_ signature: String, routingKey: String, exchange: String, on amqp: AMQPConnection) async throws {
        try await amqp.declareExchange(exchange, type: "direct")
        try await amqp.declareQueue(routingKey)
        try await amqp.bindQueue(routingKey, exchange: exchange, routingKey: routingKey)
        try await amqp.publish(
            Array(signature.utf8), exchange: exchange, routingKey: routingKey,
            properties: AMQPProperties(contentType: "application/json", headers: [:], deliveryMode: 2, priority: 0))
    }

    static func cleanup(_ server: AMQPConfiguration, queues: [String]) async {
        guard let amqp = try? await AMQPConnection.connect(server) else { return }
        for queue in queues { _ = try? await amqp.deleteQueue(queue) }
        await amqp.close()
    }

    @Test func machineryProducersSignaturesBecomeTasksOnceEachDelayedOnesAtTheirETA() async throws {
        guard let (server, broker) = try Self.configuration() else { return }
        let harness = try await BrokerHarness()
        let ingest = AMQPIngest(api: harness.api, amqp: server, configuration: broker, logger: testLogger("ingest"))
        let running = harness.start([ingest])
        let amqp = try await AMQPConnection.connect(server)
        try await amqp.enableConfirms()
        // The node declares its queues and bindings first, as Machinery's workers do.
        try await eventually("the ingest's queues", within: .seconds(20), every: .milliseconds(50)) { () -> Bool? in
            let probe = try await AMQPConnection.connect(server)
            defer { Task { await probe.close() } }
            return (try? await probe.declareQueue(broker.ingest[1], passive: true).consumerCount) == 1 ? true : nil
        }

        let plain = UUID().uuidString.lowercased()
        let head = UUID().uuidString.lowercased()
        let next = UUID().uuidString.lowercased()
        let routed = UUID().uuidString.lowercased()
        // Routed by the binding key (a signature without a RoutingKey), twice: one task.
        let signature = goSignature("task_\(plain)", "add", args: [1, 2])
        for _ in 0..<2 {
            try await Self.machineryPublish(signature, routingKey: broker.bindingKey, exchange: broker.exchange, on: amqp)
        }
        // A chain, and a signature whose RoutingKey names the second queue.
        try await Self.machineryPublish(
            goSignature("task_\(head)", "add", args: [1, 1], onSuccess: [goSignature("task_\(next)", "multiply", args: [5])]),
            routingKey: broker.bindingKey, exchange: broker.exchange, on: amqp)
        try await Self.machineryPublish(
            goSignature("task_\(routed)", "report", args: [7], routingKey: broker.ingest[1]), routingKey: broker.ingest[1],
            exchange: broker.exchange, on: amqp)
        // A signature with an ETA 0.6 s ahead, as Machinery's `delay` parks it: in a queue of its
        // own whose messages expire into the exchange with the signature's routing key.
        let delayed = UUID().uuidString.lowercased()
        let eta = Date(timeIntervalSinceNow: 0.6)
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let parking = "delay.600.\(broker.exchange).\(broker.bindingKey)"
        try await amqp.declareQueue(
            parking,
            arguments: [
                "x-dead-letter-exchange": .string(broker.exchange), "x-dead-letter-routing-key": .string(broker.bindingKey),
                "x-message-ttl": .int64(600), "x-expires": .int64(1200),
            ])
        try await amqp.bindQueue(parking, exchange: broker.exchange, routingKey: parking)
        try await amqp.publish(
            Array(goSignature("task_\(delayed)", "add", args: [4], eta: formatter.string(from: eta)).utf8), exchange: broker.exchange,
            routingKey: parking, properties: .persistent)
        // Baton's task JSON, published to a queue by name with a message-id.
        try await amqp.publish(
            Array(#"{"kind":"email.send","args":{"to":"a@b.c"},"queue":"mail"}"#.utf8), exchange: "", routingKey: broker.ingest[0],
            properties: AMQPProperties(deliveryMode: 2, messageID: "mail-1"))

        try await eventually("the six messages", within: .seconds(20), every: .milliseconds(50)) { () -> Bool? in
            ingest.stats.submitted == 6 ? true : nil
        }
        await running.stop()
        await amqp.close()

        let tasks = try await harness.allTasks()
        #expect(tasks.map(\.kind).sorted() == ["add", "add", "add", "email.send", "multiply", "report"])
        let parked = try await harness.api.get(try #require(TaskID(delayed)))
        // It reached the queue when its parking expired, at its ETA: stored then, to run then
        // (a run time already past is the time it was stored).
        #expect(parked.createdAt.timeIntervalSince(eta) > -0.1, "stored at \(parked.createdAt), ETA \(eta)")
        #expect(parked.runAt.timeIntervalSince(eta) > -0.001 && parked.runAt.timeIntervalSince(parked.createdAt) < 0.5)
        let first = try await harness.api.get(try #require(TaskID(plain)))
        #expect(first.args.text == #"[{"Type":"int64","Value":1},{"Type":"int64","Value":2}]"#)
        #expect(try await harness.api.get(try #require(TaskID(next))).state == .waiting)
        #expect(try await harness.api.get(try #require(TaskID(routed))).queue == broker.ingest[1])
        #expect(ingest.stats.rejected == 0 && ingest.stats.retried == 0)
        await Self.cleanup(server, queues: broker.ingest + [broker.deadLetter, broker.bindingKey, broker.ingest[1]])
    }

    @Test func refusedMessagesGoToTheDeadLetterQueueWithTheirReason() async throws {
        guard let (server, broker) = try Self.configuration() else { return }
        let harness = try await BrokerHarness()
        let ingest = AMQPIngest(api: harness.api, amqp: server, configuration: broker, logger: testLogger("ingest"))
        let amqp = try await AMQPConnection.connect(server)
        try await amqp.enableConfirms()
        try await amqp.declareQueue(broker.ingest[0])
        let bad: [(body: String, reason: String)] = [
            ("this is not JSON", "JSON"),
            (#"{"kind":"echo","surprise":true}"#, "unknown field 'surprise'"),
            (goSignature("task_\(UUID())", ""), "Name is required"),
        ]
        let good = #"[{"jsonrpc":"2.0","method":"submit:export","params":{"objectID":"1"}}]"#
        for body in [bad[0].body, good, bad[1].body, bad[2].body] {
            try await amqp.publish(Array(body.utf8), exchange: "", routingKey: broker.ingest[0], properties: .persistent)
        }
        let running = harness.start([ingest])
        try await eventually("every message", within: .seconds(20), every: .milliseconds(50)) { () -> Bool? in
            ingest.stats.submitted == 1 && ingest.stats.rejected == bad.count ? true : nil
        }
        await running.stop()

        #expect(try await harness.allTasks().map(\.kind) == ["export"])
        var letters: [String] = []
        while let message = try await amqp.get(broker.deadLetter, noAck: true) { letters.append(try #require(message.text)) }
        #expect(letters.count == bad.count)
        for letter in letters {
            let value = try BrokerSubmission.parse(letter)
            let body = try #require(value["body"]?.stringValue)
            let expected = try #require(bad.first { $0.body == body }, "\(letter)")
            #expect(value["source"]?.stringValue == "amqp:\(broker.ingest[0])")
            #expect(value["reason"]?.stringValue?.contains(expected.reason) == true, "\(letter)")
            #expect(value["at"]?.stringValue.flatMap(BatonJSON.parseDate) != nil, "\(letter)")
        }
        #expect(try await amqp.declareQueue(broker.ingest[0], passive: true).messageCount == 0)
        await amqp.close()
        await Self.cleanup(server, queues: broker.ingest + [broker.deadLetter])
    }

    /// A node that committed a message's submit and stopped before acknowledging it: RabbitMQ
    /// delivers the message again, and the next node stores nothing twice.
    @Test func aMessageDeliveredAgainAfterItsSubmitCommittedIsStoredOnce() async throws {
        guard let (server, broker) = try Self.configuration() else { return }
        let harness = try await BrokerHarness()
        let amqp = try await AMQPConnection.connect(server)
        try await amqp.declareQueue(broker.ingest[0])
        let id = UUID().uuidString.lowercased()
        let bodies = [#"{"kind":"email.send","args":{"n":1}}"#, goSignature("task_\(id)", "add", args: [2])]
        for body in bodies { try await amqp.publish(Array(body.utf8), exchange: "", routingKey: broker.ingest[0]) }
        // The first node: takes both, commits the first one's submit, dies (its connection ends).
        let dying = try await AMQPConnection.connect(server)
        let taken = try await eventually("the first message", within: .seconds(5), every: .milliseconds(20)) {
            try await dying.get(broker.ingest[0])
        }
        _ = try await eventually("the second", within: .seconds(5), every: .milliseconds(20)) { try await dying.get(broker.ingest[0]) }
        try await harness.api.submit(try #require(taken.text), idempotencyKey: AMQPIngest.idempotencyKey(taken))
        await dying.close()

        let ingest = AMQPIngest(api: harness.api, amqp: server, configuration: broker, logger: testLogger("ingest"))
        let running = harness.start([ingest])
        try await eventually("both again", within: .seconds(20), every: .milliseconds(50)) { () -> Bool? in
            ingest.stats.submitted == 2 ? true : nil
        }
        await running.stop()
        #expect(ingest.stats.redelivered == 2)
        let tasks = try await harness.allTasks()
        #expect(tasks.map(\.kind).sorted() == ["add", "email.send"])
        #expect(try await harness.api.get(try #require(TaskID(id))).kind == "add")
        #expect(try await amqp.declareQueue(broker.ingest[0], passive: true).messageCount == 0)
        await amqp.close()
        await Self.cleanup(server, queues: broker.ingest + [broker.deadLetter])
    }

    /// The server cancels the node's consumer (its queue was deleted): the node connects
    /// again, declares the queue again and takes what is published to it after.
    @Test func aConsumerCancelledByTheServerIsStartedAgain() async throws {
        guard let (server, broker) = try Self.configuration() else { return }
        let harness = try await BrokerHarness()
        let ingest = AMQPIngest(api: harness.api, amqp: server, configuration: broker, logger: testLogger("ingest"))
        let running = harness.start([ingest])
        func consumers() async throws -> UInt32? {
            let probe = try await AMQPConnection.connect(server)
            defer { Task { await probe.close() } }
            return try? await probe.declareQueue(broker.ingest[0], passive: true).consumerCount
        }
        try await eventually("the node's consumer", within: .seconds(20), every: .milliseconds(50)) { () -> Bool? in
            try await consumers() == 1 ? true : nil
        }
        let amqp = try await AMQPConnection.connect(server)
        try await amqp.deleteQueue(broker.ingest[0])
        try await eventually("the queue declared and consumed again", within: .seconds(20), every: .milliseconds(50)) { () -> Bool? in
            try await consumers() == 1 ? true : nil
        }
        try await amqp.publish(Array(#"{"kind":"after.cancel"}"#.utf8), exchange: "", routingKey: broker.ingest[0])
        try await eventually("the message", within: .seconds(20), every: .milliseconds(50)) { () -> Bool? in
            ingest.stats.submitted == 1 ? true : nil
        }
        await running.stop()
        #expect(try await harness.allTasks().map(\.kind) == ["after.cancel"])
        await amqp.close()
        await Self.cleanup(server, queues: broker.ingest + [broker.deadLetter])
    }

    /// Two nodes consume one queue: 2,000 messages, each stored once, both nodes taking some.
    @Test func twoNodesTakeTwoThousandMessagesEachOnce() async throws {
        guard let (server, broker) = try Self.configuration() else { return }
        let harness = try await BrokerHarness()
        let nodes = (0..<2).map { n in
            AMQPIngest(api: NodeAPI(node: harness.node), amqp: server, configuration: broker, logger: testLogger("ingest-\(n)"))
        }
        let running = harness.start(nodes)
        let amqp = try await AMQPConnection.connect(server)
        try await amqp.declareQueue(broker.ingest[0])
        try await amqp.enableConfirms()
        let total = 2000
        try await withThrowingTaskGroup(of: Void.self) { group in
            for n in 0..<total {
                group.addTask {
                    try await amqp.publish(
                        Array(#"{"jsonrpc":"2.0","method":"submit:export","params":{"objectID":"\#(n)"}}"#.utf8), exchange: "",
                        routingKey: broker.ingest[0], properties: .persistent)
                }
            }
            try await group.waitForAll()
        }
        try await eventually("every message to be stored", within: .seconds(60), every: .milliseconds(100)) { () -> Bool? in
            nodes.map(\.stats.submitted).reduce(0, +) >= total ? true : nil
        }
        await running.stop()
        let ids = try await harness.allTasks().compactMap { try? $0.args.parsed()["objectID"]?.stringValue }.compactMap { Int($0) }
        #expect(ids.sorted() == Array(0..<total), "each objectID exactly once")
        #expect(nodes.allSatisfy { $0.stats.delivered > 0 }, "both nodes took some: \(nodes.map(\.stats.delivered))")
        #expect(try await amqp.declareQueue(broker.ingest[0], passive: true).messageCount == 0)
        await amqp.close()
        await Self.cleanup(server, queues: broker.ingest + [broker.deadLetter])
    }

    /// A node whose store is gone hands every message back to RabbitMQ, more and more slowly;
    /// a node that can store then takes them all, each once.
    @Test func aNodeThatCannotStoreHandsTheMessagesBack() async throws {
        guard let (server, broker) = try Self.configuration() else { return }
        let amqp = try await AMQPConnection.connect(server)
        try await amqp.declareQueue(broker.ingest[0])
        for n in 0..<20 {
            try await amqp.publish(Array(#"{"kind":"export","args":{"n":"\#(n)"}}"#.utf8), exchange: "", routingKey: broker.ingest[0])
        }
        let broken = try await BrokerHarness()
        try broken.store.close()
        let stuck = AMQPIngest(api: broken.api, amqp: server, configuration: broker, logger: testLogger("stuck"))
        let runningStuck = broken.start([stuck])
        try await eventually("submits to fail", within: .seconds(10), every: .milliseconds(20)) { () -> Bool? in
            stuck.stats.retried >= 20 ? true : nil
        }
        let failedBefore = stuck.stats.retried
        try await Task.sleep(for: .seconds(1))
        await runningStuck.stop()
        #expect(stuck.stats.submitted == 0 && stuck.stats.rejected == 0, "\(stuck.stats)")
        // Pauses growing from 0.1 s: far fewer tries than deliveries a second would allow.
        #expect(stuck.stats.retried - failedBefore < 200, "\(stuck.stats)")

        let working = try await BrokerHarness()
        let ingest = AMQPIngest(api: working.api, amqp: server, configuration: broker, logger: testLogger("ingest"))
        let running = working.start([ingest])
        try await eventually("every message to be stored", within: .seconds(20), every: .milliseconds(50)) { () -> Bool? in
            ingest.stats.submitted >= 20 ? true : nil
        }
        await running.stop()
        let ns = try await working.allTasks().compactMap { try? $0.args.parsed()["n"]?.stringValue }.compactMap { Int($0) }
        #expect(ns.sorted() == Array(0..<20), "each message once")
        // Those the stuck node held (its prefetch; it was handed them again and again) come
        // back marked redelivered; the others it never got.
        #expect((1...broker.prefetch).contains(ingest.stats.redelivered), "\(ingest.stats)")
        #expect(try await amqp.declareQueue(broker.ingest[0], passive: true).messageCount == 0)
        await amqp.close()
        await Self.cleanup(server, queues: broker.ingest + [broker.deadLetter])
    }
}
