/// Counts of the statements and transactions a store has executed, for tests and benchmarks.
public struct PostgresStoreStats: Sendable, Hashable {
    /// Claim statements executed (one per `taskClaim` that asked for work).
    public var claimStatements = 0
    /// Insert statements executed by `taskEnqueueMany` (one per batch).
    public var enqueueStatements = 0
    /// Enqueue transactions (batches with unique keys or an idempotency key).
    public var enqueueTransactions = 0
    /// Round trips to the database made by `taskAckMany`: one per batch of completions only,
    /// one transaction per batch with failures.
    public var ackTransactions = 0
    /// Heartbeat statements (one per batch).
    public var heartbeatStatements = 0
    /// Release statements (one per batch).
    public var releaseStatements = 0
    /// Lease-rescue transactions.
    public var rescueTransactions = 0

    public init() {}
}
