import BatonCore
import BatonNode
import BatonRedis
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// The ingest role on Redis: takes submissions from lists (and a sorted set) and turns each
/// message into tasks through the node's submit — what Machinery's Redis broker, or any
/// producer that `RPUSH`es JSON, sends (the forms of ``BrokerSubmission``).
///
/// Exactly once, without losing a message when a node stops at any point:
/// 1. One script moves up to ``batchSize`` messages from the source into the source's
///    in-flight hash (`SOURCE:baton:inflight`), each under a field made of the server's time
///    and a counter, with the time it was taken. Nothing leaves the source otherwise.
/// 2. Each message is submitted with the idempotency key `redis:SOURCE:FIELD`.
/// 3. Once its submit committed (or the message went to the dead letters), its field is
///    deleted.
/// A message whose field stays longer than ``visibility`` (its node stopped between 1 and 3,
/// or the store refused for a while) is taken again by any node's sweep and submitted under
/// the same key: if its first submit had committed, the node answers with what it stored.
///
/// A list that is empty is waited on with `BLMOVE key key RIGHT RIGHT` (which moves the last
/// message to where it was, so it wakes as soon as a message arrives and takes none); the
/// sorted set is polled. A message that is not JSON, not one of the forms, too large, or
/// refused by the submit's validation goes to the dead-letter list as
/// `{"source", "reason", "body", "at"}`; one that fails for the node's reasons (the store
/// unreachable) stays in flight and is tried again after ``visibility``, and until a submit
/// succeeds again the node takes one message at a time from that source, more and more
/// slowly: the others wait in their list.
public final class RedisIngest: Service, Sendable {
    /// Where submissions come from.
    public struct Source: Sendable, Hashable {
        public enum Kind: Sendable, Hashable {
            /// Taken from the head (`LPOP`): producers `RPUSH`.
            case list
            /// Taken lowest score first (`ZPOPMIN`), whatever the score.
            case sortedSet
        }
        public var key: String
        public var kind: Kind

        public init(key: String, kind: Kind) {
            self.key = key
            self.kind = kind
        }

        /// The hash of the messages taken from this source and not yet done with.
        public var inFlightKey: String { "\(key):baton:inflight" }
        var counterKey: String { "\(key):baton:seq" }
        /// The idempotency key of the message taken under `field`.
        func idempotencyKey(_ field: String) -> String { "redis:\(key):\(field)" }
    }

    /// Counts of what the ingest did.
    public struct Stats: Sendable, Hashable {
        /// Messages taken from a source.
        public var taken = 0
        /// Messages taken again from the in-flight hash after ``RedisIngest/visibility``.
        public var retaken = 0
        /// Messages whose submit committed (or had committed: a message taken again answers with
        /// what its first submit stored).
        public var submitted = 0
        /// Messages moved to the dead letters.
        public var rejected = 0
        /// Submits that failed for the node's reasons; their messages stay in flight.
        public var retried = 0
        public init() {}
    }

    /// Messages one script takes at most.
    public static let batchSize = 100
    /// The largest message submitted (a larger one goes to the dead letters).
    public static let maxMessageBytes = 16 << 20

    public let sources: [Source]
    public let deadLetter: String
    public let visibility: Duration
    let api: NodeAPI
    let redis: RedisConfiguration
    let logger: Logger
    private let state = Mutex(Stats())
    private let stop = StopFlag()

    public init(
        api: NodeAPI, redis: RedisConfiguration, sources: [Source], deadLetter: String = RedisBrokerConfiguration.defaultDeadLetter,
        visibility: Duration = RedisBrokerConfiguration.defaultVisibility, logger: Logger = Logger(label: "baton.redis.ingest")
    ) {
        self.api = api
        self.redis = redis
        self.sources = sources
        self.deadLetter = deadLetter
        self.visibility = visibility
        self.logger = logger
    }

    public convenience init(configuration: RedisBrokerConfiguration, api: NodeAPI, logger: Logger) throws(BatonError) {
        guard let redis = configuration.redis else { throw .invalidArgument("the Redis ingest needs redis.url") }
        self.init(
            api: api, redis: redis, sources: configuration.sources, deadLetter: configuration.deadLetter,
            visibility: configuration.visibility, logger: logger)
    }

    public var stats: Stats { state.withLock { $0 } }

    /// Takes and submits until graceful shutdown or cancellation (within a second of it); what
    /// was taken is submitted before it returns.
    public func run() async throws {
        logger.info(
            "Redis ingest started",
            metadata: ["redis": "\(redis)", "sources": "\(sources.map(\.key).joined(separator: ","))", "dead_letter": "\(deadLetter)"])
        await stop.run {
            await withDiscardingTaskGroup { group in
                for source in sources {
                    group.addTask { await self.consume(source) }
                }
                group.addTask { await self.sweep() }
            }
        }
        let stats = self.stats
        logger.info(
            "Redis ingest stopped",
            metadata: [
                "taken": "\(stats.taken)", "retaken": "\(stats.retaken)", "submitted": "\(stats.submitted)",
                "rejected": "\(stats.rejected)", "retried": "\(stats.retried)",
            ])
    }

    private var isStopped: Bool { stop.isSet }

    // MARK: Taking

    /// Takes up to ARGV[1] messages from KEYS[1] (a list when ARGV[2] is `list`, else a sorted
    /// set) into the hash KEYS[2], each under a field `SECONDS.MICROSECONDS-N` (the server's
    /// time and the counter KEYS[3]) holding `MILLISECONDS:MESSAGE`. Returns fields and
    /// messages, alternating.
    static let takeScript = """
        local t = redis.call('TIME')
        local ms = t[1] * 1000 + math.floor(t[2] / 1000)
        local out = {}
        for i = 1, tonumber(ARGV[1]) do
          local m
          if ARGV[2] == 'list' then
            m = redis.call('LPOP', KEYS[1])
          else
            m = redis.call('ZPOPMIN', KEYS[1])[1]
          end
          if not m then break end
          local field = t[1] .. '.' .. t[2] .. '-' .. redis.call('INCR', KEYS[3])
          redis.call('HSET', KEYS[2], field, ms .. ':' .. m)
          out[#out + 1] = field
          out[#out + 1] = m
        end
        return out
        """

    /// Takes again up to ARGV[2] messages of the hash KEYS[1] taken more than ARGV[1]
    /// milliseconds ago (by the server's clock), marking them taken now. Returns fields and
    /// messages, alternating.
    static let retakeScript = """
        local t = redis.call('TIME')
        local ms = t[1] * 1000 + math.floor(t[2] / 1000)
        local cutoff = ms - tonumber(ARGV[1])
        local all = redis.call('HGETALL', KEYS[1])
        local out = {}
        for i = 1, #all, 2 do
          local value = all[i + 1]
          local sep = string.find(value, ':', 1, true)
          if sep and tonumber(string.sub(value, 1, sep - 1)) <= cutoff then
            local m = string.sub(value, sep + 1)
            redis.call('HSET', KEYS[1], all[i], ms .. ':' .. m)
            out[#out + 1] = all[i]
            out[#out + 1] = m
            if #out >= 2 * tonumber(ARGV[2]) then break end
          end
        end
        return out
        """

    /// One source's loop: take a batch, submit it, repeat; wait while the source is empty.
    /// Connection failures are logged and retried with a growing pause (up to 5 s).
    private func consume(_ source: Source) async {
        var connection: RedisConnection?
        var waiter: RedisConnection?
        var pause = GrowingPause()
        // While submits fail for the node's reasons: the pause before taking one more message.
        var stall: GrowingPause?
        while !isStopped {
            do throws(RedisError) {
                let redis = try await connected(&connection)
                let taken = try Self.pairs(
                    try await redis.command([
                        "EVAL", RedisArgument(Self.takeScript), 3, RedisArgument(source.key), RedisArgument(source.inFlightKey),
                        RedisArgument(source.counterKey), RedisArgument(stall == nil ? Self.batchSize : 1),
                        source.kind == .list ? "list" : "zset",
                    ]))
                pause.reset()
                if !taken.isEmpty {
                    state.withLock { $0.taken += taken.count }
                    let failed = await handle(taken, from: source, on: redis)
                    if failed > 0 {
                        // The node cannot store now (its store unreachable): take one message
                        // at a time, more and more slowly, until it can; what was taken is
                        // taken again after `visibility`.
                        var stalled = stall ?? GrowingPause()
                        try? await Task.sleep(for: stalled.next())
                        stall = stalled
                    } else {
                        stall = nil
                    }
                    continue
                }
                switch source.kind {
                case .list:
                    // Wakes when a message arrives (moved to where it was), or after a second.
                    let blocking = try await connected(&waiter)
                    _ = try await blocking.command(
                        ["BLMOVE", RedisArgument(source.key), RedisArgument(source.key), "RIGHT", "RIGHT", 1],
                        timeout: self.redis.commandTimeout + .seconds(1))
                case .sortedSet:
                    try? await Task.sleep(for: .milliseconds(500))
                }
            } catch {
                logger.warning(
                    "Redis ingest: \(error.message); trying again", metadata: ["source": "\(source.key)", "pause": "\(pause.current)"])
                await connection?.close()
                await waiter?.close()
                connection = nil
                waiter = nil
                try? await Task.sleep(for: pause.next())
            }
        }
        await connection?.close()
        await waiter?.close()
    }

    /// At start, then every half of ``visibility`` (at least every second), takes again what
    /// stayed in flight too long, from every source.
    private func sweep() async {
        var connection: RedisConnection?
        let every = max(.seconds(1), visibility / 2)
        var last: ContinuousClock.Instant?
        while !isStopped {
            if let last, ContinuousClock.now - last < every {
                try? await Task.sleep(for: .milliseconds(200))
                continue
            }
            last = ContinuousClock.now
            for source in sources where !isStopped {
                do throws(RedisError) {
                    let redis = try await connected(&connection)
                    while !isStopped {
                        let taken = try Self.pairs(
                            try await redis.command([
                                "EVAL", RedisArgument(Self.retakeScript), 1, RedisArgument(source.inFlightKey),
                                RedisArgument(Int(visibility / .milliseconds(1))), RedisArgument(Self.batchSize),
                            ]))
                        if taken.isEmpty { break }
                        state.withLock { $0.retaken += taken.count }
                        logger.info(
                            "Redis ingest: messages in flight too long taken again",
                            metadata: ["source": "\(source.key)", "count": "\(taken.count)"])
                        _ = await handle(taken, from: source, on: redis)
                    }
                } catch {
                    logger.warning("Redis ingest sweep: \(error.message)", metadata: ["source": "\(source.key)"])
                    await connection?.close()
                    connection = nil
                }
            }
        }
        await connection?.close()
    }

    private func connected(_ connection: inout RedisConnection?) async throws(RedisError) -> RedisConnection {
        try await RedisConnection.reusing(&connection, redis)
    }

    /// A script's reply: fields and messages, alternating.
    static func pairs(_ reply: RESPValue) throws(RedisError) -> [(field: String, message: String)] {
        guard let items = reply.array, items.count % 2 == 0 else {
            throw RedisError(.protocol, "the ingest script answered \(reply), not fields and messages")
        }
        var pairs: [(String, String)] = []
        pairs.reserveCapacity(items.count / 2)
        for i in stride(from: 0, to: items.count, by: 2) {
            guard let field = items[i].string, let message = items[i + 1].string else {
                throw RedisError(.protocol, "the ingest script answered \(reply), not fields and messages")
            }
            pairs.append((field, message))
        }
        return pairs
    }

    // MARK: Submitting

    private enum Outcome {
        case done
        case dead(String)
        case again
    }

    /// Submits each message (concurrently), then, in one round trip, deletes the fields of
    /// those done with and moves the refused ones to the dead letters (in one transaction).
    /// If that round trip fails, the messages stay in flight and are taken again later (their
    /// submits answer with what they stored). Returns how many submits failed for the node's
    /// reasons (their messages stay in flight).
    private func handle(_ taken: [(field: String, message: String)], from source: Source, on redis: RedisConnection) async -> Int {
        let outcomes = await withTaskGroup(of: (Int, Outcome).self) { group in
            for (i, entry) in taken.enumerated() {
                group.addTask { (i, await self.submit(entry.message, key: source.idempotencyKey(entry.field))) }
            }
            var outcomes = [Outcome](repeating: .again, count: taken.count)
            for await (i, outcome) in group { outcomes[i] = outcome }
            return outcomes
        }
        var done: [RedisArgument] = []
        var dead: [RedisArgument] = []
        var failed = 0
        let at = Date().formatted(.iso8601)
        for (entry, outcome) in zip(taken, outcomes) {
            switch outcome {
            case .done:
                done.append(RedisArgument(entry.field))
            case .dead(let reason):
                done.append(RedisArgument(entry.field))
                dead.append(RedisArgument(BrokerSubmission.deadLetter(source: source.key, reason: reason, body: entry.message, at: at)))
                logger.warning(
                    "Redis ingest: message refused, moved to \(deadLetter)",
                    metadata: ["source": "\(source.key)", "field": "\(entry.field)", "reason": "\(reason)"])
            case .again:
                failed += 1
            }
        }
        guard !done.isEmpty else { return failed }
        var commands: [[RedisArgument]] = [["MULTI"]]
        if !dead.isEmpty { commands.append(["RPUSH", RedisArgument(deadLetter)] + dead) }
        commands.append(["HDEL", RedisArgument(source.inFlightKey)] + done)
        commands.append(["EXEC"])
        do {
            let replies = try await redis.sendAll(commands)
            if case .error(let message) = replies.last ?? .error("no reply") {
                logger.warning("Redis ingest: finishing messages failed: \(message)", metadata: ["source": "\(source.key)"])
            }
        } catch {
            logger.warning(
                "Redis ingest: finishing messages failed: \(error.message); they are taken again after \(visibility)",
                metadata: ["source": "\(source.key)"])
        }
        return failed
    }

    private func submit(_ message: String, key: String) async -> Outcome {
        do {
            guard message.utf8.count <= Self.maxMessageBytes else {
                throw BatonError(.tooLarge, "the message is \(message.utf8.count) bytes, more than \(Self.maxMessageBytes)")
            }
            try await api.submit(message, idempotencyKey: key)
            state.withLock { $0.submitted += 1 }
            return .done
        } catch let error as BatonError where BrokerSubmission.isTheMessagesFault(error) {
            state.withLock { $0.rejected += 1 }
            return .dead(error.message)
        } catch {
            state.withLock { $0.retried += 1 }
            logger.warning(
                "Redis ingest: could not submit a message; it is tried again after \(visibility)",
                metadata: ["idempotency_key": "\(key)", "error": "\(error)"])
            return .again
        }
    }
}
