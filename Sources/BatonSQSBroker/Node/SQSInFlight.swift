import BatonCore
import Foundation
import Synchronization

/// The tasks a node has sent to SQS work queues and not yet heard back about, per Baton
/// queue: the dispatch role keeps each queue's count under the window, the results role
/// takes tasks out as their results arrive. A task nobody hears about leaves at its lease's
/// end (the lease rescuer then returns it to `ready`, and it is sent again).
public final class SQSInFlight: Sendable {
    private struct Entry {
        var queue: String
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

    func add(_ ids: [TaskID], queue: String, for lease: Duration) {
        let until = ContinuousClock.now + lease + .seconds(1)
        entries.withLock { e in for id in ids { e[id] = Entry(queue: queue, until: until) } }
    }

    /// Keeps tasks whose leases were extended in flight until the new end.
    func extend(_ ids: [TaskID], by lease: Duration) {
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
}
