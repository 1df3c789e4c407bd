import BatonSQSBroker
import Testing

/// The answers to a worker's checks of the tasks it received: matched by id, waited for
/// within a limit, never waited for forever.
@Suite struct CheckAnswersTests {
    @Test func anAnswerBeforeOrDuringTheWaitIsSeen() async {
        let answers = CheckAnswers()
        answers.open("early")
        answers.answer("early")
        #expect(await answers.wait("early", limit: .seconds(5)))

        answers.open("during")
        async let answered = answers.wait("during", limit: .seconds(5))
        try? await Task.sleep(for: .milliseconds(20))
        answers.answer("during")
        #expect(await answered)
    }

    @Test func noAnswerEndsTheWaitAtItsLimitAndALateOneIsIgnored() async {
        let answers = CheckAnswers()
        answers.open("silent")
        let clock = ContinuousClock()
        let started = clock.now
        #expect(await answers.wait("silent", limit: .milliseconds(50)) == false)
        #expect(clock.now - started < .seconds(2))
        answers.answer("silent")  // late: nothing waits for it
        #expect(await answers.wait("silent", limit: .seconds(5)) == false, "a closed check stays closed")
    }

    /// A limit so short that it may pass before the wait begins: the wait still ends.
    @Test func aLimitThatPassesBeforeTheWaitBeginsStillEndsIt() async {
        let answers = CheckAnswers()
        for i in 0..<500 {
            answers.open("c\(i)")
            _ = await answers.wait("c\(i)", limit: i.isMultiple(of: 2) ? .zero : .nanoseconds(1))
        }
        answers.open("closed")
        answers.close("closed")
        answers.answer("closed")
        #expect(await answers.wait("closed", limit: .seconds(5)) == false)
    }
}
