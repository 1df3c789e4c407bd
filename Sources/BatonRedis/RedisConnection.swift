import BatonCore
import BatonNIOClient
import Foundation
import NIOCore
import NIOPosix
import NIOSSL

/// One connection to a Redis server: commands are written as they come and their replies
/// matched in order (pipelining), so concurrent callers share it without waiting for each
/// other. A command that gets no reply within its time limit closes the connection (a late
/// reply could no longer be matched): every command then waiting fails with
/// ``RedisError/Kind/closed``. A blocking command (`BLPOP`, `XREADGROUP … BLOCK`) holds the
/// replies of the commands after it; give such commands a connection of their own.
public final class RedisConnection: Sendable {
    public let configuration: RedisConfiguration
    private let channel: any Channel

    private init(configuration: RedisConfiguration, channel: any Channel) {
        self.configuration = configuration
        self.channel = channel
    }

    /// Connects, authenticates (`AUTH`, when the configuration has a password) and selects the
    /// database (`SELECT`, when not 0).
    public static func connect(
        _ configuration: RedisConfiguration, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        parser: RESPParser = RESPParser()
    ) async throws(RedisError) -> RedisConnection {
        let tls: NIOSSLContext?
        do {
            tls = try configuration.tls ? NIOClientSupport.tlsContext(caFile: configuration.caFile) : nil
        } catch {
            throw RedisError(.invalidArgument, "TLS for \(configuration.address): \(error)")
        }
        let host = configuration.host
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
                    try pipeline.addHandler(ByteToMessageHandler(RESPFrameDecoder(parser: parser)))
                    try pipeline.addHandler(RedisCommandHandler())
                }
            }
        let channel: any Channel
        do {
            channel = try await bootstrap.connect(host: configuration.host, port: configuration.port).get()
        } catch {
            throw RedisError(.connect, "cannot reach Redis at \(configuration.address): \(describe(error))")
        }
        let connection = RedisConnection(configuration: configuration, channel: channel)
        do throws(RedisError) {
            try await connection.handshake()
        } catch {
            await connection.close()
            // The connection ended before the server answered: a TLS handshake refused, a
            // server that closes at once.
            if error.kind == .closed { throw RedisError(.connect, "cannot reach Redis at \(configuration.address): \(error.message)") }
            throw error
        }
        return connection
    }

    /// `AUTH` and `SELECT`, as the configuration asks; with TLS and neither, a `PING`, so that
    /// a refused certificate fails the connect rather than the first command.
    private func handshake() async throws(RedisError) {
        if configuration.tls && configuration.password == nil && configuration.database == 0 {
            try await command(["PING"])
        }
        if let password = configuration.password {
            var auth: [RedisArgument] = ["AUTH"]
            if let user = configuration.username { auth.append(RedisArgument(user)) }
            auth.append(RedisArgument(password))
            if case .error(let message) = try await send(auth) {
                throw RedisError(.auth, "Redis at \(configuration.address) refused the credentials: \(message)")
            }
        }
        if configuration.database != 0 {
            try await command(["SELECT", RedisArgument(configuration.database)])
        }
    }

    /// Sends a command and returns its reply, an error reply included (as `.error`).
    public func send(_ command: [RedisArgument], timeout: Duration? = nil) async throws(RedisError) -> RESPValue {
        try await sendAll([command], timeout: timeout)[0]
    }

    /// Sends a command; an error reply is thrown: `NOAUTH` (the server wants a password and
    /// was given none, at connect or since) as ``RedisError/Kind/auth``, like a refused
    /// password; any other as ``RedisError/Kind/server``.
    @discardableResult
    public func command(_ command: [RedisArgument], timeout: Duration? = nil) async throws(RedisError) -> RESPValue {
        let reply = try await send(command, timeout: timeout)
        guard case .error(let message) = reply else { return reply }
        if message.hasPrefix("NOAUTH") {
            throw RedisError(.auth, "Redis at \(configuration.address) needs a password (redis://user:password@host): \(message)")
        }
        throw RedisError(.server, message)
    }

    /// Sends commands in one write and returns their replies in order, error replies included:
    /// one round trip for all of them. Not a transaction: wrap them in `MULTI`/`EXEC` for that.
    public func sendAll(_ commands: [[RedisArgument]], timeout: Duration? = nil) async throws(RedisError) -> [RESPValue] {
        guard !commands.isEmpty else { return [] }
        var buffer = channel.allocator.buffer(capacity: commands.reduce(0) { $0 + 16 + $1.reduce(0) { $0 + $1.bytes.count + 16 } })
        for command in commands { RESPEncoder.write(command, into: &buffer) }
        let promise = channel.eventLoop.makePromise(of: [RESPValue].self)
        let address = configuration.address
        let limit = timeout ?? configuration.commandTimeout
        return try await NIOClientSupport.request(
            RedisCommandHandler.Request(bytes: buffer, replies: commands.count, promise: promise), on: channel, promise: promise,
            within: limit,
            closed: { error in
                RedisError(
                    .closed,
                    error.map { "the connection to Redis at \(address) failed: \(Self.describe($0))" }
                        ?? "the connection to Redis at \(address) is closed")
            },
            timedOut: { RedisError(.timeout, "no reply from Redis at \(address) within \(limit)") })
    }

    /// Whether the connection is still open.
    public var isActive: Bool { channel.isActive }

    /// `connection` while it is open; otherwise a new connection to `configuration`, kept in it.
    public static func reusing(_ connection: inout RedisConnection?, _ configuration: RedisConfiguration) async throws(RedisError)
        -> RedisConnection
    {
        if let connection, connection.isActive { return connection }
        let fresh = try await connect(configuration)
        connection = fresh
        return fresh
    }

    public func close() async {
        try? await channel.close()
    }

    static func describe(_ error: any Error) -> String {
        NIOClientSupport.describe(error, caSetting: "RedisConfiguration.caFile") { ($0 as? RedisError)?.message }
    }
}

/// Bytes to replies.
struct RESPFrameDecoder: ByteToMessageDecoder {
    typealias InboundOut = RESPValue
    let parser: RESPParser

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let value = try parser.parse(&buffer) else { return .needMoreData }
        context.fireChannelRead(Self.wrapInboundOut(value))
        return .continue
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        try decode(context: context, buffer: &buffer)
    }
}

/// Matches replies to the requests written, in order; fails what is left when the connection
/// ends or its bytes cannot be read.
final class RedisCommandHandler: ChannelDuplexHandler {
    typealias InboundIn = RESPValue
    typealias OutboundIn = Request
    typealias OutboundOut = ByteBuffer

    struct Request {
        var bytes: ByteBuffer
        var replies: Int
        var promise: EventLoopPromise<[RESPValue]>
    }

    private struct Waiting {
        var remaining: Int
        var replies: [RESPValue]
        var promise: EventLoopPromise<[RESPValue]>
    }

    private var waiting = CircularBuffer<Waiting>()
    private var failure: RedisError?

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let request = unwrapOutboundIn(data)
        if let failure {
            request.promise.fail(failure)
            promise?.fail(failure)
            return
        }
        waiting.append(Waiting(remaining: request.replies, replies: [], promise: request.promise))
        context.write(wrapOutboundOut(request.bytes), promise: promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let value = unwrapInboundIn(data)
        guard !waiting.isEmpty else {
            fail(RedisError(.protocol, "a reply that no command asked for"), context: context)
            return
        }
        waiting[waiting.startIndex].replies.append(value)
        waiting[waiting.startIndex].remaining -= 1
        if waiting[waiting.startIndex].remaining == 0 {
            let done = waiting.removeFirst()
            done.promise.succeed(done.replies)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        let failure = (error as? RedisError) ?? RedisError(.closed, RedisConnection.describe(error))
        fail(failure, context: context)
    }

    func channelInactive(context: ChannelHandlerContext) {
        failAll(failure ?? RedisError(.closed, "the connection to Redis closed"))
        context.fireChannelInactive()
    }

    private func fail(_ error: RedisError, context: ChannelHandlerContext) {
        failAll(error)
        context.close(promise: nil)
    }

    private func failAll(_ error: RedisError) {
        if failure == nil { failure = error }
        while let next = waiting.popFirst() { next.promise.fail(error) }
    }
}

extension RedisConnection: ReusableConnection {}
