import BatonCore
import Foundation
import Logging

/// What the dispatches to Machinery's own workers share, whichever broker carries the
/// signatures (Redis: `BatonRedisBroker.MachineryWorkers`; RabbitMQ:
/// `BatonAMQPBroker.AMQPMachineryWorkers`): the signature a task is sent as, and the store side
/// of what the workers report — outcomes applied, leases extended on a sign of life.
/// How the outcomes a Machinery worker reported ended in the store.
public struct MachineryTally: Sendable, Hashable {
    /// Applied as a success.
    public var succeeded = 0
    /// Applied as a failure (retried or not; a result the store refused as invalid among them).
    public var failed = 0
    /// Refused: a stale lease (rescued, cancelled or already applied).
    public var refused = 0

    public init(_ outcomes: [AckOutcome]) {
        for outcome in outcomes {
            switch outcome {
            case .applied(.succeeded): succeeded += 1
            case .applied: failed += 1
            case .staleLease, .notFound: refused += 1
            }
        }
    }
}

extension NodeAPI {
    /// How long each sign of life of a Machinery worker extends a task's lease: the dispatch
    /// lease, or the task's timeout and 5 s when that is longer (no more than the node's
    /// longest lease).
    public func machineryLeaseExtension(_ task: TaskRecord, lease: Duration) -> Duration {
        min(configuration.maxLease, max(lease, .seconds(task.timeout ?? 0) + .seconds(5)))
    }

    /// The signature of `task` for Machinery's workers reading `routingKey`, under `uuid` (by
    /// default ``Machinery/workerUUID(_:)``), its arguments with its parents' results in front
    /// when it asked for them (`pass`), as Baton's own workers get them. Throws
    /// `invalidArgument` with the reason when the arguments cannot be Machinery's, and the
    /// store's error when a parent's result could not be read.
    public func machinerySignature(_ task: TaskRecord, routingKey: String, uuid: String? = nil) async throws -> String {
        var args = task.args
        if let pass = task.pass {
            let store = node.store
            let parents =
                try await ParentPage.all {
                    try await store.taskParents(TaskParentsParams(id: task.id, cursor: $0, limit: TaskParentsParams.maxLimit))
                } ?? []
            args = try pass.arguments(task.args, parentResults: parents.map(\.result))
        }
        return try Machinery.workerSignature(task, args: args, routingKey: routingKey, uuid: uuid)
    }

    /// Applies Machinery workers' outcomes through the node's completer: what became of each,
    /// in the order of `acks`; `nil` when the store did not answer (logged: read them again
    /// later). A result the store refuses as invalid (too large) fails its task, not retried,
    /// with the reason.
    public func applyMachineryOutcomes(_ acks: [TaskAck], logger: Logger) async -> [AckOutcome]? {
        guard !acks.isEmpty else { return [] }
        do {
            return try await node.completer.ackMany(acks)
        } catch let error as BatonError where error.code == .invalidArgument && acks.count > 1 {
            var outcomes: [AckOutcome] = []
            for ack in acks {
                guard let one = await applyMachineryOutcomes([ack], logger: logger) else { return nil }
                outcomes += one
            }
            return outcomes
        } catch let error as BatonError where error.code == .invalidArgument {
            let lease = acks[0].lease
            logger.warning("a Machinery worker's result was refused", metadata: ["task_id": "\(lease.id)", "error": "\(error.message)"])
            let failure = TaskFailure(
                lease: lease, message: "the Machinery worker's result was refused: \(error.message)", retryable: false)
            return await applyMachineryOutcomes([.fail(failure)], logger: logger)
        } catch {
            logger.warning("could not apply Machinery workers' results; trying again", metadata: ["error": "\(error)"])
            return nil
        }
    }

    /// Extends the leases of tasks whose Machinery worker gave a sign of life, one store call
    /// per lease length: for each lease the store answered about, whether it was extended
    /// (`false`: cancelled, rescued or gone — what its worker writes now is not applied).
    public func extendMachineryLeases(_ items: [(lease: LeaseRef, by: Duration)], logger: Logger) async -> [LeaseRef: Bool] {
        var extended: [LeaseRef: Bool] = [:]
        for (by, group) in Dictionary(grouping: items, by: \.by) {
            do {
                let body = HeartbeatManyBody(worker: nil, leases: group.map { HeartbeatItem($0.lease) }, leaseMS: by.inMilliseconds)
                for (item, result) in zip(group, try await heartbeatMany(body).results) {
                    if case .extended = result.outcome { extended[item.lease] = true } else { extended[item.lease] = false }
                }
            } catch {
                logger.warning(
                    "could not extend the leases of tasks Machinery workers have",
                    metadata: ["count": "\(group.count)", "error": "\(error)"])
            }
        }
        return extended
    }
}
