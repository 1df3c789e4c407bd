import BatonAMQP
import BatonTesting
import Foundation
import Testing

@Suite("AMQP URLs")
struct AMQPConfigurationTests {
    @Test func urlsAreReadAsRabbitMQsClientsReadThem() throws {
        let plain = try AMQPConfiguration(url: "amqp://guest:guest@localhost:5672/")
        #expect(plain.host == "localhost" && plain.port == 5672 && plain.virtualHost == "/" && !plain.tls)
        #expect(plain.username == "guest" && plain.password == "guest")
        let bare = try AMQPConfiguration(url: "amqp://rabbit")
        #expect(bare.port == 5672 && bare.virtualHost == "/" && bare.username == "guest")
        let vhost = try AMQPConfiguration(url: "amqps://app:p%40ss@mq.example:5999/prod%2Feu")
        #expect(vhost.tls && vhost.port == 5999 && vhost.virtualHost == "prod/eu" && vhost.password == "p@ss")
        #expect(try AMQPConfiguration(url: "amqps://mq.example/").port == 5671)
        #expect(try AMQPConfiguration(url: "amqp://h/%2F").virtualHost == "/")
        #expect(vhost.description == "amqps://app:***@mq.example:5999/prod%2Feu")
        #expect(!vhost.description.contains("p@ss") && !vhost.description.contains("p%40ss"))
    }

    @Test func badURLsAreRefusedWithoutThePassword() {
        for (url, words) in [
            ("redis://h:6379", "amqp:// or amqps://"),
            ("amqp://user:s3cret@:5672/", "names no host"),
            ("amqp://h:70000/", "out of range"),
            ("amqp://h/a/b", "one virtual host"),
        ] {
            #expect {
                try AMQPConfiguration(url: url)
            } throws: { error in
                let error = error as! AMQPError
                return error.kind == .invalidArgument && error.message.contains(words) && !error.message.contains("s3cret")
            }
        }
    }
}

/// The AMQP 0-9-1 client against a real RabbitMQ (`scripts/with-rabbitmq.sh`).
@Suite("AMQP client against RabbitMQ", .serialized)
struct AMQPConnectionTests {
    static func server(_ test: String = #function) throws -> AMQPConfiguration? {
        try TestServer.amqpURL(for: test).map { try AMQPConfiguration(url: $0) }
    }

    /// A name of this test's own.
    static func name(_ base: String) -> String { "baton-test.\(base).\(UUID().uuidString.prefix(8).lowercased())" }

    @Test func publishedMessagesAreConsumedWithTheirPropertiesAndAcknowledged() async throws {
        guard let server = try Self.server() else { return }
        let amqp = try await AMQPConnection.connect(server)
        defer { Task { await amqp.close() } }
        let exchange = Self.name("exchange")
        let queue = Self.name("queue")
        try await amqp.declareExchange(exchange, type: "direct")
        try await amqp.declareQueue(queue)
        try await amqp.bindQueue(queue, exchange: exchange, routingKey: "key")
        try await amqp.enableConfirms()
        // Larger than a frame (128 KiB): the body goes in several frames, both ways.
        let large = String(repeating: "0123456789abcdef", count: 20_000)
        let properties = AMQPProperties(
            contentType: "application/json",
            headers: ["attempt": .int32(3), "who": .string("test"), "nested": .table(["ok": .bool(true)])],
            deliveryMode: 2, priority: 7, messageID: "m-1", timestamp: 1_700_000_000, type: "signature")
        try await amqp.publish(Array(#"{"n":1}"#.utf8), exchange: exchange, routingKey: "key", properties: properties)
        try await amqp.publish(Array(large.utf8), exchange: exchange, routingKey: "key")
        try await amqp.publish(Array("".utf8), exchange: "", routingKey: queue)
        #expect(try await amqp.declareQueue(queue, passive: true).messageCount == 3)

        try await amqp.qos(prefetchCount: 10)
        var received: [AMQPMessage] = []
        for try await message in try await amqp.consume(queue) {
            received.append(message)
            try await amqp.ack(message.deliveryTag)
            if received.count == 3 { break }
        }
        #expect(received.map(\.text) == [#"{"n":1}"#, large, ""])
        #expect(received[0].properties == properties)
        #expect(received[0].exchange == exchange && received[0].routingKey == "key" && !received[0].redelivered)
        #expect(received[2].exchange == "" && received[2].routingKey == queue)
        try await eventually("the acknowledgements to land", within: .seconds(5), every: .milliseconds(50)) { () -> Bool? in
            try await amqp.get(queue) == nil ? true : nil
        }
        try await amqp.deleteQueue(queue)
    }

    @Test func aMessageHandedBackIsDeliveredAgainMarkedRedelivered() async throws {
        guard let server = try Self.server() else { return }
        let amqp = try await AMQPConnection.connect(server)
        defer { Task { await amqp.close() } }
        let queue = Self.name("queue")
        try await amqp.declareQueue(queue)
        try await amqp.publish(Array("once".utf8), exchange: "", routingKey: queue)
        let first = try await eventually("the message", within: .seconds(5), every: .milliseconds(20)) {
            try await amqp.get(queue)
        }
        #expect(!first.redelivered)
        try await amqp.nack(first.deliveryTag, requeue: true)
        let again = try await eventually("it again", within: .seconds(5), every: .milliseconds(20)) {
            try await amqp.get(queue)
        }
        #expect(again.redelivered && again.text == "once")

        // Unacknowledged when its connection ends: delivered again to the next one.
        await amqp.close()
        let next = try await AMQPConnection.connect(server)
        defer { Task { await next.close() } }
        let third = try await eventually("it after the close", within: .seconds(5), every: .milliseconds(20)) {
            try await next.get(queue)
        }
        #expect(third.redelivered && third.text == "once")
        try await next.ack(third.deliveryTag)
        try await next.deleteQueue(queue)
    }

    @Test func theServersRefusalsNameTheirReplyCode() async throws {
        guard let server = try Self.server() else { return }
        let amqp = try await AMQPConnection.connect(server)
        let missing = Self.name("missing")
        await #expect {
            try await amqp.declareQueue(missing, passive: true)
        } throws: { error in
            let error = error as! AMQPError
            return error.kind == .server && error.replyCode == 404 && error.message.contains("NOT_FOUND")
        }
        // The channel is gone with it: so is the connection, and callers are told.
        try await eventually("the connection to close", within: .seconds(5), every: .milliseconds(20)) { () -> Bool? in
            amqp.isActive ? nil : true
        }
        await #expect(throws: AMQPError.self) { try await amqp.declareQueue(missing) }

        let again = try await AMQPConnection.connect(server)
        let exchange = Self.name("exchange")
        try await again.declareExchange(exchange, type: "direct")
        await #expect {
            try await again.declareExchange(exchange, type: "fanout")
        } throws: { error in
            (error as! AMQPError).replyCode == 406
        }
        let cleanup = try await AMQPConnection.connect(server)
        _ = try? await cleanup.declareQueue(missing, passive: true)
        await cleanup.close()
    }

    @Test func wrongCredentialsAndNoServerAreToldApart() async throws {
        guard var server = try Self.server() else { return }
        server.password = "not-the-password"
        await #expect {
            try await AMQPConnection.connect(server)
        } throws: { error in
            let error = error as! AMQPError
            return error.kind == .auth && !error.message.contains("not-the-password")
        }
        server.password = "guest"
        server.virtualHost = "no-such-vhost"
        await #expect {
            try await AMQPConnection.connect(server)
        } throws: { error in
            (error as! AMQPError).kind == .auth
        }
        let nobody = AMQPConfiguration(host: "127.0.0.1", port: 1, connectTimeout: .seconds(2))
        await #expect {
            try await AMQPConnection.connect(nobody)
        } throws: { error in
            let error = error as! AMQPError
            return error.kind == .connect && error.message.contains("127.0.0.1:1")
        }
    }
}
