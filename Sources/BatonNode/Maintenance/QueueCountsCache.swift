import BatonCore
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// The queue counts a node answers `GET /v1/queues` and its gauges from: counted in the
/// background every `interval` (±20% jitter, so that several nodes do not count at the same
/// moment; less often when a count takes long, ``maxBusyShare``), never on a request's path
/// once the first count is in.
///
/// Counting is a full pass over the tasks table (`GROUP BY queue, state`); at millions of tasks
/// it takes long enough that running it per request (River's UI measured a 13 s p99 at 1.6M
/// rows) is what this avoids. An answer says how old its counts are (``QueuesResponse/ageSeconds``).
///
/// While the service is not running (a node API used without its services, as in tests),
/// counts older than `interval` are refreshed on demand; concurrent demands share one count.
public final class QueueCountsCache: Service, Sendable {
    public struct Snapshot: Sendable {
        public var queues: [QueueCounts]
        /// When the count was taken (wall clock, for the answer's `as_of`).
        public var asOf: Date
        /// When the count was taken (monotonic, for its age).
        var taken: ContinuousClock.Instant
    }

    public static let defaultInterval: Duration = .seconds(5)

    private let store: any NodeStore
    public let interval: LiveSetting<Duration>
    private let events: NodeEvents
    private let metrics: NodeMetrics?
    private let logger: Logger
    private struct State {
        var snapshot: Snapshot?
        var inFlight: Task<Snapshot, any Error>?
        var running = false
    }
    private let state = Mutex(State())

    public init(
        store: any NodeStore, interval: LiveSetting<Duration>, events: NodeEvents, metrics: NodeMetrics?,
        logger: Logger = Logger(label: "baton.counts")
    ) {
        self.store = store
        self.interval = interval
        self.events = events
        self.metrics = metrics
        self.logger = logger
    }

    /// The counts to answer with: the last background count, or a fresh one when there is
    /// none yet (or, while the service is not running, when it is older than `interval`).
    public func current() async throws -> QueuesResponse {
        let (snapshot, running) = state.withLock { ($0.snapshot, $0.running) }
        var answer = snapshot
        if answer == nil || (!running && ContinuousClock.now - answer!.taken > interval.value) {
            answer = try await refresh()
        }
        let taken = answer!
        let age = max(0, (ContinuousClock.now - taken.taken).seconds)
        return QueuesResponse(queues: taken.queues, asOf: taken.asOf, ageSeconds: (age * 1000).rounded() / 1000)
    }

    /// Counts now (joining a count in progress), stores the result and sets the gauges.
    @discardableResult
    public func refresh() async throws -> Snapshot {
        let task = state.withLock { s -> Task<Snapshot, any Error> in
            if let inFlight = s.inFlight { return inFlight }
            let task = Task { try await self.count() }
            s.inFlight = task
            return task
        }
        do {
            let snapshot = try await task.value
            state.withLock { s in
                if s.inFlight == task { s.inFlight = nil }
                if s.snapshot.map({ $0.taken < snapshot.taken }) ?? true { s.snapshot = snapshot }
            }
            return snapshot
        } catch {
            state.withLock { s in if s.inFlight == task { s.inFlight = nil } }
            throw error
        }
    }

    private func count() async throws -> Snapshot {
        let (counts, paused) = try await events.timed(.counts) {
            (try await store.queueCounts(), Set(try await store.queuePausedList()))
        }
        let asOf = Date()
        var queues = counts
        for i in queues.indices { queues[i].paused = paused.contains(queues[i].name) }
        for name in paused where !counts.contains(where: { $0.name == name }) {
            queues.append(QueueCounts(name: name, counts: [:], paused: true))
        }
        queues.sort { $0.name < $1.name }
        metrics?.update(counts: queues, paused: paused, at: asOf)
        return Snapshot(queues: queues, asOf: asOf, taken: .now)
    }

    /// A count takes at most this share of the time between counts: on a table so large that
    /// counting takes long (4 s at 5 million tasks on SQLite here), counts come less often than
    /// `interval` rather than one after another.
    public static let maxBusyShare = 0.1

    /// Counts at once, then every `interval` (±20%), or every `count time / maxBusyShare` when
    /// that is longer, until graceful shutdown. A failed count is logged and retried at the
    /// next interval; the last counts stay (older and older, as their age says).
    public func run() async throws {
        state.withLock { $0.running = true }
        defer { state.withLock { $0.running = false } }
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                let start = ContinuousClock.now
                do {
                    try await self.refresh()
                } catch is CancellationError {
                    return
                } catch {
                    self.logger.warning("counting the queues failed; retrying next interval", metadata: ["error": "\(error)"])
                }
                let took = ContinuousClock.now - start
                let pause = max(self.interval.value, took * (1 / Self.maxBusyShare - 1)) * Double.random(in: 0.8...1.2)
                do {
                    try await Task.sleep(for: pause)
                } catch {
                    return
                }
            }
        }
    }
}
