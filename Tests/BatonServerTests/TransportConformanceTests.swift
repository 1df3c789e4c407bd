import BatonCore
import BatonNode
import BatonServer
import BatonTesting
import BatonWorker
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Testing

/// The HTTP worker protocol passes the transport conformance suite (``TransportConformance``):
/// `HTTPTaskSource` against a real server on a free port, over a node whose dispatcher,
/// completer and lease rescuer run.
@Suite(.serialized) struct HTTPTransportConformanceTests {
    @Test func theHTTPWorkerProtocolPassesTheTransportConformanceSuite() async throws {
        try await TransportConformance.runAll { check in
            let temp = try await TempStore.make(prefix: "baton-transport")
            defer { temp.cleanUp() }
            let node = NodeServices(
                store: temp.store,
                configuration: NodeConfiguration(dispatcher: .init(fallbackPoll: .milliseconds(100)), rescueInterval: .milliseconds(200)))
            let logger = {
                var logger = Logger(label: "baton.test")
                logger.logLevel = .warning
                return logger
            }()
            let app = makeApplication(
                node: node, logger: logger,
                services: [node.completer, node.dispatcher] + node.maintenance(schedulesUpserted: true))
            try await app.test(.live) { client in
                let port = try #require(client.port)
                let source = HTTPTaskSource(servers: [URL(string: "http://127.0.0.1:\(port)")!], token: nil, logger: logger)
                let store = temp.store
                try await check(
                    TransportConformance.Harness(
                        source: source, queue: "default", lease: .seconds(2),
                        submit: { tasks in try await store.taskEnqueueMany(TaskEnqueueParams(tasks: tasks)) },
                        task: { id in try await store.taskGet(id) }))
            }
        }
    }
}
