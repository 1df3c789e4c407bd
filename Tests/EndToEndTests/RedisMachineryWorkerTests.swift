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
            let chain = goChain(uuids, "add", args: [[1, 2], [10], [100]], routingKey: "go")
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

        /// A node killed (SIGKILL) while a Machinery worker runs its task, started again on the
        /// same database: the worker's `SUCCESS`, written while the node was down, is applied
        /// by the new process at once, at attempt 1, instead of the task waiting for its lease
        /// (300 s) to end and running again; a task submitted after the restart runs as usual.
        @Test func aRestartedNodeTakesUpTheTasksItsMachineryWorkersHold() async throws {
            guard let url = TestServer.redisURL() else { return }
            let server = try RedisConfiguration(url: url)
            let work = "machinery_work:\(UUID().uuidString.prefix(8))"
            let dir = try TempDir()
            let arguments = [
                "standalone", "--db", dir.path("baton.db"), "--port", "0", "--redis-url", url, "--redis-machinery-dispatch",
                "go=\(work)",
            ]
            let first = try BatonProcess(arguments)
            defer { Task { await first.stop() } }
            let client = BatonClient(servers: [URL(string: try await first.url())!])
            let worker = MachineryWorkerStandIn(server: server, queue: work, functions: ["add": MachineryWorkerStandIn.add])
            let working = Task { try await worker.run(hold: .seconds(2)) }
            defer { working.cancel() }

            let task = try await client.submit(NewTask(kind: "add", args: try RawJSON(validating: "[40, 2]"), queue: "go"))
            try await eventually("the worker took the task", within: .seconds(20)) { worker.signatures.count == 1 ? true : nil }
            first.signal(SIGKILL)
            _ = try await first.waitForExit()
            // The worker finishes while no node runs.
            let redis = try await RedisConnection.connect(server)
            defer { Task { await redis.close() } }
            try await eventually("the worker wrote SUCCESS", within: .seconds(20)) { () -> Bool? in
                guard let state = try await redis.command(["GET", RedisArgument(task.id.description)]).string,
                    case .succeeded? = Machinery.workerReport(state, uuid: task.id.description)
                else { return nil }
                return true
            }

            let second = try BatonProcess(arguments)
            defer { Task { await second.stop() } }
            let again = BatonClient(servers: [URL(string: try await second.url())!])
            let done = try await again.wait(task.id, timeout: .seconds(20))
            #expect(done.state == .succeeded && done.attempt == 1, "\(done)")
            #expect(try done.result?.parsed() == .array([.object(["Type": "int64", "Value": 42])]))
            let next = try await again.submit(NewTask(kind: "add", args: try RawJSON(validating: "[1, 2]"), queue: "go"))
            #expect(try await again.wait(next.id, timeout: .seconds(20)).state == .succeeded)
            #expect(worker.signatures.count == 2, "the first task was not sent again")
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
