import BatonCore
import BatonTesting
import Foundation
import Testing

@testable import BatonPostgres

/// The cluster's worker directory on PostgreSQL (migration 012, `PostgresTaskStore+workers.swift`):
/// what nodes write of the workers they heard from, merged per worker, listed by time, pruned.
@Suite("PostgreSQL worker directory", .serialized, .enabled(if: TestPostgres.enabled(for: "PostgresWorkerDirectoryTests")))
struct PostgresWorkerDirectoryTests {
    static func info(_ id: String, queues: [String], first: Date, last: Date, running: Int = 0, retry: RetryPolicy? = nil) -> WorkerInfo {
        WorkerInfo(
            worker: id, queues: queues, kinds: [KindAnnouncement(name: "echo", retry: retry)], concurrency: 8, running: running,
            version: "test", transport: "http", firstSeen: first, lastSeen: last)
    }

    static func near(_ a: Date?, _ b: Date) -> Bool { a.map { abs($0.timeIntervalSince(b)) < 0.001 } ?? false }

    /// Two nodes report one worker: the description heard last wins whatever the order of the
    /// writes, the first sighting is the earliest of all, `since` filters, and records not seen
    /// for `keep` go.
    @Test func recordsKeepTheLatestDescriptionTheEarliestSightingAndGoWhenStale() async throws {
        guard let configuration = try TestPostgres.configuration() else { return }
        try await TestPostgres.withStore(configuration) { store in
            let t0 = Date(timeIntervalSince1970: (Date().timeIntervalSince1970 - 100).rounded())
            let policy = RetryPolicy.fixed(.seconds(7))
            // Node A heard w1 last at t0+20; w2 at t0+6.
            try await store.workersRecord(
                WorkersRecordParams(workers: [
                    Self.info(
                        "w1", queues: ["a"], first: t0.addingTimeInterval(1), last: t0.addingTimeInterval(20), running: 2, retry: policy),
                    Self.info("w2", queues: ["b"], first: t0.addingTimeInterval(5), last: t0.addingTimeInterval(6)),
                ]))
            // Node B heard w1 earlier (its write arrives later): older news changes only the first sighting.
            try await store.workersRecord(
                WorkersRecordParams(workers: [Self.info("w1", queues: ["x"], first: t0, last: t0.addingTimeInterval(10))]))
            var seen = try await store.workersSeen(since: t0)
            #expect(seen.map(\.worker) == ["w1", "w2"])
            var w1 = try #require(seen.first)
            #expect(w1.queues == ["a"] && w1.running == 2 && w1.version == "test" && w1.transport == "http", "\(w1)")
            #expect(w1.kinds == [KindAnnouncement(name: "echo", retry: policy)], "\(w1.kinds)")
            #expect(Self.near(w1.firstSeen, t0) && Self.near(w1.lastSeen, t0.addingTimeInterval(20)), "\(w1)")

            // B hears w1 again, later: its description wins.
            try await store.workersRecord(
                WorkersRecordParams(workers: [
                    Self.info("w1", queues: ["y"], first: t0.addingTimeInterval(15), last: t0.addingTimeInterval(30))
                ]))
            seen = try await store.workersSeen(since: t0.addingTimeInterval(7))
            #expect(seen.map(\.worker) == ["w1"], "w2 was last seen before the cut")
            w1 = try #require(seen.first)
            #expect(
                w1.queues == ["y"] && w1.running == 0 && Self.near(w1.firstSeen, t0) && Self.near(w1.lastSeen, t0.addingTimeInterval(30)))

            // A write prunes what nobody saw for `keep`: w2 (94 s ago) goes, w1 (70 s ago) stays.
            let now = Date()
            try await store.workersRecord(
                WorkersRecordParams(workers: [Self.info("w3", queues: ["c"], first: now, last: now)], keep: .seconds(80)))
            seen = try await store.workersSeen(since: .distantPast)
            #expect(seen.map(\.worker) == ["w1", "w3"])
        }
    }

    /// The merge a node makes of the directory and its own registry: one record per worker,
    /// the newer description, the earlier first sighting.
    @Test func mergingPrefersTheNewerRecord() {
        let t0 = Date(timeIntervalSince1970: 1_000_000)
        let merged = WorkerInfo.merged(
            [
                Self.info("a", queues: ["old"], first: t0, last: t0.addingTimeInterval(5)),
                Self.info("c", queues: ["c"], first: t0, last: t0),
            ],
            [
                Self.info("a", queues: ["new"], first: t0.addingTimeInterval(2), last: t0.addingTimeInterval(9)),
                Self.info("b", queues: ["b"], first: t0, last: t0),
            ])
        #expect(merged.map(\.worker) == ["a", "b", "c"])
        #expect(merged.first?.queues == ["new"] && merged.first?.firstSeen == t0 && merged.first?.lastSeen == t0.addingTimeInterval(9))
    }
}
