import AsyncHTTPClient
import BatonClient
import BatonCore
import BatonServer
import BatonTesting
import Foundation
import Logging
import ServiceLifecycle
import Testing

/// HTTPS with a self-signed certificate made by `openssl` in the test.
@Suite("TLS")
struct TLSTests {
    @Test(.timeLimit(.minutes(1)))
    func clientWithTheCAFileSucceedsWithoutItFails() async throws {
        let t = try await TestNode.make()
        defer { t.dispose() }
        let cert = t.directory.appendingPathComponent("cert.pem").path
        let key = t.directory.appendingPathComponent("key.pem").path
        try TestCertificate.make(certificate: cert, key: key)

        var configuration = ServerConfiguration(port: 0)
        configuration.tls = .init(certificatePath: cert, privateKeyPath: key)
        var logger = Logger(label: "baton.test")
        logger.logLevel = .critical
        let port = AsyncStream<Int>.makeStream()
        let app = makeApplication(
            node: t.node, configuration: configuration, logger: logger, server: try makeServerBuilder(configuration)
        ) { p in port.continuation.yield(p) }
        let group = ServiceGroup(services: [app], logger: logger)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            var ports = port.stream.makeAsyncIterator()
            let bound = try #require(await ports.next())
            let url = URL(string: "https://127.0.0.1:\(bound)")!

            let trusting = try BatonClient.httpClient(caFile: cert)
            let client = BatonClient(servers: [url], httpClient: trusting)
            #expect(try await client.health() == "ok")
            let task = try await client.submit(NewTask(kind: "echo"))
            #expect(try await client.get(task.id).id == task.id)

            let plain = HTTPClient(eventLoopGroupProvider: .singleton)
            let untrusting = BatonClient(servers: [url], httpClient: plain, requestTimeout: .seconds(5))
            await #expect(throws: (any Error).self) { try await untrusting.health() }
            try await plain.shutdown()

            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }
}
