import BatonCore
import BatonRedis
import BatonTesting
import Foundation
import Testing

extension EndToEnd {
    /// A Machinery program with Redis as its broker and its result backend, against a
    /// `baton standalone` process (`--redis-ingest`, `--redis-results`) whose in-process
    /// workers run the built-in kinds: the producer writes each task's `PENDING` and pushes its
    /// signatures as Machinery's `SendTask`/`SendChord`/`SendChain` do, then reads the states
    /// as its `AsyncResult.Get()` does, from the keys of the signatures' UUIDs.
    @Suite(.serialized) struct RedisMachineryTests {
        static func state(_ redis: RedisConnection, _ key: String, becomes expected: String) async throws -> [String: Any] {
            try await eventually("\(key) to be \(expected)", within: .seconds(60), every: .milliseconds(50)) { () -> [String: Any]? in
                guard let text = try await redis.command(["GET", RedisArgument(key)]).string,
                    let state = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any],
                    state["State"] as? String == expected
                else { return nil }
                return state
            }
        }

        @Test func aMachineryProducerGetsItsChordsResultAndItsChainsFailureFromRedis() async throws {
            guard let url = TestServer.redisURL() else { return }
            let redis = try await RedisConnection.connect(try RedisConfiguration(url: url))
            defer { Task { await redis.close() } }
            let queue = "machinery_tasks:\(UUID().uuidString.prefix(8))"
            let dir = try TempDir()
            let node = try BatonProcess([
                "standalone", "--db", dir.path("baton.db"), "--port", "0", "--redis-url", url, "--redis-ingest", queue,
                "--redis-results", "--redis-results-expire-in", "600",
            ])
            defer { Task { await node.stop() } }
            _ = try await node.url()
            func uuid() -> String { UUID().uuidString.lowercased() }
            func send(_ uuid: String, _ name: String, _ signature: String) async throws {
                let pending =
                    #"{"TaskUUID":"\#(uuid)","TaskName":"\#(name)","State":"PENDING","Results":null,"Error":"","CreatedAt":"2026-12-06T00:00:00Z","TTL":0}"#
                _ = try await redis.command(["SET", RedisArgument(uuid), RedisArgument(pending)])
                _ = try await redis.command(["RPUSH", RedisArgument(queue), RedisArgument(signature)])
            }

            // A chord of five `echo` members: its callback receives their results before its own
            // argument, and echoes them.
            let group = "group_\(uuid())"
            let callbackUUID = "chord_\(uuid())"
            let callback = goSignature(callbackUUID, "echo", args: [100])
            let members = (0..<5).map { _ in "task_\(uuid())" }
            for (i, member) in members.enumerated() {
                try await send(
                    member, "echo", goSignature(member, "echo", args: [i], chordCallback: callback, groupUUID: group, groupTaskCount: 5))
            }
            // A chain whose first task fails: the next one never runs.
            let (failing, next) = ("task_\(uuid())", "task_\(uuid())")
            try await send(failing, "fail", goSignature(failing, "fail", args: [1], onSuccess: [goSignature(next, "echo", args: [2])]))

            for (i, member) in members.enumerated() {
                let state = try await Self.state(redis, member, becomes: "SUCCESS")
                let results = try #require(state["Results"] as? [[String: Any]])
                #expect(results.count == 1 && results[0]["Type"] as? String == "int64" && results[0]["Value"] as? Int == i)
            }
            let chord = try await Self.state(redis, callbackUUID, becomes: "SUCCESS")
            let values = try #require(chord["Results"] as? [[String: Any]]).compactMap { $0["Value"] as? Int }
            #expect(Set(values.dropLast()) == Set(0..<5) && values.count == 6 && values.last == 100, "\(values)")
            #expect(chord["TaskName"] as? String == "echo" && chord["TaskUUID"] as? String == callbackUUID)
            let ttl = try #require(try await redis.command(["TTL", RedisArgument(callbackUUID)]).int)
            #expect(ttl > 500 && ttl <= 600, "kept for --redis-results-expire-in: \(ttl) s left")

            let failed = try await Self.state(redis, failing, becomes: "FAILURE")
            #expect((failed["Error"] as? String)?.isEmpty == false)
            let cancelled = try await Self.state(redis, next, becomes: "FAILURE")
            #expect((cancelled["Error"] as? String)?.contains(failing.dropFirst("task_".count)) == true, "\(cancelled)")
        }
    }
}
