import BatonNode
import Hummingbird
import HummingbirdCore
import NIOCore
import NIOHTTPTypes
import ServiceLifecycle
import Synchronization

/// One client connection of the HTTP server, as far as a request handler needs to know it:
/// whether the client is still there.
///
/// A long-polling claim can wait many seconds; if its worker dies (or gives up) meanwhile,
/// the handler must stop waiting, or the tasks it then claims go to nobody and stay
/// `running` until their lease expires, with an attempt spent. A client that closes its side
/// of the connection (as the kernel does for a killed process) is taken as gone: no client of
/// the worker protocol half-closes and then waits for an answer.
final class ClientConnection: ClientPresence {
    private struct State {
        var closed = false
        var nextID: UInt64 = 0
        var onClose: [UInt64: @Sendable () -> Void] = [:]
    }

    private let state = Mutex(State())

    /// The connection of the request being handled; bound by the router for each request.
    @TaskLocal static var current: ClientConnection?

    var isClosed: Bool { state.withLock { $0.closed } }

    /// Runs `operation` in a task of its own that is cancelled when the client goes away, when
    /// the server begins its graceful shutdown (a waiting claim then answers at once instead of
    /// holding the shutdown up), or when the caller is cancelled.
    func cancellingOnClose<Value: Sendable>(_ operation: @escaping @Sendable () async throws -> Value) async throws -> Value {
        let work = Task { try await operation() }
        let id = state.withLock { s -> UInt64? in
            guard !s.closed else { return nil }
            s.nextID &+= 1
            s.onClose[s.nextID] = { work.cancel() }
            return s.nextID
        }
        if id == nil { work.cancel() }
        defer { if let id { _ = state.withLock { $0.onClose.removeValue(forKey: id) } } }
        return try await withGracefulShutdownHandler {
            try await withTaskCancellationHandler {
                try await work.value
            } onCancel: {
                work.cancel()
            }
        } onGracefulShutdown: {
            work.cancel()
        }
    }

    /// Marks the connection closed and cancels what waits on it (once).
    func close() {
        let handlers = state.withLock { s -> [@Sendable () -> Void] in
            guard !s.closed else { return [] }
            s.closed = true
            defer { s.onClose = [:] }
            return Array(s.onClose.values)
        }
        for handler in handlers { handler() }
    }

    // MARK: Registry

    /// The open connections of every server in this process, by channel.
    private static let registry = Mutex<[ObjectIdentifier: ClientConnection]>([:])

    /// The connection of `channel`, when its pipeline has a `ClientConnection.Handler`.
    static func of(_ channel: any Channel) -> ClientConnection? {
        registry.withLock { $0[ObjectIdentifier(channel)] }
    }

    /// The HTTP/1.1 server with a `Handler` on each connection.
    static func http1Server() -> HTTPServerBuilder {
        .http1(configuration: HTTP1Channel.Configuration(additionalChannelHandlers: [Handler()]))
    }

    /// Registers the connection of its channel and closes it when the client half-closes or
    /// the channel goes away.
    final class Handler: ChannelInboundHandler, RemovableChannelHandler {
        typealias InboundIn = HTTPRequestPart
        typealias InboundOut = HTTPRequestPart

        private let connection = ClientConnection()
        private var key: ObjectIdentifier?

        func handlerAdded(context: ChannelHandlerContext) {
            let key = ObjectIdentifier(context.channel)
            self.key = key
            let connection = self.connection
            ClientConnection.registry.withLock { $0[key] = connection }
        }

        func handlerRemoved(context: ChannelHandlerContext) { closeAndForget() }

        func channelInactive(context: ChannelHandlerContext) {
            closeAndForget()
            context.fireChannelInactive()
        }

        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if case ChannelEvent.inputClosed = event { connection.close() }
            context.fireUserInboundEventTriggered(event)
        }

        private func closeAndForget() {
            connection.close()
            if let key {
                ClientConnection.registry.withLock { _ = $0.removeValue(forKey: key) }
                self.key = nil
            }
        }
    }
}

/// The request context of Baton's router: Hummingbird's basics plus the connection the
/// request came on.
public struct BatonRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The request's channel.
    public let channel: any Channel

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.channel = source.channel
    }
}
