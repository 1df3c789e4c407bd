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

        func eventPrune(_ p: EventPruneParams) async throws -> Int { 0 }
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
        await feed.beginReader()
        defer { feed.endReader() }
        log.failing.store(true, ordering: .relaxed)
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
            if case .event(let event) = item.item { return event }
            return nil
        }
        #expect(read == emitted)
    }

    @Test func aNodePublishesOnlyWhileAReaderIsRegistered() async throws {
        let log = MemoryEventLog()
        let events = NodeEvents()
        let feed = ClusterEventFeed(
            log: log, events: events, leadership: AlwaysLeader(), window: LiveSetting(.seconds(600)), linger: .seconds(1.5))
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
            if case .event(let event) = item.item { return event }
            return nil
        }
        #expect(read == Self.samples)
        #expect(page.items.map(\.position) == Array(1...Int64(Self.samples.count + 1)))
        #expect(log.records.allSatisfy { $0.node == feed.node })
        #expect(log.records[1].queue == "mail" && log.records[1].workflow == Self.workflow && log.records[1].task == Self.id)

        // The last reader leaves: the registration lingers (a client may reconnect), so the
        // node goes on publishing until it expires.
        feed.endReader()
        try await Task.sleep(for: .milliseconds(300))
        #expect(events.isObserved)
        try await eventually("the node to stop publishing", within: .seconds(5)) { () -> Bool? in !events.isObserved ? true : nil }
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
}
