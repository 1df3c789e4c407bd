import BatonCore
import BatonNode
import BatonSQLite
import BatonServer
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Testing

/// A node (`NodeServices`) over a real SQLite store in a fresh temporary directory, and the
/// server application over it.
public struct TestNode: Sendable {
    public let store: SQLiteTaskStore
    public let node: NodeServices
    /// The store's temporary directory; a test may put files of its own there.
    public let directory: URL
    private let temp: TempStore

    /// Opens the store and builds the node; nothing runs until the application does.
    public static func make(
        dispatcher: TaskDispatcher.Configuration = .init(fallbackPoll: .milliseconds(200)), stringArgKinds: Set<String> = []
    ) async throws -> TestNode {
        let temp = try await TempStore.make(prefix: "baton-server")
        var configuration = NodeConfiguration(dispatcher: dispatcher)
        configuration.stringArgKinds = stringArgKinds
        let node = NodeServices(store: temp.store, configuration: configuration)
        return TestNode(store: temp.store, node: node, directory: temp.directory.url, temp: temp)
    }

    /// Closes the store and removes its directory.
    public func dispose() { temp.cleanUp() }

    /// The server application over the node, logging warnings and above.
    public func app(_ configuration: ServerConfiguration = .init()) -> some ApplicationProtocol {
        var logger = Logger(label: "baton.test")
        logger.logLevel = .warning
        // The node's completer and dispatcher run beside the server, as the node's service group runs them.
        return makeApplication(node: node, configuration: configuration, logger: logger, services: [node.completer, node.dispatcher])
    }
}

/// Runs `body` with a fresh node and its application under `setup` (`.router`: requests go
/// straight to the router; `.live`: a real server on a free port), and disposes of the node.
public func withTestApp<T>(
    _ setup: TestingSetup = .router, configuration: ServerConfiguration = .init(),
    _ body: @Sendable (any TestClientProtocol, TestNode) async throws -> T
) async throws -> T {
    let node = try await TestNode.make()
    defer { node.dispose() }
    return try await node.app(configuration).test(setup) { client in try await body(client, node) }
}

/// `Content-Type: application/json`.
public let jsonHeaders: HTTPFields = [.contentType: "application/json"]

extension TestClientProtocol {
    /// Sends `json` (text) with `Content-Type: application/json`.
    public func send(_ method: HTTPRequest.Method, _ uri: String, json: String? = nil, headers: HTTPFields = jsonHeaders)
        async throws -> TestResponse
    {
        try await execute(uri: uri, method: method, headers: headers, body: json.map { ByteBuffer(string: $0) })
    }

    /// Sends `body` encoded as Baton's JSON.
    public func send(_ method: HTTPRequest.Method, _ uri: String, body: some Encodable) async throws -> TestResponse {
        let data = try BatonJSON.encoder().encode(body)
        return try await execute(uri: uri, method: method, headers: jsonHeaders, body: ByteBuffer(bytes: data))
    }

    /// Submits tasks through the API and returns them as stored.
    public func submit(_ tasks: [NewTask]) async throws -> [TaskRecord] {
        let response = try await send(.post, "/v1/tasks", body: tasks)
        try #require(response.status == .created, "submit failed: \(response.text)")
        return try response.decode(TaskListBody.self).tasks
    }

    /// Submits a task through the API and returns it as stored.
    public func submit(_ task: NewTask) async throws -> TaskRecord {
        let response = try await send(.post, "/v1/tasks", body: task)
        try #require(response.status == .created, "submit failed: \(response.text)")
        return try response.decode(TaskRecord.self)
    }

    /// Claims up to `max` tasks of `queue` at once.
    public func claim(_ max: Int = 1, queue: String = "default", worker: String = "w1", leaseMS: Int? = nil) async throws
        -> [ClaimedTask]
    {
        let response = try await send(
            .post, "/v1/workers/claim", body: ClaimBody(worker: worker, queues: [queue], max: max, waitMS: 0, leaseMS: leaseMS))
        try #require(response.status == .ok, "claim failed: \(response.text)")
        return try response.decode(ClaimResponse.self).tasks
    }
}

/// A response body holding a list of tasks (`{"tasks": [...]}`).
public struct TaskListBody: Codable, Sendable {
    public var tasks: [TaskRecord]
    public init(tasks: [TaskRecord]) { self.tasks = tasks }
}

extension TestResponse {
    /// The body as text.
    public var text: String { String(buffer: body) }

    /// The body decoded as Baton's JSON.
    public func decode<T: Decodable>(_ type: T.Type) throws -> T {
        try BatonJSON.decoder().decode(T.self, from: Data(body.readableBytesView))
    }

    /// The error body; fails the test if the body is not one.
    public func errorBody() throws -> ErrorBody.Detail {
        #expect(headers[.contentType] == "application/json")
        return try decode(ErrorBody.self).error
    }
}

/// `{"kind": "echo", "args": {"n": n}}` as a `NewTask`.
public func echoTask(_ n: Int, queue: String = "default") -> NewTask {
    NewTask(kind: "echo", args: RawJSON(.object(["n": .int(Int64(n))])), queue: queue)
}
