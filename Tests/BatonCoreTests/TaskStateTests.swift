import BatonCore
import Testing

@Suite struct TaskStateTests {
    /// Every transition DESIGN.md allows, and nothing else.
    static let allowed: Set<String> = [
        "pending>ready", "ready>running", "running>succeeded", "running>pending", "running>failed", "running>ready",
        "pending>cancelled", "ready>cancelled", "running>cancelled",
        "succeeded>ready", "failed>ready", "cancelled>ready",
    ]

    @Test(arguments: TaskState.allCases)
    func transitionsFrom(_ from: TaskState) {
        for to in TaskState.allCases {
            let expected = Self.allowed.contains("\(from.rawValue)>\(to.rawValue)")
            #expect(from.canTransition(to: to) == expected, "\(from) → \(to)")
        }
    }

    @Test func terminalStates() {
        #expect(TaskState.allCases.filter(\.isTerminal) == [.succeeded, .failed, .cancelled])
        #expect(Set(TaskState.terminal) == Set(TaskState.allCases.filter(\.isTerminal)))
    }

    @Test func terminalStatesLeaveOnlyByOperatorRetry() {
        for state in TaskState.terminal {
            let exits = TaskState.allCases.filter { state.canTransition(to: $0) }
            #expect(exits == [.ready])
        }
    }
}
