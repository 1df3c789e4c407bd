import AsyncHTTPClient
import BatonCore
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL
import Synchronization

/// A producer's client for a Baton node's REST API (`docs/api.md`).
///
/// Every failure is a `BatonError`: the code of the server's error body (`notFound`,
/// `conflict`, `invalidArgument`, …), or `unavailable` when no server could be reached; or
/// ``NotABatonNode`` when a server answered that is not a Baton node (a wrong URL). When
/// a server refuses the connection the next one in `servers` is tried; the one that answered
/// is tried first next time.
///
/// ```swift
/// let client = BatonClient(servers: [URL(string: "http://127.0.0.1:8080")!])
/// let task = try await client.submit(NewTask(kind: "email.send", args: try RawJSON(validating: #"{"to":"a@b.c"}"#)))
/// let done = try await client.wait(task.id, timeout: .seconds(30))
/// ```
public final class BatonClient: Sendable {
    /// Base URLs of the nodes, e.g. `http://127.0.0.1:8080`.
    public let servers: [URL]
    /// Time limit of one request, besides a long-poll's own wait.
    public let requestTimeout: Duration
    /// Longest the server is asked to hold one long-poll of `wait(_:timeout:)`.
    public static let longPollSlice: Duration = .seconds(30)

    let token: String?
    let httpClient: HTTPClient
    private let preferred = Mutex(0)

    public init(
        servers: [URL], token: String? = nil, httpClient: HTTPClient = BatonClient.sharedHTTPClient, requestTimeout: Duration = .seconds(30)
    ) {
        precondition(!servers.isEmpty, "BatonClient needs at least one server URL")
        self.servers = servers
        self.token = token
        self.httpClient = httpClient
        self.requestTimeout = requestTimeout
    }

    /// The process-wide HTTP client (like `HTTPClient.shared`: never shut down) that clients
    /// use by default. A connection that cannot be made fails at once (it is not retried
    /// until the request's deadline, `HTTPClient.shared`'s way), so that the next server is
    /// tried, or the user told, right away.
    public static let sharedHTTPClient = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration())

    /// The configuration of Baton's HTTP clients: no retries of a failed connection, and a
    /// connection that does not open in `connectTimeout` has failed.
    public static func configuration(tls: TLSConfiguration? = nil, connectTimeout: TimeAmount = .seconds(5)) -> HTTPClient.Configuration {
        var configuration = HTTPClient.Configuration()
        configuration.tlsConfiguration = tls
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.timeout.connect = connectTimeout
        return configuration
    }

    /// A process-wide HTTP client (like ``sharedHTTPClient``: never shut down) for `https`
    /// nodes whose certificate is signed by a CA in `caFile` (PEM), e.g. a private CA or a
    /// self-signed certificate. One per file.
    public static func httpClient(caFile: String) throws -> HTTPClient {
        let tls = try tlsConfiguration(caFile: caFile)
        return caClients.withLock { clients in
            if let client = clients[caFile] { return client }
            let client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration(tls: tls))
            clients[caFile] = client
            return client
        }
    }

    private static let caClients = Mutex([String: HTTPClient]())

    /// Client TLS that trusts the CA certificates in `caFile` (PEM).
    public static func tlsConfiguration(caFile: String) throws -> TLSConfiguration {
        let certificates: [NIOSSLCertificate]
        do {
            certificates = try NIOSSLCertificate.fromPEMFile(caFile)
        } catch {
            throw BatonError.invalidArgument("cannot read the CA file \(caFile): \(error)")
        }
        guard !certificates.isEmpty else { throw BatonError.invalidArgument("the CA file \(caFile) holds no certificate") }
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .certificates(certificates)
        return tls
    }

    // MARK: Tasks

    /// Submits one task; returns it as stored (with its id).
    public func submit(_ task: NewTask) async throws -> TaskRecord {
        try await call(.POST, "/v1/tasks", body: try encode(task), expect: TaskRecord.self)
    }

    /// Submits one task and says whether it was a duplicate: with a `uniqueKey` an active
    /// task already holds, nothing is stored and the answer is that task (HTTP 200, not 201).
    public func submitReporting(_ task: NewTask) async throws -> (task: TaskRecord, duplicate: Bool) {
        struct Flag: Decodable { var duplicate: Bool? }
        let record = try await call(.POST, "/v1/tasks", body: try encode(task), expect: Answer<TaskRecord, Flag>.self)
        return (record.value, record.extra.duplicate ?? false)
    }

    /// A value and more fields of the same JSON object.
    private struct Answer<Value: Decodable, Extra: Decodable>: Decodable {
        var value: Value
        var extra: Extra
        init(from decoder: any Decoder) throws {
            value = try Value(from: decoder)
            extra = try Extra(from: decoder)
        }
    }

    /// Submits tasks in one transaction: all are stored, or none (and the error says which
    /// task was refused).
    public func submit(_ tasks: [NewTask]) async throws -> [TaskRecord] {
        try await call(.POST, "/v1/tasks", body: try encode(tasks), expect: TaskList.self).tasks
    }

    public func get(_ id: TaskID) async throws -> TaskRecord {
        try await call(.GET, "/v1/tasks/\(id)", expect: TaskRecord.self)
    }

    /// One page of tasks, newest first; pass `page.nextCursor` back as `cursor` for the next.
    public func list(_ params: TaskListParams = TaskListParams()) async throws -> TaskPage {
        var query: [(String, String)] = []
        if let states = params.states, !states.isEmpty { query.append(("state", states.map(\.rawValue).joined(separator: ","))) }
        if let queue = params.queue { query.append(("queue", queue)) }
        if let kind = params.kind { query.append(("kind", kind)) }
        query.append(("limit", String(params.limit)))
        if let cursor = params.cursor { query.append(("cursor", cursor)) }
        if let tag = params.tag { query.append(("tag", tag)) }
        return try await call(.GET, "/v1/tasks", query: query, expect: TaskPage.self)
    }

    /// Waits until the task is terminal (succeeded, failed, cancelled) or `timeout` passes,
    /// using the server's long-poll; returns the task as it is then.
    public func wait(_ id: TaskID, timeout: Duration) async throws -> TaskRecord {
        let deadline = ContinuousClock.now.advanced(by: max(.zero, timeout))
        while true {
            let remaining = max(.zero, deadline - ContinuousClock.now)
            let slice = min(remaining, Self.longPollSlice)
            let seconds = String(format: "%.3f", slice.seconds)
            let task = try await call(
                .GET, "/v1/tasks/\(id)/wait", query: [("timeout", seconds)], extraTime: slice, expect: TaskRecord.self)
            if task.state.isTerminal || ContinuousClock.now >= deadline { return task }
            try Task.checkCancellation()
        }
    }

    /// Cancels a task that has not finished; `conflict` if it is terminal.
    public func cancel(_ id: TaskID) async throws -> TaskRecord {
        try await call(.POST, "/v1/tasks/\(id)/cancel", expect: TaskRecord.self)
    }

    /// Runs a finished task again; `conflict` if it is not terminal.
    public func retry(_ id: TaskID) async throws -> TaskRecord {
        try await call(.POST, "/v1/tasks/\(id)/retry", expect: TaskRecord.self)
    }

    /// Deletes a finished task; `conflict` if it is not terminal.
    public func delete(_ id: TaskID) async throws {
        _ = try await send(.DELETE, "/v1/tasks/\(id)", query: [], body: nil, extraTime: .zero)
    }

    /// The workers the node heard from recently, with their queues, kinds and tasks in flight.
    public func workers() async throws -> [WorkerInfo] {
        try await call(.GET, "/v1/workers", expect: WorkerList.self).workers
    }

    public func queues() async throws -> [QueueCounts] {
        try await queuesResponse().queues
    }

    /// `GET /v1/queues` as answered: the counts, when they were taken and how old they were.
    public func queuesResponse() async throws -> QueuesResponse {
        try await call(.GET, "/v1/queues", expect: QueuesResponse.self)
    }

    /// `GET /health`: returns the server's status (`"ok"`), throws `unavailable` if down.
    @discardableResult
    public func health() async throws -> String {
        try await call(.GET, "/health", expect: HealthStatus.self).status
    }

    // MARK: Transport

    private struct TaskList: Decodable {
        var tasks: [TaskRecord]
    }

    private struct HealthStatus: Decodable {
        var status: String
    }

    func encode(_ value: some Encodable) throws -> Data {
        do {
            return try BatonJSON.encoder().encode(value)
        } catch {
            throw BatonError.invalidArgument("cannot encode the request: \(error)")
        }
    }

    func call<T: Decodable>(
        _ method: HTTPMethod, _ path: String, query: [(String, String)] = [], body: Data? = nil, extraTime: Duration = .zero,
        expect: T.Type
    ) async throws -> T {
        let data = try await send(method, path, query: query, body: body, extraTime: extraTime)
        // JSONDecoder traps (does not throw) on some input nested past its limit of 512.
        if data.withUnsafeBytes({ JSONNesting.exceeds(Self.maxResponseDepth, in: $0) }) {
            throw BatonError(
                .internal, "unexpected response to \(method.rawValue) \(path): JSON nested deeper than \(Self.maxResponseDepth)")
        }
        do {
            return try BatonJSON.decoder().decode(T.self, from: data)
        } catch {
            throw BatonError(.internal, "unexpected response to \(method.rawValue) \(path): \(error)")
        }
    }

    /// Sends the request to the preferred server, failing over to the next on a connection
    /// failure. Returns the body of a 2xx answer; throws the server's error otherwise.
    func send(_ method: HTTPMethod, _ path: String, query: [(String, String)], body: Data?, extraTime: Duration) async throws
        -> Data
    {
        let start = preferred.withLock { $0 }
        var failures: [String] = []
        for offset in 0..<servers.count {
            let index = (start + offset) % servers.count
            let url = Self.url(servers[index], path: path, query: query)
            var request = HTTPClientRequest(url: url)
            request.method = method
            request.headers.add(name: "Accept", value: "application/json")
            if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
            if let body {
                request.headers.add(name: "Content-Type", value: "application/json")
                request.body = .bytes(ByteBuffer(bytes: body))
            }
            let timeout = requestTimeout + extraTime
            let response: HTTPClientResponse
            let bytes: ByteBuffer
            do {
                response = try await httpClient.execute(request, timeout: .nanoseconds(Int64(timeout.seconds * 1e9)))
                bytes = try await response.body.collect(upTo: Self.maxResponseBytes)
            } catch {
                if error is CancellationError { throw error }
                if Self.isConnectionFailure(error) {
                    failures.append("\(Self.displayURL(servers[index])): \(Self.describe(error))")
                    continue
                }
                throw BatonError.unavailable("\(method.rawValue) \(Self.displayURL(servers[index]))\(path) failed: \(Self.describe(error))")
            }
            if offset > 0 { preferred.withLock { $0 = index } }
            let data = Data(bytes.readableBytesView)
            let status = Int(response.status.code)
            // Every answer of a Baton node is JSON; a proxy's 502–504 page means the node is down.
            if !Self.isJSON(response.headers["Content-Type"].first), !(502...504).contains(status), !(status == 204 && data.isEmpty) {
                throw NotABatonNode(
                    server: Self.displayURL(servers[index]), request: "\(method.rawValue) \(path)", status: status,
                    contentType: response.headers["Content-Type"].first)
            }
            guard (200..<300).contains(status) else { throw Self.error(status: status, body: data) }
            return data
        }
        throw BatonError.unavailable("no Baton server could be reached: \(failures.joined(separator: "; "))")
    }

    /// Whether a `Content-Type` is JSON (`application/json`, parameters aside).
    static func isJSON(_ contentType: String?) -> Bool {
        guard let type = contentType?.split(separator: ";", maxSplits: 1).first else { return false }
        return type.trimmingCharacters(in: .whitespaces).lowercased() == "application/json"
    }

    /// A server URL as the user wrote it, without a trailing slash.
    public static func displayURL(_ url: URL) -> String {
        var text = url.absoluteString
        while text.hasSuffix("/") { text.removeLast() }
        return text
    }

    /// A transport error in words: `connection refused`, `connection timed out`, a TLS
    /// handshake failure with its likely cause (never the TLS library's source path).
    public static func describe(_ error: any Error) -> String {
        ConnectionFailureText.describe(error) { error in
            switch error {
            case let e as IOError: return ConnectionFailureText.errno(e.errnoCode)
            case let e as NIOSSLError:
                if case .handshakeFailed = e { return ConnectionFailureText.tlsHandshake(String(reflecting: e)) }
                return "TLS failed: \(e)"
            case let e as HTTPClientError:
                switch e {
                case .connectTimeout, .getConnectionFromPoolTimeout: return "connection timed out"
                case .deadlineExceeded, .readTimeout: return "no answer in time"
                case .remoteConnectionClosed: return "the server closed the connection"
                default: return "\(e)"
                }
            case let e as ChannelError:
                if case .connectTimeout = e { return "connection timed out" }
                return nil
            default: return nil
            }
        }
    }

    static let maxResponseBytes = 256 << 20

    static func url(_ base: URL, path: String, query: [(String, String)]) -> String {
        var text = displayURL(base) + path
        if !query.isEmpty {
            var allowed = CharacterSet.urlQueryAllowed
            allowed.remove(charactersIn: "&=+?#")
            text += "?"
            text += query.map { key, value in
                "\(key)=\(value.addingPercentEncoding(withAllowedCharacters: allowed) ?? value)"
            }.joined(separator: "&")
        }
        return text
    }

    /// The server's error body as a `BatonError`; the status decides when the body is not Baton's.
    /// The deepest response the client reads: `JSONDecoder`'s own limit, checked before it
    /// reads (past it, it refuses some input and traps on other).
    static let maxResponseDepth = 512

    static func error(status: Int, body: Data) -> BatonError {
        if !body.withUnsafeBytes({ JSONNesting.exceeds(maxResponseDepth, in: $0) }),
            let decoded = try? BatonJSON.decoder().decode(ErrorBody.self, from: body)
        {
            let code = BatonError.Code(wire: decoded.error.code) ?? code(forStatus: status)
            return BatonError(code, decoded.error.message)
        }
        let text = String(decoding: body.prefix(200), as: UTF8.self)
        return BatonError(code(forStatus: status), "HTTP \(status)\(text.isEmpty ? "" : ": \(text)")")
    }

    static func code(forStatus status: Int) -> BatonError.Code {
        switch status {
        case 400, 405, 415, 422: .invalidArgument
        case 401: .unauthorized
        case 403: .forbidden
        case 404: .notFound
        case 409: .conflict
        case 413: .tooLarge
        case 502, 503, 504: .unavailable
        default: .internal
        }
    }

    /// Errors where the request never reached a server, so another one may be tried without
    /// risking a duplicate (a timed-out or reset request may have been processed: no failover).
    static func isConnectionFailure(_ error: any Error) -> Bool {
        if let e = error as? HTTPClientError {
            return e == .connectTimeout || e == .getConnectionFromPoolTimeout
        }
        if let e = error as? IOError {
            return e.errnoCode == ECONNREFUSED || e.errnoCode == EHOSTUNREACH || e.errnoCode == ENETUNREACH
        }
        if let e = error as? ChannelError, case .connectTimeout = e { return true }
        let name = String(reflecting: type(of: error))
        return name.contains("NIOConnectionError") || name.contains("SocketAddressError")
    }
}

/// A server answered that is not a Baton node: its answer is not JSON (a web page, another
/// service). The URL is probably wrong.
public struct NotABatonNode: Error, CustomStringConvertible, Sendable {
    public let server: String
    public let request: String
    public let status: Int
    public let contentType: String?

    public var description: String {
        let type = contentType.map { ", \($0)" } ?? ", no Content-Type"
        return
            "\(server) is not a Baton node: it answered \(request) with HTTP \(status)\(type), not a Baton JSON answer (check --server or BATON_SERVER)"
    }
}
