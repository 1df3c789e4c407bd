/// Thrown by a handler to retry the task after `delay`, whatever its retry policy says
/// (Machinery's `ErrRetryTaskLater`). The attempt still counts: a task out of attempts fails.
public struct RetryLater: Error, Sendable, CustomStringConvertible {
    public var delay: Duration
    public var message: String

    public init(delay: Duration, message: String = "retry later") {
        self.delay = delay
        self.message = message
    }

    public var description: String { message }
}

/// Thrown by a handler to fail the task now, with no retry whatever attempts are left.
public struct FailPermanently: Error, Sendable, CustomStringConvertible {
    public var message: String

    public init(_ message: String) { self.message = message }
    public init(message: String) { self.message = message }

    public var description: String { message }
}
