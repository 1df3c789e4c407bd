import BatonRedis
import NIOCore
import NIOPosix
import Testing

/// The handshake's errors that a real server cannot give here without changing the test
/// server's default user for every other test: a server that wants a password, given none.
/// A stand-in on loopback answers every command as Redis does then (`-NOAUTH …`).
@Suite struct RedisHandshakeTests {
    final class NoAuth: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let reply = context.channel.allocator.buffer(string: "-NOAUTH Authentication required.\r\n")
            context.writeAndFlush(wrapOutboundOut(reply), promise: nil)
        }
    }

    @Test func aServerWantingAPasswordGivenNoneIsAnAuthError() async throws {
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(NoAuth()) }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        defer { server.close(promise: nil) }
        let port = try #require(server.localAddress?.port)
        do {
            _ = try await RedisConnection.connect(try RedisConfiguration(url: "redis://127.0.0.1:\(port)/2"))
            Issue.record("connected to a server that wants a password")
        } catch {
            #expect(error.kind == .auth && error.message.contains("127.0.0.1:\(port)") && error.message.contains("NOAUTH"), "\(error)")
        }
    }
}
