import BatonCore
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// The event stream of a cluster (PostgreSQL, several nodes on one database): each node
/// publishes its own events to the store's shared log (``ClusterEventLog``), and
/// `GET /v1/events` on any node reads that log, so a client of one node sees what every node
/// did. Its ids (`c.<global id>`) resume on any node while the log holds them.
///
/// Publishing: while a reader is registered anywhere in the cluster, the node listens to its
/// own ``NodeEvents`` and appends what it heard every ``publishInterval`` in one batch; the
/// first batch of each publishing period starts with a marker
/// (``ClusterEventRecord/publishingMarker``): what the node did before it is not in the log.
/// With no reader registered, the node publishes nothing and its event stream keeps its fast
/// path. A node learns of a new reader at once (the registering node notifies every node), or
/// at its next look (every ``readerCheckInterval``) if the notification was missed.
///
/// Reading: a node with readers registers them (``beginReader()``), renewed while they read
/// and kept for ``linger`` after the last one left, so that a client that
/// reconnects, here or to another node, resumes without loss.
///
/// Retention: the leader prunes events older than the window (`node.eventWindow`) every
/// ``pruneInterval``; a reader whose cursor is older gets a gap. Other nodes never prune.
public final class ClusterEventFeed: Service, Sendable {
    public static let publishInterval: Duration = .milliseconds(100)
    public static let readerCheckInterval: Duration = .seconds(1)
    public static let lingerAfterLastReader: Duration = .seconds(300)
    public static let pruneInterval: Duration = .seconds(30)
    public static let defaultWindow: Duration = .seconds(600)
    /// Events held for the next append at most, those of an append under way included; beyond,
    /// they are dropped and the next append starts with a marker (a gap for readers).
    public static let maxBuffered = 100_000
    /// Events per append statement at most.
    static let maxAppend = 5000
    /// A reader that starts from now does not report as a gap the markers of nodes that begin
    /// publishing within this time of its start (they were told of the reader just then).
    public static let startGrace: Duration = .seconds(2)
    /// The prefix of the stream's ids for the log's events (the local journal's are `<epoch>-<n>`).
    public static let idPrefix = "c."

    public let log: any ClusterEventLog
    /// Names this node in the log (a restarted node has another name).
    public let node: String
    public let window: LiveSetting<Duration>
    /// How long a registration lasts after the last reader left (``lingerAfterLastReader``).
    public let linger: Duration
    /// How often the leader prunes the log (``pruneInterval``).
    public let pruneEvery: Duration
    /// How often a node with readers renews their registration: a tenth of the linger, at most 30 s.
    public let renewInterval: Duration
    private let events: NodeEvents
    private let leadership: any Leadership
    private let logger: Logger

    /// What the node appends next: its events, or a marker.
    private enum Pending: Sendable {
        case event(NodeEvent)
        case marker(dropped: Int)
    }

    private struct State {
        var readers = 0
        /// The registration must be renewed (the last reader left: the linger counts from then).
        var renewDue = false
        /// The registration was not announced yet (the first reader's attempt failed).
        var announce = false
        /// When the registration was last written.
        var lastRenew: ContinuousClock.Instant?
        var publishing = false
        var buffer: [Pending] = []
        /// Entries taken by the append under way: they count against the bound until it ends.
        var inFlight = 0
        var dropped = 0
        var listener: NodeEvents.Cancellation?
        var closed = false
        /// Appends that failed in a row (logged: the first, then every 100th).
        var failures = 0
    }

    private let state = Mutex(State())

    public init(
        log: any ClusterEventLog, events: NodeEvents, leadership: any Leadership, window: LiveSetting<Duration>,
        linger: Duration = ClusterEventFeed.lingerAfterLastReader, pruneEvery: Duration = ClusterEventFeed.pruneInterval,
        logger: Logger = Logger(label: "baton.events")
    ) {
        self.linger = linger
        self.pruneEvery = pruneEvery
        self.renewInterval = min(.seconds(30), linger / 10)
        self.log = log
        self.events = events
        self.leadership = leadership
        self.window = window
        self.logger = logger
        self.node = Self.nodeName()
    }

    // MARK: Ids

    public static func id(_ position: Int64) -> String { idPrefix + String(position) }

    /// The position a `Last-Event-ID` names, or `nil` when it is not of this form.
    public static func position(fromLastEventID text: String) -> Int64? {
        guard text.hasPrefix(idPrefix), let position = Int64(text.dropFirst(idPrefix.count)), position >= 0 else { return nil }
        return position
    }

    // MARK: Readers

    /// Registers a reader of this node (the cluster starts publishing if it was not). This
    /// node publishes from now on, so a reader that takes its cursor after this call misses
    /// nothing of this node's; the first reader's registration is written and announced before
    /// this returns, so that other nodes start publishing as soon as they can.
    public func beginReader() async {
        let register = state.withLock { s -> Bool in
            s.readers += 1
            // Registered recently (a reader just left, or polls one batch at a time): still valid.
            if let last = s.lastRenew, ContinuousClock.now - last < renewInterval { return false }
            return s.readers == 1
        }
        startPublishing()
        guard register else { return }
        do {
            let now = ContinuousClock.now
            try await log.eventReaderRenew(EventReaderRenewParams(node: node, ttl: linger, announce: true))
            state.withLock { $0.lastRenew = now }
        } catch {
            logger.warning("cannot register an event reader", metadata: ["error": "\(error)"])
            state.withLock {
                $0.renewDue = true
                $0.announce = true
            }
        }
    }

    public func endReader() {
        state.withLock { s in
            s.readers -= 1
            // The linger counts from the last reader's leaving.
            if s.readers == 0 { s.renewDue = true }
        }
    }

    /// The cursor of a reader that starts from now.
    public func lastPosition() async throws -> Int64 { try await log.eventLastID() }

    /// What a reader gets from ``read(after:limit:)``.
    public struct Page: Sendable {
        public enum Item: Sendable {
            /// An event, and the node that emitted it.
            case event(NodeEvent, node: String)
            /// A node started publishing here: what it did before may be missing.
            case marker(node: String)
            /// A record this Baton cannot read (written by a newer one): passed over.
            case unreadable
        }
        public var items: [(position: Int64, item: Item)]
        /// Events after the cursor were pruned: some are lost.
        public var gap: Bool
    }

    /// A name for this node in the log, shown with its events (`node`): the host, the process
    /// id and a random part, e.g. `web-1/4242-3kx9qz1a` (a restarted node has another name).
    static func nodeName() -> String {
        var host = [CChar](repeating: 0, count: 256)
        let name =
            gethostname(&host, host.count) == 0
            ? String(decoding: host.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : ""
        let random = String(UInt64.random(in: 0..<(1 << 40)), radix: 36)
        return "\(name.isEmpty ? "node" : String(name.prefix(64)))/\(ProcessInfo.processInfo.processIdentifier)-\(random)"
    }

    /// How many records a reader takes at most in one ``read(after:limit:)``.
    public static let pageSize = 1000

    public func read(after position: Int64, limit: Int = pageSize) async throws -> Page {
        let page = try await log.eventRead(EventReadParams(after: position, limit: limit))
        var items: [(Int64, Page.Item)] = []
        items.reserveCapacity(page.records.count)
        for record in page.records {
            if record.type == ClusterEventRecord.publishingMarker {
                items.append((record.id, .marker(node: record.node)))
            } else if let event = NodeEventJSON.decode(type: record.type, data: record.data) {
                items.append((record.id, .event(event, node: record.node)))
            } else {
                // Written by a newer Baton: skipped, as the stream skips what it cannot say.
                items.append((record.id, .unreadable))
            }
        }
        return Page(items: items, gap: page.gap)
    }

    /// Returns when an event is appended after `generation` (of ``ClusterEventLog/eventSignal``), after `timeout`, or when the node stops.
    public func wait(after generation: UInt64, timeout: Duration) async {
        if isClosed { return }
        await log.eventSignal.wait(after: generation, timeout: timeout)
    }

    public var generation: UInt64 { log.eventSignal.generation }

    /// Whether the node is stopping: readers end their streams.
    public var isClosed: Bool { state.withLock { $0.closed } }

    // MARK: Running

    public func run() async throws {
        await withGracefulShutdownHandler {
            await loop()
        } onGracefulShutdown: {
            self.state.withLock { $0.closed = true }
            self.log.eventSignal.notify()
            self.log.eventReaderSignal.notify()
        }
        stopPublishing()
        await flush()
    }

    private func loop() async {
        var lastCheck: ContinuousClock.Instant?
        var lastPrune: ContinuousClock.Instant?
        var readerGeneration = log.eventReaderSignal.generation
        while !isClosed && !Task.isCancelled {
            let now = ContinuousClock.now
            let announced = log.eventReaderSignal.generation != readerGeneration
            if announced || lastCheck.map({ now - $0 >= Self.readerCheckInterval }) ?? true {
                readerGeneration = log.eventReaderSignal.generation
                lastCheck = now
                do {
                    let active = try await log.eventReadersActive()
                    // A reader of this node counts even before its registration is written.
                    if active || state.withLock({ $0.readers > 0 }) { startPublishing() } else { stopPublishing() }
                } catch {
                    // Unknown: keep doing what it did.
                    logger.debug("cannot look for event readers", metadata: ["error": "\(error)"])
                }
            }
            await renew(now: now)
            await flush()
            if lastPrune.map({ now - $0 >= pruneEvery }) ?? true {
                lastPrune = now
                await prune()
            }
            let publishing = state.withLock { $0.publishing }
            await log.eventReaderSignal.wait(
                after: readerGeneration, timeout: publishing ? Self.publishInterval : Self.readerCheckInterval)
        }
    }

    /// Renews the registration every ``renewInterval`` while the node has readers, and once
    /// after the last one left.
    private func renew(now: ContinuousClock.Instant) async {
        let (due, announce) = state.withLock { s -> (Bool, Bool) in
            let stale = s.lastRenew.map { now - $0 >= renewInterval } ?? true
            let due = s.announce || ((s.readers > 0 || s.renewDue) && stale)
            guard due else { return (false, false) }
            defer {
                s.renewDue = false
                s.announce = false
            }
            return (true, s.announce)
        }
        guard due else { return }
        do {
            try await log.eventReaderRenew(EventReaderRenewParams(node: node, ttl: linger, announce: announce))
            state.withLock { $0.lastRenew = now }
        } catch {
            state.withLock {
                $0.renewDue = true
                $0.announce = $0.announce || announce
            }
        }
    }

    private func startPublishing() {
        let start = state.withLock { s -> Bool in
            guard !s.publishing else { return false }
            s.publishing = true
            s.buffer.append(.marker(dropped: 0))
            return true
        }
        guard start else { return }
        logger.debug("publishing events to the cluster's log", metadata: ["node": "\(node)"])
        let listener = events.listen { [weak self] batch in self?.buffer(batch) }
        let stale = state.withLock { s -> NodeEvents.Cancellation? in
            if s.publishing && s.listener == nil {
                s.listener = listener
                return nil
            }
            return listener
        }
        stale?.cancel()
    }

    private func stopPublishing() {
        let listener = state.withLock { s -> NodeEvents.Cancellation? in
            s.publishing = false
            defer { s.listener = nil }
            return s.listener
        }
        if let listener {
            listener.cancel()
            logger.debug("stopped publishing events: no reader is registered", metadata: ["node": "\(node)"])
        }
    }

    /// Called by the emitters: holds the events for the next append.
    private func buffer(_ batch: [NodeEvent]) {
        state.withLock { s in
            guard s.publishing else { return }
            for event in batch {
                if case .storeOperation = event { continue }
                if s.buffer.count + s.inFlight >= Self.maxBuffered {
                    s.dropped += 1
                    continue
                }
                s.buffer.append(.event(event))
            }
        }
    }

    /// Appends what is buffered; on failure keeps it for the next try (within the bound).
    private func flush() async {
        let pending = state.withLock { s -> [Pending] in
            var taken = s.buffer
            s.buffer.removeAll(keepingCapacity: true)
            if s.dropped > 0 {
                // The events dropped were after the buffer's: what follows starts with a marker.
                taken.append(.marker(dropped: s.dropped))
                s.dropped = 0
            }
            s.inFlight = taken.count
            return taken
        }
        guard !pending.isEmpty else { return }
        let records = pending.compactMap(record)
        var sent = 0
        do {
            while sent < records.count {
                let chunk = Array(records[sent..<min(records.count, sent + Self.maxAppend)])
                try await log.eventAppend(EventAppendParams(records: chunk))
                sent += chunk.count
            }
            let failed = state.withLock { s in
                defer {
                    s.failures = 0
                    s.inFlight = 0
                }
                return s.failures
            }
            if failed > 0 { logger.info("publishing events again", metadata: ["failed_appends": "\(failed)"]) }
        } catch {
            let failures = state.withLock { s in
                s.failures += 1
                return s.failures
            }
            if failures % 100 == 1 {
                logger.warning(
                    "cannot publish events; keeping them", metadata: ["error": "\(error)", "events": "\(records.count - sent)"])
            }
            // Put back what was not sent, before what came meanwhile; beyond the bound the
            // oldest are dropped, and a marker says so.
            state.withLock { s in
                let unsent = Array(pending.suffix(pending.count - min(sent, pending.count)))
                var merged = unsent + s.buffer
                if merged.count > Self.maxBuffered {
                    merged = [.marker(dropped: merged.count - Self.maxBuffered)] + merged.suffix(Self.maxBuffered)
                }
                s.buffer = merged
                s.inFlight = 0
            }
        }
    }

    private func record(_ pending: Pending) -> ClusterEventRecord? {
        switch pending {
        case .marker(let dropped):
            return ClusterEventRecord(node: node, type: ClusterEventRecord.publishingMarker, data: #"{"dropped":\#(dropped)}"#)
        case .event(let event):
            guard let (type, data) = NodeEventJSON.encode(event) else { return nil }
            var record = ClusterEventRecord(node: node, type: type, data: String(decoding: data, as: UTF8.self))
            switch event {
            case .enqueued(let ref), .claimed(let ref, _, _, _):
                record.queue = ref.queue
                record.kind = ref.kind
                record.task = ref.id
                record.workflow = ref.workflowID
            case .transitioned(let move):
                record.queue = move.queue
                record.kind = move.kind
                record.task = move.id
            case .progressed(let id, _):
                record.task = id
            case .rescued, .scheduleFired, .leadershipChanged, .storeOperation:
                break
            }
            return record
        }
    }

    private func prune() async {
        guard await leadership.isLeader() else { return }
        do {
            let deleted = try await log.eventPrune(EventPruneParams(olderThan: window.value))
            if deleted > 0 { logger.debug("pruned events", metadata: ["events": "\(deleted)"]) }
        } catch {
            logger.debug("cannot prune events", metadata: ["error": "\(error)"])
        }
    }
}
