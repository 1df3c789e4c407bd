import BatonClient
import BatonCore
import BatonTesting
import Foundation
import Synchronization
import Testing

extension EndToEnd {
    /// `GET /v1/events` across a cluster: two `baton serve` processes on one PostgreSQL schema.
    /// A client of the follower A sees a task submitted and completed through the leader B (by a
    /// worker that only knows B), a lease rescued by B after its worker was SIGKILLed, and B's
    /// schedule fires; then B, given an event id seen on A, streams what A streamed after it.
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
            try await Task.sleep(for: .seconds(2.5))

            // 1. Submitted and completed through B: a worker that only knows B runs it.
            let worker = try MultiNodeTests.startWorker(id: "via-b", servers: [b.url], record: dir.path("b.txt"), lease: 30)
            defer { worker.signal(SIGKILL) }
            let viaB = try await b.client.submit(NewTask(kind: "record", args: try RawJSON(validating: "{}")))
            #expect(try await b.client.wait(viaB.id, timeout: .seconds(30)).state == .succeeded)

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
            #expect(viaBEvents == ["enqueued", "claimed", "transitioned"], "\(viaBEvents)")
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
            #expect(watched.map { $0["type"]?.stringValue } == ["enqueued", "claimed", "transitioned"], "\(watch.stdout)")
            #expect(watched.last?["data"]?["to"]?.stringValue == "succeeded")
            #expect(watched.allSatisfy { $0["id"]?.stringValue?.hasPrefix("c.") == true })

            // An id of another form (a standalone node's `<epoch>-<n>`) resumes from now, with a gap.
            let foreign = Collector(b.client.events(lastEventID: "abc-12", timeout: 1))
            try await eventually("the foreign stream to end", within: .seconds(20)) {
                foreign.ended ? true : nil
            }
            #expect(foreign.snapshot.first?.type == "gap")
        }
    }
}
