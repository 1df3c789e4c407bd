/// Whether this node may run cluster-wide maintenance (lease rescue, cleaning, schedule
/// firing). Exactly one node of a cluster is leader at a time.
public protocol Leadership: Sendable {
    func isLeader() async -> Bool
}

/// A store that only one node uses (SQLite): that node is always the leader.
public struct AlwaysLeader: Leadership {
    public init() {}
    public func isLeader() async -> Bool { true }
}
