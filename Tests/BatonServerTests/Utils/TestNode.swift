import BatonCore
import BatonNode
import BatonSQLite
import BatonServer
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Testing

/// A node over a real SQLite store in a fresh temporary directory.
struct TestNode {
    let store: SQLiteTaskStore
    let node: NodeServices
    let directory: URL

    static func make(
        dispatcher: TaskDispatcher.Configuration = .init(fallbackPoll: .milliseconds(200))
    ) async throws -> TestNode {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("baton-server-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let store = try await SQLiteTaskStore.open(.init(path: directory.appendingPathComponent("baton.db").path))
        let node = NodeServices(store: store, configuration: NodeConfiguration(dispatcher: dispatcher))
        return TestNode(store: store, node: node, directory: directory)
    }

    func dispose() {
        try? store.close()
        try? FileManager.default.removeItem(at: directory)
    }

    func app(_ configuration: ServerConfiguration = .init()) -> some ApplicationProtocol {
        var logger = Logger(label: "baton.test")
        logger.logLevel = .warning
        // The node's completer and dispatcher run beside the server, as the node's service group runs them.
        return makeApplication(node: node, configuration: configuration, logger: logger, services: [node.completer, node.dispatcher])
    }
}

/// Runs `body` with a fresh node and its application under `setup` (`.router` or `.live`).
func withTestApp<T>(
    _ setup: TestingSetup = .router, configuration: ServerConfiguration = .init(),
    _ body: @Sendable (any TestClientProtocol, TestNode) async throws -> T
) async throws -> T {
    let node = try await TestNode.make()
    defer { node.dispose() }
    return try await node.app(configuration).test(setup) { client in try await body(client, node) }
}

let jsonHeaders: HTTPFields = [.contentType: "application/json"]

extension TestClientProtocol {
    /// Sends `json` (text) with `Content-Type: application/json`.
    func send(_ method: HTTPRequest.Method, _ uri: String, json: String? = nil, headers: HTTPFields = jsonHeaders) async throws
        -> TestResponse
    {
        try await execute(uri: uri, method: method, headers: headers, body: json.map { ByteBuffer(string: $0) })
    }

    func send(_ method: HTTPRequest.Method, _ uri: String, body: some Encodable) async throws -> TestResponse {
        let data = try BatonJSON.encoder().encode(body)
        return try await execute(uri: uri, method: method, headers: jsonHeaders, body: ByteBuffer(bytes: data))
    }

    /// Submits tasks through the API and returns them as stored.
    func submit(_ tasks: [NewTask]) async throws -> [TaskRecord] {
        let response = try await send(.post, "/v1/tasks", body: tasks)
        try #require(response.status == .created, "submit failed: \(response.text)")
        return try response.decode(TaskListBody.self).tasks
    }

    func submit(_ task: NewTask) async throws -> TaskRecord {
        let response = try await send(.post, "/v1/tasks", body: task)
        try #require(response.status == .created, "submit failed: \(response.text)")
        return try response.decode(TaskRecord.self)
    }

    /// Claims up to `max` tasks of `queue` at once.
    func claim(_ max: Int = 1, queue: String = "default", worker: String = "w1", leaseMS: Int? = nil) async throws -> [ClaimedTask] {
        let response = try await send(
            .post, "/v1/workers/claim", body: ClaimBody(worker: worker, queues: [queue], max: max, waitMS: 0, leaseMS: leaseMS))
        try #require(response.status == .ok, "claim failed: \(response.text)")
        return try response.decode(ClaimResponse.self).tasks
    }
}

struct TaskListBody: Codable {
    var tasks: [TaskRecord]
}

extension TestResponse {
    var text: String { String(buffer: body) }

    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        try BatonJSON.decoder().decode(T.self, from: Data(body.readableBytesView))
    }

    /// The error body; fails the test if the body is not one.
    func errorBody() throws -> ErrorBody.Detail {
        #expect(headers[.contentType] == "application/json")
        return try decode(ErrorBody.self).error
    }
}

/// `{"kind": "echo", "args": ...}` as a `NewTask`.
func echoTask(_ n: Int, queue: String = "default") -> NewTask {
    NewTask(kind: "echo", args: RawJSON(.object(["n": .int(Int64(n))])), queue: queue)
}
