import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization
import Testing

/// A small HTTP/1.1 server on a loopback address for the `http` kind's tests, counting every
/// request it receives.
///
/// Routes:
/// - `/echo`: 200, `X-Test: yes`, body `METHOD PATH host=HOST body=BODY`.
/// - `/status/N` (and any path below it): status N, body `status N`.
/// - `/big?n=N`: N bytes of `a`, chunked (no Content-Length); `/big?n=N&length=1` with it.
/// - `/binary`: bytes FF FE 00 01.
/// - `/stall`: never answers.
/// - `/redirect?to=URL&status=N`: status N (302 by default) to URL.
final class HTTPKindServer: Sendable {
    struct Received: Sendable {
        var method: String
        var uri: String
        var headers: [(String, String)]
        var body: String

        func header(_ name: String) -> String? { headers.first { $0.0.lowercased() == name.lowercased() }?.1 }
    }

    let channel: any Channel
    let host: String
    let port: Int
    private let log: Mutex<[Received]>

    private init(channel: any Channel, host: String, port: Int) {
        self.channel = channel
        self.host = host
        self.port = port
        self.log = Mutex([])
    }

    static func start(host: String = "127.0.0.1") async throws -> HTTPKindServer {
        let recorder = Recorder()
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(Handler(recorder: recorder))
                }
            }
            .bind(host: host, port: 0).get()
        let port = try #require(channel.localAddress?.port)
        let server = HTTPKindServer(channel: channel, host: host, port: port)
        recorder.server.withLock { $0 = server }
        return server
    }

    /// `http://HOST:PORT` + `path`.
    func url(_ path: String) -> String { "http://\(host):\(port)\(path)" }

    var requests: [Received] { log.withLock { $0 } }
    var requestCount: Int { log.withLock { $0.count } }

    func record(_ request: Received) { log.withLock { $0.append(request) } }

    func stop() async { try? await channel.close() }

    /// Lets handlers reach the server created after the bootstrap.
    final class Recorder: Sendable {
        let server = Mutex<HTTPKindServer?>(nil)
        func record(_ request: Received) { server.withLock { $0 }?.record(request) }
    }

    final class Handler: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart

        let recorder: Recorder
        var head: HTTPRequestHead?
        var body = ""

        init(recorder: Recorder) { self.recorder = recorder }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head):
                self.head = head
                body = ""
            case .body(var buffer):
                body += buffer.readString(length: buffer.readableBytes) ?? ""
            case .end:
                guard let head else { return }
                self.head = nil
                recorder.record(
                    Received(method: head.method.rawValue, uri: head.uri, headers: head.headers.map { ($0.name, $0.value) }, body: body))
                respond(to: head, context: context)
            }
        }

        func respond(to head: HTTPRequestHead, context: ChannelHandlerContext) {
            let components = URLComponents(string: head.uri)
            let path = components?.path ?? head.uri
            func query(_ name: String) -> String? { components?.queryItems?.first { $0.name == name }?.value }

            if path == "/stall" { return }
            var headers = HTTPHeaders()
            var status = HTTPResponseStatus.ok
            var body = ByteBuffer()
            var chunked = false
            switch path {
            case "/echo":
                headers.add(name: "X-Test", value: "yes")
                body = ByteBuffer(
                    string: "\(head.method.rawValue) \(path) host=\(head.headers.first(name: "host") ?? "") body=\(self.body)")
            case _ where path.hasPrefix("/status/"):
                status = HTTPResponseStatus(statusCode: Int(path.dropFirst(8).prefix { $0.isNumber }) ?? 500)
                body = ByteBuffer(string: "status \(status.code)")
            case "/big":
                body = ByteBuffer(repeating: UInt8(ascii: "a"), count: Int(query("n") ?? "0") ?? 0)
                chunked = query("length") == nil
            case "/binary":
                body = ByteBuffer(bytes: [0xFF, 0xFE, 0x00, 0x01])
            case "/redirect":
                status = HTTPResponseStatus(statusCode: Int(query("status") ?? "302") ?? 302)
                headers.add(name: "Location", value: query("to") ?? "/echo")
            default:
                status = .notFound
            }
            if chunked {
                headers.add(name: "Transfer-Encoding", value: "chunked")
            } else {
                headers.add(name: "Content-Length", value: "\(body.readableBytes)")
            }
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
            if chunked {
                // Several parts, so a client reads the body in pieces.
                while body.readableBytes > 0 {
                    let part = body.readSlice(length: min(16_384, body.readableBytes))!
                    context.write(wrapOutboundOut(.body(.byteBuffer(part))), promise: nil)
                }
            } else if body.readableBytes > 0 {
                context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
            }
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        }
    }
}
