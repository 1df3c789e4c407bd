import BatonCore
import Foundation
import Synchronization

/// The workers a node heard from recently, and the retry policies their kinds declared.
///
/// Workers announce themselves (``WorkerAnnouncement``) when they start and again with each
/// heartbeat round; a claim also counts as contact. A worker silent for longer than
/// ``forgetAfter`` is no longer listed. The kinds' retry policies are kept after their
/// workers are forgotten: the tasks of a worker that vanished are rescued later, and back off
/// as their kind says (``TaskLifecycle/RetryPolicies``). When two workers declare different
/// policies for one kind, the latest announcement wins.
///
/// One registry per node, in memory: each node knows the workers that talk to it (an HTTP
/// worker announces itself to every node it is given). On PostgreSQL each node also writes
/// what it heard to the store (``WorkerDirectorySync``), so that every node lists the cluster's
/// workers.
public final class WorkerRegistry: Sendable {
    public static let defaultForgetAfter: Duration = .seconds(300)
    /// Kinds whose policies are kept at most (the oldest declarations go first).
    public static let maxKinds = 10_000

    private struct Entry {
        var announcement: WorkerAnnouncement
        var transport: String
        var firstSeen: Date
        var lastSeen: Date
    }

    private struct State {
        var workers: [String: Entry] = [:]
        var kindRetry: [String: RetryPolicy] = [:]
        /// When each kind's policy was last declared, to drop the oldest beyond `maxKinds`.
        var declared: [String: Date] = [:]
    }

    public let forgetAfter: Duration
    private let state = Mutex(State())

    public init(forgetAfter: Duration = WorkerRegistry.defaultForgetAfter) {
        self.forgetAfter = forgetAfter
    }

    /// Records an announcement (validated by the caller). Returns the worker as now known.
    @discardableResult
    public func announce(_ announcement: WorkerAnnouncement, transport: String, at now: Date = Date()) -> WorkerInfo {
        var announcement = announcement
        announcement.kinds = announcement.distinctKinds
        return state.withLock { s in
            let first = s.workers[announcement.worker].map(\.firstSeen) ?? now
            let entry = Entry(announcement: announcement, transport: transport, firstSeen: first, lastSeen: now)
            s.workers[announcement.worker] = entry
            for kind in announcement.kinds {
                s.kindRetry[kind.name] = kind.retry
                s.declared[kind.name] = now
            }
            if s.declared.count > Self.maxKinds {
                for (kind, _) in s.declared.sorted(by: { $0.value < $1.value }).prefix(s.declared.count - Self.maxKinds) {
                    s.declared[kind] = nil
                    s.kindRetry[kind] = nil
                }
            }
            Self.prune(&s, now: now, forgetAfter: forgetAfter)
            return Self.info(entry)
        }
    }

    /// A claim from `worker`: it is alive. Unknown workers (that never announced) are not added.
    public func contact(_ worker: String, at now: Date = Date()) {
        state.withLock { s in s.workers[worker]?.lastSeen = now }
    }

    /// The workers heard from within ``forgetAfter``, by id.
    public func list(at now: Date = Date()) -> [WorkerInfo] {
        state.withLock { s in
            Self.prune(&s, now: now, forgetAfter: forgetAfter)
            return s.workers.values.map(Self.info).sorted { $0.worker < $1.worker }
        }
    }

    /// The workers heard from after `time` (announced or claimed), for the cluster's directory.
    public func seen(after time: Date) -> [WorkerInfo] {
        state.withLock { s in s.workers.values.filter { $0.lastSeen > time }.map(Self.info) }
    }

    /// The retry policy each kind's handler declared, for ``TaskAckParams`` and
    /// ``LeaseRescueParams``.
    public var kindRetry: [String: RetryPolicy] { state.withLock { $0.kindRetry } }

    private static func prune(_ s: inout State, now: Date, forgetAfter: Duration) {
        let cutoff = now.addingTimeInterval(-forgetAfter.seconds)
        s.workers = s.workers.filter { $0.value.lastSeen >= cutoff }
    }

    private static func info(_ e: Entry) -> WorkerInfo {
        let a = e.announcement
        return WorkerInfo(
            worker: a.worker, queues: a.queues, kinds: a.kinds, concurrency: a.concurrency, running: a.running, version: a.version,
            transport: e.transport, firstSeen: e.firstSeen, lastSeen: e.lastSeen)
    }
}
