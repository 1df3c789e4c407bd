import BatonClient
import BatonCore
import BatonNode
import BatonServer
import BatonTesting
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Testing

@testable import BatonPostgres

/// `GET /v1/events` of a node on PostgreSQL, over real HTTP: the stream reads the cluster's
/// event log (``ClusterEventFeed``), with `c.<n>` ids that resume, a `gap` for an id of another
/// form, the filters (a workflow's too), and `event.poll`. What other nodes' streams see is
/// `EndToEnd.ClusterEventsTests`'.
@Suite("Event stream on PostgreSQL", .serialized, .enabled(if: TestPostgres.enabled(for: "ClusterEventStreamTests")))
struct ClusterEventStreamTests {
    static func withPostgresApp(
        _ body: @Sendable (any TestClientProtocol, PostgresTaskStore, NodeServices) async throws -> Void
    ) async throws {
        guard let configuration = try TestPostgres.configuration(for: "ClusterEventStreamTests") else { return }
        try await TestPostgres.withStore(configuration) { store in
            let node = NodeServices(
                store: store, leadership: store.leadership,
                configuration: NodeConfiguration(dispatcher: .init(fallbackPoll: .milliseconds(200))))
            let cluster = try #require(node.cluster, "a PostgreSQL node streams the cluster's log")
            var logger = Logger(label: "baton.test")
            logger.logLevel = .warning
            let app = makeApplication(
                node: node, configuration: .init(), logger: logger, services: [node.completer, node.dispatcher, cluster])
            try await app.test(.live) { client in try await body(client, store, node) }
        }
    }

    @Test func aStreamCarriesTheNodesWorkInOrderAndResumes() async throws {
        try await Self.withPostgresApp { client, _, node in
            async let streamed = EventStreamTests.stream(client, timeout: 3)
            try await EventStreamTests.streamsOpen(node, 1)
            let tasks = try await client.submit([echoTask(1), echoTask(2)])
            let claimed = try await client.claim(2, worker: "w-7")
            try #require(claimed.count == 2)
            let ack =
                #"{"acks": [{"id": "\#(claimed[0].task.id)", "lease_token": "\#(claimed[0].leaseToken)", "outcome": "complete", "result": 1}, {"id": "\#(claimed[1].task.id)", "lease_token": "\#(claimed[1].leaseToken)", "outcome": "fail", "error": "no", "retryable": false}]}"#
            #expect(try await client.send(.post, "/v1/workers/ack", json: ack).status == .ok)

            let events = try await streamed
            #expect(!events.contains { $0.type == "gap" }, "\(events.map(\.type))")
            let ids = Set(tasks.map(\.id.description))
            let mine = events.filter { $0.task.map(ids.contains) ?? false }
            #expect(
                mine.map(\.type) == ["enqueued", "enqueued", "claimed", "claimed", "transitioned", "transitioned"], "\(mine.map(\.type))")
            let ends = mine.filter { $0.type == "transitioned" }.map { $0.data["to"]?.stringValue }
            #expect(Set(ends.compactMap { $0 }) == ["succeeded", "failed"])
            // Ids grow, each `c.<n>`.
            let numbers = events.compactMap { $0.id.flatMap(ClusterEventFeed.position(fromLastEventID:)) }
            #expect(numbers.count == events.count)
            #expect(numbers == numbers.sorted() && Set(numbers).count == numbers.count && !numbers.isEmpty)
            let last = try #require(events.last?.id)

            // Missed while disconnected (the node goes on publishing for the linger): resumed.
            let later = try await client.submit(echoTask(3))
            let resumed = try await EventStreamTests.stream(client, timeout: 0.5, lastEventID: last)
            #expect(resumed.first?.type == "enqueued" && resumed.first?.task == later.id.description, "\(resumed.map(\.type))")
            #expect(!resumed.contains { $0.type == "gap" })

            // An id of the journal's form (a standalone node), or past the newest: a gap first.
            #expect(try await EventStreamTests.stream(client, timeout: 0.2, lastEventID: "zz-12").first?.type == "gap")
            #expect(try await EventStreamTests.stream(client, timeout: 0.2, lastEventID: "c.999999").first?.type == "gap")
        }
    }

    @Test func filtersByQueueKindAndWorkflow() async throws {
        try await Self.withPostgresApp { client, _, node in
            async let mail = EventStreamTests.stream(client, EventStreamFilter(queue: "mail"), timeout: 2)
            async let echo = EventStreamTests.stream(client, EventStreamFilter(kind: "echo"), timeout: 2)
            try await EventStreamTests.streamsOpen(node, 2)
            let tasks = try await client.submit([echoTask(1, queue: "mail"), echoTask(2, queue: "other")])
            let workflow = try await client.send(.post, "/v1/workflows", json: #"{"chain": [{"kind": "wf.a"}, {"kind": "wf.b"}]}"#)
            #expect(workflow.status == .created)
            let mailEvents = try await mail
            #expect(mailEvents.map(\.task) == [tasks[0].id.description])
            let echoEvents = try await echo
            #expect(Set(echoEvents.compactMap(\.task)) == Set(tasks.map(\.id.description)))

            // A workflow's events, after the fact, by resuming from before it.
            let id = try #require(workflow.json()["id"]?.stringValue)
            let flow = try await EventStreamTests.stream(
                client, EventStreamFilter(workflow: TaskID(id)), timeout: 0.3, lastEventID: mailEvents.first?.id)
            #expect(flow.filter { $0.type == "enqueued" }.count == 2, "\(flow.map(\.type))")
            #expect(flow.allSatisfy { $0.data["workflow_id"]?.stringValue == id })
        }
    }

    /// A stream resuming from before a node began publishing, or from before what the leader
    /// pruned, starts with a gap; the events after it follow.
    @Test func aResumedStreamGetsAGapForAMarkerOrAPrunedId() async throws {
        try await Self.withPostgresApp { client, store, node in
            async let streamed = EventStreamTests.stream(client, timeout: 1.5)
            try await EventStreamTests.streamsOpen(node, 1)
            _ = try await client.submit(echoTask(1))
            let first = try #require(try await streamed.last?.id)

            // Another node begins publishing (its marker), then this node's submit.
            try await store.eventAppend(
                EventAppendParams(records: [ClusterEventRecord(node: "other", type: ClusterEventRecord.publishingMarker, data: "{}")]))
            let after = try await client.submit(echoTask(2))
            let resumed = try await EventStreamTests.stream(client, timeout: 0.5, lastEventID: first)
            #expect(resumed.map(\.type).prefix(2) == ["gap", "enqueued"], "\(resumed.map(\.type))")
            #expect(resumed.dropFirst().first?.task == after.id.description)

            // Everything up to now pruned: resuming from the first id is a gap, from the last is not.
            let last = try #require(resumed.last?.id)
            _ = try await store.queryForTesting("UPDATE \"\(store.configuration.schema)\".event_log SET at = now() - interval '1 hour'")
            #expect(try await store.eventPrune(EventPruneParams(olderThan: .seconds(600))) > 0)
            #expect(try await EventStreamTests.stream(client, timeout: 0.3, lastEventID: first).first?.type == "gap")
            #expect(try await !EventStreamTests.stream(client, timeout: 0.3, lastEventID: last).contains { $0.type == "gap" })
        }
    }

    @Test func eventPollReadsTheLog() async throws {
        try await Self.withPostgresApp { client, _, _ in
            let first = try await client.rpc(#"{"jsonrpc":"2.0","method":"event.poll","params":{"timeout":0},"id":1}"#)
            let cursor = try #require(try first.json()["result"]?["last_event_id"]?.stringValue)
            #expect(cursor.hasPrefix("c."))
            let task = try await client.submit(echoTask(9))
            // A client polls on from the id each answer gives.
            var next = cursor
            var seen: [JSONValue] = []
            for n in 0..<5 where !seen.contains(where: { $0["data"]?["task"]?.stringValue == task.id.description }) {
                let polled = try await client.rpc(
                    #"{"jsonrpc":"2.0","method":"event.poll","params":{"last_event_id":"\#(next)","timeout":1},"id":\#(n + 2)}"#)
                let result = try #require(try polled.json()["result"])
                guard case .array(let events)? = result["events"], let last = result["last_event_id"]?.stringValue else {
                    Issue.record("not a batch: \(result)")
                    return
                }
                seen += events
                next = last
            }
            // The first poll made this node publish before it took its cursor, so the submit is
            // in the log. (A `gap` may come first: the node's publishing marker follows that
            // cursor, and a poll cannot tell that the node published all along.)
            let mine = seen.filter { $0["data"]?["task"]?.stringValue == task.id.description }
            #expect(mine.first?["type"]?.stringValue == "enqueued", "\(seen)")
            #expect(mine.allSatisfy { $0["id"]?.stringValue?.hasPrefix("c.") == true })
        }
    }

    /// As on a node alone (`EventStreamTests`): a filtered reader behind by more than a page of
    /// the log is told it has not caught up, then that it has.
    @Test func aFilteredReaderBehindIsToldWhetherItCaughtUp() async throws {
        try await Self.withPostgresApp { client, _, node in
            let ops = NodeAPI(node: node)
            var (cursor, _) = try await ops.beginEvents(lastEventID: nil)
            defer { ops.endEvents() }
            let first = try await client.submit(echoTask(0, queue: "rare"))
            for n in 0..<2 { _ = try await client.submit((0..<600).map { echoTask(n * 600 + $0, queue: "bulk") }) }
            let last = try await client.submit(echoTask(1, queue: "rare"))
            var filter = try await ops.eventFilter(queue: "rare", kind: nil, task: nil, workflow: nil)
            func enqueued(_ batch: EventBatch) -> [TaskID] {
                batch.events.compactMap {
                    if case .enqueued(let ref) = $0.event { return ref.id }
                    return nil
                }
            }
            // Nodes publish to the log in the background: wait until the last task's event is there.
            var probe = cursor
            var all = try await ops.eventFilter(queue: nil, kind: nil, task: nil, workflow: nil)
            let deadline = ContinuousClock.now + .seconds(10)
            while ContinuousClock.now < deadline {
                if enqueued(await ops.readEvents(after: &probe, filter: &all, timeout: .seconds(1))).contains(last.id) { break }
            }
            let behind = await ops.readEvents(after: &cursor, filter: &filter, timeout: .seconds(5))
            #expect(enqueued(behind) == [first.id])
            #expect(!behind.caughtUp, "more than a page of the log was waiting after the first event")
            let rest = await ops.readEvents(after: &cursor, filter: &filter, timeout: .seconds(5))
            #expect(enqueued(rest) == [last.id])
            #expect(rest.caughtUp)
        }
    }
}
