import BatonCore
import BatonNIOClient
import Foundation
import NIOCore
import NIOPosix
import NIOSSL

/// One connection to an AMQP 0-9-1 server (RabbitMQ), with one channel: methods are written
/// as they come and their answers matched in order, so concurrent callers share it.
/// Deliveries to consumers arrive on their own streams; with ``enableConfirms()`` a publish
/// returns once the server has taken the message (written to disk for a persistent message on
/// a durable queue).
///
/// When the server closes the channel (a declare that does not match the existing queue, a
/// queue that does not exist) or the connection, every caller waiting fails with the server's
/// reply code and text, consumers' streams end with it, and the connection is closed: open a
/// new one. Heartbeats are sent and watched (``AMQPConfiguration/heartbeat``): a server silent
/// for two of them closes the connection.
public final class AMQPConnection: Sendable {
    public let configuration: AMQPConfiguration
    private let channel: any Channel
    /// The largest frame both sides take, as tuned.
    let frameMax: UInt32

    private init(configuration: AMQPConfiguration, channel: any Channel, frameMax: UInt32) {
        self.configuration = configuration
        self.channel = channel
        self.frameMax = frameMax
    }

    static let channelNumber: UInt16 = 1

    /// Connects, authenticates (PLAIN), opens the virtual host and the channel.
    public static func connect(
        _ configuration: AMQPConfiguration, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws(AMQPError) -> AMQPConnection {
        let tls: NIOSSLContext?
        do {
            tls = try configuration.tls ? NIOClientSupport.tlsContext(caFile: configuration.caFile) : nil
        } catch {
            throw AMQPError(.invalidArgument, "TLS for \(configuration.address): \(error)")
        }
        let host = configuration.host
        let opened = group.next().makePromise(of: UInt32.self)
        let bootstrap = ClientBootstrap(group: group)
            .connectTimeout(.nanoseconds(Int64(configuration.connectTimeout / .nanoseconds(1))))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let pipeline = channel.pipeline.syncOperations
                    if let tls {
                        try pipeline.addHandler(
                            try NIOSSLClientHandler(context: tls, serverHostname: NIOClientSupport.isIPAddress(host) ? nil : host))
                    }
                    try pipeline.addHandler(ByteToMessageHandler(AMQPFrameDecoder()))
                    try pipeline.addHandler(AMQPChannelHandler(configuration: configuration, opened: opened))
                }
            }
        let channel: any Channel
        do {
            channel = try await bootstrap.connect(host: configuration.host, port: configuration.port).get()
        } catch {
            opened.fail(AMQPError(.connect, "unreachable"))
            throw AMQPError(.connect, "cannot reach the AMQP server at \(configuration.address): \(describe(error))")
        }
        let deadline = channel.eventLoop.scheduleTask(in: .nanoseconds(Int64(configuration.connectTimeout / .nanoseconds(1)))) {
            opened.fail(
                AMQPError(
                    .timeout, "the AMQP server at \(configuration.address) did not finish the handshake in \(configuration.connectTimeout)")
            )
        }
        do {
            let frameMax = try await opened.futureResult.get()
            deadline.cancel()
            return AMQPConnection(configuration: configuration, channel: channel, frameMax: frameMax)
        } catch {
            deadline.cancel()
            try? await channel.close()
            let failure = (error as? AMQPError) ?? AMQPError(.connect, describe(error))
            if failure.kind == .closed {
                throw AMQPError(.connect, "cannot reach the AMQP server at \(configuration.address): \(failure.message)")
            }
            throw failure
        }
    }

    /// Connects and gets the new connection ready with `prepare` (confirms, declarations, a
    /// consumer): the connection and what `prepare` returned. A failure of `prepare` closes
    /// the connection and is thrown.
    public static func connect<Prepared>(
        _ configuration: AMQPConfiguration, preparing prepare: (AMQPConnection) async throws(AMQPError) -> Prepared
    ) async throws(AMQPError) -> (AMQPConnection, Prepared) {
        let connection = try await connect(configuration)
        do {
            return (connection, try await prepare(connection))
        } catch {
            await connection.close()
            throw error
        }
    }

    /// Whether the connection is still open.
    public var isActive: Bool { channel.isActive }

    // MARK: Topology

    /// Declares an exchange (as Machinery does: durable, not deleted when unused); the server
    /// refuses (406) one that exists with other settings.
    public func declareExchange(
        _ name: String, type: String = "direct", durable: Bool = true, autoDelete: Bool = false,
        arguments: [String: AMQPFieldValue] = [:]
    ) async throws(AMQPError) {
        _ = try await call(.exchangeDeclare, expecting: [.exchangeDeclareOk]) { buffer throws(AMQPError) in
            buffer.writeInteger(UInt16(0))
            try AMQPWire.writeShortString(name, into: &buffer)
            try AMQPWire.writeShortString(type, into: &buffer)
            AMQPWire.writeBits([false, durable, autoDelete, false, false], into: &buffer)
            try AMQPWire.writeTable(arguments, into: &buffer)
        }
    }

    /// What a queue declaration answered.
    public struct QueueInfo: Sendable, Hashable {
        public var name: String
        public var messageCount: UInt32
        public var consumerCount: UInt32
    }

    /// Declares a queue (`passive`: only checks that it exists, 404 otherwise).
    @discardableResult
    public func declareQueue(
        _ name: String, durable: Bool = true, exclusive: Bool = false, autoDelete: Bool = false, passive: Bool = false,
        arguments: [String: AMQPFieldValue] = [:]
    ) async throws(AMQPError) -> QueueInfo {
        var answer = try await call(.queueDeclare, expecting: [.queueDeclareOk]) { buffer throws(AMQPError) in
            buffer.writeInteger(UInt16(0))
            try AMQPWire.writeShortString(name, into: &buffer)
            AMQPWire.writeBits([passive, durable, exclusive, autoDelete, false], into: &buffer)
            try AMQPWire.writeTable(arguments, into: &buffer)
        }.arguments
        return QueueInfo(
            name: try AMQPWire.readShortString(&answer), messageCount: try AMQPWire.readInteger(&answer),
            consumerCount: try AMQPWire.readInteger(&answer))
    }

    public func bindQueue(
        _ queue: String, exchange: String, routingKey: String, arguments: [String: AMQPFieldValue] = [:]
    ) async throws(AMQPError) {
        _ = try await call(.queueBind, expecting: [.queueBindOk]) { buffer throws(AMQPError) in
            buffer.writeInteger(UInt16(0))
            try AMQPWire.writeShortString(queue, into: &buffer)
            try AMQPWire.writeShortString(exchange, into: &buffer)
            try AMQPWire.writeShortString(routingKey, into: &buffer)
            AMQPWire.writeBits([false], into: &buffer)
            try AMQPWire.writeTable(arguments, into: &buffer)
        }
    }

    /// Removes a binding made by ``bindQueue(_:exchange:routingKey:arguments:)`` (none left is
    /// no error).
    public func unbindQueue(
        _ queue: String, exchange: String, routingKey: String, arguments: [String: AMQPFieldValue] = [:]
    ) async throws(AMQPError) {
        _ = try await call(.queueUnbind, expecting: [.queueUnbindOk]) { buffer throws(AMQPError) in
            buffer.writeInteger(UInt16(0))
            try AMQPWire.writeShortString(queue, into: &buffer)
            try AMQPWire.writeShortString(exchange, into: &buffer)
            try AMQPWire.writeShortString(routingKey, into: &buffer)
            try AMQPWire.writeTable(arguments, into: &buffer)
        }
    }

    /// Deletes a queue; returns how many messages it held.
    @discardableResult
    public func deleteQueue(_ queue: String) async throws(AMQPError) -> UInt32 {
        var answer = try await call(.queueDelete, expecting: [.queueDeleteOk]) { buffer throws(AMQPError) in
            buffer.writeInteger(UInt16(0))
            try AMQPWire.writeShortString(queue, into: &buffer)
            AMQPWire.writeBits([false, false, false], into: &buffer)
        }.arguments
        return try AMQPWire.readInteger(&answer)
    }

    // MARK: Messages

    /// How many unacknowledged deliveries the server sends this channel's consumers at most.
    public func qos(prefetchCount: UInt16) async throws(AMQPError) {
        _ = try await call(.basicQos, expecting: [.basicQosOk]) { buffer throws(AMQPError) in
            buffer.writeInteger(UInt32(0))
            buffer.writeInteger(prefetchCount)
            AMQPWire.writeBits([false], into: &buffer)
        }
    }

    /// Publisher confirms: from now on ``publish(_:exchange:routingKey:properties:mandatory:)``
    /// returns once the server has taken the message, and throws if it refused it.
    public func enableConfirms() async throws(AMQPError) {
        _ = try await send(
            frames: try Self.method(.confirmSelect) { buffer in AMQPWire.writeBits([false], into: &buffer) },
            expecting: [.confirmSelectOk], startsConfirms: true)
    }

    /// Publishes a message. Without confirms it returns once written; with them, once the
    /// server confirmed it.
    public func publish(
        _ body: some Collection<UInt8>, exchange: String, routingKey: String, properties: AMQPProperties = AMQPProperties(),
        mandatory: Bool = false
    ) async throws(AMQPError) {
        var bytes = try Self.method(.basicPublish) { buffer throws(AMQPError) in
            buffer.writeInteger(UInt16(0))
            try AMQPWire.writeShortString(exchange, into: &buffer)
            try AMQPWire.writeShortString(routingKey, into: &buffer)
            AMQPWire.writeBits([mandatory, false], into: &buffer)
        }
        var payload = ByteBufferAllocator().buffer(capacity: body.count)
        payload.writeBytes(body)
        try AMQPWire.writeContent(
            classID: 60, properties: properties, body: payload, channel: Self.channelNumber, frameMax: frameMax, into: &bytes)
        _ = try await send(frames: bytes, expecting: [], publishes: true)
    }

    /// Starts a consumer on `queue` (acknowledgements by the caller): its deliveries, until it is
    /// cancelled or the connection ends (the stream then throws why).
    public func consume(_ queue: String, tag: String = "baton-\(UUID().uuidString.lowercased())") async throws(AMQPError)
        -> AsyncThrowingStream<AMQPMessage, any Error>
    {
        let (stream, continuation) = AsyncThrowingStream<AMQPMessage, any Error>.makeStream()
        let frames = try Self.method(.basicConsume) { buffer throws(AMQPError) in
            buffer.writeInteger(UInt16(0))
            try AMQPWire.writeShortString(queue, into: &buffer)
            try AMQPWire.writeShortString(tag, into: &buffer)
            AMQPWire.writeBits([false, false, false, false], into: &buffer)
            try AMQPWire.writeTable([:], into: &buffer)
        }
        _ = try await send(frames: frames, expecting: [.basicConsumeOk], consumer: (tag, continuation))
        return stream
    }

    /// Takes one message from `queue` if it has one (acknowledged by the caller unless `noAck`).
    public func get(_ queue: String, noAck: Bool = false) async throws(AMQPError) -> AMQPMessage? {
        let frames = try Self.method(.basicGet) { buffer throws(AMQPError) in
            buffer.writeInteger(UInt16(0))
            try AMQPWire.writeShortString(queue, into: &buffer)
            AMQPWire.writeBits([noAck], into: &buffer)
        }
        switch try await send(frames: frames, expecting: [.basicGetOk, .basicGetEmpty]) {
        case .message(let message): return message
        case .method, .none: return nil
        }
    }

    /// Acknowledges a delivery (and, with `multiple`, every one before it).
    public func ack(_ deliveryTag: UInt64, multiple: Bool = false) async throws(AMQPError) {
        _ = try await send(frames: try Self.ackFrame(deliveryTag, multiple: multiple), expecting: [])
    }

    /// Acknowledges several deliveries, each on its own, in one write.
    public func ack(_ deliveryTags: [UInt64]) async throws(AMQPError) {
        guard !deliveryTags.isEmpty else { return }
        var frames = ByteBufferAllocator().buffer(capacity: 24 * deliveryTags.count)
        for tag in deliveryTags {
            var frame = try Self.ackFrame(tag, multiple: false)
            frames.writeBuffer(&frame)
        }
        _ = try await send(frames: frames, expecting: [])
    }

    private static func ackFrame(_ deliveryTag: UInt64, multiple: Bool) throws(AMQPError) -> ByteBuffer {
        try method(.basicAck) { buffer in
            buffer.writeInteger(deliveryTag)
            AMQPWire.writeBits([multiple], into: &buffer)
        }
    }

    /// Refuses a delivery: back to its queue with `requeue`, else dropped (or to the queue's
    /// dead-letter exchange).
    public func nack(_ deliveryTag: UInt64, multiple: Bool = false, requeue: Bool = true) async throws(AMQPError) {
        _ = try await send(
            frames: try Self.method(.basicNack) { buffer in
                buffer.writeInteger(deliveryTag)
                AMQPWire.writeBits([multiple, requeue], into: &buffer)
            }, expecting: [])
    }

    /// Closes the connection as the protocol asks (Connection.Close, answered), or at once
    /// if the server does not answer within a second.
    public func close() async {
        guard channel.isActive else { return }
        let frames = try? Self.method(.connectionClose, channel: 0) { buffer throws(AMQPError) in
            buffer.writeInteger(UInt16(200))
            try AMQPWire.writeShortString("bye", into: &buffer)
            buffer.writeInteger(UInt16(0))
            buffer.writeInteger(UInt16(0))
        }
        if let frames {
            _ = try? await send(frames: frames, expecting: [.connectionCloseOk], timeout: .seconds(1))
        }
        try? await channel.close()
    }

    // MARK: Plumbing

    private func call(
        _ id: AMQPWire.MethodID, expecting: [AMQPWire.MethodID], arguments: (inout ByteBuffer) throws(AMQPError) -> Void
    ) async throws(AMQPError) -> AMQPWire.Method {
        guard case .method(let method) = try await send(frames: try Self.method(id, arguments: arguments), expecting: expecting) else {
            throw AMQPError(.protocol, "no method answered \(id)")
        }
        return method
    }

    private static func method(
        _ id: AMQPWire.MethodID, channel: UInt16 = channelNumber, arguments: (inout ByteBuffer) throws(AMQPError) -> Void
    ) throws(AMQPError) -> ByteBuffer {
        var buffer = ByteBufferAllocator().buffer(capacity: 128)
        try AMQPWire.writeMethod(id, channel: channel, into: &buffer, arguments: arguments)
        return buffer
    }

    private func send(
        frames: ByteBuffer, expecting: [AMQPWire.MethodID], consumer: AMQPChannelHandler.Consumer? = nil, startsConfirms: Bool = false,
        publishes: Bool = false, timeout: Duration? = nil
    ) async throws(AMQPError) -> AMQPChannelHandler.Reply {
        let promise = channel.eventLoop.makePromise(of: AMQPChannelHandler.Reply.self)
        let request = AMQPChannelHandler.Request(
            bytes: frames, expecting: expecting, promise: promise, consumer: consumer, startsConfirms: startsConfirms, publishes: publishes)
        let address = configuration.address
        let limit = timeout ?? configuration.operationTimeout
        return try await NIOClientSupport.request(
            request, on: channel, promise: promise, within: limit,
            closed: { error in
                AMQPError(
                    .closed,
                    error.map { "the connection to the AMQP server at \(address) failed: \(Self.describe($0))" }
                        ?? "the connection to the AMQP server at \(address) is closed")
            },
            timedOut: { AMQPError(.timeout, "no answer from the AMQP server at \(address) within \(limit)") })
    }

    static func describe(_ error: any Error) -> String {
        NIOClientSupport.describe(error, caSetting: "AMQPConfiguration.caFile") { ($0 as? AMQPError)?.message }
    }
}

/// The connection's protocol on its event loop: the handshake, the matching of answers to
/// the methods written, the assembly of delivered messages, confirms and heartbeats.
final class AMQPChannelHandler: ChannelDuplexHandler {
    typealias InboundIn = AMQPWire.Frame
    typealias OutboundIn = Request
    typealias OutboundOut = ByteBuffer

    typealias Consumer = (tag: String, continuation: AsyncThrowingStream<AMQPMessage, any Error>.Continuation)

    enum Reply {
        case method(AMQPWire.Method)
        case message(AMQPMessage)
        case none
    }

    struct Request {
        var bytes: ByteBuffer
        var expecting: [AMQPWire.MethodID]
        var promise: EventLoopPromise<Reply>
        var consumer: Consumer?
        var startsConfirms: Bool
        var publishes: Bool
    }

    private struct Waiting {
        var expecting: [AMQPWire.MethodID]
        var promise: EventLoopPromise<Reply>
    }

    /// A message being read: its method's fields, then its header, then its body.
    private struct Incoming {
        enum Destination {
            case consumer(String)
            case get(EventLoopPromise<Reply>)
            case returned
        }
        var destination: Destination
        var message: AMQPMessage
        var size: UInt64?
    }

    private let configuration: AMQPConfiguration
    private let opened: EventLoopPromise<UInt32>
    private var isOpen = false
    private var frameMax = AMQPWire.preferredFrameMax
    private var waiting = CircularBuffer<Waiting>()
    private var consumers: [String: AsyncThrowingStream<AMQPMessage, any Error>.Continuation] = [:]
    private var incoming: Incoming?
    private var confirming = false
    private var published: UInt64 = 0
    private var unconfirmed = CircularBuffer<(tag: UInt64, promise: EventLoopPromise<Reply>)>()
    private var failure: AMQPError?
    private var lastRead = NIODeadline.now()
    private var heartbeats: RepeatedTask?

    init(configuration: AMQPConfiguration, opened: EventLoopPromise<UInt32>) {
        self.configuration = configuration
        self.opened = opened
    }

    // MARK: Handshake

    func channelActive(context: ChannelHandlerContext) {
        var buffer = context.channel.allocator.buffer(capacity: 8)
        buffer.writeBytes(AMQPWire.protocolHeader)
        context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
        context.fireChannelActive()
    }

    private func handshake(_ method: AMQPWire.Method, context: ChannelHandlerContext) throws(AMQPError) {
        var arguments = method.arguments
        var out = context.channel.allocator.buffer(capacity: 256)
        switch method.id {
        case .connectionStart:
            _ = try AMQPWire.readInteger(&arguments, as: UInt16.self)
            _ = try AMQPWire.readTable(&arguments)
            let mechanisms = try AMQPWire.readLongString(&arguments).split(separator: " ")
            guard mechanisms.contains("PLAIN") else {
                throw AMQPError(
                    .auth, "the AMQP server at \(configuration.address) offers \(mechanisms.joined(separator: ", ")), not PLAIN")
            }
            try AMQPWire.writeMethod(.connectionStartOk, channel: 0, into: &out) { buffer throws(AMQPError) in
                try AMQPWire.writeTable(
                    [
                        "product": .string("Baton"), "platform": .string("Swift"),
                        "capabilities": .table([
                            "publisher_confirms": .bool(true), "consumer_cancel_notify": .bool(true), "basic.nack": .bool(true),
                            "authentication_failure_close": .bool(true), "connection.blocked": .bool(true),
                        ]),
                    ], into: &buffer)
                try AMQPWire.writeShortString("PLAIN", into: &buffer)
                AMQPWire.writeLongString([0] + Array(configuration.username.utf8) + [0] + Array(configuration.password.utf8), into: &buffer)
                try AMQPWire.writeShortString("en_US", into: &buffer)
            }
        case .connectionTune:
            _ = try AMQPWire.readInteger(&arguments, as: UInt16.self)
            let serverFrameMax = try AMQPWire.readInteger(&arguments, as: UInt32.self)
            let serverHeartbeat = try AMQPWire.readInteger(&arguments, as: UInt16.self)
            frameMax =
                serverFrameMax == 0
                ? AMQPWire.preferredFrameMax : max(AMQPWire.minFrameMax, min(serverFrameMax, AMQPWire.preferredFrameMax))
            let asked = UInt16(clamping: Int(configuration.heartbeat / .seconds(1)))
            // 0 (ours or the server's) is no heartbeat asked for; otherwise the lower one.
            let heartbeat = asked == 0 ? 0 : serverHeartbeat == 0 ? asked : min(asked, serverHeartbeat)
            try AMQPWire.writeMethod(.connectionTuneOk, channel: 0, into: &out) { buffer in
                buffer.writeInteger(UInt16(1))
                buffer.writeInteger(frameMax)
                buffer.writeInteger(heartbeat)
            }
            try AMQPWire.writeMethod(.connectionOpen, channel: 0, into: &out) { buffer throws(AMQPError) in
                try AMQPWire.writeShortString(configuration.virtualHost, into: &buffer)
                try AMQPWire.writeShortString("", into: &buffer)
                AMQPWire.writeBits([false], into: &buffer)
            }
            if heartbeat > 0 { startHeartbeats(every: Int64(heartbeat), context: context) }
        case .connectionOpenOk:
            try AMQPWire.writeMethod(.channelOpen, channel: AMQPConnection.channelNumber, into: &out) { buffer throws(AMQPError) in
                try AMQPWire.writeShortString("", into: &buffer)
            }
        case .channelOpenOk:
            isOpen = true
            opened.succeed(frameMax)
            return
        default:
            throw AMQPError(.protocol, "the AMQP server sent method \(method.id) during the handshake")
        }
        context.writeAndFlush(wrapOutboundOut(out), promise: nil)
    }

    /// A heartbeat frame every half of the interval; the connection closes when nothing came
    /// for two intervals.
    private func startHeartbeats(every seconds: Int64, context: ChannelHandlerContext) {
        let channel = context.channel
        let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
        heartbeats = context.eventLoop.scheduleRepeatedTask(initialDelay: .milliseconds(seconds * 500), delay: .milliseconds(seconds * 500))
        { task in
            let handler = handler.value
            if NIODeadline.now() - handler.lastRead > .seconds(2 * seconds) {
                handler.failAll(AMQPError(.timeout, "the AMQP server at \(handler.configuration.address) missed two heartbeats"))
                channel.close(promise: nil)
                task.cancel()
                return
            }
            var buffer = channel.allocator.buffer(capacity: 8)
            AMQPWire.writeFrame(.heartbeat, channel: 0, payload: channel.allocator.buffer(capacity: 0), into: &buffer)
            let request = Request(
                bytes: buffer, expecting: [], promise: channel.eventLoop.makePromise(), consumer: nil, startsConfirms: false,
                publishes: false)
            channel.writeAndFlush(request, promise: nil)
        }
    }

    // MARK: Writing

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let request = unwrapOutboundIn(data)
        if let failure {
            request.promise.fail(failure)
            promise?.fail(failure)
            return
        }
        if request.startsConfirms { confirming = true }
        if let consumer = request.consumer { consumers[consumer.tag] = consumer.continuation }
        if request.publishes {
            if confirming {
                published += 1
                unconfirmed.append((published, request.promise))
            } else {
                context.write(wrapOutboundOut(request.bytes), promise: promise)
                request.promise.succeed(.none)
                return
            }
        } else if request.expecting.isEmpty {
            context.write(wrapOutboundOut(request.bytes), promise: promise)
            request.promise.succeed(.none)
            return
        } else {
            waiting.append(Waiting(expecting: request.expecting, promise: request.promise))
        }
        context.write(wrapOutboundOut(request.bytes), promise: promise)
    }

    // MARK: Reading

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        lastRead = .now()
        do throws(AMQPError) {
            try read(frame, context: context)
        } catch {
            fail(error, context: context)
        }
    }

    private func read(_ frame: AMQPWire.Frame, context: ChannelHandlerContext) throws(AMQPError) {
        switch frame.type {
        case .heartbeat:
            return
        case .header:
            guard var message = incoming else { throw AMQPError(.protocol, "a content header without a method before it") }
            var payload = frame.payload
            _ = try AMQPWire.readInteger(&payload, as: UInt16.self)
            _ = try AMQPWire.readInteger(&payload, as: UInt16.self)
            message.size = try AMQPWire.readInteger(&payload, as: UInt64.self)
            message.message.properties = try AMQPProperties.read(&payload)
            incoming = message
            if message.size == 0 { deliverIncoming() }
        case .body:
            guard incoming?.size != nil else { throw AMQPError(.protocol, "a content body without a header before it") }
            var payload = frame.payload
            incoming!.message.body.append(contentsOf: payload.readBytes(length: payload.readableBytes)!)
            if UInt64(incoming!.message.body.count) >= incoming!.size! { deliverIncoming() }
        case .method:
            let method = try AMQPWire.readMethod(frame.payload)
            if !isOpen {
                if method.id == .connectionClose { throw closed(by: method, what: "connection") }
                try handshake(method, context: context)
                return
            }
            try handle(method, channel: frame.channel, context: context)
        }
    }

    private func handle(_ method: AMQPWire.Method, channel: UInt16, context: ChannelHandlerContext) throws(AMQPError) {
        var arguments = method.arguments
        switch method.id {
        case .connectionClose:
            var out = context.channel.allocator.buffer(capacity: 12)
            try AMQPWire.writeMethod(.connectionCloseOk, channel: 0, into: &out) { _ in }
            context.writeAndFlush(wrapOutboundOut(out), promise: nil)
            throw closed(by: method, what: "connection")
        case .channelClose:
            var out = context.channel.allocator.buffer(capacity: 12)
            try AMQPWire.writeMethod(.channelCloseOk, channel: channel, into: &out) { _ in }
            context.writeAndFlush(wrapOutboundOut(out), promise: nil)
            throw closed(by: method, what: "channel")
        case .connectionBlocked, .connectionUnblocked:
            return
        case .channelFlow:
            let active = try AMQPWire.readBits(&arguments, count: 1)[0]
            var out = context.channel.allocator.buffer(capacity: 16)
            try AMQPWire.writeMethod(.channelFlowOk, channel: channel, into: &out) { buffer in AMQPWire.writeBits([active], into: &buffer) }
            context.writeAndFlush(wrapOutboundOut(out), promise: nil)
        case .basicDeliver:
            let tag = try AMQPWire.readShortString(&arguments)
            let deliveryTag = try AMQPWire.readInteger(&arguments, as: UInt64.self)
            let redelivered = try AMQPWire.readBits(&arguments, count: 1)[0]
            let exchange = try AMQPWire.readShortString(&arguments)
            let routingKey = try AMQPWire.readShortString(&arguments)
            incoming = Incoming(
                destination: .consumer(tag),
                message: AMQPMessage(
                    deliveryTag: deliveryTag, redelivered: redelivered, exchange: exchange, routingKey: routingKey,
                    properties: AMQPProperties(), body: []))
        case .basicGetOk:
            guard let head = waiting.first, head.expecting.contains(.basicGetOk) else {
                throw AMQPError(.protocol, "a get-ok that no get asked for")
            }
            waiting.removeFirst()
            let deliveryTag = try AMQPWire.readInteger(&arguments, as: UInt64.self)
            let redelivered = try AMQPWire.readBits(&arguments, count: 1)[0]
            let exchange = try AMQPWire.readShortString(&arguments)
            let routingKey = try AMQPWire.readShortString(&arguments)
            incoming = Incoming(
                destination: .get(head.promise),
                message: AMQPMessage(
                    deliveryTag: deliveryTag, redelivered: redelivered, exchange: exchange, routingKey: routingKey,
                    properties: AMQPProperties(), body: []))
        case .basicReturn:
            incoming = Incoming(
                destination: .returned,
                message: AMQPMessage(
                    deliveryTag: 0, redelivered: false, exchange: "", routingKey: "", properties: AMQPProperties(), body: []))
        case .basicAck, .basicNack:
            let tag = try AMQPWire.readInteger(&arguments, as: UInt64.self)
            let multiple = try AMQPWire.readBits(&arguments, count: 1)[0]
            settleConfirms(upTo: tag, multiple: multiple, accepted: method.id == .basicAck)
        case .basicCancel:
            let tag = try AMQPWire.readShortString(&arguments)
            consumers.removeValue(forKey: tag)?.finish(
                throwing: AMQPError(.server, "the AMQP server cancelled the consumer \(tag) (its queue was deleted?)"))
        default:
            guard let head = waiting.first, head.expecting.contains(method.id) else {
                throw AMQPError(.protocol, "the AMQP server sent method \(method.id), not what was asked for")
            }
            waiting.removeFirst()
            if method.id == .basicCancelOk, let tag = try? AMQPWire.readShortString(&arguments) {
                consumers.removeValue(forKey: tag)?.finish()
            }
            head.promise.succeed(.method(method))
        }
    }

    private func deliverIncoming() {
        guard let done = incoming else { return }
        incoming = nil
        switch done.destination {
        case .consumer(let tag): consumers[tag]?.yield(done.message)
        case .get(let promise): promise.succeed(.message(done.message))
        case .returned: break
        }
    }

    private func settleConfirms(upTo tag: UInt64, multiple: Bool, accepted: Bool) {
        func settle(_ promise: EventLoopPromise<Reply>) {
            if accepted {
                promise.succeed(.none)
            } else {
                promise.fail(AMQPError(.server, "the AMQP server refused a published message (basic.nack)"))
            }
        }
        if multiple {
            while let first = unconfirmed.first, first.tag <= tag { settle(unconfirmed.removeFirst().promise) }
        } else if let index = unconfirmed.firstIndex(where: { $0.tag == tag }) {
            settle(unconfirmed.remove(at: index).promise)
        }
    }

    /// The error of a Close method from the server: its reply code and text.
    private func closed(by method: AMQPWire.Method, what: String) -> AMQPError {
        var arguments = method.arguments
        let code = (try? AMQPWire.readInteger(&arguments, as: UInt16.self)) ?? 0
        let text = (try? AMQPWire.readShortString(&arguments)) ?? ""
        let classID = (try? AMQPWire.readInteger(&arguments, as: UInt16.self)) ?? 0
        let methodID = (try? AMQPWire.readInteger(&arguments, as: UInt16.self)) ?? 0
        let during = classID == 0 ? "" : " (in method \(classID).\(methodID))"
        let kind: AMQPError.Kind = !isOpen && (code == 403 || code == 530) ? .auth : .server
        return AMQPError(kind, "the AMQP server at \(configuration.address) closed the \(what): \(code) \(text)\(during)", replyCode: code)
    }

    // MARK: Ending

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail((error as? AMQPError) ?? AMQPError(.closed, AMQPConnection.describe(error)), context: context)
    }

    func channelInactive(context: ChannelHandlerContext) {
        heartbeats?.cancel()
        let reason =
            isOpen
            ? "the connection to the AMQP server at \(configuration.address) closed"
            // RabbitMQ closes the socket on bad credentials when the client cannot be told.
            : "the AMQP server at \(configuration.address) closed the connection during the handshake (wrong user, password or virtual host?)"
        failAll(failure ?? AMQPError(isOpen ? .closed : .auth, reason))
        context.fireChannelInactive()
    }

    private func fail(_ error: AMQPError, context: ChannelHandlerContext) {
        failAll(error)
        context.close(promise: nil)
    }

    private func failAll(_ error: AMQPError) {
        if failure == nil { failure = error }
        let error = failure!
        opened.fail(error)
        while let next = waiting.popFirst() { next.promise.fail(error) }
        while let next = unconfirmed.popFirst() { next.promise.fail(error) }
        if case .get(let promise) = incoming?.destination { promise.fail(error) }
        incoming = nil
        for continuation in consumers.values { continuation.finish(throwing: error) }
        consumers = [:]
    }
}

extension AMQPConnection: ReusableConnection {}
