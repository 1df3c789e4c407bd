import BatonCore
import Foundation

extension NodeAPI {
    /// A worker announces itself (`POST /v1/workers`, `worker.register`): recorded in the node's
    /// registry, its kinds' retry policies applied from now on.
    public func registerWorker(_ announcement: WorkerAnnouncement) throws -> WorkerInfo {
        try announcement.validate()
        return node.workers.announce(announcement, transport: "http")
    }

    /// The workers this node heard from recently (`GET /v1/workers`, `worker.list`).
    public func workers() -> WorkerList {
        WorkerList(workers: node.workers.list())
    }
}
