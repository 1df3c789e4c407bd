import Foundation

/// Polls `condition` every `interval` until it holds or `timeout` passes, and returns whether it
/// held. The condition is checked once more after the deadline, so a slow last step still counts.
///
/// For a test that asserts the outcome itself: `#expect(await eventually { ... })`, or ignores
/// it and checks what it needs next.
@discardableResult
public func eventually(
    within timeout: Duration = .seconds(5), every interval: Duration = .milliseconds(10), _ condition: () async throws -> Bool
) async rethrows -> Bool {
    try await poll(within: timeout, every: interval) { try await condition() ? true : nil } ?? false
}

/// Polls `condition` every `interval` until it returns a value, and returns it; throws
/// ``EventuallyTimeout`` naming `what` once `timeout` has passed without one (and
/// `CancellationError` when the task is cancelled meanwhile).
///
/// For waiting on something the test goes on to use: a process's output line, an exit status,
/// a task in the state it waits for.
@discardableResult
public func eventually<T>(
    _ what: String, within timeout: Duration = .seconds(30), every interval: Duration = .milliseconds(20),
    _ condition: () async throws -> T?
) async throws -> T {
    if let value = try await poll(within: timeout, every: interval, condition) { return value }
    try Task.checkCancellation()
    throw EventuallyTimeout(what: what, timeout: timeout)
}

/// The error of ``eventually(_:within:every:_:)`` when its condition did not return a value in time.
public struct EventuallyTimeout: Error, CustomStringConvertible {
    /// What the caller waited for.
    public var what: String
    public var timeout: Duration
    public var description: String { "timed out waiting for \(what) (\(timeout))" }
}

/// The one polling loop of both `eventually`s: checks, and while the deadline has not passed,
/// sleeps `interval` and checks again. Returns the first value, or `nil` when a check at or after
/// the deadline gives none; a cancelled task stops sleeping and gets one last check.
private func poll<T>(within timeout: Duration, every interval: Duration, _ condition: () async throws -> T?) async rethrows -> T? {
    let deadline = ContinuousClock.now.advanced(by: timeout)
    while true {
        if let value = try await condition() { return value }
        if ContinuousClock.now >= deadline { return nil }
        do {
            try await Task.sleep(for: interval)
        } catch {
            return try await condition()
        }
    }
}
