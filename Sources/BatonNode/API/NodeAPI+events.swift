import BatonCore
import Foundation

/// Which events a reader of `GET /v1/events` (or `event.poll`) wants: every one, or those of
/// a queue, a kind, a task or a workflow. Events that name no task (rescues, schedule fires,
/// leadership) pass only an unfiltered reader. Events that name a task without its queue and
/// kind (progress, some transitions) pass when the task was seen matching earlier (its submit
/// or claim) or belongs to the filtered workflow.
public struct EventFilter: Sendable {
    public var queue: String?
    public var kind: String?
    public var task: TaskID?
    public var workflow: TaskID?
    /// Tasks seen matching the filter (bounded).
    var known: Set<TaskID> = []

    static let maxKnown = 100_000

    public var isEmpty: Bool { queue == nil && kind == nil && task == nil && workflow == nil }

    public mutating func accepts(_ event: NodeEvent) -> Bool {
        if isEmpty {
            if case .storeOperation = event { return false }
            return true
        }
        switch event {
        case .enqueued(let ref), .claimed(let ref, _, _, _):
            return matches(ref.id, queue: ref.queue, kind: ref.kind, workflow: ref.workflowID)
        case .transitioned(let move):
            if let queue = move.queue, let kind = move.kind { return matches(move.id, queue: queue, kind: kind, workflow: nil) }
            return known.contains(move.id) || move.id == task
        case .progressed(let id, _):
            return known.contains(id) || id == task
        case .rescued, .scheduleFired, .leadershipChanged, .storeOperation:
            return false
        }
    }

    private mutating func matches(_ id: TaskID, queue: String, kind: String, workflow: TaskID?) -> Bool {
        if let task, id != task { return false }
        if let want = self.queue, want != queue { return false }
        if let want = self.kind, want != kind { return false }
        if let want = self.workflow, workflow != want, !known.contains(id) { return false }
        if known.count >= Self.maxKnown { known.removeAll(keepingCapacity: true) }
        known.insert(id)
        return true
    }
}

/// Events read from the journal: each with its id, whether some were lost before them, and
/// the id to resume after.
public struct EventBatch: Sendable {
    /// Each event with its id and, on a cluster, the node that emitted it (its name in the
    /// cluster's log); `nil` on a node alone.
    public var events: [(id: String, event: NodeEvent, node: String?)]
    public var gap: Bool
    public var lastEventID: String
    /// The read reached the end of what was recorded (its last page was not full): a reader
    /// that pauses before reading again misses nothing and falls no further behind. `false`
    /// when more events were waiting, accepted by the filter or not.
    public var caughtUp: Bool
}

extension NodeAPI {
    /// A filter from a request's parameters, checked; a workflow's current tasks are loaded
    /// (404 for an unknown workflow).
    public func eventFilter(queue: String?, kind: String?, task: String?, workflow: String?) async throws -> EventFilter {
        var filter = EventFilter()
        if let queue, !queue.isEmpty {
            try Self.checkQueueName(queue)
            filter.queue = queue
        }
        if let kind, !kind.isEmpty {
            try NewTask.validateName(kind, field: "kind", maxLength: Limits.maxKindLength)
            filter.kind = kind
        }
        if let task, !task.isEmpty { filter.task = try Self.taskID(task) }
        if let workflow, !workflow.isEmpty {
            let id = try Self.taskID(workflow)
            filter.workflow = id
            filter.known = Set(try await self.workflow(id).nodes.map(\.id))
        }
        return filter
    }

    /// Starts a reader of the node's events at `lastEventID` (a client's `Last-Event-ID`;
    /// `nil`: from now). `gap`: the id is not one the stream can resume from. Call
    /// ``endEvents()`` when the reader leaves.
    ///
    /// On a store with a cluster event log (PostgreSQL) the reader follows the log, which holds
    /// the events of every node (``ClusterEventFeed``); otherwise the node's own journal.
    public func beginEvents(lastEventID: String?) async throws -> (cursor: EventCursor, gap: Bool) {
        let start = try await startReader(lastEventID: lastEventID)
        node.eventStreams.opened()
        return start
    }

    private func startReader(lastEventID: String?) async throws -> (cursor: EventCursor, gap: Bool) {
        let requested = lastEventID.flatMap { $0.isEmpty ? nil : $0 }
        if let cluster = node.cluster {
            // This node publishes from here on: its events after the cursor are all in the log.
            await cluster.beginReader()
            let last: Int64
            do {
                last = try await cluster.lastPosition()
            } catch {
                cluster.endReader()
                throw error
            }
            guard let requested else {
                return (EventCursor(position: last, quietUntil: ContinuousClock.now + ClusterEventFeed.startGrace), false)
            }
            guard let position = ClusterEventFeed.position(fromLastEventID: requested), position <= last else {
                return (EventCursor(position: last), true)
            }
            return (EventCursor(position: position), false)
        }
        let journal = node.journal
        journal.beginReader()
        let last = EventCursor(position: Int64(clamping: journal.lastSequence))
        guard let requested else { return (last, false) }
        guard let sequence = journal.cursor(fromLastEventID: requested) else { return (last, true) }
        return (EventCursor(position: Int64(clamping: sequence)), false)
    }

    public func endEvents() {
        node.eventStreams.closed()
        if let cluster = node.cluster {
            cluster.endReader()
        } else {
            node.journal.endReader()
        }
    }

    /// The events after `cursor` that `filter` accepts, waiting up to `timeout` for one;
    /// `cursor` moves past everything read (accepted or not). Returns early, empty, when the
    /// node is stopping.
    public func readEvents(after cursor: inout EventCursor, filter: inout EventFilter, timeout: Duration) async -> EventBatch {
        if let cluster = node.cluster { return await readClusterEvents(cluster, after: &cursor, filter: &filter, timeout: timeout) }
        let journal = node.journal
        let deadline = ContinuousClock.now + timeout
        var gap = false
        var sequence = UInt64(clamping: cursor.position)
        defer { cursor.position = Int64(clamping: sequence) }
        while true {
            let page = journal.read(after: sequence, max: EventJournal.pageSize)
            gap = gap || page.gap
            sequence = page.next
            let accepted = page.entries.filter { filter.accepts($0.event) }
            let remaining = deadline - ContinuousClock.now
            if !accepted.isEmpty || gap || remaining <= .zero || journal.isClosed || Task.isCancelled {
                return EventBatch(
                    events: accepted.map { (journal.id($0.sequence), $0.event, nil) }, gap: gap, lastEventID: journal.id(sequence),
                    caughtUp: page.entries.count < EventJournal.pageSize)
            }
            if page.entries.isEmpty { await journal.wait(after: sequence, timeout: remaining) }
        }
    }

    /// ``readEvents(after:filter:timeout:)`` over the cluster's log. A node's publishing
    /// marker is a gap (what it did before was not published), except for a reader that
    /// started from now within ``ClusterEventFeed/startGrace``: events are reported up to the
    /// marker, the gap with what follows it.
    private func readClusterEvents(
        _ cluster: ClusterEventFeed, after cursor: inout EventCursor, filter: inout EventFilter, timeout: Duration
    ) async -> EventBatch {
        let deadline = ContinuousClock.now + timeout
        var gap = false
        var accepted: [(id: String, event: NodeEvent, node: String?)] = []
        var caughtUp = true
        func batch() -> EventBatch {
            EventBatch(events: accepted, gap: gap, lastEventID: ClusterEventFeed.id(cursor.position), caughtUp: caughtUp)
        }
        while true {
            let generation = cluster.generation
            let page: ClusterEventFeed.Page
            do {
                page = try await cluster.read(after: cursor.position, limit: ClusterEventFeed.pageSize)
            } catch {
                // The database is unreachable: the stream stays open and tries again.
                try? await Task.sleep(for: min(.seconds(1), max(.zero, deadline - ContinuousClock.now)))
                return batch()
            }
            gap = gap || page.gap
            caughtUp = page.items.count < ClusterEventFeed.pageSize
            if let quiet = cursor.quietUntil, ContinuousClock.now >= quiet { cursor.quietUntil = nil }
            for (position, item) in page.items {
                switch item {
                case .event(let event, let node):
                    if filter.accepts(event) { accepted.append((ClusterEventFeed.id(position), event, node)) }
                case .unreadable:
                    break
                case .marker:
                    guard cursor.quietUntil == nil else { break }
                    // The gap belongs before what follows the marker: report what came before it first.
                    if !accepted.isEmpty {
                        caughtUp = false
                        return batch()
                    }
                    gap = true
                }
                cursor.position = position
            }
            let remaining = deadline - ContinuousClock.now
            if !accepted.isEmpty || gap || remaining <= .zero || cluster.isClosed || Task.isCancelled { return batch() }
            if page.items.isEmpty { await cluster.wait(after: generation, timeout: remaining) }
        }
    }

    /// Whether the node is stopping (an event stream ends).
    public var eventsClosed: Bool { node.journal.isClosed || (node.cluster?.isClosed ?? false) }
}

/// Where a reader of the event stream is: the position of the last event it got (a sequence
/// of the node's journal, or an id of the cluster's log).
public struct EventCursor: Sendable {
    public var position: Int64
    /// A reader that started from now ignores the publishing markers of other nodes until then
    /// (``ClusterEventFeed/startGrace``).
    public var quietUntil: ContinuousClock.Instant?

    public init(position: Int64, quietUntil: ContinuousClock.Instant? = nil) {
        self.position = position
        self.quietUntil = quietUntil
    }
}
