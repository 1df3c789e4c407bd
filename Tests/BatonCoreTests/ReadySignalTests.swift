import BatonCore
import Testing

@Suite struct ReadySignalTests {
    @Test func notifyWakesAWaiter() async {
        let signal = ReadySignal()
        let seen = signal.generation
        let start = ContinuousClock.now
        async let waited: Void = signal.wait(after: seen, timeout: .seconds(30))
        try? await Task.sleep(for: .milliseconds(20))
        signal.notify()
        await waited
        #expect(ContinuousClock.now - start < .seconds(10), "woken, not timed out")
    }

    @Test func aNotificationBeforeTheWaitIsNotMissed() async {
        let signal = ReadySignal()
        let seen = signal.generation
        signal.notify()
        let start = ContinuousClock.now
        await signal.wait(after: seen, timeout: .seconds(30))
        #expect(ContinuousClock.now - start < .seconds(10), "returned at once, not after the 30 s timeout")
    }

    @Test func timesOut() async {
        let signal = ReadySignal()
        let start = ContinuousClock.now
        await signal.wait(after: signal.generation, timeout: .milliseconds(50))
        let elapsed = ContinuousClock.now - start
        #expect(elapsed >= .milliseconds(45) && elapsed < .seconds(10))
    }

    @Test func cancellationEndsTheWait() async {
        let signal = ReadySignal()
        let start = ContinuousClock.now
        let waiter = Task { await signal.wait(after: signal.generation, timeout: .seconds(60)) }
        try? await Task.sleep(for: .milliseconds(20))
        waiter.cancel()
        await waiter.value
        #expect(ContinuousClock.now - start < .seconds(20), "cancelled, not timed out")
    }
}
