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
    public var events: [(id: String, event: NodeEvent)]
    public var gap: Bool
    public var lastEventID: String
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

    /// Starts a reader of the node's event journal at `lastEventID` (a client's
    /// `Last-Event-ID`; `nil`: from now). `gap`: the id is not one the journal can resume from.
    /// Call ``endEvents()`` when the reader leaves.
    public func beginEvents(lastEventID: String?) -> (cursor: UInt64, gap: Bool) {
        let journal = node.journal
        journal.beginReader()
        guard let lastEventID, !lastEventID.isEmpty else { return (journal.lastSequence, false) }
        guard let cursor = journal.cursor(fromLastEventID: lastEventID) else { return (journal.lastSequence, true) }
        return (cursor, false)
    }

    public func endEvents() { node.journal.endReader() }

    /// The events after `cursor` that `filter` accepts, waiting up to `timeout` for one;
    /// `cursor` moves past everything read (accepted or not). Returns early, empty, when the
    /// node is stopping.
    public func readEvents(after cursor: inout UInt64, filter: inout EventFilter, timeout: Duration) async -> EventBatch {
        let journal = node.journal
        let deadline = ContinuousClock.now + timeout
        var gap = false
        while true {
            let page = journal.read(after: cursor)
            gap = gap || page.gap
            cursor = page.next
            let accepted = page.entries.filter { filter.accepts($0.event) }
            let remaining = deadline - ContinuousClock.now
            if !accepted.isEmpty || gap || remaining <= .zero || journal.isClosed || Task.isCancelled {
                return EventBatch(
                    events: accepted.map { (journal.id($0.sequence), $0.event) }, gap: gap, lastEventID: journal.id(cursor))
            }
            if page.entries.isEmpty { await journal.wait(after: cursor, timeout: remaining) }
        }
    }

    /// Whether the node is stopping (an event stream ends).
    public var eventsClosed: Bool { node.journal.isClosed }
}
