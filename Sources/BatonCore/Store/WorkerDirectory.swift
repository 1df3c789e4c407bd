import Foundation

/// A store capability: the workers every node of a cluster heard from, for `GET /v1/workers`
/// (and the dashboard) of any node to list the whole fleet (PostgreSQL). A store without it
/// (SQLite: one node) lists the node's own ``WorkerInfo`` only.
///
/// Nodes write what they heard in batches (``WorkerDirectorySync`` in BatonNode), so a worker
/// that talks to another node shows up here a few seconds late.
public protocol WorkerDirectory: Sendable {
    /// Records workers as one node last heard of them. A worker's record keeps the earliest
    /// `first_seen`, the latest `last_seen`, and the description that came with the latest.
    /// Records not seen for ``WorkersRecordParams/keep`` are deleted.
    func workersRecord(_ p: WorkersRecordParams) async throws
    /// The workers some node heard from at `since` or later, by id.
    func workersSeen(since: Date) async throws -> [WorkerInfo]
}

public struct WorkersRecordParams: Sendable {
    public var workers: [WorkerInfo]
    public var keep: Duration
    public init(workers: [WorkerInfo], keep: Duration = .seconds(3600)) {
        self.workers = workers
        self.keep = keep
    }
}

extension WorkerInfo {
    /// The workers of both lists, each once: the record with the latest `last_seen` (the
    /// earliest `first_seen` of the two), by id.
    public static func merged(_ a: [WorkerInfo], _ b: [WorkerInfo]) -> [WorkerInfo] {
        var byID: [String: WorkerInfo] = [:]
        for info in a + b {
            guard let known = byID[info.worker] else {
                byID[info.worker] = info
                continue
            }
            var newer = info.lastSeen > known.lastSeen ? info : known
            newer.firstSeen = min(info.firstSeen, known.firstSeen)
            byID[info.worker] = newer
        }
        return byID.values.sorted { $0.worker < $1.worker }
    }
}
