import BatonCore

/// The limits the node API enforces on every interface. Every field has a named default.
public struct NodeAPILimits: Sendable, Hashable {
    public static let defaultMaxArgsBytes = Limits.defaultMaxArgsBytes
    public static let defaultMaxBatch = 10_000
    public static let defaultMaxWait: Duration = .seconds(60)
    public static let defaultDefaultLease: Duration = Defaults.lease
    /// Longest a worker may ask for a lease (`lease_ms`).
    public static let defaultMaxLease: Duration = .seconds(24 * 3600)

    /// Largest `args` (and `result`) of one task, in bytes of compact JSON.
    public var maxArgsBytes: Int
    /// Most tasks in one submitted batch.
    public var maxBatch: Int
    /// Cap on every long-poll: `wait_ms` of a claim and `timeout` of a wait.
    public var maxWait: Duration
    /// Lease of a claim that names no `lease_ms`.
    public var defaultLease: Duration
    public var maxLease: Duration

    public init(
        maxArgsBytes: Int = NodeAPILimits.defaultMaxArgsBytes, maxBatch: Int = NodeAPILimits.defaultMaxBatch,
        maxWait: Duration = NodeAPILimits.defaultMaxWait, defaultLease: Duration = NodeAPILimits.defaultDefaultLease,
        maxLease: Duration = NodeAPILimits.defaultMaxLease
    ) {
        self.maxArgsBytes = maxArgsBytes
        self.maxBatch = maxBatch
        self.maxWait = maxWait
        self.defaultLease = defaultLease
        self.maxLease = maxLease
    }
}

/// A caller that may leave while its request waits (an HTTP connection): a long-poll claim
/// stops when it does.
public protocol ClientPresence: Sendable {
    var isClosed: Bool { get }
    /// Runs `operation`, cancelling it if the caller leaves meanwhile.
    func cancellingOnClose<Value: Sendable>(_ operation: @escaping @Sendable () async throws -> Value) async throws -> Value
}
