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

    /// The workers this node heard from recently (`GET /v1/workers`, `worker.list`).
    public func workers() -> WorkerList {
        WorkerList(workers: node.workers.list())
    }
}
