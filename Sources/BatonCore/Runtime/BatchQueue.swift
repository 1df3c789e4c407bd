import Synchronization

/// A buffer that one loop drains in batches: appenders never wait, and the loop (``run``)
/// sleeps while the buffer is empty, lingers briefly so that a batch can gather company, then
/// hands everything that fits to `write`. The node's completer and the HTTP worker's ack
/// sender are both one of these, each run by the service that owns it (no task is spawned per
/// batch).
///
/// ``finish()`` begins the drain: the loop writes what is buffered, including what arrives
/// meanwhile, and returns once the buffer is empty; after that ``append(_:)`` refuses.
public final class BatchQueue<Element: Sendable>: Sendable {
    private enum Phase { case open, draining, closed }

    private struct State {
        var buffer: [Element] = []
        var writing = false
        var phase = Phase.open
        var sleeper: CheckedContinuation<Void, Never>?
        var idleWaiters: [CheckedContinuation<Void, Never>] = []
    }

    private let state = Mutex(State())

    public init() {}

    /// Buffers `element` and wakes the loop. `false` once the loop has returned.
    @discardableResult
    public func append(_ element: Element) -> Bool {
        let (accepted, sleeper) = state.withLock { s -> (Bool, CheckedContinuation<Void, Never>?) in
            guard s.phase != .closed else { return (false, nil) }
            s.buffer.append(element)
            defer { s.sleeper = nil }
            return (true, s.sleeper)
        }
        sleeper?.resume()
        return accepted
    }

    /// Elements buffered (not counting a batch being written).
    public var count: Int { state.withLock { $0.buffer.count } }

    /// Returns once the buffer is empty and no batch is being written (at once after the loop
    /// has returned).
    public func idle() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let now = state.withLock { s -> Bool in
                if (s.buffer.isEmpty && !s.writing) || s.phase == .closed { return true }
                s.idleWaiters.append(continuation)
                return false
            }
            if now { continuation.resume() }
        }
    }

    /// Begins the drain: ``run`` writes what is left and returns.
    public func finish() {
        let sleeper = state.withLock { s -> CheckedContinuation<Void, Never>? in
            if s.phase == .open { s.phase = .draining }
            defer { s.sleeper = nil }
            return s.sleeper
        }
        sleeper?.resume()
    }

    /// The loop: until ``finish()`` and an empty buffer, waits for elements, lingers up to
    /// `linger` unless `isFull` says the buffer holds a full batch already, takes a batch with
    /// `take` (a prefix length of the buffer, at least 1), and awaits `write`. Returns what was
    /// still buffered when it stopped (nothing, unless the caller was cancelled mid-drain).
    public func run(
        linger: Duration, isFull: @Sendable ([Element]) -> Bool, take: @Sendable ([Element]) -> Int,
        write: @Sendable ([Element]) async -> Void
    ) async -> [Element] {
        await withTaskCancellationHandler {
            while true {
                await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                    let now = state.withLock { s -> Bool in
                        if !s.buffer.isEmpty || s.phase != .open { return true }
                        s.sleeper = continuation
                        return false
                    }
                    if now { continuation.resume() }
                }
                let wait = state.withLock { s in s.phase == .open && !isFull(s.buffer) }
                if wait && linger > .zero { try? await Task.sleep(for: linger) }
                let batch = state.withLock { s -> [Element] in
                    guard !s.buffer.isEmpty else { return [] }
                    let n = Swift.min(Swift.max(1, take(s.buffer)), s.buffer.count)
                    let batch = Array(s.buffer.prefix(n))
                    s.buffer.removeFirst(n)
                    s.writing = true
                    return batch
                }
                if !batch.isEmpty { await write(batch) }
                let (waiters, done, left) = state.withLock { s -> ([CheckedContinuation<Void, Never>], Bool, [Element]) in
                    s.writing = false
                    let stop = s.phase != .open && (s.buffer.isEmpty || Task.isCancelled)
                    guard s.buffer.isEmpty || stop else { return ([], false, []) }
                    var left: [Element] = []
                    if stop {
                        s.phase = .closed
                        left = s.buffer
                        s.buffer = []
                    }
                    defer { s.idleWaiters = [] }
                    return (s.idleWaiters, stop, left)
                }
                for waiter in waiters { waiter.resume() }
                if done { return left }
            }
        } onCancel: {
            finish()
        }
    }
}
