import BatonCore
import Logging
import PostgresNIO
import Synchronization

/// Leadership through a session-level advisory lock (`pg_try_advisory_lock`) held on a
/// dedicated connection: the node holding it is the leader until that connection dies. When
/// the leader's process dies (or its connection drops) PostgreSQL releases the lock, and
/// another node, retrying every `retryInterval`, takes over within about that time.
///
/// While leader, the elector pings its connection every `retryInterval`; a ping that fails or
/// does not answer within `pingTimeout` ends leadership at once (the lock may already be gone).
public final class PostgresLeaderElector: Leadership, Sendable {
    public static let retryInterval: Duration = .seconds(1)
    public static let pingTimeout: Duration = .seconds(3)

    let connection: Result<PostgresConnection.Configuration, any Error>
    public let lockKey: Int64
    let logger: Logger
    /// The number of the connection that holds the lock; 0 when not leader. A connection's
    /// close can then only end the leadership it won.
    private let leader = Atomic<Int>(0)
    private let connections = Atomic<Int>(0)

    init(connection: Result<PostgresConnection.Configuration, any Error>, lockKey: Int64, logger: Logger) {
        self.connection = connection
        self.lockKey = lockKey
        self.logger = logger
    }

    public func isLeader() async -> Bool { holdsLeadership }

    /// Synchronous form of `isLeader()`.
    public var holdsLeadership: Bool { leader.load(ordering: .acquiring) != 0 }

    /// Runs until cancelled; on the way out gives up leadership by closing its connection.
    func run() async {
        await DedicatedConnection.keepConnected(connection, role: "leader elector", retry: Self.retryInterval, logger: logger) { conn in
            let number = connections.add(1, ordering: .relaxed).newValue
            // The lock goes with the session: the moment the connection closes, step down.
            conn.closeFuture.whenComplete { _ in self.step(down: number) }
            await campaign(on: conn, number: number)
            step(down: number)
        }
    }

    /// Tries for the lock every interval; while holding it, checks the connection is alive.
    /// Returns when the connection fails or on cancellation.
    private func campaign(on conn: PostgresConnection, number: Int) async {
        let key = lockKey
        let logger = logger
        while !Task.isCancelled {
            do {
                if leader.load(ordering: .acquiring) == number {
                    _ = try await DedicatedConnection.withDeadline(conn, timeout: Self.pingTimeout) {
                        try await conn.query("SELECT 1", logger: logger).collect().count
                    }
                } else {
                    let won = try await DedicatedConnection.withDeadline(conn, timeout: Self.pingTimeout) {
                        let rows = try await conn.query("SELECT pg_try_advisory_lock(\(key))", logger: logger).collect()
                        return try rows.first?.decode(Bool.self) ?? false
                    }
                    if won && !conn.isClosed {
                        leader.store(number, ordering: .releasing)
                        logger.info("became leader", metadata: ["lock_key": "\(key)"])
                    }
                }
            } catch {
                if !Task.isCancelled {
                    logger.info("leader elector lost its connection", metadata: ["error": "\(PostgresTaskStore.describe(error))"])
                }
                return
            }
            await DedicatedConnection.pause(Self.retryInterval)
        }
    }

    /// Ends the leadership won on connection `number`, if it is the current one.
    private func step(down number: Int) {
        if leader.compareExchange(expected: number, desired: 0, ordering: .acquiringAndReleasing).exchanged {
            logger.info("gave up leadership (its connection closed)")
        }
    }
}
