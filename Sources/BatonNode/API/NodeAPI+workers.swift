import BatonCore
import Foundation

extension NodeAPI {
    /// A worker announces itself (`POST /v1/workers`, `worker.register`, or a message on an SQS
    /// results queue): recorded in the node's registry, its kinds' retry policies applied from
    /// now on. `transport` is how it reaches the node (`http`, `sqs`).
    public func registerWorker(_ announcement: WorkerAnnouncement, transport: String = "http") throws(BatonError) -> WorkerInfo {
        try announcement.validate()
        return node.workers.announce(announcement, transport: transport)
    }

    /// The workers heard from recently (`GET /v1/workers`, `worker.list`): on a store shared
    /// by several nodes, those of the whole cluster (``WorkerDirectorySync``); else this node's.
    public func workers() async throws -> WorkerList {
        let local = node.workers.list()
        guard let directory = node.directory else { return WorkerList(workers: local) }
        return WorkerList(workers: try await directory.list(local: local, forgetAfter: node.workers.forgetAfter))
    }
}
