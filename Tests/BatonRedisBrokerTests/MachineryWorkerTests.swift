import BatonCore
import BatonNode
import BatonRedis
import BatonRedisBroker
import BatonTesting
import Foundation
import Synchronization
import Testing

/// Machinery's workers running Baton's tasks (`redis.machineryDispatch`), against a real
/// `redis-server`: the node sends each task as a signature to the list the worker pops, reads
/// the states the worker writes to the result backend, and applies them: results, failures
/// retried by Baton's policy, chains passing results as Machinery's do, a message lost with
/// its worker sent again, a cancelled task's message taken out of the list, and arguments no
/// Machinery worker can take refused with the reason.
@Suite("Machinery workers against redis-server", .serialized)
struct MachineryWorkerTests {
    static func withNode(
        _ server: RedisConfiguration, lease: Duration = .seconds(30), results: Bool = false,
        _ body: @Sendable (BrokerHarness, String) async throws -> Void
    ) async throws {
        let harness = try await BrokerHarness()
        let key = RedisIngestTests.key("machinery_tasks")
        let configuration = RedisBrokerConfiguration(
            redis: server, results: results, machineryDispatch: [("default", key)],
            dispatchSettings: DispatchSettings(window: 50, lease: lease))
        #expect(configuration.hasNodeRoles)
        let running = harness.start(try configuration.services(api: harness.api, logger: testLogger("redis")))
        do {
            try await body(harness, key)
        } catch {
            await running.stop()
            throw error
        }
        await running.stop()
    }

    @Test func tasksRunOnAMachineryWorkerAndTheirResultsComeBack() async throws {
        guard let server = try RedisIngestTests.server() else { return }
        try await Self.withNode(server) { harness, key in
            let worker = MachineryWorkerStandIn(server: server, queue: key, functions: ["add": MachineryWorkerStandIn.add])
            let working = Task { try await worker.run() }
            defer { working.cancel() }
            let (plain, typed) = try await harness.checkMachineryAdds(count: 200)

            // The signature as Machinery's worker decodes it.
            let signature = try #require(worker.signatures.first { $0["UUID"] == .string(plain.description) })
            #expect(signature["Name"] == "add")
            #expect(signature["RoutingKey"] == .string(key))
            #expect(signature["RetryCount"] == 0 && signature["ETA"] == .null && signature["OnSuccess"] == .null)
            #expect(
                signature["Args"]
                    == .array([1, 2, 39].map { .object(["Type": "int64", "Value": .int($0)]) }))
            let named = try #require(worker.signatures.first { $0["UUID"] == .string(typed.description) })
            #expect(
                named["Args"] == .array([.object(["Name": "a", "Type": "int64", "Value": 5]), .object(["Type": "int64", "Value": 6])]))
            #expect(worker.signatures.count == 202, "each task was sent once")
        }
    }

    @Test func aFailureIsRetriedByBatonsPolicyAndTheLastOneFailsTheTask() async throws {
        guard let server = try RedisIngestTests.server() else { return }
        try await Self.withNode(server) { harness, key in
            let worker = MachineryWorkerStandIn(server: server, queue: key, functions: MachineryWorkerStandIn.retryFunctions())
            let working = Task { try await worker.run() }
            defer { working.cancel() }
            try await harness.checkMachineryRetries()
        }
    }

    /// A Machinery chain sent by a Machinery producer, run by Machinery's workers through
    /// Baton: each step's results are prepended to the next one's arguments (`Immutable`
    /// false), and the states are at the producer's UUIDs. With the node keeping Machinery's
    /// result backend too (`redis.results`, for Machinery producers), which writes the states
    /// of Machinery tasks but not while a Machinery worker has one.
    @Test func aChainPassesResultsAsMachineryDoes() async throws {
        guard let server = try RedisIngestTests.server() else { return }
        try await Self.withNode(server, results: true) { harness, key in
            let worker = MachineryWorkerStandIn(server: server, queue: key, functions: ["add": MachineryWorkerStandIn.add])
            let working = Task { try await worker.run() }
            defer { working.cancel() }
            let (first, second, third) = ("task_\(UUID())".lowercased(), "task_\(UUID())".lowercased(), "task_\(UUID())".lowercased())
            let chain = try RawJSON(
                validating:
                    #"{"Tasks": [\#(goSignature(first, "add", args: [1, 2])), \#(goSignature(second, "add", args: [10])), \#(goSignature(third, "add", args: [100]))]}"#
            ).parsed()
            _ = try await harness.api.submitMachineryWorkflow(chain, idempotencyKey: nil)
            let last = try await harness.finished(try #require(Machinery.taskID(third)))
            #expect(last.state == .succeeded)
            #expect(try last.result?.parsed() == .array([.object(["Type": "int64", "Value": 113])]))
            let thirdSignature = try #require(worker.signatures.first { $0["UUID"] == .string(third) })
            #expect(
                thirdSignature["Args"]
                    == .array([.object(["Type": "int64", "Value": 13]), .object(["Type": "int64", "Value": 100])]))
            // What the worker wrote is where a Machinery producer's AsyncResult reads it.
            let redis = try await RedisConnection.connect(server)
            defer { Task { await redis.close() } }
            let state = try #require(try await redis.command(["GET", RedisArgument(third)]).string)
            guard case .succeeded(let results)? = Machinery.workerReport(state, uuid: third) else {
                Issue.record("not a success: \(state)")
                return
            }
            #expect(try results.parsed() == .array([.object(["Type": "int64", "Value": 113])]))
        }
    }

    /// Machinery's Redis broker has no acknowledgement: a worker that dies holding a message
    /// loses it. The task's lease runs out, the rescuer counts the attempt, and it is sent again.
    @Test func aMessageLostWithItsWorkerIsSentAgainAfterTheLease() async throws {
        guard let server = try RedisIngestTests.server() else { return }
        try await Self.withNode(server, lease: .seconds(2)) { harness, key in
            let dropped = Mutex<Int>(0)
            let worker = MachineryWorkerStandIn(server: server, queue: key, functions: ["add": MachineryWorkerStandIn.add])
            let working = Task {
                try await worker.run { _ in
                    dropped.withLock { n in
                        n += 1
                        return n == 1
                    }
                }
            }
            defer { working.cancel() }
            let task = try await harness.api.submit(NewTask(kind: "add", args: try RawJSON(validating: "[2, 3]"), maxAttempts: 3))
            let done = try await harness.finished(task.id, within: .seconds(30))
            #expect(done.state == .succeeded && done.attempt == 2)
            #expect(done.errors.count == 1, "the lost attempt counts: \(done.errors)")
            #expect(worker.signatures.count == 2)
        }
    }

    /// A task cancelled while its message waits in the list is taken out of it (no worker
    /// runs it); arguments no Machinery worker can take fail the task with the reason.
    /// A failure Baton retries reads as Machinery's `RETRY` at the task's UUID while the task
    /// waits for its next attempt (as when Machinery's own worker retries), the worker's error
    /// and the other fields kept: a producer reading the result backend keeps waiting.
    @Test func aFailureBatonRetriesReadsAsRetryUntilTheNextAttempt() async throws {
        guard let server = try RedisIngestTests.server() else { return }
        try await Self.withNode(server) { harness, key in
            let worker = MachineryWorkerStandIn(
                server: server, queue: key, functions: ["broken": { _ in throw MachineryWorkerStandIn.Failure(description: "disk full") }])
            let working = Task { try await worker.run() }
            defer { working.cancel() }
            let task = try await harness.api.submit(NewTask(kind: "broken", maxAttempts: 2, retry: .fixed(.seconds(30))))
            let redis = try await RedisConnection.connect(server)
            defer { Task { await redis.close() } }
            let state = try await eventually("RETRY at the task's UUID", within: .seconds(20)) { () -> [String: JSONValue]? in
                guard let text = try await redis.command(["GET", RedisArgument(task.id.description)]).string,
                    case .object(let members) = try RawJSON(validating: text).parsed(), members["State"] == "RETRY"
                else { return nil }
                return members
            }
            #expect(state["Error"] == "disk full" && state["TaskUUID"] == .string(task.id.description) && state["TaskName"] == "broken")
            let waiting = try #require(try await harness.store.taskGet(task.id))
            #expect(waiting.state == .pending && waiting.lastError == "disk full", "\(waiting.state)")
            #expect(worker.signatures.count == 1, "not sent again before its retry delay")
        }
    }

    @Test func aCancelledTaskLeavesTheListAndUnsendableArgumentsFail() async throws {
        guard let server = try RedisIngestTests.server() else { return }
        try await Self.withNode(server) { harness, key in
            let redis = try await RedisConnection.connect(server)
            defer { Task { await redis.close() } }
            let waiting = try await harness.api.submit(NewTask(kind: "add", args: try RawJSON(validating: "[1]")))
            try await eventually("the message is in the list", within: .seconds(10)) {
                try await RedisIngestTests.count(redis, "LLEN", key) == 1 ? true : nil
            }
            let pending = try #require(try await redis.command(["GET", RedisArgument(waiting.id.description)]).string)
            #expect(Machinery.workerReport(pending, uuid: waiting.id.description) == .running("PENDING"))
            _ = try await harness.api.cancel(waiting.id)
            try await eventually("the message left the list", within: .seconds(10)) {
                try await RedisIngestTests.count(redis, "LLEN", key) == 0 ? true : nil
            }

            let object = try await harness.api.submit(NewTask(kind: "add", args: try RawJSON(validating: #"{"a": 1}"#)))
            let refused = try await harness.finished(object.id)
            #expect(refused.state == .failed && refused.attempt == 1)
            #expect(refused.lastError?.contains("cannot be sent to a Machinery worker") == true, "\(refused.lastError ?? "")")
            #expect(try await RedisIngestTests.count(redis, "LLEN", key) == 0)
        }
    }
}
