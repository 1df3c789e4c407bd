import BatonCore
import Foundation
import Synchronization

/// The tasks a node has sent to brokers' work queues (SQS, Redis) and not yet heard back
/// about, per Baton queue: a ``BrokerDispatch`` keeps each queue's count under its window, a
/// results role takes tasks out as their results arrive, and so does any end of their attempts
/// on this node (``follow(_:)``). A task that ended through another node (PostgreSQL) is found
/// by the dispatch asking the store; one nobody hears about leaves at its lease's end (the
/// lease rescuer then returns it to `ready`, and it is sent again).
public final class DispatchWindow: Sendable {
    private struct Entry {
        var queue: String
        var token: String
        var sent: ContinuousClock.Instant
        var until: ContinuousClock.Instant
    }

    private let entries = Mutex<[TaskID: Entry]>([:])
    /// Fired when tasks leave, so that a full window sends again.
    public let changed = ReadySignal()

    public init() {}

    /// Tasks of `queue` in flight now (those past their time are dropped first).
    public func count(queue: String) -> Int {
        let now = ContinuousClock.now
        return entries.withLock { e in
            e = e.filter { $0.value.until > now }
            return e.values.lazy.filter { $0.queue == queue }.count
        }
    }

    /// The next time an entry of `queue` runs out, if any.
    public func nextExpiry(queue: String) -> ContinuousClock.Instant? {
        entries.withLock { e in e.values.lazy.filter { $0.queue == queue }.map(\.until).min() }
    }

    public func add(_ leases: [LeaseRef], queue: String, for lease: Duration) {
        let now = ContinuousClock.now
        let until = now + lease + .seconds(1)
        entries.withLock { e in for l in leases { e[l.id] = Entry(queue: queue, token: l.token, sent: now, until: until) } }
    }

    /// The leases of `queue`'s tasks sent before `before`, at most `max` of the oldest.
    public func leases(queue: String, sentBefore before: ContinuousClock.Instant, max: Int) -> [LeaseRef] {
        entries.withLock { e in
            e.filter { $0.value.queue == queue && $0.value.sent < before }.sorted { $0.value.sent < $1.value.sent }.prefix(max)
                .map { LeaseRef(id: $0.key, token: $0.value.token) }
        }
    }

    /// Takes out these leases' tasks, if still in flight under the same lease.
    public func remove(leases: [LeaseRef]) {
        guard !leases.isEmpty else { return }
        let removed = entries.withLock { e in
            leases.reduce(0) { n, l in
                guard e[l.id]?.token == l.token else { return n }
                e[l.id] = nil
                return n + 1
            }
        }
        if removed > 0 { changed.notify() }
    }

    /// Keeps tasks whose leases were extended in flight until the new end.
    public func extend(_ ids: [TaskID], by lease: Duration) {
        let until = ContinuousClock.now + lease + .seconds(1)
        entries.withLock { e in
            for id in ids where e[id] != nil { e[id]!.until = max(e[id]!.until, until) }
        }
    }

    /// Tasks heard back about (or never sent).
    public func remove(_ ids: [TaskID]) {
        guard !ids.isEmpty else { return }
        let removed = entries.withLock { e in ids.reduce(0) { $0 + (e.removeValue(forKey: $1) == nil ? 0 : 1) } }
        if removed > 0 { changed.notify() }
    }

    /// Takes a task out whenever its attempt ends on this node: a result from a results queue,
    /// an ack over HTTP from a worker that reports there, a cancel, a rescue.
    public func follow(_ events: NodeEvents) {
        _ = events.listen { [self] events in
            var ended: [TaskID] = []
            for event in events {
                if case .transitioned(let transition) = event, transition.to != .running { ended.append(transition.id) }
            }
            remove(ended)
        }
    }
}
