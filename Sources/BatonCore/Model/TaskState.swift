/// Where a task is in its life. See `docs/state-machine.md`.
///
/// ```
/// pending ──▶ ready ──▶ running ──▶ succeeded
///    ▲                   │  └──▶ failed (dead)
///    └── retry backoff ──┘
/// any non-terminal ──▶ cancelled
/// ```
public enum TaskState: String, Sendable, Codable, CaseIterable, Hashable {
    /// Waiting for its `run_at` (delayed, or backing off before a retry).
    case pending
    /// Claimable now.
    case ready
    /// Claimed by a worker under a lease.
    case running
    case succeeded
    /// Dead: attempts exhausted or failed permanently.
    case failed
    case cancelled

    public var isTerminal: Bool {
        switch self {
        case .succeeded, .failed, .cancelled: return true
        case .pending, .ready, .running: return false
        }
    }

    /// Whether the lifecycle allows moving from `self` to `next`.
    ///
    /// `running → ready` is a release (graceful shutdown) and uses no attempt.
    /// Terminal states only leave through an operator's retry (`→ ready`).
    public func canTransition(to next: TaskState) -> Bool {
        switch (self, next) {
        case (.pending, .ready), (.ready, .running), (.running, .succeeded),
            (.running, .pending), (.running, .failed), (.running, .ready):
            return true
        case (.pending, .cancelled), (.ready, .cancelled), (.running, .cancelled):
            return true
        case (.succeeded, .ready), (.failed, .ready), (.cancelled, .ready):
            return true  // operator retry
        default:
            return false
        }
    }

    public static let terminal: [TaskState] = [.succeeded, .failed, .cancelled]
}
