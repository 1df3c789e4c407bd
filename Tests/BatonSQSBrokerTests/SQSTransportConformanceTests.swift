import BatonCore
import BatonNode
import BatonSQS
import BatonSQSBroker
import BatonTesting
import BatonWorker
import Foundation
import Testing

/// SQS passes the transport conformance suite (``TransportConformance``): the node's dispatch
/// and results roles and a worker's `SQSTaskSource`, against moto.
@Suite("SQS transport conformance against moto", .serialized)
struct SQSTransportConformanceTests {
    @Test func sqsPassesTheTransportConformanceSuite() async throws {
        guard let configuration = Moto.configuration() else { return }
        try await TransportConformance.runAll { check in
            let harness = try await BrokerHarness()
            let work = try await Moto.createQueue("work", configuration, visibility: 2)
            let results = try await Moto.createQueue("results", configuration)
            let inFlight = SQSInFlight()
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
}
