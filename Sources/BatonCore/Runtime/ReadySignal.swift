import Synchronization

/// An in-process wake-up: stores fire it after a commit that made tasks claimable, and
/// claimers waiting for work return at once instead of waiting for their next poll.
///
/// A waiter passes the `generation` it saw before looking for work, so a notification
/// between its look and its wait is never missed.
public final class ReadySignal: Sendable {
    private struct State {
        var generation: UInt64 = 0
        var nextWaiter: UInt64 = 0
        var waiters: [UInt64: CheckedContinuation<Void, Never>] = [:]
        /// Waits begun and not yet returned; a timer of any other wait is late and ignored.
        var open: Set<UInt64> = []
        /// Open waits whose timer fired before they were registered.
        var expired: Set<UInt64> = []
    }

    private let state = Mutex(State())

    public init() {}

    public var generation: UInt64 { state.withLock { $0.generation } }

    /// Wakes every waiter.
    public func notify() {
        let waiters = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            s.generation &+= 1
            let all = Array(s.waiters.values)
            s.waiters.removeAll(keepingCapacity: true)
            return all
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Returns when the generation moves past `seen`, after `timeout`, or on cancellation.
    public func wait(after seen: UInt64, timeout: Duration) async {
        if timeout <= .zero { return }
        let id = state.withLock { s -> UInt64 in
            s.nextWaiter &+= 1
            s.open.insert(s.nextWaiter)
            return s.nextWaiter
        }
        let timer = Task { [weak self] in
            do { try await Task.sleep(for: timeout) } catch { return }
            self?.resume(id)
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let now = state.withLock { s -> Bool in
                    if s.generation != seen || Task.isCancelled || s.expired.remove(id) != nil { return true }
                    s.waiters[id] = continuation
                    return false
                }
                if now { continuation.resume() }
            }
        } onCancel: {
            resume(id)
        }
        // The timer is not awaited: waiting for it to wind down would put one more hop between
        // a notify and the caller's next claim. A timer that fires from now on finds its wait
        // closed and does nothing.
        timer.cancel()
        state.withLock { s in
            s.open.remove(id)
            s.expired.remove(id)
        }
    }

    private func resume(_ id: UInt64) {
        let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
            if let w = s.waiters.removeValue(forKey: id) { return w }
            if s.open.contains(id) { s.expired.insert(id) }
            return nil
        }
        waiter?.resume()
    }
}
