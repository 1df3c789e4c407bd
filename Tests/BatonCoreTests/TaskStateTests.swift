import BatonCore
import Testing

@Suite struct TaskStateTests {
    /// Every transition DESIGN.md allows, and nothing else (`pending>running`: a due task claimed
    /// by the statement that promotes it).
    static let allowed: Set<String> = [
        "pending>ready", "ready>running", "pending>running", "running>succeeded", "running>pending", "running>failed", "running>ready",
        "pending>cancelled", "ready>cancelled", "running>cancelled",
        "succeeded>ready", "failed>ready", "cancelled>ready",
        "waiting>ready", "waiting>pending", "waiting>cancelled",
    ]

    @Test(arguments: TaskState.allCases)
    func transitionsFrom(_ from: TaskState) {
        for to in TaskState.allCases {
            let expected = Self.allowed.contains("\(from.rawValue)>\(to.rawValue)")
            #expect(TaskLifecycle.allows(from, to) == expected, "\(from) → \(to)")
        }
    }

    /// Only the fenced transitions start from `running`, and each rendered guard names its states.
    @Test func fencedTransitionsAndSQLGuards() {
        for transition in TaskLifecycle.Transition.allCases where transition.fenced {
            #expect(transition.from == [.running])
        }
        #expect(TaskLifecycle.sqlStates(TaskLifecycle.Transition.cancel.from) == "('waiting', 'pending', 'ready', 'running')")
        #expect(TaskLifecycle.sqlStates(TaskLifecycle.Transition.operatorRetry.from) == "('succeeded', 'failed', 'cancelled')")
    }

    @Test func terminalStates() {
        #expect(TaskState.allCases.filter(\.isTerminal) == [.succeeded, .failed, .cancelled])
        #expect(Set(TaskState.terminal) == Set(TaskState.allCases.filter(\.isTerminal)))
    }

    @Test func terminalStatesLeaveOnlyByOperatorRetry() {
        for state in TaskState.terminal {
            let exits = TaskState.allCases.filter { TaskLifecycle.allows(state, $0) }
            #expect(exits == [.ready])
        }
    }
}
