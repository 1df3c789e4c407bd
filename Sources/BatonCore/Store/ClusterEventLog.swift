import Foundation

/// A store capability: one event log that every node of a cluster shares, for
/// `GET /v1/events` to stream the events of the whole cluster (PostgreSQL). A store without
/// it (SQLite: one node) serves each node's own journal instead.
///
/// The log's ids are global and grow in commit order: a reader that has read everything up to
/// an id and reads `id > cursor` later never skips an event committed in between. Nodes
/// append their events in batches only while some reader anywhere is registered
/// (``eventReaderRenew(_:)``, ``eventReadersActive()``), so that a cluster nobody watches
/// writes nothing. The leader prunes old events (``eventPrune(_:)``); a cursor older than
/// what was pruned learns it (``ClusterEventPage/gap``).
public protocol ClusterEventLog: Sendable {
    /// Fires when events were appended by any node of the cluster (and once after the store
    /// reconnects its listener, since notifications may have been missed meanwhile).
    var eventSignal: ReadySignal { get }
    /// Fires when a node registered a reader that was not registered before (``EventReaderRenewParams/announce``).
    var eventReaderSignal: ReadySignal { get }

    /// Appends a node's events in one transaction, ids in the order given, and wakes readers
    /// on every node.
    func eventAppend(_ p: EventAppendParams) async throws
    /// The events after a cursor, oldest first.
    func eventRead(_ p: EventReadParams) async throws -> ClusterEventPage
    /// The id of the newest event (or the newest pruned one when the log is empty; 0 before
    /// the first): the cursor of a reader that starts from now.
    func eventLastID() async throws -> Int64
    /// Registers a node's readers until `ttl` from now (by the store's clock).
    func eventReaderRenew(_ p: EventReaderRenewParams) async throws
    /// Whether a reader is registered anywhere in the cluster now.
    func eventReadersActive() async throws -> Bool
    /// Deletes the events older than `olderThan`, and registrations long expired; returns how
    /// many events it deleted.
    func eventPrune(_ p: EventPruneParams) async throws -> Int
}

/// One event of the shared log: which node appended it, its type and JSON data as the event
/// stream carries them, and what readers and operators filter on.
public struct ClusterEventRecord: Sendable, Hashable {
    /// The global id (assigned by the store; ignored by ``ClusterEventLog/eventAppend(_:)``).
    public var id: Int64
    public var node: String
    /// The event's type on the stream (`enqueued`, `transitioned`, …), or a marker of the log
    /// itself (``ClusterEventRecord/publishingMarker``).
    public var type: String
    public var queue: String?
    public var kind: String?
    public var task: TaskID?
    public var workflow: TaskID?
    /// The event's members as a JSON object.
    public var data: String

    /// The type of the record a node appends before its first events when it starts
    /// publishing: events it emitted before then (while no reader was registered) are not
    /// in the log.
    public static let publishingMarker = "publishing"

    public init(
        id: Int64 = 0, node: String, type: String, queue: String? = nil, kind: String? = nil, task: TaskID? = nil,
        workflow: TaskID? = nil, data: String
    ) {
        self.id = id
        self.node = node
        self.type = type
        self.queue = queue
        self.kind = kind
        self.task = task
        self.workflow = workflow
        self.data = data
    }
}

public struct EventAppendParams: Sendable {
    public var records: [ClusterEventRecord]
    public init(records: [ClusterEventRecord]) { self.records = records }
}

public struct EventReadParams: Sendable {
    /// The id of the last event the reader has.
    public var after: Int64
    public var limit: Int
    public init(after: Int64, limit: Int = 1000) {
        self.after = after
        self.limit = limit
    }
}

/// What ``ClusterEventLog/eventRead(_:)`` answers.
public struct ClusterEventPage: Sendable {
    public var records: [ClusterEventRecord]
    /// Events after the cursor were pruned before this read: some are lost to the reader.
    public var gap: Bool
    public init(records: [ClusterEventRecord], gap: Bool) {
        self.records = records
        self.gap = gap
    }
}

public struct EventReaderRenewParams: Sendable {
    public var node: String
    public var ttl: Duration
    /// Tell every node at once (a reader that was not registered before), rather than at
    /// their next look.
    public var announce: Bool
    public init(node: String, ttl: Duration, announce: Bool) {
        self.node = node
        self.ttl = ttl
        self.announce = announce
    }
}

public struct EventPruneParams: Sendable {
    public var olderThan: Duration
    public init(olderThan: Duration) { self.olderThan = olderThan }
}
