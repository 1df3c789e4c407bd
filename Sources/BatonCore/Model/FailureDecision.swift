import Foundation

/// What a failed attempt leads to, as ``TaskLifecycle/afterFailure(_:cause:policies:now:)``
/// decides it.
public enum FailureDecision: Sendable, Hashable {
    /// Back to `pending`, due at this time.
    case retry(at: Date)
    /// `failed`: attempts exhausted, not retryable, or the policy never retries.
    case dead

    /// The state the task moves to.
    public var state: TaskState {
        switch self {
        case .retry: .pending
        case .dead: .failed
        }
    }
}
