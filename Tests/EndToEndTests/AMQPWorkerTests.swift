import BatonAMQP
import BatonClient
import BatonCore
import BatonTesting
import Foundation
import Testing

extension EndToEnd {
    /// `baton serve --amqp-dispatch default=Q` and `baton worker --amqp-work Q --server URL` as
    /// separate processes against a real `rabbitmq-server`: tasks through the RabbitMQ queue,
    /// everything else over HTTP.
    @Suite(.serialized) struct AMQPWorkerTests {
        /// Results over HTTP free the window (40 tasks through a window of 4 drain long before
        /// the 30 s dispatch lease would free it); a dependent reads its parent's result; a
        /// worker SIGKILLed while its task runs loses nothing: RabbitMQ hands the message to a
        /// second worker, which runs the task to `succeeded`.
        @Test func aWorkerTakingTasksFromRabbitMQReportsOverHTTPAndAKilledOnesTaskRunsAgain() async throws {
            guard let amqpURL = TestServer.amqpURL() else { return }
            let key = "baton-test.work.\(UUID().uuidString.prefix(8).lowercased())"
            let dir = try TempDir()
            let node = try BatonProcess([
                "serve", "--db", dir.path("baton.db"), "--port", "0", "--amqp-url", amqpURL, "--amqp-dispatch", "default=\(key)",
                "--amqp-window", "4", "--amqp-lease", "30",
            ])
            defer { Task { await node.stop() } }
            let url = try await node.url()
            func worker(_ id: String) throws -> BatonProcess {
                try BatonProcess([
                    "worker", "--amqp-url", amqpURL, "--amqp-work", key, "--server", url, "--concurrency", "4", "--lease", "3", "--id",
                    id,
                ])
            }
            let first = try worker("amqp-1")
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
                try await client.workers().contains { $0.worker == "amqp-1" } ? true : nil
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
            let second = try worker("amqp-2")
            defer { Task { await second.stop() } }
            let rerun = try await client.wait(sleeper.id, timeout: .seconds(40))
            #expect(rerun.state == .succeeded && rerun.attempt <= 2, "\(rerun.state) at attempt \(rerun.attempt) \(rerun.lastError ?? "")")
            let amqp = try await AMQPConnection.connect(try AMQPConfiguration(url: amqpURL))
            #expect(try await amqp.declareQueue(key, passive: true).messageCount == 0)
            _ = try? await amqp.deleteQueue(key)
            await amqp.close()
            #expect(!second.stderr.contains("error"), "\(second.stderr.suffix(2000))")
            #expect(!node.stderr.contains(" error"), "\(node.stderr.suffix(2000))")
        }
    }
}
