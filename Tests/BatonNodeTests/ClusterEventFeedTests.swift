import BatonCore
import BatonNode
import BatonTesting
import Foundation
import Synchronization
import Testing

/// The cluster's event stream on a node (``ClusterEventFeed``) over an in-memory log: it
/// publishes only while a reader is registered, starts each publishing period with a marker,
/// and reads back the events as the stream carries them. (The PostgreSQL log itself is tested
/// by `PostgresEventLogTests`, the whole over real processes by `EndToEnd.ClusterEventsTests`.)
@Suite struct ClusterEventFeedTests {
    /// A ``ClusterEventLog`` in memory: ids in append order, registrations by the wall clock.
    final class MemoryEventLog: ClusterEventLog {
        struct State {
            var records: [ClusterEventRecord] = []
            /// When each record was appended, for pruning.
            var appended: [ContinuousClock.Instant] = []
            var readers: [String: ContinuousClock.Instant] = [:]
            var prunedThrough: Int64 = 0
        }
        let state = Mutex(State())
        /// Appends fail while set (the database is unreachable).
        let failing = Atomic<Bool>(false)
        let eventSignal = ReadySignal()
        let eventReaderSignal = ReadySignal()

        var records: [ClusterEventRecord] { state.withLock { $0.records } }

        func eventAppend(_ p: EventAppendParams) async throws {
            if failing.load(ordering: .relaxed) { throw BatonError.unavailable("database unreachable (test)") }
            state.withLock { s in
                for var record in p.records {
                    record.id = (s.records.last?.id ?? s.prunedThrough) + 1
                    s.records.append(record)
                    s.appended.append(.now)
                }
            }
            eventSignal.notify()
        }

        func eventRead(_ p: EventReadParams) async throws -> ClusterEventPage {
            state.withLock { s in
                ClusterEventPage(records: Array(s.records.filter { $0.id > p.after }.prefix(p.limit)), gap: p.after < s.prunedThrough)
            }
        }

        func eventLastID() async throws -> Int64 { state.withLock { $0.records.last?.id ?? $0.prunedThrough } }

        func eventReaderRenew(_ p: EventReaderRenewParams) async throws {
            state.withLock { $0.readers[p.node] = .now + p.ttl }
            if p.announce { eventReaderSignal.notify() }
        }

        func eventReadersActive() async throws -> Bool { state.withLock { s in s.readers.values.contains { $0 > .now } } }

        /// Pruning calls, and the records each deleted.
        let prunes = Mutex<[Int]>([])

        func eventPrune(_ p: EventPruneParams) async throws -> Int {
            let deleted = state.withLock { s -> Int in
                let old = s.appended.prefix { ContinuousClock.now - $0 > p.olderThan }.count
                if old > 0 { s.prunedThrough = s.records[old - 1].id }
                s.records.removeFirst(old)
                s.appended.removeFirst(old)
                return old
            }
            prunes.withLock { $0.append(deleted) }
            return deleted
        }
    }

    static let id = TaskID.generate()
    static let workflow = TaskID.generate()

    /// Every event the stream carries, with values that survive the JSON's milliseconds.
    static let samples: [NodeEvent] = [
        .enqueued(TaskRef(id: id, queue: "mail", kind: "email.send", workflowID: workflow)),
        .enqueued(TaskRef(id: id, queue: "default", kind: "k")),
        .claimed(TaskRef(id: id, queue: "mail", kind: "email.send"), attempt: 2, worker: "w \"1\"", wait: .milliseconds(1500)),
        .transitioned(
            TaskTransition(
                id: id, from: .running, to: .pending, attempt: 2, queue: "mail", kind: "email.send", run: .milliseconds(250),
                leaseExpired: true)),
        .transitioned(TaskTransition(id: id, from: nil, to: .cancelled)),
        .progressed(id, TaskProgress(fraction: 0.5, message: "half\nway")),
        .progressed(id, TaskProgress(fraction: 1)),
        .rescued(count: 3),
        .scheduleFired(schedule: "tick", tasks: 2),
        .leadershipChanged(isLeader: true),
        .leadershipChanged(isLeader: false),
    ]

    @Test func eventsReadBackFromTheirStreamForm() throws {
        for event in Self.samples {
            let (type, data) = try #require(NodeEventJSON.encode(event))
            #expect(NodeEventJSON.decode(type: type, data: String(decoding: data, as: UTF8.self)) == event, "\(type)")
        }
        #expect(NodeEventJSON.encode(.storeOperation(.claim, took: .seconds(1))) == nil)
        #expect(NodeEventJSON.decode(type: "rescued", data: "{") == nil)
        #expect(NodeEventJSON.decode(type: "future", data: "{}") == nil)
    }

    @Test func idsOfTheLogAreTheirOwnForm() {
        #expect(ClusterEventFeed.id(42) == "c.42")
        #expect(ClusterEventFeed.position(fromLastEventID: "c.42") == 42)
        for foreign in ["abc-42", "42", "c.", "c.-1", "c.x"] { #expect(ClusterEventFeed.position(fromLastEventID: foreign) == nil) }
    }

    /// While appends fail the node keeps its events (up to a bound) and appends them, in order,
    /// once the log is back.
    @Test func eventsWaitForTheLogWhileItIsUnreachable() async throws {
        let log = MemoryEventLog()
        let events = NodeEvents()
        let feed = ClusterEventFeed(log: log, events: events, leadership: AlwaysLeader(), window: LiveSetting(.seconds(600)))
        let running = Task { try await feed.run() }
        defer { running.cancel() }
        // Unreachable before the reader registers: the period's marker must not slip in first.
        log.failing.store(true, ordering: .relaxed)
        await feed.beginReader()
        defer { feed.endReader() }
        let emitted = (0..<50).map { NodeEvent.rescued(count: $0) }
        for event in emitted {
            events.emit(event)
            try await Task.sleep(for: .milliseconds(5))
        }
        try await Task.sleep(for: .milliseconds(300))
        #expect(log.records.isEmpty)
        log.failing.store(false, ordering: .relaxed)
        try await eventually("the events in the log", within: .seconds(5)) { () -> Bool? in
            log.records.count == emitted.count + 1 ? true : nil
        }
        #expect(log.records.first?.type == ClusterEventRecord.publishingMarker)
        let read = try await feed.read(after: 1).items.compactMap { item -> NodeEvent? in
            if case .event(let event, let node) = item.item, node == feed.node { return event }
            return nil
        }
        #expect(read == emitted)
    }

    @Test func aNodePublishesOnlyWhileAReaderIsRegistered() async throws {
        let log = MemoryEventLog()
        let events = NodeEvents()
        let feed = ClusterEventFeed(
            log: log, events: events, leadership: AlwaysLeader(), window: LiveSetting(.seconds(600)), linger: .seconds(3))
        let running = Task { try await feed.run() }
        defer { running.cancel() }

        try await Task.sleep(for: .milliseconds(300))
        #expect(!events.isObserved, "nobody reads: the node keeps its fast path")
        events.emit(.rescued(count: 1))

        await feed.beginReader()
        #expect(try await log.eventReadersActive())
        try await eventually("the node to publish", within: .seconds(5)) { () -> Bool? in events.isObserved ? true : nil }
        events.emit(Self.samples)
        events.emit(.storeOperation(.claim, took: .milliseconds(1)))
        try await eventually("the events in the log", within: .seconds(5)) { () -> Bool? in
            log.records.count == Self.samples.count + 1 ? true : nil
        }
        let page = try await feed.read(after: 0)
        #expect(!page.gap)
        guard case .marker(let node) = page.items.first?.item else {
            Issue.record("the first record is not the publishing marker: \(page.items.first.map { "\($0.item)" } ?? "none")")
            return
        }
        #expect(node == feed.node)
        let read = page.items.dropFirst().compactMap { item -> NodeEvent? in
            if case .event(let event, let node) = item.item, node == feed.node { return event }
            return nil
        }
        #expect(read == Self.samples)
        #expect(page.items.map(\.position) == Array(1...Int64(Self.samples.count + 1)))
        #expect(log.records.allSatisfy { $0.node == feed.node })
        #expect(log.records[1].queue == "mail" && log.records[1].workflow == Self.workflow && log.records[1].task == Self.id)

        // The last reader leaves: the registration lingers (a client may reconnect), so the
        // node goes on publishing until it expires (3 s: a stalled machine still checks in time).
        feed.endReader()
        try await Task.sleep(for: .milliseconds(300))
        #expect(events.isObserved)
        try await eventually("the node to stop publishing", within: .seconds(10)) { () -> Bool? in !events.isObserved ? true : nil }
        let before = log.records.count
        events.emit(.rescued(count: 9))
        try await Task.sleep(for: .milliseconds(300))
        #expect(log.records.count == before)

        // A new period starts with a new marker.
        await feed.beginReader()
        try await eventually("the node to publish again", within: .seconds(5)) { () -> Bool? in events.isObserved ? true : nil }
        events.emit(.rescued(count: 10))
        try await eventually("the new period in the log", within: .seconds(5)) { () -> Bool? in
            log.records.count == before + 2 ? true : nil
        }
        #expect(log.records.suffix(2).map(\.type) == [ClusterEventRecord.publishingMarker, "rescued"])
        feed.endReader()
    }

    /// A leadership that tests switch.
    final class SwitchedLeadership: Leadership {
        let leads = Atomic<Bool>(false)
        func isLeader() async -> Bool { leads.load(ordering: .relaxed) }
    }

    /// Only the leader prunes, every `pruneEvery`, what is older than the window; a reader
    /// whose cursor was pruned gets a gap, one after it does not.
    @Test func theLeaderPrunesWhatIsOlderThanTheWindow() async throws {
        let log = MemoryEventLog()
        let events = NodeEvents()
        let leadership = SwitchedLeadership()
        let feed = ClusterEventFeed(
            log: log, events: events, leadership: leadership, window: LiveSetting(.milliseconds(400)), pruneEvery: .milliseconds(100))
        let running = Task { try await feed.run() }
        defer { running.cancel() }
        await feed.beginReader()
        defer { feed.endReader() }
        events.emit((0..<5).map { NodeEvent.rescued(count: $0) })
        try await eventually("the events in the log", within: .seconds(5)) { () -> Bool? in log.records.count == 6 ? true : nil }

        // A follower keeps everything however old.
        try await Task.sleep(for: .milliseconds(800))
        #expect(log.records.count == 6)
        #expect(log.prunes.withLock { $0.isEmpty }, "a follower never prunes")

        leadership.leads.store(true, ordering: .relaxed)
        events.emit(.rescued(count: 99))
        try await eventually("the leader to prune the old events", within: .seconds(5)) { () -> Bool? in
            log.records.map(\.type) == ["rescued"] ? true : nil
        }
        #expect(try await feed.read(after: 0).gap, "a cursor before the pruned events has lost some")
        #expect(try await feed.read(after: 6).gap == false)
        #expect(try await feed.read(after: 6).items.count == 1)
    }

    /// Events beyond ``ClusterEventFeed/maxBuffered`` while the log is unreachable are
    /// dropped, never silently: once the log is back, every loss sits behind a marker that
    /// counts it, and what was kept is in order, once.
    @Test func aBufferOverflowIsMarked() async throws {
        let log = MemoryEventLog()
        let events = NodeEvents()
        let feed = ClusterEventFeed(log: log, events: events, leadership: AlwaysLeader(), window: LiveSetting(.seconds(600)))
        let running = Task { try await feed.run() }
        defer { running.cancel() }
        log.failing.store(true, ordering: .relaxed)
        await feed.beginReader()
        defer { feed.endReader() }
        let emitted = ClusterEventFeed.maxBuffered + 500
        for start in stride(from: 0, to: emitted, by: 20_000) {
            events.emit((start..<min(emitted, start + 20_000)).map { NodeEvent.rescued(count: $0) })
            try await Task.sleep(for: .milliseconds(120))
        }
        #expect(log.records.isEmpty)
        log.failing.store(false, ordering: .relaxed)
        try await eventually("the log to hold the last event kept", within: .seconds(30)) { () -> Bool? in
            log.records.contains { $0.type == "rescued" } ? true : nil
        }
        try await Task.sleep(for: .milliseconds(300))

        var kept: [Int] = []
        var dropped = 0
        var lossMarked = false
        for record in log.records {
            if record.type == ClusterEventRecord.publishingMarker {
                let count = try #require(Int(record.data.filter(\.isNumber)), "\(record.data)")
                dropped += count
                if count > 0 { lossMarked = true }
                continue
            }
            guard case .rescued(let n) = NodeEventJSON.decode(type: record.type, data: record.data) else {
                Issue.record("unexpected record \(record.type)")
                continue
            }
            // A skip in the sequence must come after a marker that counted a loss.
            if n != (kept.last.map { $0 + 1 } ?? 0) {
                #expect(lossMarked, "events \(kept.last.map { $0 + 1 } ?? 0)..<\(n) lost without a marker")
            }
            #expect(n > (kept.last ?? -1), "out of order or twice: \(n) after \(kept.last ?? -1)")
            kept.append(n)
            lossMarked = false
        }
        #expect(kept.count <= ClusterEventFeed.maxBuffered)
        #expect(kept.count < emitted, "the bound held")
        #expect(kept.count + dropped >= emitted, "\(emitted - kept.count) events lost, \(dropped) counted")
        if kept.last != emitted - 1 { #expect(log.records.last?.type == ClusterEventRecord.publishingMarker) }
    }
}
