import BatonCore
import BatonNode
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

    /// A finished task whose ack the node cannot take yet keeps its lease: the worker
    /// heartbeats it with its running tasks until the ack is written, so an outage that holds
    /// acks back does not let the lease expire and the task run again.
    @Test(.timeLimit(.minutes(1)))
    func aHeldBackAckKeepsItsLeaseAlive() async throws {
        let t = try await TestNode.make()
        defer { t.dispose() }
        let store = OutageStore(t.store)
        let node = NodeServices(store: store)
        let logger = {
            var logger = Logger(label: "baton.test.worker")
            logger.logLevel = .critical
            return logger
        }()
        let app = makeApplication(node: node, logger: logger, services: [node.completer, node.dispatcher])
        try await app.test(.live) { client in
            let port = try #require(client.port)
            let registry = HandlerRegistry()
            registry.registerRaw("echo") { args, _ in args }
            let source = HTTPTaskSource(servers: [URL(string: "http://127.0.0.1:\(port)")!], logger: logger)
            let runtime = WorkerRuntime(
                source: source, registry: registry,
                configuration: WorkerConfiguration(
                    id: "held-back", concurrency: 4, lease: .seconds(2), claimWait: .milliseconds(200), shutdownGrace: .seconds(2)),
                logger: logger)
            let group = ServiceGroup(services: [runtime], logger: logger)
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                tasks.addTask { try await group.run() }
                store.setRefusingAcks(true)
                let task = try #require(try await client.submit([echoTask(1)]).first)
                try await eventually("the ack to be held back", within: .seconds(10)) {
                    source.pendingLeases.isEmpty ? nil : true
                }
                // Two and a half leases' time later the task is still running under a live lease.
                try await Task.sleep(for: .seconds(5))
                let held = try #require(try await t.store.taskGet(task.id))
                #expect(held.state == .running)
                #expect(held.leaseExpiresAt.map { $0 > Date() } == true, "lease ran out: \(String(describing: held.leaseExpiresAt))")
                store.setRefusingAcks(false)
                let done = try await eventually("the held-back ack to be written", within: .seconds(15)) { () -> TaskRecord? in
                    let now = try await t.store.taskGet(task.id)
                    return now?.state == .succeeded ? now : nil
                }
                #expect(done.attempt == 1 && done.errors.isEmpty)
                // The source forgets the lease when the ack's answer arrives, just after the commit.
                #expect(await eventually(within: .seconds(5)) { source.pendingLeases.isEmpty })
                await group.triggerGracefulShutdown()
                try await tasks.waitForAll()
            }
        }
    }
}
