import BatonClient
import BatonCore
import BatonNode
import BatonServer
import BatonTesting
import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing

/// `GET /v1/events` over real HTTP: the events of work done through the node, in order, with
/// ids that resume a dropped stream (`Last-Event-ID`), a `gap` for an id the node cannot
/// resume from, and filters; `event.poll` answers the same as one batch.
@Suite("Event stream", .serialized)
struct EventStreamTests {
    struct Event {
        var id: String?
        var type: String
        var data: [String: JSONValue]
        var task: String? { data["task"]?.stringValue }
    }

    /// A stream read with the Swift client (its own connection: the test client's is one at a
    /// time), until its timeout.
    static func stream(
        _ client: any TestClientProtocol, _ filter: EventStreamFilter = .init(), timeout: Double, lastEventID: String? = nil
    ) async throws -> [Event] {
        let port = try #require(client.port)
        let baton = BatonClient(servers: [URL(string: "http://127.0.0.1:\(port)")!])
        var out: [Event] = []
        for try await e in baton.events(filter, lastEventID: lastEventID, timeout: timeout) {
            guard case .object(let object)? = e.json else {
                out.append(Event(id: e.id, type: e.type, data: [:]))
                continue
            }
            out.append(Event(id: e.id, type: e.type, data: object))
        }
        return out
    }

    /// Waits until `count` streams are open on `node`: each gets every event from here on.
    static func streamsOpen(_ node: NodeServices, _ count: Int) async throws {
        try await eventually("\(count) event streams to open", within: .seconds(20), every: .milliseconds(10)) {
            node.eventStreams.value >= count ? true : nil
        }
    }

    @Test func theWireFormatIsServerSentEvents() async throws {
        try await withTestApp(.live) { client, _ in
            let response = try await client.send(.get, "/v1/events?timeout=0.1")
            #expect(response.status == .ok)
            #expect(response.headers[.contentType] == "text/event-stream; charset=utf-8")
            #expect(response.headers[.cacheControl] == "no-cache")
            #expect(response.text.hasPrefix("retry: 2000\n\n"), "\(response.text)")
            let gap = try await client.send(.get, "/v1/events?timeout=0.1&last_event_id=other-7")
            #expect(gap.text.contains("event: gap\ndata: {\"reason\":"), "\(gap.text)")
        }
    }

    @Test func aStreamCarriesTheNodesWorkInOrderAndResumes() async throws {
        try await withTestApp(.live) { client, node in
            async let streamed = Self.stream(client, timeout: 2)
            try await Self.streamsOpen(node.node, 1)
            let tasks = try await client.submit([echoTask(1), echoTask(2)])
            let claimed = try await client.claim(2, worker: "w-7")
            try #require(claimed.count == 2)
            let ack =
                #"{"acks": [{"id": "\#(claimed[0].task.id)", "lease_token": "\#(claimed[0].leaseToken)", "outcome": "complete", "result": 1}, {"id": "\#(claimed[1].task.id)", "lease_token": "\#(claimed[1].leaseToken)", "outcome": "fail", "error": "no", "retryable": false}]}"#
            #expect(try await client.send(.post, "/v1/workers/ack", json: ack).status == .ok)
            let beat = #"{"lease_token": "x", "progress": {"fraction": 0.5}}"#
            _ = try await client.send(.post, "/v1/tasks/\(tasks[0].id)/heartbeat", json: beat)

            let events = try await streamed
            let ids = Set(tasks.map(\.id.description))
            let mine = events.filter { $0.task.map(ids.contains) ?? false }
            #expect(
                mine.map(\.type) == ["enqueued", "enqueued", "claimed", "claimed", "transitioned", "transitioned"], "\(mine.map(\.type))")
            #expect(mine.filter { $0.type == "claimed" }.allSatisfy { $0.data["worker"]?.stringValue == "w-7" })
            let ends = mine.filter { $0.type == "transitioned" }.map { $0.data["to"]?.stringValue }
            #expect(Set(ends.compactMap { $0 }) == ["succeeded", "failed"])
            // Ids grow, each `<epoch>-<n>`.
            let numbers = events.compactMap { $0.id?.split(separator: "-").last.flatMap { UInt64($0) } }
            #expect(numbers == numbers.sorted() && Set(numbers).count == numbers.count && !numbers.isEmpty)
            let last = try #require(events.last?.id)

            // Missed while disconnected: resumed from the last id.
            let later = try await client.submit(echoTask(3))
            let resumed = try await Self.stream(client, timeout: 0.3, lastEventID: last)
            #expect(resumed.first?.type == "enqueued" && resumed.first?.task == later.id.description, "\(resumed.map(\.type))")
            #expect(!resumed.contains { $0.type == "gap" })

            // An id of another journal (a restarted node): a gap first.
            let unknown = try await Self.stream(client, timeout: 0.2, lastEventID: "zz-12")
            #expect(unknown.first?.type == "gap")
        }
    }

    @Test func filtersByQueueTaskAndWorkflow() async throws {
        try await withTestApp(.live) { client, node in
            async let mail = Self.stream(client, EventStreamFilter(queue: "mail"), timeout: 1.5)
            async let one = Self.stream(client, EventStreamFilter(kind: "echo"), timeout: 1.5)
            try await Self.streamsOpen(node.node, 2)
            let tasks = try await client.submit([echoTask(1, queue: "mail"), echoTask(2, queue: "other")])
            let workflow = try await client.send(
                .post, "/v1/workflows", json: #"{"chain": [{"kind": "wf.a"}, {"kind": "wf.b"}]}"#)
            #expect(workflow.status == .created)
            let mailEvents = try await mail
            #expect(mailEvents.map(\.task) == [tasks[0].id.description])
            let echoEvents = try await one
            #expect(Set(echoEvents.compactMap(\.task)) == Set(tasks.map(\.id.description)))

            // A workflow's events, after the fact, by resuming from before it.
            let id = try #require(workflow.json()["id"]?.stringValue)
            let bad = try await client.send(.get, "/v1/events?workflow=nope&timeout=0.1")
            #expect(bad.status == .badRequest)
            let unknownWorkflow = try await client.send(.get, "/v1/events?workflow=\(TaskID.generate())&timeout=0.1")
            #expect(unknownWorkflow.status == .notFound)
            let flow = try await Self.stream(
                client, EventStreamFilter(workflow: TaskID(id)), timeout: 0.2, lastEventID: mailEvents.first?.id)
            #expect(flow.filter { $0.type == "enqueued" }.count == 2, "\(flow.map(\.type))")
            #expect(flow.allSatisfy { $0.data["workflow_id"]?.stringValue == id })
        }
    }

    @Test func eventPollAnswersOneBatch() async throws {
        try await withTestApp(.live) { client, _ in
            let first = try await client.rpc(#"{"jsonrpc":"2.0","method":"event.poll","params":{"timeout":0},"id":1}"#)
            let cursor = try #require(try first.json()["result"]?["last_event_id"]?.stringValue)
            let task = try await client.submit(echoTask(9))
            let polled = try await client.rpc(
                #"{"jsonrpc":"2.0","method":"event.poll","params":{"last_event_id":"\#(cursor)","timeout":1},"id":2}"#)
            let result = try #require(try polled.json()["result"])
            guard case .array(let events)? = result["events"] else {
                Issue.record("no events array: \(result)")
                return
            }
            #expect(events.first?["type"]?.stringValue == "enqueued")
            #expect(events.first?["data"]?["task"]?.stringValue == task.id.description)
            #expect(result["gap"] == .bool(false))
        }
    }

    /// A filtered reader resuming far behind is told it has not caught up, so that the stream
    /// reads on at once rather than pausing to gather (a pause per journal page it passes
    /// over); once it reaches the end of the journal it is told so.
    @Test func aFilteredReaderBehindIsToldWhetherItCaughtUp() async throws {
        try await withTestApp(.router) { client, t in
            let ops = NodeAPI(node: t.node)
            var (cursor, gap) = try await ops.beginEvents(lastEventID: nil)
            defer { ops.endEvents() }
            #expect(!gap)
            let first = try await client.submit(echoTask(0, queue: "rare"))
            for n in 0..<2 { _ = try await client.submit((0..<600).map { echoTask(n * 600 + $0, queue: "bulk") }) }
            let last = try await client.submit(echoTask(1, queue: "rare"))
            var filter = try await ops.eventFilter(queue: "rare", kind: nil, task: nil, workflow: nil)
            let behind = await ops.readEvents(after: &cursor, filter: &filter, timeout: .seconds(1))
            func enqueued(_ batch: EventBatch) -> [TaskID] {
                batch.events.compactMap {
                    if case .enqueued(let ref) = $0.event { return ref.id }
                    return nil
                }
            }
            #expect(enqueued(behind) == [first.id])
            #expect(!behind.caughtUp, "more than a page of the journal was waiting after the first event")
            let rest = await ops.readEvents(after: &cursor, filter: &filter, timeout: .seconds(1))
            #expect(enqueued(rest) == [last.id])
            #expect(rest.caughtUp)
            #expect(!rest.gap && !behind.gap)
        }
    }
}
