import BatonCore
import BatonNode
import BatonSQS
import BatonSQSBroker
import BatonServer
import BatonTesting
import BatonWorker
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

/// SQS passes the transport conformance suite (``TransportConformance``) in both worker modes,
/// against moto: tasks and results through SQS (the node's dispatch and results roles, a
/// worker's `SQSTaskSource`), and tasks through SQS with everything else over the HTTP worker
/// protocol (the dispatch role and a real HTTP server, a worker's `SQSHTTPTaskSource`).
@Suite("SQS transport conformance against moto", .serialized)
struct SQSTransportConformanceTests {
    @Test func sqsPassesTheTransportConformanceSuite() async throws {
        guard let configuration = Moto.configuration() else { return }
        try await TransportConformance.runAll { check in
            let harness = try await BrokerHarness()
            let work = try await Moto.createQueue("work", configuration, visibility: 2)
            let results = try await Moto.createQueue("results", configuration)
            let inFlight = DispatchWindow()
            let lease = Duration.seconds(2)
            let dispatch = SQSDispatch(
                node: harness.node, queueName: "default", queue: work, inFlight: inFlight, window: 50, lease: lease,
                logger: testLogger("dispatch"))
            let resultsRole = SQSResults(
                api: harness.api, queue: results, deadLetter: nil, inFlight: inFlight, logger: testLogger("results"))
            let running = harness.start([resultsRole, dispatch])
            let store = harness.store
            do {
                try await check(
                    TransportConformance.Harness(
                        source: SQSTaskSource(work: work, results: results, logger: testLogger("source")), queue: "default", lease: lease,
                        submit: { tasks in try await store.taskEnqueueMany(TaskEnqueueParams(tasks: tasks)) },
                        task: { id in try await store.taskGet(id) }))
            } catch {
                await running.stop()
                throw error
            }
            await running.stop()
        }
    }

    @Test func sqsWithResultsOverHTTPPassesTheTransportConformanceSuite() async throws {
        guard let configuration = Moto.configuration() else { return }
        try await TransportConformance.runAll { check in
            let harness = try await BrokerHarness()
            let work = try await Moto.createQueue("work", configuration, visibility: 2)
            let lease = Duration.seconds(2)
            // The node's own SQS roles, as `baton serve --sqs-dispatch default=WORK` builds them
            // (no results queue: the worker reports over HTTP).
            let broker = try SQSBroker(
                configuration: SQSBrokerConfiguration(
                    endpoint: Moto.endpoint, region: "us-east-1", dispatch: ["default": work.address],
                    dispatchSettings: DispatchSettings(window: 50, lease: lease)),
                api: harness.api, credentials: Moto.credentials, logger: testLogger("broker"))
            let node = harness.node
            let app = makeApplication(
                node: node, logger: testLogger("server"),
                services: [node.completer, node.dispatcher] + node.maintenance(schedulesUpserted: true) + broker.services)
            let store = harness.store
            try await app.test(.live) { client in
                let port = try #require(client.port)
                let source = SQSHTTPTaskSource(
                    work: work, servers: [URL(string: "http://127.0.0.1:\(port)")!], logger: testLogger("source"))
                try await check(
                    TransportConformance.Harness(
                        source: source, queue: "default", lease: lease,
                        submit: { tasks in try await store.taskEnqueueMany(TaskEnqueueParams(tasks: tasks)) },
                        task: { id in try await store.taskGet(id) }))
            }
        }
    }
}
