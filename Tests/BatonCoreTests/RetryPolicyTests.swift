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

@Suite struct FailureDecisionTests {
    let now = Date(timeIntervalSince1970: 1_000_000)

    @Test func retriesWhileAttemptsRemain() {
        let d = FailureDecision.decide(
            attempt: 1, maxAttempts: 3, retryable: true, retryAfter: nil, taskPolicy: .fixed(.seconds(5)), fallback: .none, now: now)
        #expect(d == .retry(at: now.addingTimeInterval(5)))
    }

    @Test func deadWhenAttemptsExhausted() {
        let d = FailureDecision.decide(
            attempt: 3, maxAttempts: 3, retryable: true, retryAfter: nil, taskPolicy: .fixed(.seconds(5)), fallback: .default, now: now)
        #expect(d == .dead)
    }

    @Test func deadWhenNotRetryable() {
        let d = FailureDecision.decide(
            attempt: 1, maxAttempts: 10, retryable: false, retryAfter: .seconds(1), taskPolicy: nil, fallback: .default, now: now)
        #expect(d == .dead)
    }

    @Test func explicitRetryAfterWinsOverPolicies() {
        let d = FailureDecision.decide(
            attempt: 2, maxAttempts: 10, retryable: true, retryAfter: .seconds(42), taskPolicy: .fixed(.seconds(1)), fallback: .default,
            now: now)
        #expect(d == .retry(at: now.addingTimeInterval(42)))
    }

    @Test func taskPolicyWinsOverFallback() {
        let d = FailureDecision.decide(
            attempt: 1, maxAttempts: 10, retryable: true, retryAfter: nil, taskPolicy: .fixed(.seconds(3)),
            fallback: .fixed(.seconds(9)), now: now)
        #expect(d == .retry(at: now.addingTimeInterval(3)))
        let f = FailureDecision.decide(
            attempt: 1, maxAttempts: 10, retryable: true, retryAfter: nil, taskPolicy: nil, fallback: .fixed(.seconds(9)), now: now)
        #expect(f == .retry(at: now.addingTimeInterval(9)))
    }

    @Test func nonePolicyMeansDeadOnFirstFailure() {
        let d = FailureDecision.decide(
            attempt: 1, maxAttempts: 10, retryable: true, retryAfter: nil, taskPolicy: RetryPolicy.none, fallback: .default, now: now)
        #expect(d == .dead)
    }

    /// The full backoff sequence a fibonacci task goes through until it is dead.
    @Test func fibonacciSequenceUntilDead() {
        var at = now
        var delays: [Double] = []
        for attempt in 1...6 {
            switch FailureDecision.decide(
                attempt: attempt, maxAttempts: 6, retryable: true, retryAfter: nil,
                taskPolicy: .fibonacci(base: .seconds(1), cap: .seconds(3600)), fallback: .default, now: at)
            {
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
