import BatonRedis
import NIOCore
import NIOPosix
import Testing

/// The errors that a real server cannot give here without changing the test server's default
/// user for every other test: a server that wants a password, given none. A stand-in on
/// loopback answers every command as Redis does then (`-NOAUTH …`).
@Suite struct RedisHandshakeTests {
    final class NoAuth: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let reply = context.channel.allocator.buffer(string: "-NOAUTH Authentication required.\r\n")
            context.writeAndFlush(wrapOutboundOut(reply), promise: nil)
        }
    }

    static func noAuthServer() async throws -> (any Channel, Int) {
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(NoAuth()) }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return (server, try #require(server.localAddress?.port))
    }

    @Test func aServerWantingAPasswordGivenNoneIsAnAuthError() async throws {
        let (server, port) = try await Self.noAuthServer()
        defer { server.close(promise: nil) }
        do {
            _ = try await RedisConnection.connect(try RedisConfiguration(url: "redis://127.0.0.1:\(port)/2"))
            Issue.record("connected to a server that wants a password")
        } catch {
            #expect(error.kind == .auth && error.message.contains("127.0.0.1:\(port)") && error.message.contains("NOAUTH"), "\(error)")
        }
    }

    /// Without a handshake (database 0, no TLS) the connection opens, and the first command
    /// gets the same error: a password set on the server after the connection was made looks
    /// like this too.
    @Test func aCommandRefusedForWantOfAPasswordIsAnAuthError() async throws {
        let (server, port) = try await Self.noAuthServer()
        defer { server.close(promise: nil) }
        let connection = try await RedisConnection.connect(try RedisConfiguration(url: "redis://127.0.0.1:\(port)"))
        defer { Task { await connection.close() } }
        do {
            try await connection.command(["GET", "k"])
            Issue.record("a command answered NOAUTH succeeded")
        } catch {
            #expect(error.kind == .auth && error.message.contains("NOAUTH"), "\(error)")
        }
        // `send` returns the error reply as it came.
        #expect(try await connection.send(["GET", "k"]) == .error("NOAUTH Authentication required."))
    }
}
