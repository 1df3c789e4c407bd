import BatonAMQP
import BatonClient
import BatonCore
import BatonRedis
import BatonTesting
import Foundation
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

extension EndToEnd {
    /// `baton serve --redis-dispatch default=KEY` and `baton worker --redis-work KEY --server
    /// URL` as separate processes against a real `redis-server`, and the same through a real
    /// `rabbitmq-server` (`--amqp-dispatch`, `--amqp-work`): tasks through the broker,
    /// everything else over HTTP.
    @Suite(.serialized) struct BrokerWorkerTests {
        /// Results over HTTP free the window (40 tasks through a window of 4 drain long before
        /// the 30 s dispatch lease would free it); a dependent reads its parent's result; a
        /// worker SIGKILLed while its task runs loses nothing: over Redis the task comes back
        /// when the worker's 3 s lease runs out and goes through the list again (attempt 2);
        /// over RabbitMQ the killed worker's connection hands the message to the next worker at
        /// once (attempt 1 while the lease holds, else 2). Either way a second worker runs it to
        /// `succeeded`, and nothing is left in the broker.
        @Test(arguments: ["redis", "amqp"])
        func aWorkerTakingTasksFromABrokerReportsOverHTTPAndAKilledOnesTaskRunsAgain(_ broker: String) async throws {
            guard let brokerURL = broker == "redis" ? TestServer.redisURL() : TestServer.amqpURL() else { return }
            let key =
                broker == "redis" ? "baton-test:work:\(UUID().uuidString.prefix(8))" : "baton-test.work.\(UUID().uuidString.prefix(8))"
            let dir = try TempDir()
            let node = try BatonProcess([
                "serve", "--db", dir.path("baton.db"), "--port", "0", "--\(broker)-url", brokerURL, "--\(broker)-dispatch",
                "default=\(key)",
                "--\(broker)-window", "4", "--\(broker)-lease", "30",
            ])
            defer { Task { await node.stop() } }
            let url = try await node.url()
            func worker(_ id: String) throws -> BatonProcess {
                try BatonProcess([
                    "worker", "--\(broker)-url", brokerURL, "--\(broker)-work", key, "--server", url, "--concurrency", "4", "--lease", "3",
                    "--id",
                    id,
                ])
            }
            let first = try worker("\(broker)-1")
            defer { Task { await first.stop() } }
            let client = BatonClient(servers: [URL(string: url)!])

            let clock = ContinuousClock()
            let start = clock.now
            let echoes = try await client.submit((0..<40).map { NewTask(kind: "echo", args: RawJSON(trusted: #"{"n":\#($0)}"#)) })
            for task in echoes {
                let done = try await client.wait(task.id, timeout: .seconds(25))
                #expect(done.state == .succeeded && done.result == task.args && done.attempt == 1, "\(done.state) \(done.lastError ?? "")")
            }
            let drained = clock.now - start
            #expect(drained < .seconds(25), "40 tasks through a window of 4 took \(drained)")

            let flow = try await client.submitWorkflow(
                .chain([
                    .task(NewTask(kind: "echo", args: RawJSON(trusted: #"{"from":"parent"}"#)), name: "parent"),
                    .task(NewTask(kind: "echo", args: RawJSON(trusted: #"["mine"]"#), pass: .prepend), name: "child"),
                ]))
            let done = try await client.waitWorkflow(flow.id, timeout: .seconds(30))
            #expect(done.state == .succeeded, "\(done.counts)")
            #expect(try done.nodes.last?.result?.parsed() == .array([.object(["from": .string("parent")]), .string("mine")]))
            try await eventually("GET /v1/workers to list the worker", within: .seconds(10), every: .milliseconds(200)) { () -> Bool? in
                try await client.workers().contains { $0.worker == "\(broker)-1" } ? true : nil
            }

            // SIGKILL while a task runs.
            let sleeper = try await client.submit(NewTask(kind: "sleep", args: RawJSON(trusted: #"{"seconds":4}"#), maxAttempts: 3))
            try await eventually("the first worker to run the sleeper", within: .seconds(20), every: .milliseconds(100)) { () -> Bool? in
                let task = try await client.get(sleeper.id)
                guard task.state == .running, let until = task.leaseExpiresAt else { return nil }
                return until.timeIntervalSinceNow < 10 ? true : nil
            }
            first.signal(SIGKILL)
            _ = try await first.waitForExit(timeout: .seconds(10))
            let second = try worker("\(broker)-2")
            defer { Task { await second.stop() } }
            let rerun = try await client.wait(sleeper.id, timeout: .seconds(40))
            #expect(
                rerun.state == .succeeded && (broker == "redis" ? rerun.attempt == 2 : rerun.attempt <= 2),
                "\(rerun.state) at attempt \(rerun.attempt) \(rerun.lastError ?? "")")
            #expect(try await Self.left(broker, brokerURL, key) == 0)
            #expect(!second.stderr.contains("error"), "\(second.stderr.suffix(2000))")
            #expect(!node.stderr.contains(" error"), "\(node.stderr.suffix(2000))")
        }

        /// The trace context travels in Redis and RabbitMQ work messages (`baton.traceparent`)
        /// as in SQS ones: a task submitted with a `traceparent`, dispatched by one `baton serve`
        /// process and run by a `baton worker` that takes it from the broker, gets a consumer
        /// span from the worker that is the child of, and linked to, the node's producer span.
        @Test(arguments: ["redis", "amqp"])
        func aTaskIsTracedThroughTheBroker(_ broker: String) async throws {
            guard let brokerURL = broker == "redis" ? TestServer.redisURL() : TestServer.amqpURL() else { return }
            typealias Tracing = EndToEnd.TracingTests
            let spans = Recorder<Tracing.ExportedSpan>()
            let requests = Recorder<String>()
            try await withStandInServer(Tracing.collector(spans, requests: requests)) { port in
                let collector = "http://127.0.0.1:\(port)"
                let key = "baton-test.traced.\(UUID().uuidString.prefix(8))"
                let otel = ["OTEL_EXPORTER_OTLP_PROTOCOL": "http/json", "OTEL_BSP_SCHEDULE_DELAY": "100"]
                let dir = try TempDir()
                let node = try BatonProcess(
                    [
                        "serve", "--db", dir.path("baton.db"), "--port", "0", "--\(broker)-url", brokerURL, "--\(broker)-dispatch",
                        "traced=\(key)",
                    ],
                    environment: otel.merging(["OTEL_EXPORTER_OTLP_ENDPOINT": collector, "OTEL_SERVICE_NAME": "\(broker)-node"]) { $1 })
                defer { Task { await node.stop() } }
                let url = try await node.url()
                let worker = try BatonProcess(
                    ["worker", "--\(broker)-url", brokerURL, "--\(broker)-work", key, "--server", url, "--otlp-endpoint", collector],
                    environment: otel.merging(["OTEL_SERVICE_NAME": "\(broker)-worker"]) { $1 })
                defer { Task { await worker.stop() } }

                let traceID = Tracing.hex(16)
                let id = try await Tracing.submit(url, traceparent: "00-\(traceID)-\(Tracing.hex(8))-01")
                let done = try await BatonClient(servers: [URL(string: url)!]).wait(id, timeout: .seconds(60))
                #expect(done.state == .succeeded, "\(done.lastError ?? "")")
                let (send, process) = try await Tracing.sendAndProcess(spans, traceID: traceID)
                #expect(send.service == "\(broker)-node" && process.service == "\(broker)-worker")
                #expect(process.kind == 5, "SPAN_KIND_CONSUMER")
                #expect(process.parentSpanID == send.spanID, "the worker read the context from the work message")
                #expect(process.links.contains { $0.traceID == traceID && $0.spanID == send.spanID }, "\(process.links)")
                #expect(process.attributes["messaging.message.id"] == id.description)
                _ = try? await Self.left(broker, brokerURL, key)
            }
        }

        /// Two `baton serve` nodes on one PostgreSQL schema dispatch the same queue to one
        /// list or queue, each through a window of 4 with a 300 s lease; worker 1 reports to node
        /// A and worker 2 to node B, so about half of what each node sends ends through the
        /// other. Each node frees its window from the store's answer (no result ever reaches it
        /// for those), so all 120 tasks run, each once at attempt 1, nothing is left in the
        /// broker, and both nodes sent some (their `baton_tasks_claimed_total`).
        @Test(arguments: ["redis", "amqp"])
        func twoNodesOnPostgreSQLDispatchOneQueueWhoseResultsReachEitherNode(_ broker: String) async throws {
            guard let brokerURL = broker == "redis" ? TestServer.redisURL() : TestServer.amqpURL() else { return }
            guard let store = TestPostgres.storeURL(for: "twoNodesDispatchOneQueue\(broker)") else { return }
            let key =
                broker == "redis" ? "baton-test:shared:\(UUID().uuidString.prefix(8))" : "baton-test.shared.\(UUID().uuidString.prefix(8))"
            let nodes = try await MultiNodeTests.startNodes(
                2, store: store,
                extra: [
                    "--\(broker)-url", brokerURL, "--\(broker)-dispatch", "default=\(key)", "--\(broker)-window", "4", "--\(broker)-lease",
                    "300",
                ])
            defer { Task { for node in nodes { await node.process.stop() } } }
            let workers = try nodes.enumerated().map { i, node in
                try BatonProcess([
                    "worker", "--\(broker)-url", brokerURL, "--\(broker)-work", key, "--server", node.url, "--concurrency", "4",
                    "--id", "\(broker)-shared-\(i + 1)",
                ])
            }
            defer { Task { for worker in workers { await worker.stop() } } }

            var submitted: [TaskRecord] = []
            for (i, node) in nodes.enumerated() {
                submitted += try await node.client.submit(
                    (0..<60).map { NewTask(kind: "echo", args: RawJSON(trusted: #"{"node":\#(i),"n":\#($0)}"#)) })
            }
            for task in submitted {
                let done = try await nodes[0].client.wait(task.id, timeout: .seconds(60))
                #expect(done.state == .succeeded && done.result == task.args && done.attempt == 1, "\(done.state) \(done.lastError ?? "")")
            }
            for node in nodes {
                let claimed = try await Self.counter(node.url, "baton_tasks_claimed_total{queue=\"default\"}")
                #expect(claimed > 0, "node \(node.url) sent none of the tasks")
            }
            #expect(try await Self.left(broker, brokerURL, key) == 0)
            for node in nodes { #expect(!node.process.stderr.contains(" error"), "\(node.process.stderr.suffix(2000))") }
        }

        /// A counter's value in a node's `GET /metrics` (0 when absent).
        static func counter(_ url: String, _ series: String) async throws -> Double {
            let (data, _) = try await URLSession.shared.data(from: URL(string: url + "/metrics")!)
            let text = String(decoding: data, as: UTF8.self)
            for line in text.split(separator: "\n") where line.hasPrefix(series + " ") {
                return Double(line.dropFirst(series.count + 1)) ?? 0
            }
            return 0
        }

        /// Messages left in the broker's work list or queue (the queue is deleted after).
        static func left(_ broker: String, _ url: String, _ key: String) async throws -> Int64 {
            if broker == "redis" {
                let redis = try await RedisConnection.connect(try RedisConfiguration(url: url))
                defer { Task { await redis.close() } }
                return try #require(try await redis.command(["LLEN", RedisArgument(key)]).int)
            }
            let amqp = try await AMQPConnection.connect(try AMQPConfiguration(url: url))
            let count = try await amqp.declareQueue(key, passive: true).messageCount
            _ = try? await amqp.deleteQueue(key)
            await amqp.close()
            return Int64(count)
        }

        /// A worker told to take from Redis without a server to reach, and flags that contradict,
        /// are refused with a message and a non-zero exit.
        @Test func badRedisWorkerFlagsAreRefused() async throws {
            let noURL = try await baton(["worker", "--redis-work", "w"])
            #expect(noURL.status != 0 && noURL.stderr.contains("redis.url"), "\(noURL.stderr)")
            let noAMQPURL = try await baton(["worker", "--amqp-work", "w"])
            #expect(noAMQPURL.status != 0 && noAMQPURL.stderr.contains("amqp.url"), "\(noAMQPURL.stderr)")
            let both = try await baton(["worker", "--redis-url", "redis://127.0.0.1:1", "--redis-work", "w", "--sqs-work", "sqs://q"])
            #expect(both.status != 0 && both.stderr.contains("one place"), "\(both.stderr)")
            let badDispatch = try await baton(["serve", "--port", "0", "--redis-url", "redis://127.0.0.1:1", "--redis-dispatch", "default"])
            #expect(badDispatch.status != 0 && badDispatch.stderr.contains("redis.dispatch"), "\(badDispatch.stderr)")
        }
    }
}
