import Foundation

/// Every transition of a task, decided in one place. Pure: no clock, no store, no I/O.
///
/// Both stores ask it and apply what it answers, each in one atomic statement or
/// transaction: which states a transition may start from (``Transition/from``, rendered into
/// each store's SQL guard by ``sqlStates(_:)``), whether it is fenced by the lease token, and
/// what a failed attempt leads to (``afterFailure(_:policies:now:)``). See
/// `docs/state-machine.md`.
public enum TaskLifecycle {
    /// A move from one state to another, with the states it may start from.
    public enum Transition: Sendable, CaseIterable {
        /// A waiting task's last edge is settled (`docs/workflows.md`): `waiting → ready`
        /// (`pending` if its run time is ahead), or `waiting → cancelled` when an edge can
        /// never be satisfied and its policy does not ignore that. Applied by the stores in the
        /// same transaction as the parent's transition that settles the edge (their
        /// `task_deps` triggers), never by a request of its own.
        case resolve
        /// A delayed or backing-off task's `run_at` has passed: `pending → ready`. There is no
        /// promoter pass: on SQLite each claim first promotes every due task (of every queue); on
        /// PostgreSQL the claim takes due `pending` tasks directly (`pending → running`), and a
        /// due task no claim has taken yet stays `pending`.
        case promote
        /// A worker claims a ready task (or a `pending` one whose `run_at` has passed): a new
        /// attempt under a new lease.
        case claim
        /// The handler returned: `running → succeeded`. Fenced.
        case complete
        /// The attempt failed (the handler threw, timed out, asked to retry later or to fail
        /// permanently): `running → pending | failed`, decided by ``afterFailure``. Fenced.
        case fail
        /// The lease ran out (the worker vanished): a failed attempt like ``fail``.
        case leaseExpiry
        /// A worker gives a task back without using its attempt: `running → ready`. Fenced.
        case release
        /// An operator or producer cancels: any live state `→ cancelled`.
        case cancel
        /// An operator retries a finished task: terminal `→ ready`, one more attempt allowed.
        case operatorRetry

        /// The states this transition may start from.
        public var from: [TaskState] {
            switch self {
            case .resolve: [.waiting]
            case .promote: [.pending]
            case .claim: [.ready, .pending]
            case .complete, .fail, .leaseExpiry, .release: [.running]
            case .cancel: [.waiting, .pending, .ready, .running]
            case .operatorRetry: TaskState.terminal
            }
        }

        /// The states it may end in.
        public var to: [TaskState] {
            switch self {
            case .resolve: [.ready, .pending, .cancelled]
            case .promote: [.ready]
            case .claim: [.running]
            case .complete: [.succeeded]
            case .fail, .leaseExpiry: [.pending, .failed]
            case .release: [.ready]
            case .cancel: [.cancelled]
            case .operatorRetry: [.ready]
            }
        }

        /// Whether the caller must present the task's current lease token.
        public var fenced: Bool {
            switch self {
            case .complete, .fail, .release: true
            case .resolve, .promote, .claim, .leaseExpiry, .cancel, .operatorRetry: false
            }
        }
    }

    /// Whether `from → to` is a move of some transition.
    public static func allows(_ from: TaskState, _ to: TaskState) -> Bool {
        Transition.allCases.contains { $0.from.contains(from) && $0.to.contains(to) }
    }

    /// `('pending', 'ready')`: a transition's start states as an SQL list, for the stores' guards.
    public static func sqlStates(_ states: [TaskState]) -> String {
        "(" + states.map { "'\($0.rawValue)'" }.joined(separator: ", ") + ")"
    }

    /// Why an attempt ended without a result.
    public enum FailureCause: Sendable, Hashable {
        /// The handler threw. `retryable: false` is "fail permanently"; `retryAfter` is the
        /// handler's "retry later after D", which wins over every policy.
        case error(retryable: Bool, retryAfter: Duration?)
        /// The attempt outlived its timeout (retryable, by policy).
        case timeout
        /// The lease expired: the worker vanished (retryable, by policy).
        case leaseExpired

        /// The cause of a worker's reported failure (a timeout is reported as a retryable error).
        public init(_ failure: TaskFailure) {
            self = .error(retryable: failure.retryable, retryAfter: failure.retryAfter)
        }
    }

    /// What the lifecycle knows of the failed attempt's task.
    public struct Attempt: Sendable, Hashable {
        public var kind: String
        public var attempt: Int
        public var maxAttempts: Int
        /// The task's own policy, if it set one.
        public var retry: RetryPolicy?

        public init(kind: String, attempt: Int, maxAttempts: Int, retry: RetryPolicy?) {
            self.kind = kind
            self.attempt = attempt
            self.maxAttempts = maxAttempts
            self.retry = retry
        }
    }

    /// The policies a failed attempt may fall back on, besides the task's own.
    public struct RetryPolicies: Sendable, Hashable {
        /// Per kind, as the handlers declared them (learned from workers' registrations).
        public var kinds: [String: RetryPolicy]
        /// The node's policy, for tasks and kinds that set none.
        public var node: RetryPolicy

        public init(kinds: [String: RetryPolicy] = [:], node: RetryPolicy = .default) {
            self.kinds = kinds
            self.node = node
        }

        /// The policy that applies to a task of `kind` whose own policy is `task`: the task's,
        /// else the kind's, else the node's.
        public func policy(task: RetryPolicy?, kind: String) -> RetryPolicy {
            task ?? kinds[kind] ?? node
        }
    }

    /// What a failed attempt leads to: back to `pending` until the retry time, or `failed`.
    ///
    /// Precedence, in one place: not retryable (fail permanently) or no attempts left →
    /// `failed`; else the handler's retry-after delay; else the task's policy, then the kind's,
    /// then the node's (a policy that gives no delay, `none`, means `failed`).
    public static func afterFailure(_ attempt: Attempt, cause: FailureCause, policies: RetryPolicies, now: Date) -> FailureDecision {
        let retryable: Bool
        let retryAfter: Duration?
        switch cause {
        case .error(let r, let after):
            retryable = r
            retryAfter = after
        case .timeout, .leaseExpired:
            retryable = true
            retryAfter = nil
        }
        guard retryable, attempt.attempt < attempt.maxAttempts else { return .dead }
        guard let delay = retryAfter ?? policies.policy(task: attempt.retry, kind: attempt.kind).delay(afterAttempt: attempt.attempt)
        else { return .dead }
        return .retry(at: now.addingTimeInterval(max(0, delay.seconds)))
    }
}
