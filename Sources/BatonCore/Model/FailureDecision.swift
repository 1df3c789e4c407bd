import Foundation

/// What a failed attempt leads to. Pure: stores and workers share it, tests cover it.
public enum FailureDecision: Sendable, Hashable {
    /// Back to `pending`, due at this time.
    case retry(at: Date)
    /// `failed`: attempts exhausted, not retryable, or the policy never retries.
    case dead

    /// Decides after attempt `attempt` of `maxAttempts` failed at `now`.
    ///
    /// An explicit `retryAfter` (the handler's "retry later after D") wins over the policies;
    /// then the task's own policy, then `fallback` (the kind's or the node's). Max attempts
    /// always bound the number of attempts.
    public static func decide(
        attempt: Int, maxAttempts: Int, retryable: Bool, retryAfter: Duration?,
        taskPolicy: RetryPolicy?, fallback: RetryPolicy, now: Date
    ) -> FailureDecision {
        guard retryable, attempt < maxAttempts else { return .dead }
        let delay: Duration?
        if let retryAfter {
            delay = retryAfter
        } else {
            delay = (taskPolicy ?? fallback).delay(afterAttempt: attempt)
        }
        guard let delay else { return .dead }
        return .retry(at: now.addingTimeInterval(max(0, delay.seconds)))
    }
}
