import BatonCore
import BatonTesting
import Foundation
import Synchronization
import Testing

@testable import BatonPostgres

/// The cluster's event log on PostgreSQL (migration 007, `PostgresTaskStore+events.swift`):
/// ids in commit order under concurrent appenders, resumption after a cursor, pruning and the
/// gap it gives, reader registrations, and the notifications between stores.
@Suite("PostgreSQL event log", .serialized, .enabled(if: TestPostgres.enabled(for: "PostgresEventLogTests")))
struct PostgresEventLogTests {
    static func records(node: String, _ range: Range<Int>) -> [ClusterEventRecord] {
        range.map { i in
            ClusterEventRecord(node: node, type: "rescued", task: i % 2 == 0 ? TaskID.generate() : nil, data: #"{"count":\#(i)}"#)
        }
    }

    /// Several appenders at once, and a reader that reads `id > cursor` all along: the reader
    /// gets every event exactly once, in id order, and each appender's events in the order it
    /// appended them. (Without the append lock a reader can pass a lower id that commits late.)
    @Test func concurrentAppendsAreReadInCommitOrderWithoutSkips() async throws {
        guard let configuration = try TestPostgres.configuration(poolSize: 8) else { return }
        try await TestPostgres.withStore(configuration) { store in
            let appenders = 6
            let batches = 40
            let perBatch = 7
            let total = appenders * batches * perBatch
            let done = Atomic<Bool>(false)
            async let seen: [ClusterEventRecord] = {
                var cursor: Int64 = 0
                var seen: [ClusterEventRecord] = []
                while seen.count < total {
                    let finished = done.load(ordering: .acquiring)
                    let page = try await store.eventRead(EventReadParams(after: cursor, limit: 50))
                    #expect(!page.gap)
                    seen += page.records
                    if let last = page.records.last { cursor = last.id }
                    if page.records.isEmpty && finished { break }
                }
                return seen
            }()
            try await withThrowingTaskGroup(of: Void.self) { group in
                for a in 0..<appenders {
                    group.addTask {
                        for b in 0..<batches {
                            let start = b * perBatch
                            try await store.eventAppend(EventAppendParams(records: Self.records(node: "n\(a)", start..<(start + perBatch))))
                        }
                    }
                }
                try await group.waitForAll()
            }
            done.store(true, ordering: .releasing)
            let read = try await seen
            #expect(read.count == total, "read \(read.count) of \(total) events")
            let ascending = zip(read, read.dropFirst()).allSatisfy { $0.id < $1.id }
            #expect(ascending, "ids out of order")
            for a in 0..<appenders {
                let mine = read.filter { $0.node == "n\(a)" }.map(\.data)
                let inOrder = mine == Self.records(node: "n\(a)", 0..<(batches * perBatch)).map(\.data)
                #expect(inOrder, "appender \(a): \(mine.count) of \(batches * perBatch) read, not all in order")
            }
            #expect(try await store.eventLastID() == read.last?.id)
        }
    }

    @Test func aReaderResumesAfterItsCursor() async throws {
        guard let configuration = try TestPostgres.configuration() else { return }
        try await TestPostgres.withStore(configuration) { store in
            #expect(try await store.eventLastID() == 0)
            #expect(try await store.eventRead(EventReadParams(after: 0)).records.isEmpty)
            try await store.eventAppend(EventAppendParams(records: Self.records(node: "a", 0..<5)))
            let all = try await store.eventRead(EventReadParams(after: 0)).records
            #expect(all.map(\.data) == Self.records(node: "a", 0..<5).map(\.data))
            #expect(all.allSatisfy { $0.node == "a" && $0.type == "rescued" })
            let after = try await store.eventRead(EventReadParams(after: all[2].id))
            #expect(after.records.map(\.id) == [all[3].id, all[4].id])
            #expect(!after.gap)
            let limited = try await store.eventRead(EventReadParams(after: 0, limit: 2))
            #expect(limited.records.map(\.id) == [all[0].id, all[1].id])
            #expect(try await store.eventLastID() == all[4].id)
        }
    }

    /// Pruning deletes a prefix of the log older than the window; a cursor before its end gets
    /// a gap, one at or after it does not, and the last id never goes back.
    @Test func pruningGivesOlderCursorsAGap() async throws {
        guard let configuration = try TestPostgres.configuration() else { return }
        try await TestPostgres.withStore(configuration) { store in
            try await store.eventAppend(EventAppendParams(records: Self.records(node: "a", 0..<6)))
            let all = try await store.eventRead(EventReadParams(after: 0)).records
            let table = "\"\(configuration.schema)\".event_log"
            _ = try await store.queryForTesting("UPDATE \(table) SET at = now() - interval '1 hour' WHERE id <= \(all[3].id)")
            #expect(try await store.eventPrune(EventPruneParams(olderThan: .seconds(600))) == 4)
            #expect(try await store.eventPrune(EventPruneParams(olderThan: .seconds(600))) == 0)

            let fromStart = try await store.eventRead(EventReadParams(after: 0))
            #expect(fromStart.gap)
            #expect(fromStart.records.map(\.id) == [all[4].id, all[5].id])
            #expect(try await store.eventRead(EventReadParams(after: all[2].id)).gap)
            let fromPruned = try await store.eventRead(EventReadParams(after: all[3].id))
            #expect(!fromPruned.gap)
            #expect(fromPruned.records.count == 2)

            _ = try await store.queryForTesting("UPDATE \(table) SET at = now() - interval '1 hour'")
            #expect(try await store.eventPrune(EventPruneParams(olderThan: .seconds(600))) == 2)
            #expect(try await store.eventLastID() == all[5].id)
            let empty = try await store.eventRead(EventReadParams(after: all[5].id))
            #expect(empty.records.isEmpty && !empty.gap)
        }
    }

    /// A registration counts until it expires; announcing it wakes the other stores' reader
    /// signal, and an append wakes their event signal (LISTEN/NOTIFY between two stores).
    @Test func registrationsExpireAndNotificationsReachOtherStores() async throws {
        guard let configuration = try TestPostgres.configuration() else { return }
        try await TestPostgres.withStore(configuration) { store in
            try await PostgresTaskStore.withStore(configuration, logger: TestPostgres.logger) { other in
                // The other store's listener is connected once it fired its signals the first time.
                try await eventually("the other store listens", within: .seconds(10)) { () -> Bool? in
                    other.eventSignal.generation > 0 && other.eventReaderSignal.generation > 0 ? true : nil
                }
                #expect(try await !store.eventReadersActive())
                let readers = other.eventReaderSignal.generation
                let events = other.eventSignal.generation
                try await store.eventReaderRenew(EventReaderRenewParams(node: "a", ttl: .seconds(1.5), announce: true))
                #expect(try await other.eventReadersActive())
                try await eventually("the announcement", within: .seconds(5)) { () -> Bool? in
                    other.eventReaderSignal.generation != readers ? true : nil
                }
                #expect(other.eventSignal.generation == events, "a registration is not an event")
                try await store.eventAppend(EventAppendParams(records: Self.records(node: "a", 0..<1)))
                try await eventually("the append's notification", within: .seconds(5)) { () -> Bool? in
                    other.eventSignal.generation != events ? true : nil
                }
                try await Task.sleep(for: .seconds(1.6))
                #expect(try await !store.eventReadersActive(), "the registration expired")
            }
        }
    }
}
