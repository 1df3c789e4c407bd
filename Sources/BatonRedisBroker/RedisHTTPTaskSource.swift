import AsyncHTTPClient
import BatonCore
import BatonNIOClient
import BatonRedis
import BatonWorker
import Foundation
import Logging

/// A worker's tasks from a Redis work list, its outcomes to the node over HTTP
/// (`baton worker --redis-url URL --redis-work KEY --server URL`, docs/brokers.md): the node's
/// dispatch role (``RedisWorkSender``) appends Baton's work messages (``WorkMessage``) to the
/// list, and everything else is the HTTP worker protocol (``HTTPTaskSource``), fenced by the
/// lease token each work message names.
///
/// - A claim takes messages from the list's head: `BLPOP` for the first (waiting at most
///   ``longestWait``, so that a stopping worker is not held), then `LPOP KEY COUNT` for the
///   rest, up to the free slots. Then one heartbeat to the node for the tasks taken: a task
///   cancelled (or rescued, or finished) while its message waited in the list is dropped
///   before it runs. If the node cannot be reached, the tasks run, and their first regular
///   heartbeat decides.
/// - Heartbeats, acks, completions with follow-ups, parents' results and the worker's
///   announcement go over HTTP.
/// - A release (a worker stopping with tasks it took and will not run) goes to the node, which
///   puts the tasks back to `ready`; its dispatch sends them again.
/// - A message taken from the list belongs to this worker alone: if it dies holding it, its
///   task comes back when its lease runs out (the node's lease rescuer), under a new lease.
///   An unreadable message is logged and dropped for the same reason: its task, if it names
///   one, is sent again at its lease's end.
public final class RedisHTTPTaskSource: TaskSource {
    public let http: HTTPTaskSource
    public let redis: RedisConfiguration
    public let key: String
    let logger: Logger
    private let connection = ConnectionSlot<RedisConnection>()

    /// The longest one `BLPOP` waits: a stopping worker waits for it to answer.
    public static let longestWait: Duration = .seconds(2)

    public init(
        redis: RedisConfiguration, key: String, servers: [URL], token: String? = nil,
        httpClient: HTTPClient = HTTPTaskSource.defaultHTTPClient, configuration: HTTPTaskSource.Configuration = .init(),
        logger: Logger
    ) {
        self.redis = redis
        self.key = key
        self.logger = logger
        http = HTTPTaskSource(servers: servers, token: token, httpClient: httpClient, configuration: configuration, logger: logger)
    }

    // MARK: TaskSource

    public func claim(worker: String, queues: [String], kinds: [String], max: Int, wait: Duration, lease: Duration)
        async throws -> [ClaimedTask]
    {
        var received: [ClaimedTask] = []
        for body in try await take(max: Swift.max(1, max), wait: wait) {
            do {
                received.append(try WorkMessage.decode(body).task)
            } catch {
                logger.error(
                    "unreadable work message dropped; a task it named comes back at its lease's end",
                    metadata: ["list": "\(key)", "reason": "\(error.message)"])
            }
        }
        return try await http.checkDelivered(received, lease: lease, waitedIn: "list").runnable
    }

    public func heartbeat(_ leases: [LeaseRef], lease: Duration, progress: [LeaseRef: TaskProgress]) async throws
        -> [HeartbeatOutcome]
    {
        try await http.heartbeat(leases, lease: lease, progress: progress)
    }

    public func ack(_ ack: TaskAck) { http.ack(ack) }

    public func run() async {
        await http.run()
        await disconnect()
    }

    public func stop() { http.stop() }

    public func flush() async { await http.flush() }

    public var pendingLeases: [LeaseRef] { http.pendingLeases }

    public func release(_ leases: [LeaseRef]) async throws { try await http.release(leases) }

    public func announce(_ announcement: WorkerAnnouncement) async throws { try await http.announce(announcement) }

    public func parents(of id: TaskID, cursor: Int?, limit: Int) async throws -> ParentPage {
        try await http.parents(of: id, cursor: cursor, limit: limit)
    }

    public func complete(_ completion: TaskCompletion, followUps: [NewTask]) async throws {
        try await http.complete(completion, followUps: followUps)
    }

    // MARK: Redis

    /// Up to `max` messages from the list's head, waiting up to `wait` (at most
    /// ``longestWait``) for the first; `BatonError.unavailable` while Redis cannot be reached.
    func take(max: Int, wait: Duration) async throws -> [String] {
        do throws(RedisError) {
            let redis = try await connected()
            var bodies: [String] = []
            if wait > .zero {
                let seconds = Swift.min(wait, Self.longestWait) / .milliseconds(1) / 1000
                let reply = try await redis.command(
                    ["BLPOP", RedisArgument(key), RedisArgument(String(format: "%.3f", seconds))],
                    timeout: Self.longestWait + self.redis.commandTimeout)
                // [key, message], or nil when the wait ran out.
                guard let pair = reply.array else { return [] }
                guard pair.count == 2, let body = pair[1].string else {
                    throw RedisError(.protocol, "BLPOP answered \(reply), not a key and a message")
                }
                bodies.append(body)
            }
            if bodies.count < max {
                let reply = try await redis.command(["LPOP", RedisArgument(key), RedisArgument(max - bodies.count)])
                bodies += (reply.array ?? []).compactMap(\.string)
            }
            return bodies
        } catch {
            await disconnect()
            if Task.isCancelled { throw CancellationError() }
            throw BatonError.unavailable("Redis list \(key) at \(redis.address): \(error.message)")
        }
    }

    /// Closes the connection, if one is open; the next take connects again.
    private func disconnect() async { await connection.drop() }

    private func connected() async throws(RedisError) -> RedisConnection {
        let redis = self.redis
        return try await connection.get { () async throws(RedisError) in try await RedisConnection.connect(redis) }
    }
}
