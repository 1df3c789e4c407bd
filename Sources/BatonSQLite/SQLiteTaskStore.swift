import BatonCore
import Foundation
import GRDB
import Synchronization

/// The embedded store: one SQLite file in WAL mode through a GRDB `DatabasePool`.
///
/// Reads run concurrently; writes are serialised by SQLite (one writer), so each operation
/// does its work in one short write transaction with cached statements, per batch rather
/// than per task. Several processes may share a file: they wait for each other's write lock
/// up to `busyTimeout`. Due `pending` tasks are promoted by the claim itself, in the claim's
/// transaction, so a delayed task is claimable the moment its `run_at` passes.
public final class SQLiteTaskStore: TaskStore {
    public let configuration: SQLiteStoreConfiguration
    public let readySignal: ReadySignal
    /// What the workflow triggers of the current write name for the walk to continue.
    let triggerWork: TriggerWork
    /// `configuration.clock`: every time the store writes or compares comes from it.
    let clock: StoreClock
    let pool: DatabasePool
    private let counters = Mutex(SQLiteStoreStats())

    init(configuration: SQLiteStoreConfiguration, pool: DatabasePool, readySignal: ReadySignal, triggerWork: TriggerWork) {
        self.configuration = configuration
        self.readySignal = readySignal
        self.triggerWork = triggerWork
        self.clock = configuration.clock
        self.pool = pool
    }

    /// Opens (and if new, creates) the database at `configuration.path`.
    ///
    /// Throws `storeIncompatible` for a file that is not a Baton database (or is from a newer
    /// Baton) without writing to it, and `unavailable` when the file cannot be opened or created.
    public static func open(_ configuration: SQLiteStoreConfiguration) async throws -> SQLiteTaskStore {
        try Preflight.check(path: configuration.path)
        let readySignal = ReadySignal()
        let work = TriggerWork()
        let pool = try openPool(configuration, readySignal: readySignal, work: work)
        let store = SQLiteTaskStore(configuration: configuration, pool: pool, readySignal: readySignal, triggerWork: work)
        do {
            try await store.migrate()
        } catch {
            try? pool.close()
            throw error
        }
        return store
    }

    /// Closes the database connections. The store must not be used afterwards. When no
    /// other process has the file open, the write-ahead log is checkpointed and removed.
    public func close() throws {
        do {
            // Readers first: the writer, closing last, can then checkpoint and delete the WAL.
            pool.releaseMemory()
            try pool.close()
        } catch {
            throw Self.mapError(error, while: "closing the database")
        }
    }

    /// A snapshot of the statement counters.
    public var stats: SQLiteStoreStats { counters.withLock { $0 } }

    func count(_ update: (inout SQLiteStoreStats) -> Void) {
        counters.withLock { update(&$0) }
    }

    public func now() async throws -> Date { Millis.date(Millis.now(clock)) }

    private static func openPool(_ configuration: SQLiteStoreConfiguration, readySignal: ReadySignal, work: TriggerWork) throws
        -> DatabasePool
    {
        var config = Configuration()
        config.label = "baton"
        config.busyMode = .timeout(max(0, configuration.busyTimeout.seconds))
        config.foreignKeysEnabled = false
        let synchronous = configuration.synchronous == .full ? "FULL" : "NORMAL"
        let clock = configuration.clock
        let pageSize = configuration.pageSize
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = \(synchronous)")
            // Takes effect only while the file has no schema yet (before the first migration).
            try db.execute(sql: "PRAGMA page_size = \(pageSize)")
            addFunctions(db, clock: clock, readySignal: readySignal, work: work)
        }
        do {
            return try DatabasePool(path: configuration.path, configuration: config)
        } catch {
            throw BatonError(.unavailable, "cannot open database at \(configuration.path): \(Self.reason(error))")
        }
    }

    /// Applies pending migrations. Two processes creating one file at once may race; the
    /// loser finds the work done and tries again.
    private func migrate() async throws {
        var attempt = 0
        while true {
            attempt += 1
            do {
                // Checked again through the pool, which also sees what a WAL holds.
                let (applicationID, tables, superseded) = try await pool.read { db in
                    (
                        try Int32.fetchOne(db, sql: "PRAGMA application_id") ?? 0, try Int.fetchOne(db, sql: SQL.tableCount) ?? 0,
                        try Migrations.migrator.hasBeenSuperseded(db)
                    )
                }
                if let reason = Preflight.foreignReason(applicationID: applicationID, tables: tables) {
                    throw Preflight.foreign(configuration.path, reason)
                }
                if superseded { throw Preflight.newerSchema(configuration.path) }
                try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                    Migrations.migrator.asyncMigrate(pool) { result in
                        continuation.resume(with: result.map { _ in () })
                    }
                }
                return
            } catch let error as BatonError {
                throw error
            } catch  where attempt < 3 {
                try await Task.sleep(for: .milliseconds(20 * attempt))
            } catch {
                throw Self.mapError(error, while: "migrating \(configuration.path)")
            }
        }
    }

    // MARK: Running work

    /// Runs `body` in one immediate write transaction, mapping database errors.
    func write<T: Sendable>(_ what: String, _ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        let work = triggerWork
        do {
            return try await pool.write { db in
                _ = work.take()  // what a rolled-back write left
                work.settlingInBatch = false
                let result = try body(db)
                try Self.drainTriggerWork(db, work)
                return result
            }
        } catch {
            throw Self.mapError(error, while: what)
        }
    }

    func read<T: Sendable>(_ what: String, _ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        do {
            return try await pool.read(body)
        } catch {
            throw Self.mapError(error, while: what)
        }
    }

    /// Database failures (busy after the timeout, I/O, a full disk) are `unavailable`: retrying
    /// may succeed. Anything else that is not already a `BatonError` is a bug: `internal`.
    static func mapError(_ error: any Error, while what: String) -> BatonError {
        if let error = error as? BatonError { return error }
        if let error = error as? DatabaseError {
            switch error.resultCode {
            case .SQLITE_ERROR, .SQLITE_MISUSE, .SQLITE_RANGE, .SQLITE_CONSTRAINT, .SQLITE_MISMATCH:
                return BatonError(.internal, "\(what) failed: \(reason(error))")
            case .SQLITE_NOTADB, .SQLITE_CORRUPT:
                return BatonError(.storeIncompatible, "\(what) failed: the database is damaged or not a Baton database (\(reason(error)))")
            default:
                return BatonError(.unavailable, "\(what) failed: \(reason(error))")
            }
        }
        return BatonError(.internal, "\(what) failed: \(error)")
    }

    static func reason(_ error: any Error) -> String {
        if let error = error as? DatabaseError {
            return error.message ?? "\(error.resultCode)"
        }
        return "\(error)"
    }
}

extension SQLiteTaskStore {
    /// Runs raw SQL in a write transaction, outside every store operation. Tests only (through
    /// `@testable import`): it is how they make foreign or newer databases.
    func executeForTesting(_ sql: String) async throws {
        try await pool.write { db in try db.execute(sql: sql) }
    }
}

extension SQLiteTaskStore {
    /// Holds the write lock for `duration` (blocking one thread). Tests only: it is how they
    /// make another connection time out waiting for the lock.
    func holdWriteLockForTesting(_ duration: Duration, onLocked: @escaping @Sendable () -> Void) async throws {
        try await pool.write { db in
            try db.execute(sql: "UPDATE tasks SET attempt = attempt WHERE 0")
            onLocked()
            Thread.sleep(forTimeInterval: duration.seconds)
        }
    }
}

extension SQLiteTaskStore {
    /// SQLite's plan for a statement, one line per step. Tests only: they check that the hot
    /// statements use their indexes.
    func queryPlanForTesting(_ sql: String) async throws -> [String] {
        try await pool.read { db in
            // Every `?` bound to NULL (the statements have no `?` inside string literals).
            let nulls = [(any DatabaseValueConvertible)?](repeating: nil, count: sql.filter { $0 == "?" }.count)
            return try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + sql, arguments: StatementArguments(nulls))
                .map { row -> String in row["detail"] }
        }
    }
}

extension SQLiteTaskStore {
    /// Creates a database at `path` with the schema only up to `migration`, then runs `sql`.
    /// Tests only: it is how they make databases written by an earlier Baton.
    static func makeDatabaseForTesting(path: String, upTo migration: String, then sql: [String]) throws {
        let pool = try DatabasePool(path: path)
        try Migrations.migrator.migrate(pool, upTo: migration)
        try pool.write { db in
            for statement in sql { try db.execute(sql: statement) }
        }
        try pool.close()
    }

    /// The database's page size. Tests only.
    func pageSizeForTesting() async throws -> Int {
        try await pool.read { db in try Int.fetchOne(db, sql: "PRAGMA page_size") ?? 0 }
    }

    /// The `CREATE INDEX` text of an index, if it exists. Tests only.
    func indexDefinitionForTesting(_ name: String) async throws -> String? {
        try await pool.read { db in
            try String.fetchOne(db, sql: "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?", arguments: [name])
        }
    }
}
