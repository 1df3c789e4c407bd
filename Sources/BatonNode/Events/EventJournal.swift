import BatonCore
import Foundation
import ServiceLifecycle
import Synchronization

/// The recent events of a node, numbered, for `GET /v1/events` (Server-Sent Events) and its
/// resumption: a reader follows the journal by sequence number, and a client that reconnects
/// with the id of the last event it saw (`Last-Event-ID`) gets what it missed, if the journal
/// still holds it.
///
/// What it guarantees: events are numbered in the order this node emitted them; a reader gets
/// every event after its cursor in that order, or learns that some were lost (a *gap*: its
/// cursor fell out of the journal, names another journal — a restarted node, another node —
/// or the journal was not recording). Not guaranteed: events of work done through other nodes
/// (a node sees what it did itself), or anything older than ``capacity`` events.
///
/// The journal records only while it is read, and for ``lingerAfterLastReader`` after the last
/// reader left (so that a reconnecting client can resume): a node nobody watches keeps its
/// event stream's fast path.
public final class EventJournal: Service, Sendable {
    /// One recorded event.
    public struct Entry: Sendable {
        public var sequence: UInt64
        public var event: NodeEvent
    }

    /// What a reader gets from ``read(after:max:)``.
    public struct Page: Sendable {
        public var entries: [Entry]
        /// Events between the cursor and `entries` were lost (see the type's description).
        public var gap: Bool
        /// The cursor to read after next.
        public var next: UInt64
    }

    public static let defaultCapacity = 65_536
    /// How many entries a reader takes at most in one ``read(after:max:)``.
    public static let pageSize = 1000
    public static let lingerAfterLastReader: Duration = .seconds(300)

    /// Names this journal in event ids (`<epoch>-<sequence>`): a restarted node has another.
    public let epoch: String
    public let capacity: Int
    private let events: NodeEvents
    private let signal = ReadySignal()

    private struct State {
        var ring: [Entry] = []
        /// Index in `ring` of the oldest entry once the ring is full.
        var head = 0
        var nextSequence: UInt64 = 1
        /// The first sequence recorded since recording last started: a cursor before it
        /// missed what happened while nobody recorded.
        var recordedFrom: UInt64 = 1
        var readers = 0
        var recording = false
        var idleSince: ContinuousClock.Instant?
        var listener: NodeEvents.Cancellation?
        var closed = false
    }

    private let state = Mutex(State())

    public init(events: NodeEvents, capacity: Int = EventJournal.defaultCapacity) {
        self.events = events
        self.capacity = max(16, capacity)
        let raw = UInt64.random(in: 0..<(1 << 40))
        self.epoch = String(raw, radix: 36)
    }

    /// The id of an entry as a client sees it.
    public func id(_ sequence: UInt64) -> String { "\(epoch)-\(sequence)" }

    /// The cursor a `Last-Event-ID` names: its sequence if it is this journal's, `nil` (read
    /// from now, with a gap) if it names another journal or is malformed.
    public func cursor(fromLastEventID text: String) -> UInt64? {
        let parts = text.split(separator: "-", maxSplits: 1)
        guard parts.count == 2, parts[0] == epoch, let sequence = UInt64(parts[1]) else { return nil }
        return sequence
    }

    /// The sequence of the last recorded event (0 before the first).
    public var lastSequence: UInt64 { state.withLock { $0.nextSequence - 1 } }

    // MARK: Readers

    /// Starts a reader: the journal records from now until ``endReader()`` (and lingers).
    public func beginReader() {
        let start = state.withLock { s -> Bool in
            s.readers += 1
            s.idleSince = nil
            guard !s.recording else { return false }
            s.recording = true
            s.recordedFrom = s.nextSequence
            return true
        }
        if start {
            let listener = events.listen { [weak self] batch in self?.record(batch) }
            state.withLock { $0.listener = listener }
        }
    }

    public func endReader() {
        state.withLock { s in
            s.readers -= 1
            if s.readers == 0 { s.idleSince = .now }
        }
    }

    /// Up to `max` entries after `cursor` (the sequence of the last event a reader got), and
    /// whether some were lost between the cursor and them. A cursor past the last event (not
    /// one of this journal's) reads from now, with a gap.
    public func read(after cursor: UInt64, max: Int = pageSize) -> Page {
        state.withLock { s in
            if cursor >= s.nextSequence { return Page(entries: [], gap: true, next: s.nextSequence - 1) }
            let oldest = s.ring.isEmpty ? s.nextSequence : s.ring[s.head].sequence
            let gap = cursor + 1 < Swift.max(oldest, s.recordedFrom)
            let from = Swift.max(cursor + 1, oldest)
            guard from < s.nextSequence else { return Page(entries: [], gap: gap, next: Swift.max(cursor, s.nextSequence - 1)) }
            let count = Int(Swift.min(UInt64(max), s.nextSequence - from))
            var entries: [Entry] = []
            entries.reserveCapacity(count)
            let offset = Int(from - oldest)
            for i in 0..<count { entries.append(s.ring[(s.head + offset + i) % s.ring.count]) }
            return Page(entries: entries, gap: gap, next: entries.last!.sequence)
        }
    }

    /// Returns when an event after `sequence` is recorded, or after `timeout`.
    public func wait(after sequence: UInt64, timeout: Duration) async {
        let generation = signal.generation
        if lastSequence > sequence { return }
        await signal.wait(after: generation, timeout: timeout)
    }

    /// Whether the node is stopping: readers end their streams.
    public var isClosed: Bool { state.withLock { $0.closed } }

    /// Waits for the node's graceful shutdown, then ends every reader's stream.
    public func run() async throws {
        try? await gracefulShutdown()
        state.withLock { $0.closed = true }
        signal.notify()
    }

    // MARK: Recording

    private func record(_ batch: [NodeEvent]) {
        let stop = state.withLock { s -> NodeEvents.Cancellation? in
            if s.readers == 0, let idle = s.idleSince, ContinuousClock.now - idle > Self.lingerAfterLastReader {
                s.recording = false
                defer { s.listener = nil }
                return s.listener
            }
            for event in batch {
                if case .storeOperation = event { continue }
                let entry = Entry(sequence: s.nextSequence, event: event)
                s.nextSequence += 1
                if s.ring.count < capacity {
                    s.ring.append(entry)
                } else {
                    s.ring[s.head] = entry
                    s.head = (s.head + 1) % capacity
                }
            }
            return nil
        }
        if let stop {
            stop.cancel()
        } else {
            signal.notify()
        }
    }
}
