import AsyncHTTPClient
import BatonCore
import Foundation
import NIOCore

/// One event of a node's stream (`GET /v1/events`): its id (resume after it with
/// `lastEventID`), its type (`enqueued`, `claimed`, `transitioned`, `progress`, `rescued`,
/// `schedule_fired`, `leadership`, or `gap` when events were lost) and its JSON data.
public struct ServerEvent: Sendable, Hashable {
    public var id: String?
    public var type: String
    public var data: String

    public init(id: String?, type: String, data: String) {
        self.id = id
        self.type = type
        self.data = data
    }

    /// The data as JSON.
    public var json: JSONValue? { try? JSONDecoder().decode(JSONValue.self, from: Data(data.utf8)) }
}

/// What `GET /v1/events` streams: everything, or the events of a queue, kind, task or workflow.
public struct EventStreamFilter: Sendable, Hashable {
    public var queue: String?
    public var kind: String?
    public var task: TaskID?
    public var workflow: TaskID?

    public init(queue: String? = nil, kind: String? = nil, task: TaskID? = nil, workflow: TaskID? = nil) {
        self.queue = queue
        self.kind = kind
        self.task = task
        self.workflow = workflow
    }

    var query: [(String, String)] {
        var q: [(String, String)] = []
        if let queue { q.append(("queue", queue)) }
        if let kind { q.append(("kind", kind)) }
        if let task { q.append(("task", task.description)) }
        if let workflow { q.append(("workflow", workflow.description)) }
        return q
    }
}

extension BatonClient {
    /// The node's events from now (or after `lastEventID`), as they happen, until `timeout`
    /// (seconds; `nil`: until the node closes the stream or the task is cancelled). One
    /// connection, to the first server that answers; resume a dropped stream by calling again
    /// with the last event's id.
    public func events(_ filter: EventStreamFilter = .init(), lastEventID: String? = nil, timeout: Double? = nil)
        -> AsyncThrowingStream<ServerEvent, any Error>
    {
        AsyncThrowingStream { continuation in
            let work = Task {
                do {
                    try await self.streamEvents(filter, lastEventID: lastEventID, timeout: timeout) { continuation.yield($0) }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in work.cancel() }
        }
    }

    private func streamEvents(
        _ filter: EventStreamFilter, lastEventID: String?, timeout: Double?, _ deliver: (ServerEvent) -> Void
    ) async throws {
        var query = filter.query
        if let timeout { query.append(("timeout", "\(timeout)")) }
        var failures: [String] = []
        for server in servers {
            var request = HTTPClientRequest(url: Self.url(server, path: "/v1/events", query: query))
            request.headers.add(name: "Accept", value: "text/event-stream")
            if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
            if let lastEventID { request.headers.add(name: "Last-Event-ID", value: lastEventID) }
            let response: HTTPClientResponse
            do {
                // The whole stream is one request: its deadline is the stream's.
                let seconds = (timeout ?? 365 * 86_400) + requestTimeout.seconds
                response = try await httpClient.execute(request, timeout: .seconds(Int64(seconds.rounded(.up))))
            } catch {
                if error is CancellationError { throw error }
                if Self.isConnectionFailure(error) {
                    failures.append("\(Self.displayURL(server)): \(Self.describe(error))")
                    continue
                }
                throw BatonError.unavailable("GET \(Self.displayURL(server))/v1/events failed: \(Self.describe(error))")
            }
            let status = Int(response.status.code)
            guard (200..<300).contains(status) else {
                let body = try await response.body.collect(upTo: Self.maxResponseBytes)
                throw Self.error(status: status, body: Data(body.readableBytesView))
            }
            var parser = EventStreamParser()
            for try await chunk in response.body {
                for event in parser.feed(chunk.readableBytesView) { deliver(event) }
            }
            return
        }
        throw BatonError.unavailable("no Baton server could be reached: \(failures.joined(separator: "; "))")
    }
}

/// Reads the Server-Sent Events format: lines of `field: value`, an event ended by a blank
/// line; comments (`:`) and `retry:` are skipped.
struct EventStreamParser {
    private var line: [UInt8] = []
    private var id: String?
    private var type: String?
    private var data: [String] = []

    mutating func feed(_ bytes: some Sequence<UInt8>) -> [ServerEvent] {
        var out: [ServerEvent] = []
        for byte in bytes {
            if byte == UInt8(ascii: "\n") {
                if let event = takeLine() { out.append(event) }
            } else if byte != UInt8(ascii: "\r") {
                line.append(byte)
            }
        }
        return out
    }

    private mutating func takeLine() -> ServerEvent? {
        defer { line.removeAll(keepingCapacity: true) }
        if line.isEmpty {
            defer {
                type = nil
                data = []
            }
            guard !data.isEmpty || type != nil else { return nil }
            return ServerEvent(id: id, type: type ?? "message", data: data.joined(separator: "\n"))
        }
        let text = String(decoding: line, as: UTF8.self)
        if text.hasPrefix(":") { return nil }
        let parts = text.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
        let field = String(parts[0])
        var value = parts.count > 1 ? String(parts[1]) : ""
        if value.hasPrefix(" ") { value.removeFirst() }
        switch field {
        case "id": id = value
        case "event": type = value
        case "data": data.append(value)
        default: break
        }
        return nil
    }
}
