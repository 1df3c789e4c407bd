import BatonCore
import BatonNode
import BatonRedis
import BatonRedisBroker
import BatonTesting
import Foundation
import Testing

/// Machinery's Redis result backend kept by the node, against a real `redis-server`
/// (`scripts/with-redis.sh`): a producer sends as Machinery does with Redis as its broker and
/// its result backend (its `PENDING` state `SET` at the signature's UUID, the signature
/// `RPUSH`ed), the node takes the signatures in (``RedisIngest``), a worker runs them through
/// the node's worker protocol, and the producer's key holds each state as Machinery's
/// `AsyncResult` reads it.
@Suite("Machinery's Redis result backend against redis-server", .serialized)
struct MachineryResultsTests {
    /// The state at `key` as Machinery's `GetState` decodes it; nil when the key is absent.
    static func state(_ redis: RedisConnection, _ key: String) async throws -> [String: Any]? {
        guard let text = try await redis.command(["GET", RedisArgument(key)]).string else { return nil }
        return try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    /// Waits until the state at `key` is `expected`, and returns it.
    static func state(_ redis: RedisConnection, _ key: String, becomes expected: String) async throws -> [String: Any] {
        try await eventually("\(key) to be \(expected)", within: .seconds(10), every: .milliseconds(20)) { () -> [String: Any]? in
            guard let state = try await Self.state(redis, key), state["State"] as? String == expected else { return nil }
            return state
        }
    }

    /// What Machinery's producer writes before it sends (`SetStatePending`).
    static func pending(_ uuid: String, _ name: String) -> String {
        #"{"TaskUUID":"\#(uuid)","TaskName":"\#(name)","State":"PENDING","Results":null,"Error":"","CreatedAt":"2026-12-06T00:00:00Z","TTL":0}"#
    }

    @Test func aMachineryProducerReadsEveryStateOfItsTasksFromRedis() async throws {
        guard let server = try RedisIngestTests.server() else { return }
        let redis = try await RedisConnection.connect(server)
        defer { Task { await redis.close() } }
        let queue = RedisIngestTests.key("machinery_tasks")
        func uuid() -> String { "task_\(UUID().uuidString.lowercased())" }
        let (sum, product, broken, report, flaky, abandoned, elsewhere) = (uuid(), uuid(), uuid(), uuid(), uuid(), uuid(), uuid())
        let sent = [
            (
                sum, "add",
                goSignature(sum, "add", args: [1, 1], routingKey: "math", onSuccess: [goSignature(product, "multiply", args: [5])])
            ),
            (
                broken, "divide",
                goSignature(broken, "divide", args: [1, 0], routingKey: "math", onSuccess: [goSignature(report, "report")])
            ),
            (flaky, "fetch", goSignature(flaky, "fetch", routingKey: "math", retryCount: 2)),
            (abandoned, "sleep", goSignature(abandoned, "sleep", routingKey: "math")),
            (elsewhere, "upload", goSignature(elsewhere, "upload", routingKey: "math")),
        ]
        for (uuid, name, signature) in sent {
            _ = try await redis.command(["SET", RedisArgument(uuid), RedisArgument(Self.pending(uuid, name))])
            _ = try await redis.command(["RPUSH", RedisArgument(queue), RedisArgument(signature)])
        }

        let harness = try await BrokerHarness()
        let ingest = RedisIngest(
            api: harness.api, redis: server, sources: [.init(key: queue, kind: .list)], deadLetter: RedisIngestTests.key("dead"),
            logger: testLogger("ingest"))
        let results = MachineryResults(
            redis: server, store: harness.api.node.store, events: harness.api.node.events, expiry: .seconds(120),
            logger: testLogger("results"))
        let running = harness.start([ingest, results])
        try await eventually("the five signatures to be stored", within: .seconds(20), every: .milliseconds(20)) { () -> Bool? in
            ingest.stats.submitted == 5 ? true : nil
        }
        func claim(_ kind: String, leaseMS: Int? = nil) async throws -> ClaimedTask {
            try #require(
                try await harness.api.claim(
                    ClaimBody(worker: "machinery-worker", queues: ["math", "default"], kinds: [kind], waitMS: 5000, leaseMS: leaseMS)
                )
                .first)
        }

        // Claimed: STARTED, with what the producer wrote kept in the shape.
        let add = try await claim("add")
        let started = try await Self.state(redis, sum, becomes: "STARTED")
        #expect(started["TaskUUID"] as? String == sum && started["TaskName"] as? String == "add")
        #expect(started["Results"] is NSNull && started["Error"] as? String == "")
        // Succeeded: SUCCESS with the results as Machinery's worker writes them, kept for the expiry.
        #expect(
            try await harness.api.ack([
                .complete(TaskCompletion(lease: add.lease, result: RawJSON(trusted: #"[{"Type":"int64","Value":2}]"#)))
            ]) == [.applied(.succeeded)])
        let succeeded = try await Self.state(redis, sum, becomes: "SUCCESS")
        let listed = try #require(succeeded["Results"] as? [[String: Any]])
        #expect(listed.count == 1 && listed[0]["Type"] as? String == "int64" && listed[0]["Value"] as? Int == 2)
        let ttl = try #require(try await redis.command(["PTTL", RedisArgument(sum)]).int)
        #expect(ttl > 110_000 && ttl <= 120_000, "kept for the expiry: \(ttl) ms left")
        // The chain's next task, released by it, then a plain result.
        let multiply = try await claim("multiply")
        #expect(try await Self.state(redis, product, becomes: "STARTED")["TaskName"] as? String == "multiply")
        #expect(
            try await harness.api.ack([.complete(TaskCompletion(lease: multiply.lease, result: RawJSON(trusted: "10")))]) == [
                .applied(.succeeded)
            ])
        let product10 = try #require(try await Self.state(redis, product, becomes: "SUCCESS")["Results"] as? [[String: Any]])
        #expect(product10.count == 1 && product10[0]["Type"] as? String == "int64" && product10[0]["Value"] as? Int == 10)

        // Failed for good: FAILURE with the error.
        let divide = try await claim("divide")
        #expect(
            try await harness.api.ack([.fail(TaskFailure(lease: divide.lease, message: "division by zero", retryable: false))]) == [
                .applied(.failed)
            ])
        #expect(try await Self.state(redis, broken, becomes: "FAILURE")["Error"] as? String == "division by zero")
        // Its chain's next task, cancelled with it by the store (no event names it): FAILURE too,
        // where Machinery would never have sent it and a producer waiting for it would wait on.
        let cancelled = try await Self.state(redis, report, becomes: "FAILURE")
        #expect((cancelled["Error"] as? String)?.hasPrefix("dependency not satisfied") == true, "\(cancelled)")
        // Failed with attempts left: RETRY.
        let fetch = try await claim("fetch")
        #expect(try await harness.api.ack([.fail(TaskFailure(lease: fetch.lease, message: "timeout"))]) == [.applied(.pending)])
        _ = try await Self.state(redis, flaky, becomes: "RETRY")
        // A worker that vanished: the lease's rescue ends its only attempt.
        _ = try await claim("sleep", leaseMS: 2000)
        _ = try await Self.state(redis, abandoned, becomes: "STARTED")
        let rescued = try await Self.state(redis, abandoned, becomes: "FAILURE")
        #expect((rescued["Error"] as? String)?.isEmpty == false)

        // Completed through another node (here: the store itself, so this node emits no event):
        // found by the next look at the tasks it saw running.
        let upload = try await claim("upload")
        _ = try await Self.state(redis, elsewhere, becomes: "STARTED")
        #expect(try await harness.store.complete(upload, result: RawJSON(trusted: #""done""#)) == .applied(.succeeded))
        let done = try #require(try await Self.state(redis, elsewhere, becomes: "SUCCESS")["Results"] as? [[String: Any]])
        #expect(done.count == 1 && done[0]["Type"] as? String == "string" && done[0]["Value"] as? String == "done")

        await running.stop()
        #expect(results.stats.failed == 0, "\(results.stats)")
    }

    /// Only Machinery tasks are written: a task of a Baton workflow and a plain task leave no key
    /// at their ids; a Machinery task submitted over HTTP is written too.
    @Test func onlyMachineryTasksAreWritten() async throws {
        guard let server = try RedisIngestTests.server() else { return }
        let redis = try await RedisConnection.connect(server)
        defer { Task { await redis.close() } }
        let harness = try await BrokerHarness()
        let results = MachineryResults(
            redis: server, store: harness.api.node.store, events: harness.api.node.events, logger: testLogger("results"))
        let running = harness.start([results])
        let plain = try await harness.api.submit(NewTask(kind: "echo"))
        let workflow = try await harness.api.submitWorkflow(
            try WorkflowSpec.compile(try RawJSON(trusted: #"{"chain":[{"kind":"echo"},{"kind":"echo"}]}"#).parsed()), idempotencyKey: nil)
        let machinery = "task_\(UUID().uuidString.lowercased())"
        _ = try await harness.api.submitMachineryWorkflow(
            try RawJSON(trusted: goSignature(machinery, "echo")).parsed(), idempotencyKey: nil)
        var ids = [plain.id] + workflow.workflow.nodes.map(\.id)
        ids.append(try #require(Machinery.taskID(machinery)))
        for _ in ids {
            let claimed = try #require(try await harness.api.claim(ClaimBody(worker: "w", kinds: ["echo"], waitMS: 5000)).first)
            #expect(
                try await harness.api.ack([.complete(TaskCompletion(lease: claimed.lease, result: RawJSON(trusted: "1")))]) == [
                    .applied(.succeeded)
                ])
        }
        _ = try await Self.state(redis, machinery, becomes: "SUCCESS")
        await running.stop()
        for id in ids.dropLast() {
            #expect(try await Self.state(redis, id.description) == nil, "nothing at \(id)")
        }
        // The Machinery task's STARTED and SUCCESS, or SUCCESS alone when both moves fell in one
        // flush; the chain's two tasks read once each and dropped (their claims not read again);
        // the plain task never watched.
        #expect((1...2).contains(results.stats.written) && results.stats.skipped == 2, "\(results.stats)")
    }

    /// For a queue Machinery's workers run (`workerQueues`), only a task's final state is
    /// written: its claim and a failure with attempts left write nothing (the workers, and the
    /// node's compare-and-set `RETRY`, write those), its success writes `SUCCESS`.
    @Test func aQueueMachinerysWorkersRunGetsOnlyFinalStates() async throws {
        guard let server = try RedisIngestTests.server() else { return }
        let redis = try await RedisConnection.connect(server)
        defer { Task { await redis.close() } }
        let harness = try await BrokerHarness()
        let results = MachineryResults(
            redis: server, store: harness.api.node.store, events: harness.api.node.events, workerQueues: ["go"],
            logger: testLogger("results"))
        let running = harness.start([results])
        let uuid = "task_\(UUID().uuidString.lowercased())"
        _ = try await redis.command(["SET", RedisArgument(uuid), RedisArgument(Self.pending(uuid, "fetch"))])
        _ = try await harness.api.submitMachineryWorkflow(
            try RawJSON(trusted: goSignature(uuid, "fetch", routingKey: "go", retryCount: 1)).parsed(),
            idempotencyKey: nil)
        func claim() async throws -> ClaimedTask {
            try #require(try await harness.api.claim(ClaimBody(worker: "w", queues: ["go"], kinds: ["fetch"], waitMS: 5000)).first)
        }
        let first = try await claim()
        #expect(try await harness.api.ack([.fail(TaskFailure(lease: first.lease, message: "timeout"))]) == [.applied(.pending)])
        // The claim and the retry were seen (the task is watched and read), and nothing written.
        try await Task.sleep(for: .milliseconds(300))
        #expect(try await Self.state(redis, uuid)?["State"] as? String == "PENDING")
        let second = try await claim()
        #expect(
            try await harness.api.ack([.complete(TaskCompletion(lease: second.lease, result: RawJSON(trusted: "1")))]) == [
                .applied(.succeeded)
            ])
        _ = try await Self.state(redis, uuid, becomes: "SUCCESS")
        await running.stop()
        #expect(results.stats.written == 1, "\(results.stats)")
    }
}
