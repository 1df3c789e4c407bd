import BatonAMQP
import BatonAMQPBroker
import BatonCore
import BatonNode
import BatonRedis
import BatonRedisBroker
import BatonTesting
import Foundation
import ServiceLifecycle
import Synchronization
import Testing

/// Machinery's workers running Baton's tasks over RabbitMQ (`amqp.machineryDispatch`), against a
/// real `rabbitmq-server`: the node sends each task as a signature to the queue the workers
/// consume, under its attempt's UUID; the workers' states, published by Machinery's AMQP result
/// backend through the exchange, reach the node's states queue and are applied — results,
/// failures retried by Baton's policy under a new UUID, a delivery handed to another worker when
/// the first dies, and states that arrive while no node reads them.
@Suite("Machinery workers over RabbitMQ against rabbitmq-server", .serialized)
struct AMQPMachineryWorkerTests {
    struct Setup: Sendable {
        let server: AMQPConfiguration
        let exchange: String
        let queue: String
        let states: String

        func configuration(lease: Duration) -> AMQPBrokerConfiguration {
            var configuration = AMQPBrokerConfiguration()
            configuration.amqp = server
            configuration.exchange = exchange
            configuration.machineryDispatch = [("default", queue)]
            configuration.machineryStates = states
            configuration.dispatchSettings = DispatchSettings(window: 50, lease: lease)
            return configuration
        }

        /// A stand-in worker: its queue is bound with a key of its own (the node's signatures
        /// come straight to the queue).
        func worker(_ functions: [String: AMQPMachineryWorkerStandIn.Function]) -> AMQPMachineryWorkerStandIn {
            AMQPMachineryWorkerStandIn(server: server, exchange: exchange, queue: queue, bindingKey: "\(queue).key", functions: functions)
        }
    }

    static func withNode(
        _ server: AMQPConfiguration, lease: Duration = .seconds(30), _ body: @Sendable (BrokerHarness, Setup) async throws -> Void
    ) async throws {
        let harness = try await BrokerHarness()
        let setup = Setup(
            server: server, exchange: AMQPConnectionTests.name("exchange"), queue: AMQPConnectionTests.name("machinery"),
            states: AMQPConnectionTests.name("states"))
        let configuration = setup.configuration(lease: lease)
        try configuration.validate()
        #expect(configuration.hasNodeRoles)
        let running = harness.start(try configuration.services(api: harness.api, logger: testLogger("amqp")))
        do {
            try await body(harness, setup)
        } catch {
            await running.stop()
            await AMQPIngestTests.cleanup(server, queues: [setup.queue, setup.states])
            throw error
        }
        await running.stop()
        await AMQPIngestTests.cleanup(server, queues: [setup.queue, setup.states])
    }

    /// Whether RabbitMQ still has queue `name` (a passive declaration, on a connection of its own:
    /// the server closes it when the queue does not exist).
    static func exists(_ server: AMQPConfiguration, _ name: String) async throws -> Bool {
        let amqp = try await AMQPConnection.connect(server)
        defer { Task { await amqp.close() } }
        do {
            _ = try await amqp.declareQueue(name, passive: true)
            return true
        } catch  where error.replyCode == 404 {
            return false
        }
    }

    @Test func tasksRunOnMachineryWorkersOverRabbitMQAndTheirResultsComeBack() async throws {
        guard let server = try AMQPConnectionTests.server() else { return }
        try await Self.withNode(server) { harness, setup in
            let worker = setup.worker(["add": MachineryWorkerStandIn.add])
            let working = Task { try await worker.run() }
            defer { working.cancel() }
            let (plain, _) = try await harness.checkMachineryAdds(count: 100)

            // The signature as Machinery's worker decodes it, under the attempt's UUID.
            let uuid = "baton_\(plain)_1"
            let signature = try #require(worker.signatures.first { $0["UUID"] == .string(uuid) })
            #expect(signature["Name"] == "add" && signature["RoutingKey"] == .string(setup.queue))
            #expect(signature["RetryCount"] == 0 && signature["ETA"] == .null && signature["OnSuccess"] == .null)
            #expect(signature["Args"] == .array([1, 2, 39].map { .object(["Type": "int64", "Value": .int($0)]) }))
            #expect(worker.signatures.count == 102, "each task was sent once")

            // Every attempt's binding and worker's queue cleaned up once it ended.
            try await eventually("the ended attempts cleaned up", within: .seconds(10)) { () -> Bool? in
                try await Self.exists(server, uuid) ? nil : true
            }
            #expect(try await AMQPDispatchTests.depth(server, setup.states) == 0)
            // Deleting a queue that is gone is no error (the cleanup relies on it).
            let amqp = try await AMQPConnection.connect(server)
            defer { Task { await amqp.close() } }
            #expect(try await amqp.deleteQueue(uuid) == 0)
            #expect(amqp.isActive)
        }
    }

    @Test func aFailureIsRetriedUnderANewUUIDAndTheLastOneFailsTheTask() async throws {
        guard let server = try AMQPConnectionTests.server() else { return }
        try await Self.withNode(server) { harness, setup in
            let worker = setup.worker(MachineryWorkerStandIn.retryFunctions())
            let working = Task { try await worker.run() }
            defer { working.cancel() }
            let (flaky, broken) = try await harness.checkMachineryRetries()
            // Each attempt went under a UUID of its own.
            let uuids = worker.signatures.compactMap { signature -> String? in
                if case .string(let uuid)? = signature["UUID"] { uuid } else { nil }
            }
            #expect(Set(uuids) == ["baton_\(flaky)_1", "baton_\(flaky)_2", "baton_\(broken)_1", "baton_\(broken)_2"])
        }
    }

    /// A worker that dies holding a task (its connection closed, the delivery not acknowledged):
    /// RabbitMQ hands the message to the next worker at once, which runs it under the same lease,
    /// at the same attempt, long before the lease would have run out.
    @Test func aWorkerThatDiesHoldingATaskHandsItToTheNext() async throws {
        guard let server = try AMQPConnectionTests.server() else { return }
        try await Self.withNode(server, lease: .seconds(60)) { harness, setup in
            let dying = setup.worker(["add": MachineryWorkerStandIn.add])
            let task = try await harness.api.submit(NewTask(kind: "add", args: try RawJSON(validating: "[20, 22]")))
            try await dying.run(drop: { _ in true })
            #expect(dying.signatures.count == 1)
            let started = ContinuousClock.now
            let next = setup.worker(["add": MachineryWorkerStandIn.add])
            let working = Task { try await next.run() }
            defer { working.cancel() }
            let done = try await harness.finished(task.id)
            #expect(done.state == .succeeded && done.attempt == 1)
            #expect(try done.result?.parsed() == .array([.object(["Type": "int64", "Value": 42])]))
            #expect(ContinuousClock.now - started < .seconds(30))
            #expect(next.signatures.first?["UUID"] == .string("baton_\(task.id)_1"))
        }
    }

    /// A state that arrives while no node reads the states queue waits there; a node that did
    /// not send the task (one started after the sender, as after a restart, or another node on
    /// PostgreSQL) applies it from the store's lease.
    @Test func aStateThatArrivesWhileNoNodeReadsIsAppliedByANodeThatDidNotSendIt() async throws {
        guard let server = try AMQPConnectionTests.server() else { return }
        let harness = try await BrokerHarness()
        let setup = Setup(
            server: server, exchange: AMQPConnectionTests.name("exchange"), queue: AMQPConnectionTests.name("machinery"),
            states: AMQPConnectionTests.name("states"))
        let configuration = setup.configuration(lease: .seconds(120))
        // The dispatch only: nothing reads the states yet.
        let services = try configuration.services(api: harness.api, logger: testLogger("amqp"))
        #expect(services.contains { $0 is AMQPMachineryWorkers })
        let running = harness.start(services.filter { !($0 is AMQPMachineryWorkers) })
        let worker = setup.worker(["add": MachineryWorkerStandIn.add])
        let working = Task { try await worker.run() }
        let task = try await harness.api.submit(NewTask(kind: "add", args: try RawJSON(validating: "[1, 1]")))
        try await eventually("the worker's states waiting in the states queue", within: .seconds(10)) { () -> Bool? in
            // Not declared yet: the dispatch declares it before it sends.
            (try? await AMQPDispatchTests.depth(server, setup.states)) ?? 0 >= 3 ? true : nil
        }
        #expect(try await harness.store.taskGet(task.id)?.state == .running)

        let reader = AMQPMachineryWorkers(
            amqp: server, api: harness.api, exchange: setup.exchange, exchangeType: "direct", statesQueue: setup.states,
            lease: .seconds(120), logger: testLogger("reader"))
        let group = ServiceGroup(services: [reader], logger: testLogger("group"))
        let reading = Task { try await group.run() }
        let done = try await harness.finished(task.id)
        #expect(done.state == .succeeded && done.attempt == 1)
        #expect(try done.result?.parsed() == .array([.object(["Type": "int64", "Value": 2])]))
        try await eventually("the attempt cleaned up", within: .seconds(10)) { () -> Bool? in
            reader.stats.cleaned >= 1 ? true : nil
        }
        // Its three states may come in one batch (the SUCCESS wins) or apart (a lease extended first).
        #expect(reader.stats.succeeded == 1 && reader.stats.refused == 0, "\(reader.stats)")
        #expect(try await !Self.exists(server, "baton_\(task.id)_1"))
        await group.triggerGracefulShutdown()
        _ = try? await reading.value
        working.cancel()
        await running.stop()
        await AMQPIngestTests.cleanup(server, queues: [setup.queue, setup.states])
    }

    /// Machinery's workers with RabbitMQ as their broker and Redis as their result backend
    /// (`amqp.machineryBackend = redis`): the node writes each task's `PENDING` to Redis at its
    /// UUID and publishes the signature to RabbitMQ; it reads the states from Redis, as for
    /// workers whose broker is Redis.
    @Test func workersWithARedisResultBackend() async throws {
        guard let server = try AMQPConnectionTests.server(), let url = TestServer.redisURL() else { return }
        let redisServer = try RedisConfiguration(url: url)
        let harness = try await BrokerHarness()
        let setup = Setup(
            server: server, exchange: AMQPConnectionTests.name("exchange"), queue: AMQPConnectionTests.name("machinery"),
            states: AMQPConnectionTests.name("states"))
        var configuration = setup.configuration(lease: .seconds(30))
        configuration.machineryBackend = "redis"
        let redis = RedisBrokerConfiguration(redis: redisServer)
        #expect(throws: BatonError.self) { try configuration.services(api: harness.api, logger: testLogger("amqp")) }
        let running = harness.start(try configuration.services(api: harness.api, redis: redis, logger: testLogger("amqp")))
        let worker = AMQPMachineryWorkerStandIn(
            server: server, exchange: setup.exchange, queue: setup.queue, bindingKey: "\(setup.queue).key",
            functions: [
                "add": MachineryWorkerStandIn.add,
                "flaky": MachineryWorkerStandIn.failingOnce("connection reset"),
            ], backend: .redis(redisServer))
        let working = Task { try await worker.run() }
        defer { working.cancel() }
        let sum = try await harness.api.submit(NewTask(kind: "add", args: try RawJSON(validating: "[20, 22]")))
        let flaky = try await harness.api.submit(NewTask(kind: "flaky", maxAttempts: 3, retry: .fixed(.milliseconds(100))))
        let added = try await harness.finished(sum.id)
        #expect(added.state == .succeeded && added.attempt == 1)
        #expect(try added.result?.parsed() == .array([.object(["Type": "int64", "Value": 42])]))
        let recovered = try await harness.finished(flaky.id)
        #expect(recovered.state == .succeeded && recovered.attempt == 2)
        #expect(recovered.errors.map(\.message) == ["connection reset"])
        // Under the task's own UUID, its states in Redis where Machinery's producers read them.
        // Both tasks are claimed together and published at once: their order is not fixed.
        #expect(worker.signatures.filter { $0["Name"] == .string("add") }.map { $0["UUID"] } == [.string(sum.id.description)])
        #expect(
            worker.signatures.filter { $0["Name"] == .string("flaky") }.map { $0["UUID"] }
                == [.string(flaky.id.description), .string(flaky.id.description)])
        let connection = try await RedisConnection.connect(redisServer)
        defer { Task { await connection.close() } }
        let state = try #require(try await connection.command(["GET", RedisArgument(sum.id.description)]).string)
        guard case .succeeded? = Machinery.workerReport(state, uuid: sum.id.description) else {
            Issue.record("not a success: \(state)")
            return
        }
        #expect(worker.signatures.count == 3, "each attempt sent once")
        await running.stop()
        await AMQPIngestTests.cleanup(server, queues: [setup.queue])
    }

    @Test func settingsAreCheckedForMachineryWorkers() throws {
        let server = try AMQPConfiguration(url: "amqp://guest:guest@127.0.0.1:5672/")
        var configuration = AMQPBrokerConfiguration()
        configuration.amqp = server
        configuration.machineryDispatch = [("default", "machinery_work")]
        try configuration.validate()
        configuration.exchange = ""
        #expect(throws: BatonError.self) { try configuration.validate() }
        configuration.exchange = "machinery_exchange"
        configuration.exchangeType = "fanout"
        #expect(throws: BatonError.self) { try configuration.validate() }
        configuration.exchangeType = "direct"
        configuration.ingest = ["machinery_work"]
        #expect(throws: BatonError.self) { try configuration.validate() }
        configuration.ingest = []
        configuration.dispatch = [("default", "baton.work")]
        #expect(throws: BatonError.self) { try configuration.validate() }
        configuration.dispatch = []
        configuration.machineryStates = "machinery_work"
        #expect(throws: BatonError.self) { try configuration.validate() }
        // With Redis as the workers' result backend, no exchange is needed.
        configuration.machineryStates = AMQPBrokerConfiguration.defaultMachineryStates
        configuration.machineryBackend = "redis"
        configuration.exchange = ""
        try configuration.validate()
    }
}
