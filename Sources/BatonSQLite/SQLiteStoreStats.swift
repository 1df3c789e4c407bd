/// Counts of the statements and transactions a store has executed, for tests and benchmarks.
public struct SQLiteStoreStats: Sendable, Hashable {
    /// Claim `UPDATE … RETURNING` statements executed (one per `taskClaim` that asked for work).
    public var claimStatements = 0
    /// `pending → ready` promotion statements executed by claims.
    public var promoteStatements = 0
    /// Write transactions committed by `taskClaim`.
    public var claimTransactions = 0
    /// Write transactions committed by `taskAckMany`.
    public var ackTransactions = 0
    /// Write transactions committed by `taskEnqueueMany`.
    public var enqueueTransactions = 0

    public init() {}
}
