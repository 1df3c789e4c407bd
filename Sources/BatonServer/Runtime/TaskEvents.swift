import BatonCore
import Synchronization

/// Per-task wake-ups for long-polls waiting on a task to finish.
///
/// The routes that end a task on this node (complete, fail, ack, cancel) call
/// `finished(_:)`; a waiter registered for that id re-reads the task at once instead of at
/// its next poll. Tasks finished elsewhere (the lease rescuer, another node) are caught by
/// the waiter's fallback poll. Only ids with a registered waiter cost anything.
public final class TaskEvents: Sendable {
    private struct Entry {
        var signal: ReadySignal
        var waiters: Int
    }

    private let entries = Mutex([TaskID: Entry]())
    /// Fast path: no lock work for acks when nobody waits.
    private let waiting = Atomic<Int>(0)

    public init() {}

    /// Wakes the waiters of these tasks, if any.
    public func finished(_ ids: some Sequence<TaskID>) {
        guard waiting.load(ordering: .relaxed) > 0 else { return }
        let signals = entries.withLock { e in ids.compactMap { e[$0]?.signal } }
        for signal in signals { signal.notify() }
    }

    public func finished(_ id: TaskID) { finished(CollectionOfOne(id)) }

    /// Calls `body` with a signal that fires when `id` is reported finished.
    func withSignal<T>(for id: TaskID, _ body: (ReadySignal) async throws -> T) async rethrows -> T {
        let signal = entries.withLock { e -> ReadySignal in
            if var entry = e[id] {
                entry.waiters += 1
                e[id] = entry
                return entry.signal
            }
            let signal = ReadySignal()
            e[id] = Entry(signal: signal, waiters: 1)
            return signal
        }
        waiting.add(1, ordering: .relaxed)
        defer {
            waiting.subtract(1, ordering: .relaxed)
            entries.withLock { e in
                guard var entry = e[id] else { return }
                entry.waiters -= 1
                e[id] = entry.waiters == 0 ? nil : entry
            }
        }
        return try await body(signal)
    }
}
