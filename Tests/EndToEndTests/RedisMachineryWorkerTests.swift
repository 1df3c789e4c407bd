import BatonClient
import BatonCore
import BatonRedis
import BatonTesting
import Foundation
import Testing

extension EndToEnd {
    /// Machinery on both sides of a `baton standalone` process: a Machinery producer sends
    /// through its Redis broker (`--redis-ingest`) and reads its results from the Redis result
    /// backend (`--redis-results`); Machinery's workers (a stand-in doing what its worker does,
    /// ``MachineryWorkerStandIn``) pop the tasks of the queue `go` from their own list
    /// (`--redis-machinery-dispatch go=LIST`). Tasks submitted over HTTP, delayed ones among
    /// them, run on the same workers.
    @Suite(.serialized) struct RedisMachineryWorkerTests {
        @Test func machineryProducersAndWorkersWithBatonBetweenThem() async throws {
            guard let url = TestServer.redisURL() else { return }
            let server = try RedisConfiguration(url: url)
            let redis = try await RedisConnection.connect(server)
            defer { Task { await redis.close() } }
            let suffix = UUID().uuidString.prefix(8)
            let (incoming, work) = ("machinery_tasks:\(suffix)", "machinery_work:\(suffix)")
            let dir = try TempDir()
            let node = try BatonProcess([
                "standalone", "--db", dir.path("baton.db"), "--port", "0", "--redis-url", url, "--redis-ingest", incoming,
                "--redis-results", "--redis-machinery-dispatch", "go=\(work)",
            ])
            defer { Task { await node.stop() } }
            let client = BatonClient(servers: [URL(string: try await node.url())!])
            let worker = MachineryWorkerStandIn(server: server, queue: work, functions: ["add": MachineryWorkerStandIn.add])
            let working = Task { try await worker.run() }
            defer { working.cancel() }

            // The producer: a chain of three on the queue `go`, as Machinery's SendChain sends it.
            let uuids = (0..<3).map { _ in "task_\(UUID().uuidString.lowercased())" }
            let chain = goSignature(
                uuids[0], "add", args: [1, 2], routingKey: "go",
                onSuccess: [
                    goSignature(
                        uuids[1], "add", args: [10], routingKey: "go",
                        onSuccess: [goSignature(uuids[2], "add", args: [100], routingKey: "go")])
                ])
            let pending =
                #"{"TaskUUID":"\#(uuids[0])","TaskName":"add","State":"PENDING","Results":null,"Error":"","CreatedAt":"2026-12-06T00:00:00Z","TTL":0}"#
            _ = try await redis.command(["SET", RedisArgument(uuids[0]), RedisArgument(pending)])
            _ = try await redis.command(["RPUSH", RedisArgument(incoming), RedisArgument(chain)])

            // Over HTTP: now, and in a second.
            let now = try await client.submit(NewTask(kind: "add", args: try RawJSON(validating: "[20, 22]"), queue: "go"))
            let later = try await client.submit(NewTask(kind: "add", args: try RawJSON(validating: "[1, 1]"), queue: "go", delay: 1))

            let done = try await client.wait(now.id, timeout: .seconds(30))
            // Compared as JSON: the stand-in writes a result's keys in any order.
            func sum(_ n: Int64) -> JSONValue { .array([.object(["Type": "int64", "Value": .int(n)])]) }
            #expect(done.state == .succeeded, "\(done)")
            #expect(try done.result?.parsed() == sum(42))
            let delayed = try await client.wait(later.id, timeout: .seconds(30))
            #expect(delayed.state == .succeeded && delayed.startedAt! >= later.runAt, "ran at its time")
            let last = try await client.wait(try #require(Machinery.taskID(uuids[2])), timeout: .seconds(30))
            #expect(last.state == .succeeded, "\(last)")
            #expect(try last.result?.parsed() == sum(113))
            // Where the producer's AsyncResult reads it, for each step.
            for (uuid, total) in zip(uuids, [3, 13, 113] as [Int64]) {
                let state = try #require(try await redis.command(["GET", RedisArgument(uuid)]).string)
                guard case .succeeded(let results)? = Machinery.workerReport(state, uuid: uuid) else {
                    Issue.record("not a success: \(state)")
                    continue
                }
                #expect(try results.parsed() == sum(total), "\(state)")
            }
            // Each task went to the workers once; nothing is left in either list.
            #expect(worker.signatures.count == 5)
            #expect(try await redis.command(["LLEN", RedisArgument(work)]).int == 0)
            #expect(try await redis.command(["LLEN", RedisArgument(incoming)]).int == 0)
        }

        @Test func aBadMachineryDispatchIsRefusedWithTheSetting() async throws {
            let dir = try TempDir()
            let node = try BatonProcess([
                "standalone", "--db", dir.path("baton.db"), "--port", "0", "--redis-url", "redis://127.0.0.1:1",
                "--redis-machinery-dispatch", "go",
            ])
            let status = try await node.waitForExit()
            #expect(status != 0)
            #expect(node.stderr.contains("redis.machineryDispatch"), "\(node.stderr)")
        }
    }
}
