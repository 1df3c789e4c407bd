import BatonClient
import BatonCore
import BatonTesting
import Foundation
import Synchronization
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

extension EndToEnd {
    /// Several `baton serve` nodes on one PostgreSQL schema, with `baton-test-worker` processes
    /// whose handler appends "<task id> <attempt>" to a file: what ran, and how often, is
    /// recorded by the handler itself, not by the store under test.
    @Suite(.serialized) struct MultiNodeTests {
        // MARK: Helpers

        /// A node's process, URL and client.
        struct NodeHandle {
            let process: BatonProcess
            let url: String
            let client: BatonClient

            init(process: BatonProcess, url: String) {
                self.process = process
                self.url = url
                client = BatonClient(servers: [URL(string: url)!], requestTimeout: .seconds(30))
            }
        }

        /// Starts `count` nodes at once on `store` (so their first migrations race).
        static func startNodes(_ count: Int, store: String, extra: [String] = [], environment: [String: String] = [:]) async throws
            -> [NodeHandle]
        {
            let processes = try (0..<count).map { _ in
                try BatonProcess(["serve", "--store", store, "--port", "0"] + extra, environment: environment)
            }
            var nodes: [NodeHandle] = []
            for p in processes { nodes.append(NodeHandle(process: p, url: try await p.url(timeout: .seconds(60)))) }
            return nodes
        }

        static func startWorker(
            id: String, servers: [String], record: String, concurrency: Int = 32, lease: Double = 30, queues: String = "default"
        ) throws -> BatonProcess {
            try BatonProcess(
                [
                    "--id", id, "--server", servers.joined(separator: ","), "--record", record, "--concurrency", "\(concurrency)",
                    "--lease", "\(lease)", "--queues", queues,
                ], executable: BatonBinary.testWorkerPath)
        }

        /// Every "<id> <attempt>" line of the record files.
        static func records(_ paths: [String]) throws -> [(id: String, attempt: Int)] {
            var all: [(String, Int)] = []
            for path in paths where FileManager.default.fileExists(atPath: path) {
                let text = try String(contentsOfFile: path, encoding: .utf8)
                for line in text.split(separator: "\n") {
                    let parts = line.split(separator: " ")
                    guard parts.count == 2, let attempt = Int(parts[1]) else {
                        Issue.record("malformed record line '\(line)' in \(path)")
                        continue
                    }
                    all.append((String(parts[0]), attempt))
                }
            }
            return all
        }

        /// No (task, attempt) pair may be recorded twice: a task runs again only after a lease
        /// expiry, which starts a new attempt.
        static func expectNoAttemptRanTwice(_ records: [(id: String, attempt: Int)]) {
            var seen = Set<String>()
            var duplicates: [String] = []
            for r in records where !seen.insert("\(r.id) \(r.attempt)").inserted { duplicates.append("\(r.id) \(r.attempt)") }
            #expect(duplicates.isEmpty, "ran twice in one attempt: \(duplicates.prefix(10))")
        }

        static func counts(_ node: NodeHandle, queue: String = "default") async throws -> QueueCounts {
            try await node.client.queues().first { $0.name == queue } ?? QueueCounts(name: queue, counts: [:])
        }

        /// Waits until `queue` holds no unfinished task and at least `succeeded` succeeded ones,
        /// asking every half second.
        @discardableResult
        static func waitUntilDrained(_ node: NodeHandle, queue: String = "default", succeeded: Int, timeout: Duration) async throws
            -> QueueCounts
        {
            var last: QueueCounts?
            do {
                return try await eventually("\(succeeded) tasks of \(queue) to succeed", within: timeout) { () -> QueueCounts? in
                    let c = try await counts(node, queue: queue)
                    last = c
                    let open = c.count(.pending) + c.count(.ready) + c.count(.running)
                    if open == 0 && c.count(.succeeded) >= succeeded { return c }
                    try await Task.sleep(for: .milliseconds(480))
                    return nil
                }
            } catch var timedOut as EventuallyTimeout {
                timedOut.what += "; the last counts: \(last.map { "\($0.counts)" } ?? "none")"
                throw timedOut
            }
        }

        static func recordTasks(_ count: Int, queue: String = "default", ms: Int = 0) -> [NewTask] {
            let args = try! RawJSON(validating: ms > 0 ? #"{"ms":\#(ms)}"# : "{}")
            return (0..<count).map { _ in NewTask(kind: "record", args: args, queue: queue) }
        }

        /// One GET as a client sees it: status (nil when no answer), body, seconds taken.
        static func probe(_ url: String, timeout: Double = 20) async -> (status: Int?, body: String, seconds: Double) {
            var request = URLRequest(url: URL(string: url)!)
            request.timeoutInterval = timeout
            let start = ContinuousClock.now
            do {
                let (data, response) = try await URLSession.shared.data(for: request)
                return (
                    (response as? HTTPURLResponse)?.statusCode, String(decoding: data, as: UTF8.self), (ContinuousClock.now - start).seconds
                )
            } catch {
                return (nil, "\(error)", (ContinuousClock.now - start).seconds)
            }
        }

        /// Runs a command that leaves a daemon behind (`pg_ctl restart`) to completion, its
        /// output going to `log`, with no other descriptor of the test process. Spawned and reaped here rather than with `Process`, which only
        /// sees its child exit once every inheritor of its descriptors (the new postmaster) has.
        static func spawnAndWait(_ path: String, _ arguments: [String], log: String, timeout: Duration) async throws -> Int32 {
            var actions = posix_spawn_file_actions_t()
            posix_spawn_file_actions_init(&actions)
            defer { posix_spawn_file_actions_destroy(&actions) }
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
            posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0o644)
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
            // Nothing else of the test process: the postmaster it starts counts inherited
            // descriptors against max_files_per_process, and refuses to start ("insufficient
            // file descriptors") when the test process holds many without close-on-exec.
            // (glibc 2.34's posix_spawn_file_actions_addclosefrom_np, which Swift's Glibc module
            // does not declare: looked up by name.)
            typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
            if let symbol = dlsym(nil, "posix_spawn_file_actions_addclosefrom_np") {
                _ = unsafeBitCast(symbol, to: CloseFrom.self)(&actions, 3)
            }
            let argv: [UnsafeMutablePointer<CChar>?] = ([path] + arguments).map { strdup($0) } + [nil]
            defer { for arg in argv { free(arg) } }
            var pid: pid_t = 0
            let rc = posix_spawn(&pid, path, &actions, nil, argv, environ)
            guard rc == 0 else { throw ProcessError.exited("posix_spawn \(path): error \(rc)") }
            let child = pid
            let status = try await eventually("\(path) to exit", within: timeout) { () -> Int32? in
                var status: Int32 = 0
                return waitpid(child, &status, WNOHANG) == child ? status : nil
            }
            return status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        }

        /// `pg_ctl` on the test cluster, as the user that owns it.
        struct PostgresControl {
            let control: (pgCtl: String, dataDirectory: String, user: String)
            let log: String

            /// Runs `pg_ctl -D DATA -l LOG <arguments>`; records an issue unless it succeeds.
            /// The server's log stays where with-postgres.sh put it, next to the data directory.
            @discardableResult
            func ctl(_ arguments: [String]) async throws -> Duration {
                let serverLog = URL(fileURLWithPath: control.dataDirectory).deletingLastPathComponent().appendingPathComponent("server.log")
                let args = ["-D", control.dataDirectory, "-l", serverLog.path] + arguments
                let start = ContinuousClock.now
                let status =
                    getuid() == 0
                    ? try await MultiNodeTests.spawnAndWait(
                        "/usr/sbin/runuser", ["-u", control.user, "--", control.pgCtl] + args, log: log, timeout: .seconds(45))
                    : try await MultiNodeTests.spawnAndWait(control.pgCtl, args, log: log, timeout: .seconds(45))
                if status != 0 {
                    Issue.record(
                        "pg_ctl \(arguments.last ?? "") failed (\(status)): \((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
                }
                return ContinuousClock.now - start
            }

            /// The server's options as it was started (`postmaster.opts`, minus the binary), so
            /// that `pg_ctl start` brings it back on the same port and settings.
            func postmasterOptions() throws -> String {
                let text = try String(contentsOfFile: control.dataDirectory + "/postmaster.opts", encoding: .utf8)
                let line = text.trimmingCharacters(in: .whitespacesAndNewlines)
                guard let space = line.firstIndex(of: " ") else { return "" }
                return String(line[line.index(after: space)...])
            }
        }

        /// Runs SQL on the test server with psql (next to pg_ctl); returns what it printed
        /// (unaligned, tuples only).
        @discardableResult
        static func psql(_ pgCtl: String, url: String, _ sql: String) async throws -> String {
            let psql = URL(fileURLWithPath: pgCtl).deletingLastPathComponent().appendingPathComponent("psql").path
            let psqlRun = try await runToEnd(psql, [url, "-v", "ON_ERROR_STOP=1", "-qAtc", sql])
            #expect(psqlRun.status == 0, "psql: \(psqlRun.output)")
            return psqlRun.output.trimmingCharacters(in: .whitespacesAndNewlines)
        }

        // MARK: Tests

        /// `baton bench` on PostgreSQL with two nodes: it runs, reports, and drops the schema it
        /// made for the run.
        @Test func benchOnPostgresWithTwoNodesCleansUp() async throws {
            guard let base = TestPostgres.url(for: "benchOnPostgresWithTwoNodesCleansUp") else { return }
            let result = try await baton(
                ["bench", "--json", "--store", base, "--workers", "http", "--nodes", "2", "--tasks", "2000", "--concurrency", "200"],
                timeout: .seconds(90))
            #expect(result.status == 0, "\(result.stderr)")
            let last = try #require(result.stdout.split(separator: "\n").last)
            let report = try #require(try JSONSerialization.jsonObject(with: Data(last.utf8)) as? [String: Any])
            #expect((report["drain_tasks_per_s"] as? Double ?? 0) > 0)
            #expect((report["enqueue_tasks_per_s"] as? Double ?? 0) > 0)
            let settings = try #require(report["settings"] as? [String: Any])
            #expect(settings["nodes"] as? Int == 2 && settings["store"] as? String == "postgres")
            if let control = TestPostgres.control {
                let left = try await Self.psql(control.pgCtl, url: base, "SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'bench\\_%'")
                #expect(left == "0", "bench schemas left behind: \(left)")
            }
            let sqliteNodes = try await baton(["bench", "--store", "sqlite", "--workers", "http", "--nodes", "2"])
            #expect(sqliteNodes.status == 64, "several nodes need a shared store")
        }

        /// Two nodes, two workers each attached to both (in a different order), 20,000 tasks
        /// submitted half to each node: each runs exactly once, in its first attempt.
        @Test func twentyThousandTasksThroughTwoNodesRunOnceEach() async throws {
            guard let store = TestPostgres.storeURL(for: "twentyThousandTasksThroughTwoNodesRunOnceEach") else { return }
            let started = ContinuousClock.now
            let dir = try TempDir()
            let record = dir.path("record.txt")
            let nodes = try await Self.startNodes(2, store: store, extra: ["--rescue-interval", "1"])
            defer { for n in nodes { n.process.signal(SIGKILL) } }
            let workers = [
                try Self.startWorker(id: "w1", servers: [nodes[0].url, nodes[1].url], record: record, concurrency: 64),
                try Self.startWorker(id: "w2", servers: [nodes[1].url, nodes[0].url], record: record, concurrency: 64),
            ]
            defer { for w in workers { w.signal(SIGKILL) } }

            let total = 20_000
            let batch = 1000
            let ids = try await withThrowingTaskGroup(of: [TaskID].self) { group in
                for node in nodes {
                    group.addTask {
                        var ids: [TaskID] = []
                        for _ in 0..<(total / batch / nodes.count) {
                            ids += try await node.client.submit(Self.recordTasks(batch)).map(\.id)
                        }
                        return ids
                    }
                }
                return try await group.reduce(into: [TaskID]()) { $0 += $1 }
            }
            #expect(Set(ids).count == total)
            let submitted = ContinuousClock.now

            let counts = try await Self.waitUntilDrained(nodes[0], succeeded: total, timeout: .seconds(180))
            let drained = ContinuousClock.now
            #expect(counts.count(.succeeded) == total)
            #expect(counts.count(.failed) == 0 && counts.count(.cancelled) == 0)
            // The other node sees the same database (through its own counts, taken every 0.1 s).
            let other = try await Self.waitUntilDrained(nodes[1], succeeded: total, timeout: .seconds(10))
            #expect(other.count(.succeeded) == total)

            // A handler writes its line before it returns, so before its ack: once every task
            // has succeeded the file is complete. Each task is there once, in attempt 1.
            let lines = try Self.records([record])
            #expect(lines.count == total, "\(lines.count) runs recorded for \(total) tasks")
            Self.expectNoAttemptRanTwice(lines)
            #expect(Set(lines.map(\.id)) == Set(ids.map(\.description)), "the tasks run are exactly the tasks submitted")
            #expect(lines.allSatisfy { $0.attempt == 1 }, "a task ran again without a lease expiry")
            for n in nodes { #expect(n.process.isRunning) }
            for w in workers { #expect(w.isRunning, "\(w.stderr.suffix(2000))") }
            print(
                "multi-node: \(total) tasks, submit \((submitted - started).seconds) s (incl. start-up), drain \((drained - submitted).seconds) s"
            )
            for w in workers { await w.stop() }
            for n in nodes { await n.process.stop() }
        }

        /// SIGKILL of the leader node under load: the other node takes over leadership and
        /// keeps serving, the workers that preferred the dead node move to the survivor, the
        /// tasks held through the dead node only are rescued after their lease, and every
        /// acknowledged task succeeds.
        @Test func killingTheLeaderNodeLosesNothing() async throws {
            guard let store = TestPostgres.storeURL(for: "killingTheLeaderNodeLosesNothing") else { return }
            let dir = try TempDir()
            let nodes = try await Self.startNodes(2, store: store, extra: ["--rescue-interval", "0.3", "--backoff", "0.1"])
            defer { for n in nodes { n.process.signal(SIGKILL) } }
            let leaderIndex = try await eventually("a node to become leader", within: .seconds(20)) { () -> Int? in
                nodes.firstIndex { $0.process.stderr.contains("became leader") }
            }
            try await Task.sleep(for: .milliseconds(300))
            #expect(nodes.filter { $0.process.stderr.contains("became leader") }.count == 1, "exactly one leader")
            let leader = nodes[leaderIndex]
            let survivor = nodes[1 - leaderIndex]

            // A worker reachable only through the leader takes slow tasks: when the leader dies,
            // it can neither heartbeat nor ack them, so they come back through lease rescue.
            let stranded = try Self.startWorker(
                id: "stranded", servers: [leader.url], record: dir.path("stranded.txt"), concurrency: 8, lease: 2, queues: "slow")
            defer { stranded.signal(SIGKILL) }
            let slow = try await leader.client.submit(Self.recordTasks(6, queue: "slow", ms: 4000)).map(\.id)
            try await eventually("the stranded worker to hold the slow tasks", within: .seconds(20)) { () -> Bool? in
                for id in slow where try await leader.client.get(id).leaseOwner != "stranded" { return nil }
                return true
            }

            let recordA = dir.path("a.txt")
            let recordB = dir.path("b.txt")
            let preferLeader = try Self.startWorker(
                id: "prefers-leader", servers: [leader.url, survivor.url], record: recordA, lease: 2, queues: "default,slow")
            let preferSurvivor = try Self.startWorker(
                id: "prefers-survivor", servers: [survivor.url, leader.url], record: recordB, lease: 2, queues: "default,slow")
            defer { for w in [preferLeader, preferSurvivor] { w.signal(SIGKILL) } }

            // A third of the load before the kill (alternating nodes), the rest after it (the survivor);
            // the survivor's takeover is timed while the second half goes in.
            var acknowledged: [TaskID] = []
            for i in 0..<4 {
                acknowledged += try await (i % 2 == 0 ? leader : survivor).client.submit(Self.recordTasks(500, ms: 1)).map(\.id)
            }
            leader.process.signal(SIGKILL)
            try await leader.process.waitForExit(timeout: .seconds(10))
            let killedAt = ContinuousClock.now
            async let takeover = eventually("the survivor to become leader", within: .seconds(20)) {
                survivor.process.stderr.contains("became leader") ? ContinuousClock.now - killedAt : nil
            }
            var afterKill: [TaskID] = []
            for _ in 0..<8 { afterKill += try await survivor.client.submit(Self.recordTasks(500, ms: 1)).map(\.id) }
            acknowledged += afterKill
            let tookOver = try await takeover
            #expect(tookOver < .seconds(10), "leadership moved only after \(tookOver)")
            try await eventually("the worker that preferred the dead node to fail over", within: .seconds(20)) {
                preferLeader.stderr.contains("failing over") ? true : nil
            }
            let counts = try await Self.waitUntilDrained(survivor, succeeded: acknowledged.count, timeout: .seconds(60))
            let slowCounts = try await Self.waitUntilDrained(survivor, queue: "slow", succeeded: slow.count, timeout: .seconds(60))
            #expect(slowCounts.count(.succeeded) == slow.count)

            #expect(counts.count(.succeeded) == acknowledged.count, "\(counts.counts)")
            #expect(counts.count(.failed) == 0)
            let lines = try Self.records([recordA, recordB, dir.path("stranded.txt")])
            Self.expectNoAttemptRanTwice(lines)
            let ran = Set(lines.map(\.id))
            let missing = acknowledged.filter { !ran.contains($0.description) }
            #expect(missing.isEmpty, "\(missing.count) acknowledged tasks never ran")
            // Tasks created after the kill can only have been claimed through the survivor: the
            // worker that preferred the dead node ran some of them.
            let ranByPreferLeader = Set(try Self.records([recordA]).map(\.id))
            #expect(afterKill.contains { ranByPreferLeader.contains($0.description) }, "the failed-over worker ran no new task")
            // The stranded tasks were rescued when their lease expired and ran again.
            for id in slow {
                let task = try await survivor.client.get(id)
                #expect(task.state == .succeeded && task.attempt >= 2, "\(id): \(task.state), attempt \(task.attempt)")
                #expect(task.errors.first?.message.contains("lease") == true, "\(task.errors)")
            }
            #expect(survivor.process.isRunning)
            print("kill leader: leadership moved in \(tookOver.seconds) s; \(acknowledged.count) tasks, \(lines.count) runs recorded")
            stranded.signal(SIGKILL)
            for w in [preferLeader, preferSurvivor] { await w.stop() }
            await survivor.process.stop()
        }

        /// `pg_ctl restart -m immediate` under load: both nodes answer 503 with a JSON error (not
        /// a hang) while the database is away, reconnect on their own, and every task whose
        /// submission was acknowledged (201) runs and succeeds.
        @Test func restartingPostgresUnderLoadLosesNoAcknowledgedTask() async throws {
            guard let store = TestPostgres.storeURL(for: "restartingPostgresUnderLoadLosesNoAcknowledgedTask") else { return }
            guard let control = TestPostgres.control, let base = TestPostgres.url(for: "restart") else {
                if TestPostgres.isCI { Issue.record("BATON_TEST_PG_CTL/PGDATA/PG_USER not set in CI") }
                return
            }
            // with-postgres.sh runs with synchronous_commit=off, under which a crash loses the last
            // commits, acknowledged or not. Acknowledged must mean durable here.
            try await Self.psql(
                control.pgCtl, url: base,
                "DO $$ BEGIN EXECUTE format('ALTER ROLE %I IN DATABASE %I SET synchronous_commit = on', current_user, current_database()); END $$"
            )
            defer {
                Task {
                    try? await Self.psql(
                        control.pgCtl, url: base,
                        "DO $$ BEGIN EXECUTE format('ALTER ROLE %I IN DATABASE %I RESET synchronous_commit', current_user, current_database()); END $$"
                    )
                }
            }
            let dir = try TempDir()
            let config = dir.path("baton.yaml")
            // Retries back off 0.1 s doubling up to 2 s: a task whose lease ran out during the
            // outage comes back within seconds (the default cap is an hour).
            try "postgres:\n  callTimeout: 2\nretry:\n  cap: 2\n".write(toFile: config, atomically: true, encoding: .utf8)
            let nodes = try await Self.startNodes(
                2, store: store, extra: ["--rescue-interval", "0.5", "--backoff", "0.1"], environment: ["BATON_CONFIG": config])
            defer { for n in nodes { n.process.signal(SIGKILL) } }
            let records = [dir.path("a.txt"), dir.path("b.txt")]
            let workers = [
                try Self.startWorker(id: "w1", servers: [nodes[0].url, nodes[1].url], record: records[0], lease: 3),
                try Self.startWorker(id: "w2", servers: [nodes[1].url, nodes[0].url], record: records[1], lease: 3),
            ]
            defer { for w in workers { w.signal(SIGKILL) } }

            struct Load: Sendable {
                var acknowledged: [TaskID] = []
                var refused = 0
                var otherErrors: [String] = []
                var statuses: [Int: Int] = [:]
                var unanswered = 0
                var slowest = 0.0
                var jsonErrors503 = 0
                var restarting = false
                var acknowledgedAfterRestart = 0
                var restarted = false
                var downSince: ContinuousClock.Instant?
                /// 503s seen while the server was stopped.
                var refusedWhileDown = 0
            }
            final class Shared: Sendable {
                let load = Mutex(Load())
                let stop = Atomic<Bool>(false)
            }
            let shared = Shared()
            try await withThrowingTaskGroup(of: Void.self) { group in
                for node in nodes {
                    // Submitter: small batches, as a producer would keep sending.
                    group.addTask {
                        while !shared.stop.load(ordering: .relaxed) {
                            do {
                                let ids = try await node.client.submit(Self.recordTasks(50)).map(\.id)
                                shared.load.withLock { l in
                                    l.acknowledged += ids
                                    if l.restarted { l.acknowledgedAfterRestart += ids.count }
                                }
                            } catch let error as BatonError where error.code == .unavailable {
                                shared.load.withLock { $0.refused += 1 }
                            } catch {
                                shared.load.withLock { $0.otherErrors.append("\(error)") }
                            }
                            try await Task.sleep(for: .milliseconds(100))
                        }
                    }
                    // Prober: what a client sees, every 50 ms (a listing reads the store; the
                    // queue counts would answer from the node's cache).
                    group.addTask {
                        while !shared.stop.load(ordering: .relaxed) {
                            let answer = await Self.probe(node.url + "/v1/tasks?limit=1")
                            shared.load.withLock { l in
                                if let status = answer.status {
                                    l.statuses[status, default: 0] += 1
                                    if status == 503 && answer.body.contains(#""error""#) && answer.body.contains(#""code""#) {
                                        l.jsonErrors503 += 1
                                        if l.downSince != nil && !l.restarted { l.refusedWhileDown += 1 }
                                    }
                                } else {
                                    l.unanswered += 1
                                }
                                l.slowest = max(l.slowest, answer.seconds)
                            }
                            try await Task.sleep(for: .milliseconds(50))
                        }
                    }
                }
                try await Task.sleep(for: .seconds(2))
                let pg = PostgresControl(control: control, log: dir.path("pg_ctl.log"))
                // 1. The restart itself: about 0.2 s away, which the nodes ride out within their
                //    call deadline (requests wait for the pool to reconnect).
                var took = try await pg.ctl(["-m", "immediate", "-w", "-t", "30", "restart"])
                print("pg restart: pg_ctl restart -m immediate took \(took.seconds) s")
                try await Task.sleep(for: .seconds(1.5))
                // 2. The same crash with the server kept away for longer than the nodes' call
                //    deadline (2 s): now they must answer 503, and come back with the server.
                let options = try pg.postmasterOptions()
                try await pg.ctl(["-m", "immediate", "-w", "stop"])
                shared.load.withLock { $0.downSince = .now }
                try await Task.sleep(for: .seconds(3.5))
                took = try await pg.ctl(["-w", "-t", "30", "-o", options, "start"])
                shared.load.withLock { $0.restarted = true }
                print("pg restart: down 3.5 s, start took \(took.seconds) s")
                // The nodes come back by themselves: /ready answers 200 again on both.
                for node in nodes {
                    try await eventually("\(node.url) to be ready again", within: .seconds(30)) {
                        await Self.probe(node.url + "/ready").status == 200 ? true : nil
                    }
                }
                try await Task.sleep(for: .seconds(2))
                shared.stop.store(true, ordering: .relaxed)
                try await group.waitForAll()
            }
            let seen = shared.load.withLock { $0 }
            #expect(seen.otherErrors.isEmpty, "\(seen.otherErrors.prefix(5))")
            #expect(seen.refusedWhileDown > 0, "no 503 with a JSON error while PostgreSQL was down: \(seen.statuses)")
            #expect(seen.unanswered == 0, "requests without an answer: \(seen.unanswered)")
            #expect(seen.slowest < 10, "a request took \(seen.slowest) s while PostgreSQL restarted")
            #expect(seen.acknowledgedAfterRestart > 0, "no submission succeeded after the restart")
            for n in nodes { #expect(n.process.isRunning, "a node died with the database") }

            let counts: QueueCounts
            do {
                counts = try await Self.waitUntilDrained(nodes[0], succeeded: seen.acknowledged.count, timeout: .seconds(60))
            } catch {
                // What a failure needs explained: how often tasks ran, where the unfinished and
                // the unrun ones are, and what the nodes and workers said.
                let lines = try Self.records(records)
                print(
                    "pg restart: runs per attempt: \(Dictionary(grouping: lines, by: \.attempt).mapValues(\.count).sorted { $0.key < $1.key })"
                )
                for state in [TaskState.pending, .ready, .running, .failed] {
                    let page = try? await nodes[1].client.list(TaskListParams(states: [state], queue: "default", limit: 5))
                    for task in page?.tasks ?? [] {
                        print(
                            "  \(state): \(task.id) attempt \(task.attempt) owner \(task.leaseOwner ?? "-") lease until \(String(describing: task.leaseExpiresAt)) run_at \(task.runAt) errors \(task.errors.map(\.message))"
                        )
                    }
                }
                let ran = Set(lines.map(\.id))
                let missing = seen.acknowledged.filter { !ran.contains($0.description) }
                print("pg restart: \(missing.count) of \(seen.acknowledged.count) acknowledged tasks have not run")
                for id in missing.prefix(10) {
                    let task = try? await nodes[1].client.get(id)
                    print(
                        "  \(id): \(task.map { "\($0.state), attempt \($0.attempt), owner \($0.leaseOwner ?? "-"), errors \($0.errors)" } ?? "not found")"
                    )
                }
                for (i, n) in nodes.enumerated() { print("node \(i) stderr:\n\(n.process.stderr.suffix(4000))") }
                for (i, w) in workers.enumerated() { print("worker \(i) stderr:\n\(w.stderr.suffix(3000))") }
                throw error
            }
            #expect(counts.count(.failed) == 0 && counts.count(.cancelled) == 0)
            let lines = try Self.records(records)
            Self.expectNoAttemptRanTwice(lines)
            let ran = Set(lines.map(\.id))
            let missing = seen.acknowledged.filter { !ran.contains($0.description) }
            #expect(missing.isEmpty, "\(missing.count) of \(seen.acknowledged.count) acknowledged tasks never ran")
            print(
                "pg restart: \(seen.acknowledged.count) acknowledged, \(seen.refused) submissions refused, probes \(seen.statuses) (\(seen.refusedWhileDown) 503 while down), slowest \(seen.slowest) s"
            )
            for w in workers { await w.stop() }
            for n in nodes { await n.process.stop() }
        }
    }
}
