import BatonClient
import BatonCore
import BatonTesting
import Foundation
import Synchronization
import Testing

extension EndToEnd {
    /// `GET /v1/events` across a cluster: two `baton serve` processes on one PostgreSQL schema.
    /// A client of the follower A sees a task submitted and completed through the leader B (by a
    /// worker that only knows B, and which A lists among its workers), a lease rescued by B after
    /// its worker was SIGKILLed, and B's schedule fires; then B, given an event id seen on A,
    /// streams what A streamed after it.
    @Suite(.serialized) struct ClusterEventsTests {
        /// Collects a stream's events in the background.
        final class Collector: Sendable {
            final class Box: Sendable {
                let events = Mutex<[ServerEvent]>([])
                let ended = Atomic<Bool>(false)
                let failure = Mutex<String?>(nil)
            }
            let box = Box()
            private let task: Task<Void, Never>

            init(_ stream: AsyncThrowingStream<ServerEvent, any Error>) {
                let box = self.box
                task = Task {
                    do {
                        for try await event in stream { box.events.withLock { $0.append(event) } }
                    } catch {
                        box.failure.withLock { $0 = "\(error)" }
                    }
                    box.ended.store(true, ordering: .releasing)
                }
            }

            var snapshot: [ServerEvent] { box.events.withLock { $0 } }
            var ended: Bool { box.ended.load(ordering: .acquiring) }
            var failure: String? { box.failure.withLock { $0 } }

            func cancel() { task.cancel() }
        }

        static func isTransition(_ event: ServerEvent, task: TaskID, to state: String) -> Bool {
            event.type == "transitioned" && event.json?["task"]?.stringValue == task.description && event.json?["to"]?.stringValue == state
        }

        /// Submits probe tasks through `node` (to a queue nobody serves) until every reader has
        /// shown one: the node then publishes what those readers read.
        static func probeUntilRead(through node: BatonClient, _ readers: [@Sendable () -> String]) async throws {
            var probes: Set<String> = []
            _ = try await eventually(
                "the readers to show a probe submitted through the other node", within: .seconds(30), every: .milliseconds(300)
            ) {
                () -> Bool? in
                probes.insert(try await node.submit(NewTask(kind: "noop", queue: "probe")).id.description)
                return readers.allSatisfy { read in
                    let text = read()
                    return probes.contains { text.contains($0) }
                } ? true : nil
            }
        }

        @Test func aClientOfOneNodeSeesTheWholeClusterAndResumesOnAnother() async throws {
            guard let store = TestPostgres.storeURL(for: "aClientOfOneNodeSeesTheWholeClusterAndResumesOnAnother") else { return }
            let dir = try TempDir()
            let nodes = try await MultiNodeTests.startNodes(2, store: store, extra: ["--rescue-interval", "0.3", "--backoff", "30"])
            defer { for n in nodes { n.process.signal(SIGKILL) } }
            // The stream is on the follower A; everything it must see happens on the leader B:
            // the submit and the completion, the rescue, the schedule's fires.
            let leader = try await eventually("a node to become leader", within: .seconds(20)) { () -> Int? in
                nodes.firstIndex { $0.process.stderr.contains("became leader") }
            }
            let (a, b) = (nodes[1 - leader], nodes[leader])

            let onA = Collector(a.client.events(timeout: 60))
            defer { onA.cancel() }
            // `baton watch` on A too, as a separate process.
            let watch = try BatonProcess(["watch", "--server", a.url, "--timeout", "25", "--json"])
            defer { Task { await watch.stop() } }
            // Both nodes learn of the reader (announced at once; at the latest at their next look).
            try await Self.probeUntilRead(
                through: b.client, [{ onA.snapshot.map { $0.json?["task"]?.stringValue ?? "" }.joined(separator: " ") }, { watch.stdout }])

            // 1. Submitted and completed through B: a worker that only knows B runs it.
            let worker = try MultiNodeTests.startWorker(id: "via-b", servers: [b.url], record: dir.path("b.txt"), lease: 30)
            defer { worker.signal(SIGKILL) }
            let viaB = try await b.client.submit(NewTask(kind: "record", args: try RawJSON(validating: "{}")))
            #expect(try await b.client.wait(viaB.id, timeout: .seconds(30)).state == .succeeded)
            // The fleet is the cluster's: A lists the worker that only talks to B (B writes what
            // it heard to the store every 3 s), as B describes it.
            let listed = try await eventually("A to list the worker that talks only to B", within: .seconds(15)) {
                () -> WorkerInfo? in try await a.client.workers().first { $0.worker == "via-b" }
            }
            #expect(listed.transport == "http" && listed.queues == ["default"], "\(listed)")
            #expect(Set(listed.kinds.map(\.name)) == ["record", "gather"], "\(listed.kinds)")
            // `baton workers` likewise: through A, and read from the store itself.
            let throughA = try await baton(["workers", "--server", a.url, "--json"])
            #expect(throughA.status == 0, "\(throughA.stderr)")
            let inJSON = try BatonJSON.decoder().decode(WorkerList.self, from: Data(throughA.stdout.utf8))
            #expect(inJSON.workers.contains { $0.worker == "via-b" && $0.transport == "http" }, "\(throughA.stdout)")
            let fromStore = try await baton(["workers", "--store", store])
            #expect(fromStore.status == 0, "\(fromStore.stderr)")
            let row = fromStore.stdout.split(separator: "\n").first { $0.hasPrefix("via-b ") }.map(String.init) ?? ""
            #expect(fromStore.stdout.hasPrefix("WORKER") && row.contains(" http ") && row.contains(" default "), "\(fromStore.stdout)")

            // 2. A lease rescued by the leader: the worker holding it is SIGKILLed.
            let stranded = try MultiNodeTests.startWorker(
                id: "stranded", servers: [b.url], record: dir.path("stranded.txt"), concurrency: 1, lease: 2, queues: "slow")
            defer { stranded.signal(SIGKILL) }
            let slow = try await b.client.submit(NewTask(kind: "record", args: try RawJSON(validating: #"{"ms":60000}"#), queue: "slow"))
            try await eventually("the stranded worker to hold the slow task", within: .seconds(20)) { () -> Bool? in
                try await b.client.get(slow.id).leaseOwner == "stranded" ? true : nil
            }
            stranded.signal(SIGKILL)

            // 3. A schedule that fires every second (its tasks wait on a queue nobody serves).
            _ = try await b.client.scheduleUpsert(
                ScheduleDefinition(name: "cluster-tick", every: "1s", task: NewTask(kind: "noop", queue: "ticks")))

            let seen = try await eventually("A's stream to show B's completion, the rescue and a fire", within: .seconds(40)) {
                () -> [ServerEvent]? in
                let events = onA.snapshot
                let completed = events.contains { Self.isTransition($0, task: viaB.id, to: "succeeded") }
                let rescued = events.contains {
                    $0.type == "transitioned" && $0.json?["task"]?.stringValue == slow.id.description
                        && $0.json?["lease_expired"] == .bool(true)
                }
                let fired = events.contains { $0.type == "schedule_fired" && $0.json?["schedule"]?.stringValue == "cluster-tick" }
                return completed && rescued && fired ? events : nil
            }
            #expect(onA.failure == nil)
            #expect(!seen.contains { $0.type == "gap" }, "\(seen.filter { $0.type == "gap" })")
            #expect(seen.contains { $0.type == "rescued" })
            let viaBEvents = seen.filter { $0.json?["task"]?.stringValue == viaB.id.description }.map(\.type)
            // (A worker may take the task before the submit's `enqueued` is emitted: docs/api.md#events.)
            #expect(viaBEvents.sorted() == ["claimed", "enqueued", "transitioned"], "\(viaBEvents)")
            #expect(viaBEvents.filter { $0 != "enqueued" } == ["claimed", "transitioned"], "\(viaBEvents)")
            // Each event names the node that emitted it: all of these were B's.
            let emitters = Set(seen.filter { $0.type != "gap" }.map { $0.json?["node"]?.stringValue ?? "(none)" })
            #expect(emitters.count == 1 && emitters.first?.contains("/") == true, "\(emitters)")
            // The cluster's ids, in the order they were streamed.
            let positions = seen.compactMap { $0.id.flatMap { $0.hasPrefix("c.") ? Int64($0.dropFirst(2)) : nil } }
            #expect(positions.count == seen.count, "\(seen.map(\.id))")
            #expect(zip(positions, positions.dropFirst()).allSatisfy { $0 < $1 })

            // Resume on B after the enqueue of the task that ran through B: B streams what A
            // streamed after it, in the same order with the same ids.
            let enqueued = try #require(seen.firstIndex { $0.type == "enqueued" && $0.json?["task"]?.stringValue == viaB.id.description })
            let resumeID = try #require(seen[enqueued].id)
            let onB = Collector(b.client.events(lastEventID: resumeID, timeout: 3))
            try await eventually("B's stream to end", within: .seconds(20)) { onB.ended ? true : nil }
            #expect(onB.failure == nil)
            let resumed = onB.snapshot
            let expected = Array(seen[(enqueued + 1)...])
            #expect(resumed.count >= expected.count)
            #expect(Array(resumed.prefix(expected.count)) == expected, "B resumed with \(resumed.prefix(5)), A had \(expected.prefix(5))")
            #expect(!resumed.contains { $0.type == "gap" })

            // `baton watch` printed the work done through B, with the cluster's ids.
            #expect(try await watch.waitForExit(timeout: .seconds(40)) == 0, "\(watch.stderr)")
            let printed = watch.stdout.split(separator: "\n").compactMap { try? JSONDecoder().decode(JSONValue.self, from: Data($0.utf8)) }
            let watched = printed.filter { $0["data"]?["task"]?.stringValue == viaB.id.description }
            #expect(watched.compactMap { $0["type"]?.stringValue } == viaBEvents, "\(watch.stdout)")
            #expect(watched.last?["data"]?["to"]?.stringValue == "succeeded")
            #expect(watched.allSatisfy { $0["data"]?["node"] == seen.first?.json?["node"] }, "\(watch.stdout)")
            #expect(watched.allSatisfy { $0["id"]?.stringValue?.hasPrefix("c.") == true })

            // An id of another form (a standalone node's `<epoch>-<n>`) resumes from now, with a gap.
            let foreign = Collector(b.client.events(lastEventID: "abc-12", timeout: 1))
            try await eventually("the foreign stream to end", within: .seconds(20)) {
                foreign.ended ? true : nil
            }
            #expect(foreign.snapshot.first?.type == "gap")
        }

        /// The cluster's stream across a PostgreSQL crash (`pg_ctl stop -m immediate`, 3 s down,
        /// then started again) in the middle of a burst of work: node B's publisher keeps the
        /// events it could not append (when the crash falls between a commit and its append) and
        /// appends them once the server is back; a client of node A
        /// that keeps reading (reconnecting with its last event id if its stream ends, as an SSE
        /// client does) sees every task of the burst end, and a task completed through B after
        /// the restart; anything it missed would be marked by a `gap` event, never skipped.
        @Test func theClusterStreamRidesOutAPostgreSQLRestart() async throws {
            guard let store = TestPostgres.storeURL(for: "theClusterStreamRidesOutAPostgreSQLRestart") else { return }
            guard let control = TestPostgres.control, let base = TestPostgres.url(for: "events restart") else {
                if TestPostgres.isCI { Issue.record("BATON_TEST_PG_CTL/PGDATA/PG_USER not set in CI") }
                return
            }
            // An immediate restart under synchronous_commit=off (with-postgres.sh's setting) loses
            // the last commits, events among them; a production server keeps its commits.
            let role = "DO $$ BEGIN EXECUTE format('ALTER ROLE %I IN DATABASE %I %s', current_user, current_database(), '"
            // Another test's reset may still be running ("tuple concurrently deleted"): set it with
            // psql directly, a few times.
            let psql = URL(fileURLWithPath: control.pgCtl).deletingLastPathComponent().appendingPathComponent("psql").path
            _ = try await eventually("synchronous_commit set on", within: .seconds(10)) { () -> Bool? in
                let set = try await runToEnd(
                    psql, [base, "-v", "ON_ERROR_STOP=1", "-qAtc", role + "SET synchronous_commit = on'); END $$"])
                return set.status == 0 ? true : nil
            }
            // Reset before the next test sets it again (a reset left running would race with it).
            do {
                try await Self.ridesOutARestart(store: store, control: control)
            } catch {
                _ = try? await MultiNodeTests.psql(control.pgCtl, url: base, role + "RESET synchronous_commit'); END $$")
                throw error
            }
            try await MultiNodeTests.psql(control.pgCtl, url: base, role + "RESET synchronous_commit'); END $$")
        }

        static func ridesOutARestart(store: String, control: (pgCtl: String, dataDirectory: String, user: String)) async throws {
            let dir = try TempDir()
            let config = dir.path("baton.yaml")
            try "postgres:\n  callTimeout: 2\n".write(toFile: config, atomically: true, encoding: .utf8)
            let nodes = try await MultiNodeTests.startNodes(2, store: store, environment: ["BATON_CONFIG": config])
            defer { for n in nodes { n.process.signal(SIGKILL) } }
            let leader = try await eventually("a node to become leader", within: .seconds(20)) { () -> Int? in
                nodes.firstIndex { $0.process.stderr.contains("became leader") }
            }
            let (a, b) = (nodes[1 - leader], nodes[leader])
            let worker = try MultiNodeTests.startWorker(id: "via-b", servers: [b.url], record: dir.path("b.txt"), lease: 30)
            defer { worker.signal(SIGKILL) }

            // Every stream A gave, in order; a new one from the last id seen when one ends.
            let streams = Mutex<[Collector]>([Collector(a.client.events(timeout: 120))])
            defer { for c in streams.withLock({ $0 }) { c.cancel() } }
            let reconnects = Atomic<Int>(0)
            @Sendable func seen() -> [ServerEvent] {
                streams.withLock { collectors in
                    if let last = collectors.last, last.ended {
                        let lastID = collectors.flatMap(\.snapshot).last { $0.id != nil }?.id
                        collectors.append(Collector(a.client.events(lastEventID: lastID, timeout: 120)))
                        reconnects.add(1, ordering: .relaxed)
                    }
                    return collectors.flatMap(\.snapshot)
                }
            }
            try await Self.probeUntilRead(
                through: b.client, [{ seen().map { $0.json?["task"]?.stringValue ?? "" }.joined(separator: " ") }])
            let before = try await b.client.submit(NewTask(kind: "record", args: try RawJSON(validating: "{}")))
            #expect(try await b.client.wait(before.id, timeout: .seconds(30)).state == .succeeded)
            _ = try await eventually("A to stream the completion before the restart", within: .seconds(20)) { () -> Bool? in
                seen().contains { Self.isTransition($0, task: before.id, to: "succeeded") } ? true : nil
            }

            // A burst through B, and the server stopped while it runs: completions committed just
            // before the database went away are still in B's publisher (it appends every 100 ms),
            // kept while the server is down for 3 s and appended once it is back.
            // Each task takes 300 ms: with 32 at a time the burst lasts about 3 s, so completions
            // are still being reported (every few ms; appended every 100 ms) when the server stops.
            let burst = try await b.client.submit((0..<300).map { _ in NewTask(kind: "record", args: RawJSON(trusted: #"{"ms":300}"#)) })
            try await eventually("the burst to start running", within: .seconds(20)) { () -> Bool? in
                (try? await b.client.get(burst[0].id))?.state.isTerminal == true ? true : nil
            }
            let pg = MultiNodeTests.PostgresControl(control: control, log: dir.path("pg_ctl.log"))
            let options = try pg.postmasterOptions()
            try await pg.ctl(["-m", "immediate", "-w", "stop"])
            try await Task.sleep(for: .seconds(3))
            let took = try await pg.ctl(["-w", "-t", "30", "-o", options, "start"])
            print("events restart: down 3 s, start took \(took.seconds) s")

            // B takes submissions again once its pool reconnected; the task runs through B.
            let after = try await eventually("B to accept a submit after the restart", within: .seconds(30)) { () -> TaskRecord? in
                try? await b.client.submit(NewTask(kind: "record", args: try RawJSON(validating: "{}")))
            }
            let done = try await eventually("the task submitted after the restart to succeed", within: .seconds(60)) { () -> Bool? in
                (try? await b.client.get(after.id))?.state == .succeeded ? true : nil
            }
            #expect(done)
            // Every task of the burst ends (a lease lost in the restart comes back); A streams
            // each one's end, unless a gap says that events were lost.
            for task in burst {
                _ = try await eventually("burst task \(task.id) to end", within: .seconds(90)) { () -> Bool? in
                    (try? await b.client.get(task.id))?.state.isTerminal == true ? true : nil
                }
            }
            let events = try await eventually("A to stream the completions after the restart", within: .seconds(60)) {
                () -> [ServerEvent]? in
                let events = seen()
                let ended = Set(
                    events.filter { $0.type == "transitioned" && $0.json?["to"]?.stringValue == "succeeded" }.compactMap {
                        $0.json?["task"]?.stringValue
                    })
                let all = ended.contains(after.id.description) && burst.allSatisfy { ended.contains($0.id.description) }
                return all || (ended.contains(after.id.description) && events.contains { $0.type == "gap" }) ? events : nil
            }
            // Whether B's publisher had events of its own to keep through the outage depends on
            // where the crash falls between its appends (every 100 ms); when it had, it appended
            // them afterwards. Either way nothing may be missing from A's stream (below).
            let held = b.process.stderr.contains("cannot publish events; keeping them")
            if held { #expect(b.process.stderr.contains("publishing events again"), "\(b.process.stderr.suffix(2000))") }
            print(
                "events restart: B's publisher \(held ? "kept events through the outage and appended them after" : "had nothing to keep")")
            let failures = streams.withLock { $0.compactMap(\.failure) }
            print(
                "events restart: \(events.count) events, \(reconnects.load(ordering: .relaxed)) reconnect(s), gaps: \(events.filter { $0.type == "gap" }.count), failures: \(failures)"
            )
            // In order, no id twice: a resumed stream continues where the last one stopped.
            let ids = events.compactMap(\.id)
            #expect(Set(ids).count == ids.count, "an event streamed twice: \(ids)")
            let afterEvents = events.filter { $0.json?["task"]?.stringValue == after.id.description }.map(\.type)
            // Anything not streamed is marked: either every event of the task after the restart
            // is there, or a gap stands before the first of them.
            if afterEvents.sorted() != ["claimed", "enqueued", "transitioned"] {
                let first = try #require(events.firstIndex { $0.json?["task"]?.stringValue == after.id.description })
                #expect(events[..<first].contains { $0.type == "gap" }, "events of the task lost without a gap: \(afterEvents)")
            }
        }
    }
}
