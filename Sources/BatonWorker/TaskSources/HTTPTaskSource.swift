import AsyncHTTPClient
import BatonClient
import BatonCore
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import Synchronization

/// A node's worker protocol over HTTP (`/v1/workers/…`), for remote workers.
///
/// Claims long-poll (`wait_ms`). Acks are buffered and sent in batches — when 256 are
/// waiting or 2 ms after the first, one request in flight at a time while the next batch
/// accumulates — and a batch that cannot be sent is kept and retried with backoff, then
/// given up with an error log (its tasks come back when their leases expire). With several
/// servers, a connection failure moves on to the next one. Errors: a node's error body
/// becomes a `BatonError` with its code; an unreachable node is `BatonError.unavailable`.
public final class HTTPTaskSource: TaskSource {
    public struct Configuration: Sendable {
        /// Acks waiting that trigger a send at once.
        public var ackBatch: Int
        /// How long the first ack of a batch waits for company.
        public var ackLinger: Duration
        /// Most acks in one request.
        public var maxAcksPerRequest: Int
        /// Sends of one batch before it is given up.
        public var ackAttempts: Int
        /// Timeout of requests other than claims; a claim gets its wait plus this.
        public var requestTimeout: Duration

        public static let defaultAckBatch = 256
        public static let defaultAckLinger = Defaults.ackLinger
        public static let defaultAckAttempts = 8
        public static let defaultRequestTimeout: Duration = .seconds(10)

        public init(
            ackBatch: Int = Configuration.defaultAckBatch, ackLinger: Duration = Configuration.defaultAckLinger,
            maxAcksPerRequest: Int = Defaults.ackBatch, ackAttempts: Int = Configuration.defaultAckAttempts,
            requestTimeout: Duration = Configuration.defaultRequestTimeout
        ) {
            self.ackBatch = ackBatch
            self.ackLinger = ackLinger
            self.maxAcksPerRequest = maxAcksPerRequest
            self.ackAttempts = ackAttempts
            self.requestTimeout = requestTimeout
        }
    }

    private struct State {
        var current = 0
    }

    public let servers: [URL]
    public let configuration: Configuration
    private let token: String?
    private let httpClient: HTTPClient
    private let logger: Logger
    private let state = Mutex(State())
    /// Acks waiting to be sent, drained by ``run()``.
    private let acks = BatchQueue<TaskAck>()
    /// The leases of the acks queued or being sent: the worker keeps heartbeating them until
    /// the node has the ack, so that an outage that holds acks back does not let their leases
    /// expire and their tasks run again.
    private let unsent = Mutex<[LeaseRef: Int]>([:])
    /// Called with each batch of acks the node answered (applied or refused by their lease
    /// tokens), before their leases stop being heartbeated.
    private let onDelivered: (@Sendable ([TaskAck]) async -> Void)?

    /// A process-wide client that fails a request as soon as its connection cannot be
    /// established (instead of retrying until the connect timeout, as `HTTPClient.shared`
    /// does), so an unreachable node is noticed at once and the next server is tried.
    public static let defaultHTTPClient = HTTPClient(
        eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: failFastConfiguration())

    /// No retries of a refused connection, and a short connect timeout.
    private static func failFastConfiguration() -> HTTPClient.Configuration {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.timeout.connect = .seconds(5)
        return configuration
    }

    /// As `defaultHTTPClient` (process-wide, never shut down; one per file), for `https` nodes
    /// whose certificate is signed by a CA in `caFile` (PEM).
    public static func httpClient(caFile: String) throws -> HTTPClient {
        var configuration = failFastConfiguration()
        configuration.tlsConfiguration = try BatonClient.tlsConfiguration(caFile: caFile)
        return caClients.withLock { clients in
            if let client = clients[caFile] { return client }
            let client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
            clients[caFile] = client
            return client
        }
    }

    private static let caClients = Mutex([String: HTTPClient]())

    static let maxResponseBytes = 64 << 20
    /// Keeps one ack request under the node's default body limit (16 MiB).
    static let maxAckRequestBytes = 8 << 20

    public init(
        servers: [URL], token: String? = nil, httpClient: HTTPClient = HTTPTaskSource.defaultHTTPClient,
        configuration: Configuration = .init(),
        logger: Logger, delivered: (@Sendable ([TaskAck]) async -> Void)? = nil
    ) {
        precondition(!servers.isEmpty, "HTTPTaskSource needs at least one server")
        self.onDelivered = delivered
        self.servers = servers
        self.token = token
        self.httpClient = httpClient
        self.configuration = configuration
        self.logger = logger
    }

    /// The server requests go to now.
    public var currentServer: URL { servers[state.withLock { $0.current }] }

    // MARK: TaskSource

    public func claim(worker: String, queues: [String], kinds: [String], max: Int, wait: Duration, lease: Duration)
        async throws -> [ClaimedTask]
    {
        let body = ClaimBody(
            worker: worker, queues: queues, kinds: kinds, max: max, waitMS: wait.inMilliseconds,
            leaseMS: lease.inMilliseconds)
        let response: ClaimResponse = try await post(
            "/v1/workers/claim", body, timeout: wait + configuration.requestTimeout)
        return response.tasks
    }

    public func heartbeat(_ leases: [LeaseRef], lease: Duration, progress: [LeaseRef: TaskProgress]) async throws
        -> [HeartbeatOutcome]
    {
        guard !leases.isEmpty else { return [] }
        let body = HeartbeatManyBody(
            worker: nil, leases: leases.map { HeartbeatItem($0, progress: progress[$0]) }, leaseMS: lease.inMilliseconds)
        let response: HeartbeatManyResponse = try await post("/v1/workers/heartbeat", body, timeout: configuration.requestTimeout)
        let byID = Dictionary(response.results.map { ($0.id, $0.outcome) }, uniquingKeysWith: { first, _ in first })
        return leases.map { byID[$0.id] ?? .notFound }
    }

    /// Queues an ack for ``run()`` to send in a batch.
    public func ack(_ ack: TaskAck) {
        unsent.withLock { $0[ack.lease, default: 0] += 1 }
        if !acks.append(ack) {
            settled([ack])
            logger.warning(
                "ack after the worker stopped; the task returns when its lease expires", metadata: ["task_id": "\(ack.lease.id)"])
        }
    }

    /// Sends acks in batches (one request per batch, split by size) until ``stop()`` and
    /// everything queued is sent.
    public func run() async {
        let configuration = self.configuration
        _ = await acks.run(
            linger: configuration.ackLinger, isFull: { $0.count >= configuration.ackBatch },
            take: { buffer in
                var n = 0
                var bytes = 0
                for ack in buffer.prefix(configuration.maxAcksPerRequest) {
                    bytes += Self.approximateSize(ack)
                    if n > 0 && bytes > Self.maxAckRequestBytes { break }
                    n += 1
                }
                return n
            },
            write: { batch in
                if await self.send(batch), let onDelivered = self.onDelivered { await onDelivered(batch) }
                self.settled(batch)
            })
    }

    /// The leases of acks that are queued or being sent.
    public var pendingLeases: [LeaseRef] { unsent.withLock { Array($0.keys) } }

    /// Acks the node has now (or that were given up): their leases are no longer kept alive.
    private func settled(_ batch: [TaskAck]) {
        unsent.withLock { pending in
            for ack in batch {
                let left = (pending[ack.lease] ?? 1) - 1
                pending[ack.lease] = left > 0 ? left : nil
            }
        }
    }

    public func stop() { acks.finish() }

    /// Announces the worker to every node it is given (`POST /v1/workers`), so that whichever
    /// node rescues its tasks knows its kinds' retry policies. Throws only when no node took it.
    public func announce(_ announcement: WorkerAnnouncement) async throws {
        let payload = Array(try BatonJSON.encoder().encode(announcement))
        var lastError: (any Error)?
        var delivered = false
        for index in servers.indices {
            do {
                let (status, data) = try await send("/v1/workers", payload: payload, to: index, timeout: configuration.requestTimeout)
                guard (200..<300).contains(status.code) else { throw Self.error(status: status, data: data) }
                delivered = true
            } catch {
                if Task.isCancelled { throw CancellationError() }
                lastError = error
            }
        }
        if !delivered, let lastError { throw lastError }
    }

    public func release(_ leases: [LeaseRef]) async throws {
        guard !leases.isEmpty else { return }
        let _: ReleaseResponse = try await post(
            "/v1/workers/release", ReleaseBody(leases: leases.map(LeaseItem.init)), timeout: configuration.requestTimeout)
    }

    public func flush() async {
        await acks.idle()
    }

    /// Acks buffered (not counting a batch being sent).
    public var pendingAcks: Int { acks.count }

    // MARK: Acks

    /// Sends one batch, retrying while the node is unreachable; gives up (with an error log)
    /// after the configured attempts or on an error retrying cannot fix. Returns whether the
    /// node answered for each ack (applied, or refused by its lease token).
    private func send(_ batch: [TaskAck]) async -> Bool {
        // Written by hand; with `JSONEncoder` when a result needs normalising.
        let payload = AckRequestWriter.body(batch)
        var backoff = GrowingPause(jitter: true)
        for attempt in 1...max(1, configuration.ackAttempts) {
            do {
                let response: AckResponse =
                    if let payload {
                        try await post("/v1/workers/ack", payload: payload, timeout: configuration.requestTimeout)
                    } else {
                        try await post(
                            "/v1/workers/ack", AckBody(acks: batch.map(AckItem.init)), timeout: configuration.requestTimeout)
                    }
                for result in response.results where result.status != "applied" {
                    logger.warning(
                        "ack refused: lease no longer held", metadata: ["task_id": "\(result.id)", "status": "\(result.status)"])
                }
                return true
            } catch let error as BatonError where error.code != .unavailable && error.code != .internal {
                logger.error(
                    "the node refused a batch of acks; their tasks return when their leases expire",
                    metadata: ["count": "\(batch.count)", "error": "\(error)"])
                return false
            } catch {
                if attempt == configuration.ackAttempts { break }
                let delay = backoff.next()
                logger.warning(
                    "could not send acks; keeping them and retrying",
                    metadata: ["count": "\(batch.count)", "attempt": "\(attempt)", "error": "\(error)", "retry_in": "\(delay)"])
                try? await Task.sleep(for: delay)
            }
        }
        logger.error(
            "gave up sending acks after \(configuration.ackAttempts) attempts; their tasks return when their leases expire",
            metadata: ["count": "\(batch.count)", "task_ids": "\(batch.prefix(20).map { "\($0.lease.id)" }.joined(separator: ","))"])
        return false
    }

    static func approximateSize(_ ack: TaskAck) -> Int {
        switch ack {
        case .complete(let c): 128 + c.result.byteCount
        case .fail(let f): 160 + f.message.utf8.count
        }
    }

    // MARK: HTTP

    /// POSTs a JSON body to the current server, moving on to the next on a connection failure
    /// or a 503.
    func post<Body: Encodable, Response: Decodable>(_ path: String, _ body: Body, timeout: Duration) async throws -> Response {
        try await post(path, payload: Array(try BatonJSON.encoder().encode(body)), timeout: timeout)
    }

    /// POSTs a body already encoded as JSON (see ``post(_:_:timeout:)``).
    func post<Response: Decodable>(_ path: String, payload: [UInt8], timeout: Duration) async throws -> Response {
        try await call(path, payload: payload, timeout: timeout)
    }

    /// GETs `path` (with its query) from the current server, failing over as a POST does.
    func get<Response: Decodable>(_ path: String, timeout: Duration) async throws -> Response {
        try await call(path, payload: nil, timeout: timeout)
    }

    /// `POST /v1/tasks/{id}/complete` with `follow_ups`.
    public func complete(_ completion: TaskCompletion, followUps: [NewTask]) async throws {
        let body = CompleteBody(leaseToken: completion.lease.token, result: completion.result, followUps: followUps)
        let _: JSONValue = try await post("/v1/tasks/\(completion.lease.id)/complete", body, timeout: .seconds(30))
    }

    /// Completes over HTTP with the follow-ups, then runs `settled` (a broker's message is done
    /// with): also when the node refused the lease, since the task has moved on without it; not
    /// when the node could not be reached or failed (the completion may still be applied).
    public func complete(_ completion: TaskCompletion, followUps: [NewTask], settled: () async -> Void) async throws {
        do {
            try await complete(completion, followUps: followUps)
        } catch let error as BatonError where error.code != .unavailable && error.code != .internal {
            await settled()
            throw error
        }
        await settled()
    }

    /// The first heartbeat of tasks a broker delivered, sent before their handlers start: the
    /// tasks the node says ended while their messages waited (cancelled, rescued, finished) are
    /// logged and returned apart, to be dropped. When the node cannot be reached, every task is
    /// runnable, and their first regular heartbeat decides.
    public func checkDelivered(_ received: [ClaimedTask], lease: Duration, waitedIn place: String) async throws -> (
        runnable: [ClaimedTask], ended: [LeaseRef]
    ) {
        guard !received.isEmpty else { return ([], []) }
        let outcomes: [HeartbeatOutcome]
        do {
            outcomes = try await heartbeat(received.map(\.lease), lease: lease, progress: [:])
        } catch {
            if Task.isCancelled { throw CancellationError() }
            return (received, [])
        }
        var runnable: [ClaimedTask] = []
        var ended: [LeaseRef] = []
        for (task, outcome) in zip(received, outcomes) {
            if case .extended = outcome {
                runnable.append(task)
            } else {
                ended.append(task.lease)
                logger.info(
                    "task ended while its work message waited in the \(place): dropped before it ran",
                    metadata: ["task_id": "\(task.task.id)", "outcome": "\(outcome)"])
            }
        }
        return (runnable, ended)
    }

    /// A parent page of `GET /v1/tasks/{id}/parents`.
    public func parents(of id: TaskID, cursor: Int?, limit: Int) async throws -> ParentPage {
        var path = "/v1/tasks/\(id)/parents?limit=\(limit)"
        if let cursor { path += "&cursor=\(cursor)" }
        return try await get(path, timeout: .seconds(30))
    }

    /// One request (a POST of `payload`, or a GET without one), failing over between servers.
    private func call<Response: Decodable>(_ path: String, payload: [UInt8]?, timeout: Duration) async throws -> Response {
        let start = state.withLock { $0.current }
        var lastError: (any Error)?
        for offset in 0..<servers.count {
            let index = (start + offset) % servers.count
            let status: HTTPResponseStatus
            let data: Data
            do {
                (status, data) = try await send(path, payload: payload, to: index, timeout: timeout)
            } catch {
                if Task.isCancelled { throw CancellationError() }
                lastError = error
                failOver(from: index, "node unreachable; failing over", error)
                continue
            }
            if status == .serviceUnavailable && servers.count > 1 {
                // This node cannot serve now (its database is out of reach, or it is stopping):
                // another node may.
                let error = Self.error(status: status, data: data)
                lastError = error
                failOver(from: index, "node unavailable; failing over", error)
                continue
            }
            guard (200..<300).contains(status.code) else { throw Self.error(status: status, data: data) }
            do {
                return try Self.decodeResponse(Response.self, from: data)
            } catch {
                throw BatonError(.internal, "unexpected answer from \(servers[index]) to \(path): \(error)")
            }
        }
        let names = servers.map(\.absoluteString).joined(separator: ", ")
        throw BatonError.unavailable("cannot reach \(names): \(lastError.map { "\($0)" } ?? "no server")")
    }

    /// One POST of a JSON body to server `index`: the status and the body, or the transport's error.
    private func send(_ path: String, payload: [UInt8]?, to index: Int, timeout: Duration) async throws -> (HTTPResponseStatus, Data) {
        var request = HTTPClientRequest(url: Self.join(servers[index], path))
        request.method = payload == nil ? .GET : .POST
        if payload != nil { request.headers.add(name: "Content-Type", value: "application/json") }
        request.headers.add(name: "Accept", value: "application/json")
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        if let payload { request.body = .bytes(ByteBuffer(bytes: payload)) }
        let response = try await httpClient.execute(request, timeout: .nanoseconds(Int64(timeout.seconds * 1e9)))
        let bytes = try await response.body.collect(upTo: Self.maxResponseBytes)
        return (response.status, Data(bytes.readableBytesView))
    }

    /// Makes the server after `index` the current one (unless another request moved on
    /// already), saying why when there is another to move to.
    private func failOver(from index: Int, _ message: Logger.Message, _ error: any Error) {
        state.withLock { s in if s.current == index { s.current = (index + 1) % servers.count } }
        if servers.count > 1 { logger.warning(message, metadata: ["server": "\(servers[index])", "error": "\(error)"]) }
    }

    static func error(status: HTTPResponseStatus, data: Data) -> BatonError {
        // JSONDecoder traps (does not throw) on some deeply nested input: a body nested deeper
        // than any error body is not read as one.
        if !data.withUnsafeBytes({ JSONNesting.exceeds(ClaimResponseDecoder.maxDepth, in: $0) }),
            let body = try? BatonJSON.decoder().decode(ErrorBody.self, from: data)
        {
            let code = BatonError.Code(wire: body.error.code) ?? (status.code >= 500 ? .internal : .invalidArgument)
            return BatonError(code, body.error.message)
        }
        let code: BatonError.Code =
            switch status.code {
            case 401: .unauthorized
            case 403: .forbidden
            case 404: .notFound
            case 409: .conflict
            case 413: .tooLarge
            case 502, 503, 504: .unavailable
            case 500...: .internal
            default: .invalidArgument
            }
        return BatonError(code, "HTTP \(status.code) \(status.reasonPhrase)")
    }

    static func join(_ base: URL, _ path: String) -> String {
        var text = base.absoluteString
        while text.hasSuffix("/") { text.removeLast() }
        return text + path
    }
}
