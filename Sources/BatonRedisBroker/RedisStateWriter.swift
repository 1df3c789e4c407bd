import BatonCore
import BatonNIOClient
import BatonNode
import BatonRedis
import Foundation
import Logging

/// Machinery's Redis result backend as ``MachineryResults`` writes it (`redis.results`,
/// docs/brokers.md): each state a string at the key of the signature's UUID, set with an expiry
/// of ``expiry`` (Machinery's `ResultsExpireIn`), all of one flush in one pipeline.
public final class RedisStateWriter: MachineryStateWriter {
    public let redis: RedisConfiguration
    public let expiry: Duration
    private let connection = ConnectionSlot<RedisConnection>()

    public init(redis: RedisConfiguration, expiry: Duration = MachineryResults.defaultExpiry) {
        self.redis = redis
        self.expiry = expiry
    }

    public var backend: String { "Redis at \(redis)" }

    public func write(_ states: [MachineryStateWrite]) async -> MachineryWriteOutcome {
        let millis = RedisArgument(expiry.inMilliseconds)
        do {
            let redis = self.redis
            let open = try await connection.get { () async throws(RedisError) in try await RedisConnection.connect(redis) }
            let replies = try await open.sendAll(
                states.map { ["SET", RedisArgument($0.uuid), RedisArgument(bytes: $0.json), "PX", millis] })
            let refused = replies.first { if case .error = $0 { true } else { false } }
            return MachineryWriteOutcome(
                written: replies.map { if case .error = $0 { false } else { true } },
                failure: refused.map { RedisError(.server, $0.string ?? "an error reply") })
        } catch {
            return .none(of: states.count, error)
        }
    }

    public func close() async { await connection.drop() }
}

extension MachineryResults {
    /// Machinery's Redis result backend on `redis`, its states kept for `expiry`.
    public convenience init(
        redis: RedisConfiguration, store: any NodeStore, events: NodeEvents, expiry: Duration = MachineryResults.defaultExpiry,
        workerQueues: Set<String> = [], logger: Logger = Logger(label: "baton.redis.results")
    ) {
        self.init(
            writer: RedisStateWriter(redis: redis, expiry: expiry), store: store, events: events, workerQueues: workerQueues,
            logger: logger)
    }
}
