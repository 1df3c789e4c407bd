import BatonCore

/// How to open an embedded SQLite store.
///
/// Keys when read from configuration: `store.path`, `store.synchronous` (`normal`, `full`),
/// `store.busy_timeout` (seconds). The default retry policy comes from the node's `retry` settings.
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

    public init(
        path: String, synchronous: Synchronous = Self.defaultSynchronous, defaultRetry: RetryPolicy = .default,
        busyTimeout: Duration = Self.defaultBusyTimeout, clock: StoreClock = .system
    ) {
        self.path = path
        self.synchronous = synchronous
        self.defaultRetry = defaultRetry
        self.busyTimeout = busyTimeout
        self.clock = clock
    }
}
