import BatonCore
import Synchronization

/// Per-task wake-ups for long-polls waiting on a task to finish, fed by the node's event
/// stream.
///
/// A listener on ``NodeEvents`` wakes the waiters of a task when a `transitioned` event takes
/// it to a terminal state (an ack written by the completer, a cancel through this node); the
/// waiter re-reads the task at once instead of at its next poll. Tasks finished elsewhere (the
/// lease rescuer's failed attempts, another node) are caught by the waiter's fallback poll.
/// Only ids with a registered waiter cost anything: the listener is registered `whenDemanded`,
/// and each wait raises the stream's demand while it lasts, so with no wait in progress the
/// emitters skip building events altogether.
public final class TaskWaiters: Sendable {
    private struct Entry {
        var signal: ReadySignal
        var waiters: Int
    }

    private let entries = Mutex([TaskID: Entry]())
    /// Fast path: no lock work for events when nobody waits.
    private let waiting = Atomic<Int>(0)
    private let listener = Mutex<NodeEvents.Cancellation?>(nil)
    private let events: NodeEvents

    public init(events: NodeEvents) {
        self.events = events
        let cancellation = events.listen(whenDemanded: true) { [weak self] batch in self?.observe(batch) }
        listener.withLock { $0 = cancellation }
    }

    deinit {
        listener.withLock { $0?.cancel() }
    }

    private func observe(_ batch: [NodeEvent]) {
        guard waiting.load(ordering: .relaxed) > 0 else { return }
        let signals = entries.withLock { e in
            batch.compactMap { event -> ReadySignal? in
                guard case .transitioned(let t) = event, t.to.isTerminal else { return nil }
                return e[t.id]?.signal
            }
        }
        for signal in signals { signal.notify() }
    }

    /// Calls `body` with a signal that fires when `id` is reported finished.
    public func withSignal<T>(for id: TaskID, _ body: (ReadySignal) async throws -> T) async rethrows -> T {
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
        events.demand(1)
        defer {
            events.demand(-1)
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
