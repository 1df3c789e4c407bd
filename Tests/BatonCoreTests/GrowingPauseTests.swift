import BatonCore
import Testing

@Suite struct GrowingPauseTests {
    @Test func doublesUpToTheCapAndStartsOverAfterReset() {
        var pause = GrowingPause(from: .milliseconds(200), upTo: .seconds(1))
        let taken = (0..<5).map { _ in pause.next() }
        #expect(taken == [.milliseconds(200), .milliseconds(400), .milliseconds(800), .seconds(1), .seconds(1)])
        pause.reset()
        #expect(pause.next() == .milliseconds(200))
        #expect(pause.current == .milliseconds(400))
    }

    @Test func jitterTakesHalfToAllOfEachPause() {
        var pause = GrowingPause(jitter: true)
        var plain = GrowingPause()
        for _ in 0..<12 {
            let full = plain.next()
            let jittered = pause.next()
            #expect(jittered >= full * 0.5 && jittered <= full, "\(jittered) within half to all of \(full)")
        }
        #expect(pause.current == .seconds(5), "the cap, as without jitter")
    }
}
