import BatonCore
import BatonNode
import Testing

/// ``NodeMetrics/record(_:)`` counts every event of a batch under its own labels, however the
/// labels of a batch interleave (runs of equal labels share one series lookup).
@Suite struct NodeMetricsTests {
    @Test func interleavedLabelsAreEachCountedUnderTheirOwn() {
        let metrics = NodeMetrics()
        func ref(_ queue: String, _ kind: String) -> TaskRef { TaskRef(id: TaskID.generate(), queue: queue, kind: kind) }
        func ended(_ queue: String, _ kind: String, _ to: TaskState, expired: Bool = false) -> NodeEvent {
            .transitioned(
                TaskTransition(
                    id: TaskID.generate(), from: .running, to: to, attempt: 1, queue: queue, kind: kind, run: .milliseconds(30),
                    leaseExpired: expired))
        }
        let labels = [("a", "x"), ("a", "x"), ("a", "x"), ("b", "x"), ("a", "x"), ("a", "y"), ("a", "y")]
        metrics.record(labels.map { .enqueued(ref($0.0, $0.1)) })
        metrics.record(labels.map { .claimed(ref($0.0, $0.1), attempt: 1, worker: "w", wait: .milliseconds(3)) })
        metrics.record([
            ended("a", "x", .succeeded), ended("a", "x", .succeeded), ended("a", "x", .pending), ended("a", "x", .succeeded),
            ended("b", "x", .failed), ended("a", "x", .pending, expired: true), ended("a", "x", .succeeded),
            .transitioned(TaskTransition(id: TaskID.generate(), from: .pending, to: .cancelled, queue: "a", kind: "x")),
        ])
        metrics.record([])

        let text = String(decoding: metrics.exposition(), as: UTF8.self)
        func value(_ series: String) -> Double? {
            text.split(separator: "\n").first { $0.hasPrefix(series + " ") }.flatMap { Double($0.split(separator: " ").last ?? "") }
        }
        #expect(value(#"baton_tasks_submitted_total{queue="a",kind="x"}"#) == 4)
        #expect(value(#"baton_tasks_submitted_total{queue="b",kind="x"}"#) == 1)
        #expect(value(#"baton_tasks_submitted_total{queue="a",kind="y"}"#) == 2)
        #expect(value(#"baton_tasks_claimed_total{queue="a"}"#) == 6)
        #expect(value(#"baton_tasks_claimed_total{queue="b"}"#) == 1)
        #expect(value(#"baton_task_queue_wait_seconds_count{queue="a"}"#) == 6)
        #expect(value(#"baton_task_attempts_total{queue="a",kind="x",outcome="succeeded"}"#) == 4)
        #expect(value(#"baton_task_attempts_total{queue="a",kind="x",outcome="retry"}"#) == 1)
        #expect(value(#"baton_task_attempts_total{queue="a",kind="x",outcome="lease_expired"}"#) == 1)
        #expect(value(#"baton_task_attempts_total{queue="b",kind="x",outcome="failed"}"#) == 1)
        #expect(value(#"baton_task_run_seconds_count{queue="a",kind="x",outcome="succeeded"}"#) == 4)
        #expect(!text.contains(#"outcome="cancelled""#), "a cancel of a task that was not running is no attempt")
    }
}
