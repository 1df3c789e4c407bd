import BatonCore
import BatonNode
import BatonRedis
import Foundation
import Logging
import ServiceLifecycle

/// The Redis dispatch role's sender: a ``BrokerDispatch`` with it sends a Baton queue's
/// tasks to a Redis list as Baton's work messages (``WorkMessage``, the text SQS work queues
/// carry), appended with `RPUSH`; workers take them from the head (`BLPOP`,
/// ``RedisHTTPTaskSource``) and report over HTTP. A node's `--redis-dispatch QUEUE=KEY` makes
/// one (docs/brokers.md, "Redis dispatch").
///
/// A list hands a message out once and keeps no copy: a worker that dies holding one loses it,
/// and the task comes back through the store, whose lease ran out (the rescuer returns it to
/// `ready` and it is sent again under a new lease token). Nothing is lost that way, only delayed
/// by at most the lease; the window bounds how many tasks wait in the list.
///
/// With ``MachineryWorkers`` (`redis.machineryDispatch`) it sends Machinery signatures instead,
/// for Machinery's workers, each after its task's `PENDING` state.
actor RedisWorkSender: WorkSender {
    nonisolated let broker: String
    nonisolated let address: String
    let redis: RedisConfiguration
    let key: String
    /// Machinery's format, and the role that reads what its workers report; `nil`: Baton's.
    let machinery: MachineryWorkers?
    let logger: Logger
    private var connection: RedisConnection?

    init(redis: RedisConfiguration, key: String, machinery: MachineryWorkers? = nil, logger: Logger) {
        self.redis = redis
        self.key = key
        self.machinery = machinery
        self.logger = logger
        broker = machinery == nil ? "redis" : MachineryWorkers.broker
        address = "redis list \(key) at \(redis.address)\(machinery == nil ? "" : " (Machinery workers)")"
    }

    func prepare() async throws {
        _ = try await connected()
    }

    func send(_ claimed: [ClaimedTask]) async -> WorkSendOutcome {
        guard !claimed.isEmpty else { return WorkSendOutcome() }
        guard let machinery else {
            let push = [["RPUSH", RedisArgument(key)] + claimed.map { RedisArgument(WorkMessage.text($0)) }]
            return WorkSendOutcome(unsent: await run(push, claimed) ?? [])
        }
        let (commands, sent, refused, unread) = await machinery.commands(for: claimed, key: key)
        // Not sent (a parent's result could not be read, or Redis failed): back to ready.
        let failed = sent.isEmpty ? nil : await run(commands, sent.map(\.task))
        return WorkSendOutcome(unsent: (failed ?? []) + unread, refused: refused)
    }

    /// Sends the commands in one write; the tasks not sent when Redis failed (`nil`: all went).
    private func run(_ commands: [[RedisArgument]], _ sent: [ClaimedTask]) async -> [ClaimedTask]? {
        do throws(RedisError) {
            let replies = try await connected().sendAll(commands)
            if case .error(let message)? = replies.first(where: { if case .error = $0 { true } else { false } }) {
                throw RedisError(.server, message)
            }
            return nil
        } catch {
            logger.warning(
                "could not append work messages to Redis; their tasks go back to ready",
                metadata: ["list": "\(key)", "count": "\(sent.count)", "error": "\(error.message)"])
            await connection?.close()
            connection = nil
            machinery?.forget(sent)
            return sent
        }
    }

    private func connected() async throws(RedisError) -> RedisConnection {
        if let connection, connection.isActive { return connection }
        let fresh = try await RedisConnection.connect(redis)
        connection = fresh
        return fresh
    }
}
