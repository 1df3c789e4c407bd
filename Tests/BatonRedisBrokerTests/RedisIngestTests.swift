import BatonCore
import BatonNode
import BatonRedis
import BatonRedisBroker
import BatonTesting
import Foundation
import Testing

/// The ingest role against a real `redis-server` (`scripts/with-redis.sh`): producers write as
/// Machinery's Redis broker does (`RPUSH` of the signature's JSON onto its queue, `ZADD` to
/// `delayed_tasks` for a future `ETA`), and a node over a fresh SQLite store takes them in.
@Suite("Redis ingest against redis-server", .serialized)
struct RedisIngestTests {
    static func server(_ test: String = #function) throws -> RedisConfiguration? {
        try TestServer.redisURL(for: test).map { try RedisConfiguration(url: $0) }
    }

    /// Keys of this test's own.
    static func key(_ name: String) -> String { "baton-test:\(name):\(UUID().uuidString.prefix(8))" }

    static func count(_ redis: RedisConnection, _ command: String, _ key: String) async throws -> Int64 {
        try #require(try await redis.command([RedisArgument(command), RedisArgument(key)]).int)
    }

    /// Machinery's `Publish` on its Redis broker: a signature without a future ETA is appended
    /// to its queue; one with a future ETA goes to the delayed set, scored by the ETA in
    /// nanoseconds.
    static func publish(_ signature: String, queue: String, delayedAt eta: Date? = nil, delayed: String, on redis: RedisConnection)
        async throws
    {
        if let eta {
            let score = String(Int64(eta.timeIntervalSince1970 * 1e9))
            _ = try await redis.command(["ZADD", RedisArgument(delayed), RedisArgument(score), RedisArgument(signature)])
        } else {
            _ = try await redis.command(["RPUSH", RedisArgument(queue), RedisArgument(signature)])
        }
    }

    @Test func machineryProducersSignaturesBecomeTasksWithTheirUUIDsAndETAs() async throws {
        guard let server = try Self.server() else { return }
        let redis = try await RedisConnection.connect(server)
        defer { Task { await redis.close() } }
        let queue = Self.key("machinery_tasks")
        let delayed = Self.key("delayed_tasks")
        let now = UUID().uuidString.lowercased()
        let later = UUID().uuidString.lowercased()
        let chainHead = UUID().uuidString.lowercased()
        let chainNext = UUID().uuidString.lowercased()
        let eta = Date(timeIntervalSinceNow: 3600)
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let etaText = formatter.string(from: eta)
        try await Self.publish(
            goSignature("task_\(now)", "add", args: [1, 2], routingKey: "math"), queue: queue, delayed: delayed, on: redis)
        try await Self.publish(
            goSignature("task_\(later)", "add", args: [3, 4], eta: etaText), queue: queue, delayedAt: eta, delayed: delayed, on: redis)
        // A chain as Machinery sends it: the first signature, the next one in its OnSuccess.
        try await Self.publish(
            goSignature("task_\(chainHead)", "add", args: [1, 1], onSuccess: [goSignature("task_\(chainNext)", "multiply", args: [5])]),
            queue: queue, delayed: delayed, on: redis)

        let harness = try await BrokerHarness()
        let ingest = RedisIngest(
            api: harness.api, redis: server, sources: [.init(key: queue, kind: .list), .init(key: delayed, kind: .sortedSet)],
            deadLetter: Self.key("dead"), logger: testLogger("ingest"))
        let running = harness.start([ingest])
        try await eventually("the three messages to be stored", within: .seconds(20), every: .milliseconds(50)) { () -> Bool? in
            ingest.stats.submitted == 3 ? true : nil
        }
        // A message published while the ingest waits is taken at once.
        let waited = UUID().uuidString.lowercased()
        try await Self.publish(goSignature("task_\(waited)", "add", args: [9]), queue: queue, delayed: delayed, on: redis)
        try await eventually("the fourth message", within: .seconds(10), every: .milliseconds(20)) { () -> Bool? in
            ingest.stats.submitted == 4 ? true : nil
        }
        await running.stop()

        let first = try await harness.api.get(try #require(TaskID(now)))
        #expect(first.kind == "add" && first.queue == "math" && first.state == .ready)
        #expect(first.args.text == #"[{"Type":"int64","Value":1},{"Type":"int64","Value":2}]"#)
        let second = try await harness.api.get(try #require(TaskID(later)))
        #expect(second.state == .pending && abs(second.runAt.timeIntervalSince(eta)) < 0.001, "\(second.runAt) vs \(eta)")
        let head = try await harness.api.get(try #require(TaskID(chainHead)))
        let next = try await harness.api.get(try #require(TaskID(chainNext)))
        #expect(head.workflowID != nil && next.workflowID == head.workflowID && next.state == .waiting)
        #expect(try await harness.api.get(try #require(TaskID(waited))).kind == "add")
        #expect(try await harness.allTasks().count == 5)
        // Nothing is left in the sources or in flight.
        #expect(try await Self.count(redis, "LLEN", queue) == 0)
        #expect(try await Self.count(redis, "ZCARD", delayed) == 0)
        #expect(try await Self.count(redis, "HLEN", "\(queue):baton:inflight") == 0)
        #expect(try await Self.count(redis, "HLEN", "\(delayed):baton:inflight") == 0)
        #expect(ingest.stats.rejected == 0 && ingest.stats.retried == 0 && ingest.stats.retaken == 0, "\(ingest.stats)")
    }

    /// Baton's task JSON and freundallein/sqs-scheduler's notifications are taken as on SQS;
    /// what cannot be stored goes to the dead-letter list with the reason, and stores nothing.
    @Test func everyFormIsTakenAndRefusedMessagesGoToTheDeadLetterList() async throws {
        guard let server = try Self.server() else { return }
        let redis = try await RedisConnection.connect(server)
        defer { Task { await redis.close() } }
        let queue = Self.key("submit")
        let dead = Self.key("dead")
        let good = [
            #"{"kind":"email.send","args":{"to":"a@b.c"},"queue":"mail","priority":9}"#,
            #"[{"jsonrpc":"2.0","method":"submit:export","params":{"objectID":"1"}},{"jsonrpc":"2.0","method":"submit:export","params":{"objectID":"2"}}]"#,
        ]
        let bad: [(body: String, reason: String)] = [
            ("this is not JSON", "JSON"),
            (#"{"kind":"echo","surprise":true}"#, "unknown field 'surprise'"),
            (#"{"jsonrpc":"2.0","method":"export"}"#, "submit:KIND"),
            (goSignature("task_\(UUID())", ""), "Name is required"),
        ]
        for body in [good[0], bad[0].body, bad[1].body, good[1], bad[2].body, bad[3].body] {
            _ = try await redis.command(["RPUSH", RedisArgument(queue), RedisArgument(body)])
        }
        let harness = try await BrokerHarness()
        let ingest = RedisIngest(
            api: harness.api, redis: server, sources: [.init(key: queue, kind: .list)], deadLetter: dead, logger: testLogger("ingest"))
        let running = harness.start([ingest])
        try await eventually("every message to be handled", within: .seconds(20), every: .milliseconds(50)) { () -> Bool? in
            ingest.stats.submitted == good.count && ingest.stats.rejected == bad.count ? true : nil
        }
        await running.stop()

        let tasks = try await harness.allTasks()
        #expect(tasks.map(\.kind).sorted() == ["email.send", "export", "export"])
        let letters = try #require(try await redis.command(["LRANGE", RedisArgument(dead), 0, -1]).array).compactMap(\.string)
        #expect(letters.count == bad.count)
        for (letter, expected) in zip(letters, bad) {
            let value = try BrokerSubmission.parse(letter)
            #expect(value["source"]?.stringValue == queue)
            #expect(value["body"]?.stringValue == expected.body)
            #expect(value["reason"]?.stringValue?.contains(expected.reason) == true, "\(letter)")
            #expect(value["at"]?.stringValue.flatMap(BatonJSON.parseDate) != nil, "\(letter)")
        }
        #expect(try await Self.count(redis, "HLEN", "\(queue):baton:inflight") == 0)
        _ = try await redis.command(["DEL", RedisArgument(dead)])
    }

    /// A node that stopped after taking messages leaves them in the source's in-flight hash:
    /// once they are older than the visibility timeout, another node takes them again, and
    /// each is stored once, also the one whose submit had committed before the stop.
    @Test func messagesLeftInFlightByAStoppedNodeAreStoredOnce() async throws {
        guard let server = try Self.server() else { return }
        let redis = try await RedisConnection.connect(server)
        defer { Task { await redis.close() } }
        let queue = Self.key("submit")
        let inFlight = "\(queue):baton:inflight"
        let harness = try await BrokerHarness()
        let source = RedisIngest.Source(key: queue, kind: .list)
        // As the take script leaves them: field → "MILLISECONDS:MESSAGE", taken a minute ago.
        let takenAt = Int64((Date().timeIntervalSince1970 - 60) * 1000)
        let committed = #"{"kind":"committed","args":{"n":1}}"#
        let lost = #"{"kind":"lost","args":{"n":2}}"#
        _ = try await redis.command([
            "HSET", RedisArgument(inFlight), "100.1-1", RedisArgument("\(takenAt):\(committed)"), "100.1-2",
            RedisArgument("\(takenAt):\(lost)"),
        ])
        // The first one's submit had committed before its node stopped.
        try await harness.api.submit(committed, idempotencyKey: "redis:\(queue):100.1-1")
        // One taken just now by a node still at work stays with it.
        let fresh = Int64(Date().timeIntervalSince1970 * 1000)
        _ = try await redis.command(["HSET", RedisArgument(inFlight), "100.2-3", RedisArgument(#"\#(fresh):{"kind":"busy"}"#)])

        let ingest = RedisIngest(
            api: harness.api, redis: server, sources: [source], deadLetter: Self.key("dead"), visibility: .seconds(2),
            logger: testLogger("ingest"))
        let running = harness.start([ingest])
        try await eventually("the two old messages to be taken again", within: .seconds(20), every: .milliseconds(50)) { () -> Bool? in
            ingest.stats.retaken >= 2 && ingest.stats.submitted >= 2 ? true : nil
        }
        let early = try await harness.allTasks().map(\.kind).sorted()
        #expect(early == ["committed", "lost"], "the fresh one is not taken before its time: \(early)")
        try await eventually("the busy one, after its visibility timeout", within: .seconds(20), every: .milliseconds(100)) {
            () -> Bool? in ingest.stats.submitted >= 3 ? true : nil
        }
        await running.stop()
        #expect(try await harness.allTasks().map(\.kind).sorted() == ["busy", "committed", "lost"])
        #expect(try await Self.count(redis, "HLEN", inFlight) == 0)
    }

    /// Two nodes on one store take from one list while a producer appends 2,000 messages:
    /// each becomes one task.
    @Test func twoNodesTakeTwoThousandMessagesEachOnce() async throws {
        guard let server = try Self.server() else { return }
        let redis = try await RedisConnection.connect(server)
        defer { Task { await redis.close() } }
        let queue = Self.key("submit")
        let harness = try await BrokerHarness()
        let nodes = (0..<2).map { n in
            RedisIngest(
                api: NodeAPI(node: harness.node), redis: server, sources: [.init(key: queue, kind: .list)], deadLetter: Self.key("dead"),
                logger: testLogger("ingest-\(n)"))
        }
        let running = harness.start(nodes)
        let total = 2000
        for first in stride(from: 0, to: total, by: 100) {
            let commands: [[RedisArgument]] = (first..<first + 100).map { n in
                [
                    "RPUSH", RedisArgument(queue),
                    RedisArgument(#"{"jsonrpc":"2.0","method":"submit:export","params":{"objectID":"\#(n)"}}"#),
                ]
            }
            _ = try await redis.sendAll(commands)
        }
        try await eventually("every message to be stored", within: .seconds(60), every: .milliseconds(100)) { () -> Bool? in
            nodes.map(\.stats.submitted).reduce(0, +) >= total ? true : nil
        }
        await running.stop()
        let tasks = try await harness.allTasks()
        let ids = tasks.compactMap { try? $0.args.parsed()["objectID"]?.stringValue }.compactMap { Int($0) }
        #expect(ids.sorted() == Array(0..<total), "each objectID exactly once")
        #expect(nodes.allSatisfy { $0.stats.taken > 0 }, "both nodes took some: \(nodes.map(\.stats.taken))")
        #expect(try await Self.count(redis, "LLEN", queue) == 0)
        #expect(try await Self.count(redis, "HLEN", "\(queue):baton:inflight") == 0)
    }

    /// A node whose store is gone takes one message at a time, more and more slowly, and leaves
    /// the rest in the list; a node that can store takes them all, those left in flight too,
    /// each once.
    @Test func aNodeThatCannotStoreLeavesTheMessagesInTheList() async throws {
        guard let server = try Self.server() else { return }
        let redis = try await RedisConnection.connect(server)
        defer { Task { await redis.close() } }
        let queue = Self.key("submit")
        let source = RedisIngest.Source(key: queue, kind: .list)
        func message(_ n: Int) -> RedisArgument { RedisArgument(#"{"kind":"export","args":{"n":"\#(n)"}}"#) }

        let broken = try await BrokerHarness()
        try broken.store.close()
        let stuck = RedisIngest(
            api: broken.api, redis: server, sources: [source], deadLetter: Self.key("dead"), visibility: .seconds(1),
            logger: testLogger("stuck"))
        let runningStuck = broken.start([stuck])
        _ = try await redis.command(["RPUSH", RedisArgument(queue), message(0)])
        try await eventually("the first submit to fail", within: .seconds(10), every: .milliseconds(20)) { () -> Bool? in
            stuck.stats.retried >= 1 ? true : nil
        }
        _ = try await redis.command(["RPUSH", RedisArgument(queue)] + (1..<50).map(message))
        try await Task.sleep(for: .milliseconds(1500))
        await runningStuck.stop()
        let left = try await Self.count(redis, "LLEN", queue)
        let inFlight = try await Self.count(redis, "HLEN", source.inFlightKey)
        #expect(stuck.stats.submitted == 0 && left + inFlight == 50, "\(stuck.stats), \(left) left, \(inFlight) in flight")
        #expect(left >= 40, "one message at a time while failing: \(stuck.stats.taken) taken, \(left) left")

        let working = try await BrokerHarness()
        let ingest = RedisIngest(
            api: working.api, redis: server, sources: [source], deadLetter: Self.key("dead"), visibility: .seconds(1),
            logger: testLogger("ingest"))
        let running = working.start([ingest])
        try await eventually("every message to be stored", within: .seconds(20), every: .milliseconds(50)) { () -> Bool? in
            ingest.stats.submitted >= 50 ? true : nil
        }
        await running.stop()
        let ns = try await working.allTasks().compactMap { try? $0.args.parsed()["n"]?.stringValue }.compactMap { Int($0) }
        #expect(ns.sorted() == Array(0..<50), "each message once")
        #expect(ingest.stats.retaken == inFlight, "\(ingest.stats)")
        #expect(try await Self.count(redis, "HLEN", source.inFlightKey) == 0)
    }
}
