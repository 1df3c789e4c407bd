import BatonCore
import BatonNode
import Foundation
import HTTPTypes
import Hummingbird

/// `GET /v1/events`: the node's events (on PostgreSQL the cluster's, ``ClusterEventFeed``) as
/// Server-Sent Events (docs/api.md#events), filtered by queue, kind, task or workflow,
/// resumable with `Last-Event-ID`. The same reads as the `event.poll` JSON-RPC method, which
/// answers one batch instead of a stream.
struct EventRoutes<Context: RequestContext>: Sendable {
    let ops: NodeAPI

    /// A comment line every so often, so that proxies keep the stream open and a client that
    /// left is noticed.
    static var keepAlive: Duration { .seconds(15) }

    /// How long a stream that has caught up waits after writing events, gathering the next:
    /// the most an event is delayed. A stream behind (resuming, or outpaced) reads on at once.
    static var coalescing: Duration { .milliseconds(20) }

    var routes: [Route<Context>] {
        [
            Route(
                .get, "/v1/events", access: .producer, rpc: "event.poll", summary: "Stream the node's events (Server-Sent Events)",
                query: Self.query, events)
        ]
    }

    static var query: [QueryParameter] {
        [
            QueryParameter(name: "queue", schema: Self.orEmpty(APISchemas.queueName), description: "Only events of this queue's tasks"),
            QueryParameter(name: "kind", schema: Self.orEmpty(APISchemas.kindName), description: "Only events of this kind's tasks"),
            QueryParameter(name: "task", schema: Self.orEmpty(APISchemas.ref("TaskID")), description: "Only events of this task"),
            QueryParameter(
                name: "workflow", schema: Self.orEmpty(APISchemas.ref("TaskID")),
                description: "Only events of this workflow's tasks (404 if unknown)"),
            QueryParameter(
                name: "timeout", schema: .object(["type": "number", "minimum": 0]),
                description: "End the stream after this many seconds (default: stays open)"),
            QueryParameter(
                name: "last_event_id", schema: APISchemas.string(),
                description: "Resume after this event id (as the Last-Event-ID header; the header wins)"),
        ]
    }

    /// `schema`, or empty (no filter).
    static func orEmpty(_ schema: JSONValue) -> JSONValue {
        .object(["anyOf": [schema, .object(["type": "string", "maxLength": 0])]])
    }

    @Sendable func events(_ request: Request, context: Context) async throws -> Response {
        let query = request.uri.queryParameters
        let requested = try await ops.eventFilter(
            queue: query["queue"].map(String.init), kind: query["kind"].map(String.init), task: query["task"].map(String.init),
            workflow: query["workflow"].map(String.init))
        let limit = try TaskRoutes<Context>.timeout(request)
        let lastEventID = request.headers[.lastEventID] ?? query["last_event_id"].map(String.init)
        let ops = self.ops
        let (start, initialGap) = try await ops.beginEvents(lastEventID: lastEventID)
        var headers = HTTPFields()
        headers[.contentType] = "text/event-stream; charset=utf-8"
        headers[.cacheControl] = "no-cache"
        let body = ResponseBody { writer in
            defer { ops.endEvents() }
            var cursor = start
            var filter = requested
            let deadline = limit.map { ContinuousClock.now + .seconds($0) }
            var out = EventStreamText()
            out.retry(milliseconds: 2000)
            if initialGap { out.gap(lastEventID: nil) }
            try await writer.write(out.take())
            while !ops.eventsClosed && !Task.isCancelled {
                let now = ContinuousClock.now
                if let deadline, now >= deadline { break }
                let wait = min(Self.keepAlive, deadline.map { $0 - now } ?? Self.keepAlive)
                let batch = await ops.readEvents(after: &cursor, filter: &filter, timeout: wait)
                if batch.gap { out.gap(lastEventID: batch.lastEventID) }
                for (id, event, node) in batch.events { out.event(id: id, event, node: node) }
                if batch.events.isEmpty && !batch.gap { out.comment("keep-alive") }
                try await writer.write(out.take())
                // Under a steady flow of events, one write per `coalescing` carries them all,
                // rather than a write (and a wake-up) for every few events.
                if !batch.events.isEmpty && batch.caughtUp { try? await Task.sleep(for: Self.coalescing) }
            }
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: headers, body: body)
    }
}

extension HTTPField.Name {
    static let lastEventID = Self("Last-Event-ID")!
}

/// The text of an event stream (the WHATWG Server-Sent Events format): `id:`, `event:` and
/// one `data:` line of JSON per event, a blank line after each.
struct EventStreamText {
    private var bytes: [UInt8] = []

    mutating func take() -> ByteBuffer {
        defer { bytes.removeAll(keepingCapacity: true) }
        return ByteBuffer(bytes: bytes)
    }

    mutating func retry(milliseconds: Int) { bytes += Array("retry: \(milliseconds)\n\n".utf8) }

    mutating func comment(_ text: String) { bytes += Array(": \(text)\n\n".utf8) }

    mutating func event(id: String, _ event: NodeEvent, node: String? = nil) {
        guard let (type, data) = EventJSON.encode(event, node: node) else { return }
        bytes += Array("id: \(id)\nevent: \(type)\ndata: ".utf8)
        bytes += data
        bytes += Array("\n\n".utf8)
    }

    /// Tells the client that events may have been lost before what follows.
    mutating func gap(lastEventID: String?) {
        var data = JSONWriter()
        data.raw(#"{"reason":"#)
        data.string(
            "events were lost: the node restarted, the id is unknown or too old here, the reader fell behind, or a node began publishing only now"
        )
        data.byte(UInt8(ascii: "}"))
        if let lastEventID { bytes += Array("id: \(lastEventID)\n".utf8) }
        bytes += Array("event: gap\ndata: ".utf8)
        bytes += data.bytes
        bytes += Array("\n\n".utf8)
    }
}

/// An event as JSON: its type (`enqueued`, `claimed`, `transitioned`, `progress`, `rescued`,
/// `schedule_fired`, `leadership`) and its members, keys sorted.
enum EventJSON {
    /// `{"events": [{"id", "type", "data"}], "gap": bool, "last_event_id": "..."}`.
    static func batch(_ batch: EventBatch, gap: Bool) -> [UInt8] {
        var w = JSONWriter()
        w.raw(#"{"events":["#)
        var first = true
        for (id, event, node) in batch.events {
            guard let (type, data) = encode(event, node: node) else { continue }
            if !first { w.byte(UInt8(ascii: ",")) }
            first = false
            w.raw(#"{"data":"#)
            w.json(RawJSON(trusted: String(decoding: data, as: UTF8.self)))
            w.raw(#","id":"#)
            w.string(id)
            w.raw(#","type":"#)
            w.string(type)
            w.byte(UInt8(ascii: "}"))
        }
        w.raw(#"],"gap":"#)
        w.bool(gap)
        w.raw(#","last_event_id":"#)
        w.string(batch.lastEventID)
        w.byte(UInt8(ascii: "}"))
        return w.bytes
    }

    /// The event's members (keys sorted), then `node` when it is known (a cluster's events).
    static func encode(_ event: NodeEvent, node: String? = nil) -> (type: String, data: [UInt8])? {
        guard let (type, encoded) = NodeEventJSON.encode(event) else { return nil }
        var data = encoded
        if let node, data.last == UInt8(ascii: "}") {
            var w = JSONWriter()
            w.raw(#","node":"#)
            w.string(node)
            data.removeLast()
            data += w.bytes
            data.append(UInt8(ascii: "}"))
        }
        return (type, data)
    }
}
