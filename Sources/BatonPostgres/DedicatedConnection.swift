import BatonCore
import Logging
import NIOCore
import PostgresNIO
import Synchronization

/// Helpers for the long-lived connections outside the pool (the listener's, the elector's).
enum DedicatedConnection {
    private static let nextID = Atomic<Int>(1_000_000)

    /// Opens a connection. On cancellation it still waits for the attempt to end (bounded by
    /// the connect timeout) and closes a connection that arrives late, so none is leaked.
    static func connect(_ configuration: Result<PostgresConnection.Configuration, any Error>, logger: Logger) async throws
        -> PostgresConnection
    {
        let configuration = try configuration.get()
        let id = nextID.add(1, ordering: .relaxed).newValue
        let future: EventLoopFuture<PostgresConnection> = PostgresConnection.connect(
            on: PostgresConnection.defaultEventLoopGroup.any(), configuration: configuration, id: id, logger: logger)
        let connection = try await withTaskCancellationHandler {
            try await future.get()
        } onCancel: {
            future.whenSuccess { $0.close().whenComplete { _ in } }
        }
        if Task.isCancelled {
            try? await connection.close()
            throw CancellationError()
        }
        return connection
    }

    /// Runs `body` with the connection, closing the connection if the body does not finish
    /// within `timeout` (a half-open connection would otherwise hang it). Never waits for a body
    /// stuck on a dead connection.
    static func withDeadline<T: Sendable>(
        _ connection: PostgresConnection, timeout: Duration, _ body: @escaping @Sendable () async throws -> T
    ) async throws -> T {
        if connection.isClosed { throw BatonError.unavailable("the connection is closed") }
        do {
            return try await raceDeadline(timeout, error: BatonError.unavailable("database did not answer within \(timeout)"), body)
        } catch let error as BatonError {
            connection.close().whenComplete { _ in }
            throw error
        }
    }

    /// Until cancelled: connects, runs `session` with the connection, closes it, and after
    /// `retry` connects again. Failures to connect are logged (the first, then every 30th) as
    /// `"<role> cannot connect; retrying"`.
    static func keepConnected(
        _ configuration: Result<PostgresConnection.Configuration, any Error>, role: String, retry: Duration, logger: Logger,
        _ session: (PostgresConnection) async -> Void
    ) async {
        var failures = 0
        while !Task.isCancelled {
            do {
                let conn = try await connect(configuration, logger: logger)
                failures = 0
                await session(conn)
                try? await conn.close()
            } catch {
                failures += 1
                if failures == 1 || failures % 30 == 0 {
                    logger.warning("\(role) cannot connect; retrying", metadata: ["error": "\(PostgresTaskStore.describe(error))"])
                }
            }
            if Task.isCancelled { return }
            await pause(retry)
        }
    }

    /// Sleeps, returning early (without throwing) on cancellation.
    static func pause(_ duration: Duration) async {
        try? await Task.sleep(for: duration)
    }
}
