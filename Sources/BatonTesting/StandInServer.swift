import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

/// A local HTTP server on 127.0.0.1 (a free port), standing in for a peer a test talks to
/// (a container credential endpoint, the instance metadata service, SQS, an OpenTelemetry
/// collector), while `body` runs.
public func withStandInServer<T: Sendable>(_ router: Router<BasicRequestContext>, _ body: (Int) async throws -> T) async throws -> T {
    let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
    var logger = Logger(label: "baton.sqs.test.stand-in")
    logger.logLevel = .warning
    let app = Application(
        router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
        onServerRunning: { channel in
            continuation.yield(channel.localAddress?.port ?? 0)
            continuation.finish()
        }, logger: logger)
    let services = ServiceGroup(configuration: .init(services: [app], gracefulShutdownSignals: [], logger: logger))
    return try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await services.run() }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next(), port > 0 else {
            await services.triggerGracefulShutdown()
            throw StandInError.noPort
        }
        do {
            let value = try await body(port)
            await services.triggerGracefulShutdown()
            try await group.waitForAll()
            return value
        } catch {
            await services.triggerGracefulShutdown()
            throw error
        }
    }
}

public enum StandInError: Error { case noPort }

/// A list of what a stand-in saw, shared between its handlers and the test.
public final class Recorder<Item: Sendable>: Sendable {
    private let items = Mutex<[Item]>([])
    public init() {}
    public func record(_ item: Item) { items.withLock { $0.append(item) } }
    public var all: [Item] { items.withLock { $0 } }
    public var count: Int { items.withLock { $0.count } }
}
