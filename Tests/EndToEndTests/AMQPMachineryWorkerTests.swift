import BatonAMQP
import BatonClient
import BatonCore
import BatonRedis
import BatonTesting
import Foundation
import Testing

extension EndToEnd {
    /// Machinery on both sides of a `baton standalone` process, over RabbitMQ: a Machinery
    /// producer publishes to its broker's queue (`--amqp-ingest`) and reads its results from the
    /// AMQP result backend (`--amqp-results`); Machinery's workers (a stand-in doing what its
    /// worker and AMQP backend do, ``AMQPMachineryWorkerStandIn``) consume the queue `go`'s tasks
    /// from their own queue (`--amqp-machinery-dispatch go=QUEUE`). Tasks submitted over HTTP,
    /// a delayed one among them, run on the same workers.
    @Suite(.serialized) struct AMQPMachineryWorkerTests {
        struct Names {
            let incoming: String
            let work: String
            let exchange: String
            let states: String

            init() {
                let suffix = UUID().uuidString.prefix(8).lowercased()
                incoming = "machinery_tasks.\(suffix)"
                work = "machinery_work.\(suffix)"
                exchange = "machinery_exchange.\(suffix)"
                states = "baton.machinery.states.\(suffix)"
            }

            func arguments(_ url: String, db: String, ingest: Bool) -> [String] {
                [
                    "standalone", "--db", db, "--port", "0", "--amqp-url", url, "--amqp-exchange", exchange, "--amqp-machinery-dispatch",
                    "go=\(work)", "--amqp-machinery-states", states,
                ] + (ingest ? ["--amqp-ingest", incoming, "--amqp-binding-key", incoming, "--amqp-results"] : [])
            }

            func worker(_ server: AMQPConfiguration) -> AMQPMachineryWorkerStandIn {
                AMQPMachineryWorkerStandIn(
                    server: server, exchange: exchange, queue: work, bindingKey: "\(work).key",
                    functions: ["add": MachineryWorkerStandIn.add])
            }

            func cleanUp(_ server: AMQPConfiguration) async {
                guard let amqp = try? await AMQPConnection.connect(server) else { return }
                for queue in [incoming, work, states] { _ = try? await amqp.deleteQueue(queue) }
                await amqp.close()
            }
        }

        static func sum(_ n: Int64) -> JSONValue { .array([.object(["Type": "int64", "Value": .int(n)])]) }

        @Test func machineryProducersAndWorkersOverRabbitMQWithBatonBetweenThem() async throws {
            guard let url = TestServer.amqpURL() else { return }
            let server = try AMQPConfiguration(url: url)
            let names = Names()
            defer { Task { await names.cleanUp(server) } }
            let dir = try TempDir()
            let node = try BatonProcess(names.arguments(url, db: dir.path("baton.db"), ingest: true))
            defer { Task { await node.stop() } }
            let client = BatonClient(servers: [URL(string: try await node.url())!])
            let worker = names.worker(server)
            let working = Task { try await worker.run() }
            defer { working.cancel() }

            // The producer: a chain of three on the queue `go`, published as Machinery's AMQP
            // broker does (after its PENDING, which the result backend keeps in the first task's queue).
            let amqp = try await AMQPConnection.connect(server)
            defer { Task { await amqp.close() } }
            try await amqp.enableConfirms()
            let uuids = (0..<3).map { _ in "task_\(UUID().uuidString.lowercased())" }
            let chain = goChain(uuids, "add", args: [[1, 2], [10], [100]], routingKey: "go")
            try await eventually("the node's consumer", within: .seconds(30), every: .milliseconds(50)) { () -> Bool? in
                let probe = try await AMQPConnection.connect(server)
                defer { Task { await probe.close() } }
                return (try? await probe.declareQueue(names.incoming, passive: true).consumerCount) == 1 ? true : nil
            }
            try await amqp.publish(
                Array(chain.utf8), exchange: names.exchange, routingKey: names.incoming,
                properties: AMQPProperties(contentType: "application/json", deliveryMode: 2))

            // Over HTTP: now, and in a second.
            let now = try await client.submit(NewTask(kind: "add", args: try RawJSON(validating: "[20, 22]"), queue: "go"))
            let later = try await client.submit(NewTask(kind: "add", args: try RawJSON(validating: "[1, 1]"), queue: "go", delay: 1))
            let done = try await client.wait(now.id, timeout: .seconds(30))
            #expect(done.state == .succeeded, "\(done)")
            #expect(try done.result?.parsed() == Self.sum(42))
            let delayed = try await client.wait(later.id, timeout: .seconds(30))
            #expect(delayed.state == .succeeded && delayed.startedAt! >= later.runAt, "ran at its time")
            let last = try await client.wait(try #require(Machinery.taskID(uuids[2])), timeout: .seconds(30))
            #expect(last.state == .succeeded, "\(last)")
            #expect(try last.result?.parsed() == Self.sum(113))

            // Where the producer's AsyncResult reads it: the last step's SUCCESS in its queue.
            let arguments: [String: AMQPFieldValue] = ["x-message-ttl": .int32(3_600_000), "x-expires": .int32(3_600_000)]
            var states: [String] = []
            try await eventually("the producer reads SUCCESS", within: .seconds(20), every: .milliseconds(50)) { () -> Bool? in
                try await amqp.declareQueue(uuids[2], durable: false, autoDelete: true, arguments: arguments)
                while let message = try await amqp.get(uuids[2], noAck: true) {
                    guard let text = message.text, let report = Machinery.workerReport(text, uuid: uuids[2]) else { continue }
                    if case .succeeded(let results) = report {
                        #expect(try results.parsed() == Self.sum(113))
                        return true
                    }
                    states.append(text)
                }
                return nil
            }
            _ = try? await amqp.deleteQueue(uuids[2])
            // Each task went to the workers once; the workers' queue and the states queue are empty.
            #expect(worker.signatures.count == 5)
            #expect(try await amqp.declareQueue(names.work, passive: true).messageCount == 0)
            try await eventually("every state read", within: .seconds(10)) { () -> Bool? in
                try await amqp.declareQueue(names.states, passive: true).messageCount == 0 ? true : nil
            }
        }

        /// A node killed (SIGKILL) while a Machinery worker runs its task: the worker's `SUCCESS`,
        /// published while no node runs, waits in the node's states queue, and the node
        /// started again on the same database applies them at once, at attempt 1, instead of the
        /// task waiting for its lease (300 s) to end and running again.
        @Test func aRestartedNodeAppliesWhatItsMachineryWorkersReportedMeanwhile() async throws {
            guard let url = TestServer.amqpURL() else { return }
            let server = try AMQPConfiguration(url: url)
            let names = Names()
            defer { Task { await names.cleanUp(server) } }
            let dir = try TempDir()
            let arguments = names.arguments(url, db: dir.path("baton.db"), ingest: false)
            let first = try BatonProcess(arguments)
            defer { Task { await first.stop() } }
            let client = BatonClient(servers: [URL(string: try await first.url())!])
            let worker = names.worker(server)
            let working = Task { try await worker.run(hold: .seconds(5)) }
            defer { working.cancel() }

            let task = try await client.submit(NewTask(kind: "add", args: try RawJSON(validating: "[40, 2]"), queue: "go"))
            try await eventually("the worker took the task", within: .seconds(20)) { worker.signatures.count == 1 ? true : nil }
            first.signal(SIGKILL)
            _ = try await first.waitForExit()
            // The worker finishes while no node runs: its SUCCESS waits (with the states the
            // killed node had not acknowledged).
            try await eventually("the worker finished", within: .seconds(20)) { worker.finished == 1 ? true : nil }
            let amqp = try await AMQPConnection.connect(server)
            defer { Task { await amqp.close() } }
            #expect(try await amqp.declareQueue(names.states, passive: true).messageCount >= 1)

            let second = try BatonProcess(arguments)
            defer { Task { await second.stop() } }
            let again = BatonClient(servers: [URL(string: try await second.url())!])
            let done = try await again.wait(task.id, timeout: .seconds(20))
            #expect(done.state == .succeeded && done.attempt == 1, "\(done)")
            #expect(try done.result?.parsed() == Self.sum(42))
            let next = try await again.submit(NewTask(kind: "add", args: try RawJSON(validating: "[1, 2]"), queue: "go"))
            #expect(try await again.wait(next.id, timeout: .seconds(20)).state == .succeeded)
            #expect(worker.signatures.count == 2, "the first task was not sent again")
        }

        /// The workers' result backend Redis (`--amqp-machinery-backend redis --redis-url`): their
        /// states read from Redis, the task's `SUCCESS` at its UUID there.
        @Test func workersWhoseResultBackendIsRedis() async throws {
            guard let url = TestServer.amqpURL(), let redisURL = TestServer.redisURL() else { return }
            let server = try AMQPConfiguration(url: url)
            let redisServer = try RedisConfiguration(url: redisURL)
            let names = Names()
            defer { Task { await names.cleanUp(server) } }
            let dir = try TempDir()
            let node = try BatonProcess(
                names.arguments(url, db: dir.path("baton.db"), ingest: false) + [
                    "--amqp-machinery-backend", "redis", "--redis-url", redisURL,
                ])
            defer { Task { await node.stop() } }
            let client = BatonClient(servers: [URL(string: try await node.url())!])
            let worker = AMQPMachineryWorkerStandIn(
                server: server, exchange: names.exchange, queue: names.work, bindingKey: "\(names.work).key",
                functions: ["add": MachineryWorkerStandIn.add], backend: .redis(redisServer))
            let working = Task { try await worker.run() }
            defer { working.cancel() }
            let task = try await client.submit(NewTask(kind: "add", args: try RawJSON(validating: "[40, 2]"), queue: "go"))
            let done = try await client.wait(task.id, timeout: .seconds(30))
            #expect(done.state == .succeeded && done.attempt == 1, "\(done)")
            #expect(try done.result?.parsed() == Self.sum(42))
            let redis = try await RedisConnection.connect(redisServer)
            defer { Task { await redis.close() } }
            let state = try #require(try await redis.command(["GET", RedisArgument(task.id.description)]).string)
            #expect(state.contains(#""State":"SUCCESS""#), "\(state)")
        }

        @Test func aBadMachineryDispatchIsRefusedWithTheSetting() async throws {
            let dir = try TempDir()
            for (flags, setting) in [
                (["--amqp-machinery-dispatch", "go"], "amqp.machineryDispatch"),
                (["--amqp-machinery-dispatch", "go=work", "--amqp-exchange", ""], "amqp.machineryDispatch needs amqp.exchange"),
                (
                    ["--amqp-machinery-dispatch", "go=work", "--amqp-machinery-backend", "redis"],
                    "amqp.machineryBackend=redis needs redis.url"
                ),
                (["--amqp-machinery-dispatch", "go=work", "--amqp-machinery-backend", "sqs"], "amqp.machineryBackend is amqp or redis"),
            ] {
                let node = try BatonProcess(
                    ["standalone", "--db", dir.path("baton.db"), "--port", "0", "--amqp-url", "amqp://127.0.0.1:1/"] + flags)
                let status = try await node.waitForExit()
                #expect(status != 0)
                #expect(node.stderr.contains(setting), "\(node.stderr)")
            }
        }
    }
}
