/// Where a task is in its life. The moves between states are ``TaskLifecycle``'s; see
/// `docs/state-machine.md`.
///
/// ```
/// waiting ──▶ pending ──▶ ready ──▶ running ──▶ succeeded
///   (parents)    ▲                   │  └──▶ failed (dead)
///                └── retry backoff ──┘
/// any non-terminal ──▶ cancelled
/// ```
public enum TaskState: String, Sendable, Codable, CaseIterable, Hashable {
    /// Waiting for its parents (a workflow dependency): released to `ready` (or `pending`, if
    /// its run time is still ahead) when every edge is satisfied, or cancelled when one can
    /// never be.
    case waiting
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
        case .waiting, .pending, .ready, .running: return false
        }
    }

    public static let terminal: [TaskState] = [.succeeded, .failed, .cancelled]
}
