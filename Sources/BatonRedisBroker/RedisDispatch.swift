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
actor RedisWorkSender: WorkSender {
    nonisolated let broker = "redis"
    nonisolated let address: String
    let redis: RedisConfiguration
    let key: String
    let logger: Logger
    private var connection: RedisConnection?

    init(redis: RedisConfiguration, key: String, logger: Logger) {
        self.redis = redis
        self.key = key
        self.logger = logger
        address = "redis list \(key) at \(redis.address)"
    }

    func prepare() async throws {
        _ = try await connected()
    }

    func send(_ claimed: [ClaimedTask]) async -> WorkSendOutcome {
        guard !claimed.isEmpty else { return WorkSendOutcome() }
        let command = ["RPUSH", RedisArgument(key)] + claimed.map { RedisArgument(WorkMessage.text($0)) }
        do {
            try await connected().command(command)
            return WorkSendOutcome()
        } catch {
            logger.warning(
                "could not append work messages to Redis; their tasks go back to ready",
                metadata: ["list": "\(key)", "count": "\(claimed.count)", "error": "\(error.message)"])
            await connection?.close()
            connection = nil
            return WorkSendOutcome(unsent: claimed)
        }
    }

    private func connected() async throws(RedisError) -> RedisConnection {
        if let connection, connection.isActive { return connection }
        let fresh = try await RedisConnection.connect(redis)
        connection = fresh
        return fresh
    }
}
