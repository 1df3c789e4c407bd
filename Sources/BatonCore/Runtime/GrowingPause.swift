/// The pause between tries of something that keeps failing (a broker or store that cannot be
/// reached): each ``next()`` hands out the current pause and doubles the one after, up to
/// `cap`; ``reset()`` after a success starts again from `initial`. With `jitter`, each pause
/// handed out is a random 50–100 % of the current one, so that many clients that lost one
/// server do not all come back at the same instant.
///
/// ```swift
/// var pause = GrowingPause()
/// while running {
///     do { try await work(); pause.reset() }
///     catch { logger.warning(…); try? await Task.sleep(for: pause.next()) }
/// }
/// ```
public struct GrowingPause: Sendable {
    public let initial: Duration
    public let cap: Duration
    /// The pause the next ``next()`` hands out.
    public private(set) var current: Duration
    public let jitter: Bool

    public init(from initial: Duration = .milliseconds(100), upTo cap: Duration = .seconds(5), jitter: Bool = false) {
        precondition(initial > .zero && cap >= initial, "a growing pause needs 0 < initial <= cap")
        self.initial = initial
        self.cap = cap
        self.current = initial
        self.jitter = jitter
    }

    /// The pause to take now; the one after is twice as long (at most `cap`).
    public mutating func next() -> Duration {
        let now = current
        current = min(current * 2, cap)
        return jitter ? now * Double.random(in: 0.5...1) : now
    }

    /// Back to `initial`, after a success.
    public mutating func reset() { current = initial }
}
