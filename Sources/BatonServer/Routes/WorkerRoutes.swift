import BatonCore
import Foundation
import Hummingbird

/// The worker protocol: claim (long-poll, coalesced), heartbeat, complete, fail, batched
/// acks and heartbeats, release. See `docs/api.md`.
struct WorkerRoutes<Context: RequestContext>: Sendable {
    let node: NodeServices
    let configuration: ServerConfiguration
    let reader: JSONBodyReader

    /// Acks of one request at least this many go to the store as they are (already a batch);
    /// smaller ones join the completer's shared batch with other workers' acks.
    static var directAckThreshold: Int { 64 }
    static var maxClaim: Int { 1000 }

    var routes: [Route<Context>] {
        [
            Route(.post, "/v1/workers/claim", claim),
            Route(.post, "/v1/workers/ack", ack),
            Route(.post, "/v1/workers/heartbeat", heartbeatMany),
            Route(.post, "/v1/workers/release", release),
            Route(.post, "/v1/tasks/:id/heartbeat", heartbeat),
            Route(.post, "/v1/tasks/:id/complete", complete),
            Route(.post, "/v1/tasks/:id/fail", fail),
        ]
    }

    @Sendable func claim(_ request: Request, context: Context) async throws -> Response {
        let body = try await reader.decode(ClaimBody.self, from: request)
        try Self.validateWorker(body.worker)
        let queues = body.queues ?? [Defaults.queue]
        guard !queues.isEmpty else { throw BatonError.invalidArgument("queues must not be empty") }
        for queue in queues { try NewTask.validateName(queue, field: "queue", maxLength: Limits.maxQueueLength) }
        if let kinds = body.kinds {
            for kind in kinds { try NewTask.validateName(kind, field: "kind", maxLength: Limits.maxKindLength) }
        }
        let max = body.max ?? 1
        guard (1...Self.maxClaim).contains(max) else {
            throw BatonError.invalidArgument("max must be between 1 and \(Self.maxClaim), got \(max)")
        }
        let waitMS = body.waitMS ?? 0
        guard waitMS >= 0 else { throw BatonError.invalidArgument("wait_ms must not be negative, got \(waitMS)") }
        let lease = try leaseDuration(body.leaseMS)
        let claimed = try await node.dispatcher.claim(
            ClaimRequest(
                worker: body.worker, queues: queues, kinds: body.kinds, max: max,
                wait: min(.milliseconds(waitMS), configuration.maxWait), lease: lease))
        return JSONResponse.make(bytes: TaskJSONWriter.claim(claimed))
    }

    @Sendable func heartbeat(_ request: Request, context: Context) async throws -> Response {
        let id = try TaskRoutes<Context>.taskID(context)
        let body = try await reader.decode(HeartbeatBody.self, from: request)
        let lease = try leaseDuration(body.leaseMS)
        let outcomes = try await node.store.taskHeartbeatMany(
            TaskHeartbeatParams(leases: [LeaseRef(id: id, token: body.leaseToken)], lease: lease))
        switch outcomes.first {
        case .extended(let until):
            return JSONResponse.make(HeartbeatResponse(cancelled: false, leaseExpiresAt: until))
        case .cancelled:
            return JSONResponse.make(HeartbeatResponse(cancelled: true, leaseExpiresAt: nil))
        case .notFound, nil:
            throw BatonError.taskNotFound(id)
        case .lost:
            throw BatonError.staleLease("task \(id): the lease token is not the task's current lease")
        }
    }

    @Sendable func heartbeatMany(_ request: Request, context: Context) async throws -> Response {
        let body = try await reader.decode(HeartbeatManyBody.self, from: request)
        let lease = try leaseDuration(body.leaseMS)
        guard !body.leases.isEmpty else { return JSONResponse.make(HeartbeatManyResponse(results: [])) }
        let outcomes = try await node.store.taskHeartbeatMany(TaskHeartbeatParams(leases: body.leases.map(\.ref), lease: lease))
        let results = zip(body.leases, outcomes).map { HeartbeatItemResult(id: $0.id, outcome: $1) }
        return JSONResponse.make(HeartbeatManyResponse(results: results))
    }

    @Sendable func complete(_ request: Request, context: Context) async throws -> Response {
        let id = try TaskRoutes<Context>.taskID(context)
        let body = try await reader.decode(CompleteBody.self, from: request)
        let result = body.result ?? .null
        try checkResult(result)
        let ack = TaskAck.complete(TaskCompletion(lease: LeaseRef(id: id, token: body.leaseToken), result: result))
        return try await applySingle(ack)
    }

    @Sendable func fail(_ request: Request, context: Context) async throws -> Response {
        let id = try TaskRoutes<Context>.taskID(context)
        let body = try await reader.decode(FailBody.self, from: request)
        if let ms = body.retryAfterMS, ms < 0 { throw BatonError.invalidArgument("retry_after_ms must not be negative, got \(ms)") }
        let ack = TaskAck.fail(
            TaskFailure(
                lease: LeaseRef(id: id, token: body.leaseToken), message: body.error, retryable: body.retryable ?? true,
                retryAfter: body.retryAfterMS.map { .milliseconds($0) }))
        return try await applySingle(ack)
    }

    private func applySingle(_ ack: TaskAck) async throws -> Response {
        let id = ack.lease.id
        switch try await node.completer.ack(ack) {
        case .applied(let state):
            if state.isTerminal { node.events.finished(id) }
            guard let task = try await node.store.taskGet(id) else { throw BatonError.taskNotFound(id) }
            return JSONResponse.make(bytes: TaskJSONWriter.task(task))
        case .staleLease:
            throw BatonError.staleLease("task \(id) is not running under this lease token (never claimed, rescued, or already finished)")
        case .notFound:
            throw BatonError.taskNotFound(id)
        }
    }

    @Sendable func ack(_ request: Request, context: Context) async throws -> Response {
        let buffer = try await reader.read(request)
        var acks: [TaskAck]
        if let fast = FastAckDecoder.decode(buffer) {
            acks = fast
        } else {
            let body = try JSONBodyReader.decode(AckBody.self, from: buffer)
            acks = []
            acks.reserveCapacity(body.acks.count)
            for (i, item) in body.acks.enumerated() {
                do {
                    acks.append(try item.toAck())
                } catch {
                    throw BatonError(error.code, "acks[\(i)]: \(error.message)")
                }
            }
        }
        for (i, ack) in acks.enumerated() {
            if case .complete(let c) = ack, c.result.byteCount > configuration.maxArgsBytes {
                throw BatonError(
                    .tooLarge, "acks[\(i)]: result is \(c.result.byteCount) bytes, more than the limit of \(configuration.maxArgsBytes)")
            }
        }
        let outcomes: [AckOutcome]
        if acks.isEmpty {
            outcomes = []
        } else if acks.count >= Self.directAckThreshold {
            outcomes = try await node.store.taskAckMany(TaskAckParams(acks: acks))
        } else {
            outcomes = try await node.completer.ackMany(acks)
        }
        var finished: [TaskID] = []
        for (ack, outcome) in zip(acks, outcomes) {
            if case .applied(let state) = outcome, state.isTerminal { finished.append(ack.lease.id) }
        }
        node.events.finished(finished)
        return JSONResponse.make(bytes: TaskJSONWriter.ackResults(ids: acks.map(\.lease.id), outcomes: outcomes))
    }

    @Sendable func release(_ request: Request, context: Context) async throws -> Response {
        let body = try await reader.decode(ReleaseBody.self, from: request)
        guard !body.leases.isEmpty else { return JSONResponse.make(ReleaseResponse(released: 0)) }
        let released = try await node.store.taskReleaseMany(TaskReleaseParams(leases: body.leases.map(\.ref)))
        return JSONResponse.make(ReleaseResponse(released: released))
    }

    private func leaseDuration(_ ms: Int?) throws -> Duration {
        guard let ms else { return configuration.defaultLease }
        let lease = Duration.milliseconds(ms)
        guard ms > 0, lease <= configuration.maxLease else {
            throw BatonError.invalidArgument(
                "lease_ms must be between 1 and \(Int(configuration.maxLease.seconds * 1000)), got \(ms)")
        }
        return lease
    }

    private func checkResult(_ result: RawJSON) throws {
        if result.byteCount > configuration.maxArgsBytes {
            throw BatonError(.tooLarge, "result is \(result.byteCount) bytes, more than the limit of \(configuration.maxArgsBytes)")
        }
    }

    static func validateWorker(_ worker: String) throws {
        guard !worker.isEmpty, worker.utf8.count <= Limits.maxWorkerIDLength else {
            throw BatonError.invalidArgument("worker must be 1 to \(Limits.maxWorkerIDLength) bytes")
        }
    }
}
