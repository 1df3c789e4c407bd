import BatonCore
import Foundation
import Testing

@Suite struct RetryPolicyTests {
    @Test func exponentialWithoutJitterDoublesToTheCap() {
        let policy = RetryPolicy.exponential(base: .seconds(1), cap: .seconds(10), jitter: false)
        let delays = (1...7).map { policy.delay(afterAttempt: $0)!.seconds }
        #expect(delays == [1, 2, 4, 8, 10, 10, 10])
    }

    @Test func exponentialJitterStaysWithinHalfToFull() {
        let policy = RetryPolicy.exponential(base: .seconds(1), cap: .seconds(3600), jitter: true)
        #expect(policy.delay(afterAttempt: 3, random: 0)!.seconds == 2)
        #expect(policy.delay(afterAttempt: 3, random: 1)!.seconds == 4)
        for _ in 0..<100 {
            let d = policy.delay(afterAttempt: 4)!.seconds
            #expect(d >= 4 && d <= 8)
        }
    }

    @Test func defaultIsExponentialFromOneSecondCappedAtOneHour() {
        guard case .exponential(let base, let cap, let jitter) = RetryPolicy.default else {
            Issue.record("default is not exponential")
            return
        }
        #expect(base == .seconds(1) && cap == .seconds(3600) && jitter)
        #expect(RetryPolicy.default.delay(afterAttempt: 40, random: 1)!.seconds == 3600)
    }

    @Test func fibonacciSequence() {
        let policy = RetryPolicy.fibonacci(base: .seconds(1), cap: .seconds(3600))
        #expect((1...10).map { policy.delay(afterAttempt: $0)!.seconds } == [1, 1, 2, 3, 5, 8, 13, 21, 34, 55])
        let capped = RetryPolicy.fibonacci(base: .milliseconds(500), cap: .seconds(4))
        #expect((1...8).map { capped.delay(afterAttempt: $0)!.seconds } == [0.5, 0.5, 1, 1.5, 2.5, 4, 4, 4])
        #expect(policy.delay(afterAttempt: 500)!.seconds == 3600)
    }

    @Test func fixedAndNone() {
        #expect(RetryPolicy.fixed(.milliseconds(100)).delay(afterAttempt: 7)!.seconds == 0.1)
        #expect(RetryPolicy.none.delay(afterAttempt: 1) == nil)
    }

    @Test func namedPoliciesAndErrors() throws {
        #expect(try RetryPolicy.named("fixed", base: 0.1) == .fixed(.milliseconds(100)))
        #expect(try RetryPolicy.named("fibonacci") == .fibonacci(base: .seconds(1), cap: .seconds(3600)))
        #expect(throws: BatonError.self) { try RetryPolicy.named("linear") }
        #expect(throws: BatonError.self) { try RetryPolicy.named("fixed", base: -1) }
    }

    @Test func codableRoundTrip() throws {
        for policy in [
            RetryPolicy.fixed(.milliseconds(250)), .none, .fibonacci(base: .seconds(2), cap: .seconds(60)),
            .exponential(base: .seconds(1), cap: .seconds(30), jitter: false),
        ] {
            let data = try BatonJSON.encoder().encode(policy)
            #expect(try BatonJSON.decoder().decode(RetryPolicy.self, from: data) == policy)
        }
        #expect(throws: DecodingError.self) {
            try BatonJSON.decoder().decode(RetryPolicy.self, from: Data(#"{"policy":"sometimes"}"#.utf8))
        }
    }
}

@Suite struct TaskLifecycleFailureTests {
    let now = Date(timeIntervalSince1970: 1_000_000)

    func decide(
        attempt: Int, maxAttempts: Int, retryable: Bool = true, retryAfter: Duration? = nil, task: RetryPolicy?,
        kind: RetryPolicy? = nil, node: RetryPolicy = .default, cause: TaskLifecycle.FailureCause? = nil, at: Date? = nil
    ) -> FailureDecision {
        TaskLifecycle.afterFailure(
            TaskLifecycle.Attempt(kind: "k", attempt: attempt, maxAttempts: maxAttempts, retry: task),
            cause: cause ?? .error(retryable: retryable, retryAfter: retryAfter),
            policies: TaskLifecycle.RetryPolicies(kinds: kind.map { ["k": $0] } ?? [:], node: node), now: at ?? now)
    }

    @Test func retriesWhileAttemptsRemain() {
        #expect(decide(attempt: 1, maxAttempts: 3, task: .fixed(.seconds(5)), node: .none) == .retry(at: now.addingTimeInterval(5)))
    }

    @Test func deadWhenAttemptsExhausted() {
        #expect(decide(attempt: 3, maxAttempts: 3, task: .fixed(.seconds(5))) == .dead)
        #expect(decide(attempt: 3, maxAttempts: 3, task: .fixed(.seconds(5)), cause: .leaseExpired) == .dead)
    }

    @Test func deadWhenNotRetryable() {
        #expect(decide(attempt: 1, maxAttempts: 10, retryable: false, retryAfter: .seconds(1), task: nil) == .dead)
    }

    /// Precedence: the handler's retry-after > the task's policy > the kind's > the node's.
    @Test func precedenceRetryAfterThenTaskThenKindThenNode() {
        let all = decide(
            attempt: 2, maxAttempts: 10, retryAfter: .seconds(42), task: .fixed(.seconds(1)), kind: .fixed(.seconds(2)),
            node: .fixed(.seconds(3)))
        #expect(all == .retry(at: now.addingTimeInterval(42)))
        let task = decide(attempt: 1, maxAttempts: 10, task: .fixed(.seconds(1)), kind: .fixed(.seconds(2)), node: .fixed(.seconds(3)))
        #expect(task == .retry(at: now.addingTimeInterval(1)))
        let kind = decide(attempt: 1, maxAttempts: 10, task: nil, kind: .fixed(.seconds(2)), node: .fixed(.seconds(3)))
        #expect(kind == .retry(at: now.addingTimeInterval(2)))
        let node = decide(attempt: 1, maxAttempts: 10, task: nil, node: .fixed(.seconds(3)))
        #expect(node == .retry(at: now.addingTimeInterval(3)))
        // A retry-after still cannot exceed the attempts.
        #expect(decide(attempt: 10, maxAttempts: 10, retryAfter: .seconds(1), task: nil) == .dead)
    }

    /// A lease expiry and a timeout are failed attempts under the same policies, the kind's included.
    @Test func leaseExpiryAndTimeoutFollowTheKindPolicy() {
        for cause in [TaskLifecycle.FailureCause.leaseExpired, .timeout] {
            #expect(
                decide(attempt: 1, maxAttempts: 5, task: nil, kind: .fixed(.seconds(7)), node: .fixed(.seconds(1)), cause: cause)
                    == .retry(at: now.addingTimeInterval(7)))
            #expect(decide(attempt: 1, maxAttempts: 5, task: nil, kind: RetryPolicy.none, cause: cause) == .dead)
        }
    }

    @Test func nonePolicyMeansDeadOnFirstFailure() {
        #expect(decide(attempt: 1, maxAttempts: 10, task: RetryPolicy.none) == .dead)
        #expect(decide(attempt: 1, maxAttempts: 10, task: nil, kind: RetryPolicy.none, node: .fixed(.seconds(1))) == .dead)
        // The task's own policy wins over a kind that never retries.
        #expect(
            decide(attempt: 1, maxAttempts: 10, task: .fixed(.seconds(4)), kind: RetryPolicy.none) == .retry(at: now.addingTimeInterval(4)))
    }

    /// The full backoff sequence a fibonacci task goes through until it is dead.
    @Test func fibonacciSequenceUntilDead() {
        var at = now
        var delays: [Double] = []
        for attempt in 1...6 {
            switch decide(attempt: attempt, maxAttempts: 6, task: .fibonacci(base: .seconds(1), cap: .seconds(3600)), at: at) {
            case .retry(let next):
                delays.append(next.timeIntervalSince(at))
                at = next
            case .dead:
                delays.append(-1)
            }
        }
        #expect(delays == [1, 1, 2, 3, 5, -1])
    }
}
