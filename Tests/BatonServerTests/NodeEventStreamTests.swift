import BatonCore
import BatonNode
import BatonSQLite
import BatonServer
import BatonTesting
import Foundation
import HummingbirdTesting
import Testing

/// The node's event stream, fed by the API, the dispatcher and the completer.
@Suite("Node event stream")
struct NodeEventStreamTests {
    /// Reads `count` events from `subscription`, failing after 5 s.
    static func take(_ count: Int, from subscription: NodeEvents.Subscription) async throws -> [NodeEvent] {
        try await withThrowingTaskGroup(of: [NodeEvent].self) { group in
            group.addTask {
                var seen: [NodeEvent] = []
                for await event in subscription {
                    seen.append(event)
                    if seen.count == count { break }
                }
                return seen
            }
            group.addTask {
                try await Task.sleep(for: .seconds(5))
                subscription.cancel()
                return []
            }
            let first = try await group.next() ?? []
            group.cancelAll()
            subscription.cancel()
            return first
        }
    }

    @Test func submitClaimAckCancelAndRetryAreEachOneEvent() async throws {
        try await withTestApp { client, node in
            // Task events only (the store calls' timings are events too).
            let stream = node.node.events.subscribe { event in
                if case .storeOperation = event { return false }
                return true
            }
            let tasks = try await client.submit([echoTask(1), echoTask(2), echoTask(3)])
            let claimed = try await client.claim(2, worker: "w-9")
            try #require(claimed.count == 2)
            let ack =
                #"{"acks": [{"id": "\#(claimed[0].task.id)", "lease_token": "\#(claimed[0].leaseToken)", "outcome": "complete", "result": 1}, {"id": "\#(claimed[1].task.id)", "lease_token": "\#(claimed[1].leaseToken)", "outcome": "fail", "error": "no", "retryable": false}]}"#
            #expect(try await client.send(.post, "/v1/workers/ack", json: ack).status == .ok)
            #expect(try await client.send(.post, "/v1/tasks/\(tasks[2].id)/cancel").status == .ok)
            #expect(try await client.send(.post, "/v1/tasks/\(tasks[2].id)/retry").status == .ok)

            let events = try await Self.take(9, from: stream)
            try #require(events.count == 9, "\(events)")
            #expect(events[0..<3] == ArraySlice(tasks.map { NodeEvent.enqueued(TaskRef($0)) }))
            for (event, task) in zip(events[3..<5], claimed) {
                guard case .claimed(let ref, let attempt, let worker, let wait) = event else {
                    Issue.record("expected a claim, got \(event)")
                    continue
                }
                #expect(ref.id == task.task.id && attempt == 1 && worker == "w-9" && wait >= .zero && wait < .seconds(5))
            }
            // The acks' events say which attempt of which task they ended, and how long it ran.
            for (event, (task, to)) in zip(events[5..<7], zip(claimed, [TaskState.succeeded, .failed])) {
                guard case .transitioned(let t) = event else {
                    Issue.record("expected an ack's transition, got \(event)")
                    continue
                }
                #expect(t.id == task.task.id && t.from == .running && t.to == to)
                #expect(t.attempt == 1 && t.queue == task.task.queue && t.kind == task.task.kind)
                #expect(t.run.map { $0 >= .zero && $0 < .seconds(30) } == true, "\(String(describing: t.run))")
            }
            guard case .transitioned(let cancel) = events[7], case .transitioned(let retry) = events[8] else {
                Issue.record("expected the cancel and the retry, got \(events[7...])")
                return
            }
            #expect(cancel.id == tasks[2].id && cancel.to == .cancelled)
            #expect(retry.id == tasks[2].id && retry.to == .ready)
            #expect(stream.dropped == 0)
        }
    }
}
