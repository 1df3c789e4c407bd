import BatonCore
import BatonServer
import BatonTesting
import BatonWorker
import Foundation
import HummingbirdTesting
import Logging
import ServiceLifecycle
import Testing

/// BatonWorker's runtime pulling from this server over real HTTP.
@Suite("HTTP worker against a live server")
struct HTTPWorkerTests {
    @Test(.timeLimit(.minutes(1)))
    func echoTasksAllSucceed() async throws {
        try await withTestApp(.live) { client, node in
            let port = try #require(client.port)
            var logger = Logger(label: "baton.test.worker")
            logger.logLevel = .warning
            let registry = HandlerRegistry()
            registry.registerRaw("echo") { args, _ in args }
            let source = HTTPTaskSource(servers: [URL(string: "http://127.0.0.1:\(port)")!], logger: logger)
            let runtime = WorkerRuntime(
                source: source, registry: registry,
                configuration: WorkerConfiguration(id: "http-worker", concurrency: 32, claimWait: .seconds(1), shutdownGrace: .seconds(2)),
                logger: logger)
            let group = ServiceGroup(services: [runtime], logger: logger)

            try await withThrowingTaskGroup(of: Void.self) { tasks in
                tasks.addTask { try await group.run() }
                let submitted = try await client.submit((0..<500).map { echoTask($0) })
                #expect(submitted.count == 500)

                let deadline = ContinuousClock.now + .seconds(20)
                var succeeded = 0
                while ContinuousClock.now < deadline {
                    succeeded = try await node.store.queueCounts().first { $0.name == "default" }?.count(.succeeded) ?? 0
                    if succeeded == 500 { break }
                    try await Task.sleep(for: .milliseconds(50))
                }
                #expect(succeeded == 500)
                for task in submitted {
                    let stored = try #require(try await node.store.taskGet(task.id))
                    #expect(stored.state == .succeeded)
                    #expect(stored.result == stored.args)
                }
                await group.triggerGracefulShutdown()
                try await tasks.waitForAll()
            }
        }
    }
}
