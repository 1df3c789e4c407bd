import BatonCore
import Configuration

/// How to open an embedded SQLite store.
///
/// Keys read by ``init(path:reader:)`` (each also a `BATON_*` variable, see docs/cli.md); none
/// reloads, the store keeps what it opened with:
/// - `sqlite.synchronous` (`BATON_SQLITE_SYNCHRONOUS`): `normal` (default) or `full`
/// - `sqlite.busyTimeout` (`BATON_SQLITE_BUSY_TIMEOUT`): seconds a statement waits for another
///   connection's write lock (default 5)
/// - `retry.policy`, `retry.backoff`, `retry.cap`: the default retry policy (``RetryPolicy/init(reader:)``)
///
/// The database file comes from the `store` setting (`sqlite:PATH`), which the CLI parses.
public struct SQLiteStoreConfiguration: Sendable {
    /// SQLite's `synchronous` pragma in WAL mode.
    public enum Synchronous: String, Sendable, Hashable, CaseIterable {
        /// Durable against application crashes; a power loss may lose the last commits.
        case normal
        /// Every commit is synced to disk before it returns.
        case full
    }

    public static let defaultSynchronous = Synchronous.normal
    public static let defaultBusyTimeout: Duration = .seconds(5)
    /// The page size of a database Baton creates (SQLite's default is 4,096). Workflows update
    /// rows spread over the table (chains progress in parallel), so a commit writes one page per
    /// row it touches; larger pages hold more of those rows: chains of 10 drain about 27 % faster
    /// with 16 KiB pages, the plain drain is unchanged (Benchmarks/analysis.md, "SQLite's page
    /// size").
    public static let defaultPageSize = 16_384

    /// The database file; created with the schema if missing or empty.
    public var path: String
    public var synchronous: Synchronous
    /// The policy for failures of tasks that name none (lease rescue names its own).
    public var defaultRetry: RetryPolicy
    /// How long a statement waits for another connection's write lock before failing.
    public var busyTimeout: Duration
    /// Where the store reads the time (`run_at`, leases, every timestamp it writes): the system
    /// clock, or for tests a ``ManualClock`` they move by hand.
    public var clock: StoreClock
    /// The page size of a new database (a power of two from 512 to 65,536). An existing
    /// database keeps the page size it was created with.
    public var pageSize: Int

    public init(
        path: String, synchronous: Synchronous = Self.defaultSynchronous, defaultRetry: RetryPolicy = .default,
        busyTimeout: Duration = Self.defaultBusyTimeout, clock: StoreClock = .system, pageSize: Int = Self.defaultPageSize
    ) {
        self.path = path
        self.synchronous = synchronous
        self.defaultRetry = defaultRetry
        self.busyTimeout = busyTimeout
        self.clock = clock
        self.pageSize = pageSize
    }
}

extension SQLiteStoreConfiguration {
    /// The settings keys ``init(path:reader:)`` reads.
    public static let configKeys = ["sqlite.synchronous", "sqlite.busyTimeout"] + RetryPolicy.configKeys

    /// The configuration of the store at `path` from the settings; throws `invalidArgument`
    /// naming the key of a bad value.
    public init(path: String, reader: ConfigReader) throws(BatonError) {
        let synchronous: Synchronous
        switch reader.text("sqlite.synchronous")?.lowercased() {
        case nil: synchronous = Self.defaultSynchronous
        case let name?:
            guard let value = Synchronous(rawValue: name) else {
                throw .invalidArgument("sqlite.synchronous must be normal or full, got '\(name)'")
            }
            synchronous = value
        }
        self.init(
            path: path, synchronous: synchronous, defaultRetry: try RetryPolicy(reader: reader),
            busyTimeout: try reader.seconds("sqlite.busyTimeout", default: Self.defaultBusyTimeout))
    }
}
