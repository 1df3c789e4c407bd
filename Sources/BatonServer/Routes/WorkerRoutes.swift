import BatonCore
import BatonNode
import Foundation
import Hummingbird

/// The worker protocol: claim (long-poll, coalesced), heartbeat, complete, fail, batched
/// acks and heartbeats, release. See `docs/api.md`.
struct WorkerRoutes<Context: RequestContext>: Sendable {
    let ops: NodeAPI
    let reader: JSONBodyReader

    var routes: [Route<Context>] {
        [
            Route(
                .post, "/v1/workers/claim", access: .worker, rpc: "worker.claim", summary: "Claim ready tasks (long-poll)",
                request: "ClaimBody", response: "ClaimResponse", longPoll: true, claim),
            Route(
                .post, "/v1/workers/ack", access: .worker, rpc: "worker.ack", summary: "Complete or fail many tasks", request: "AckBody",
                response: "AckResponse", ack),
            Route(
                .post, "/v1/workers/heartbeat", access: .worker, rpc: "worker.heartbeat", summary: "Extend many leases",
                request: "HeartbeatManyBody", response: "HeartbeatManyResponse", heartbeatMany),
            Route(
                .post, "/v1/workers/release", access: .worker, rpc: "worker.release", summary: "Give back claimed tasks",
                request: "ReleaseBody", response: "ReleaseResponse", release),
            Route(
                .post, "/v1/tasks/:id/heartbeat", access: .worker, rpc: "worker.heartbeat", summary: "Extend a lease",
                request: "HeartbeatBody", response: "HeartbeatResponse", heartbeat),
            Route(
                .post, "/v1/tasks/:id/complete", access: .worker, rpc: "worker.complete", summary: "Complete a task",
                request: "CompleteBody", response: "Task", complete),
            Route(
                .post, "/v1/tasks/:id/fail", access: .worker, rpc: "worker.fail", summary: "Fail a task's attempt", request: "FailBody",
                response: "Task", fail),
        ]
    }

    @Sendable func claim(_ request: Request, context: Context) async throws -> Response {
        let body = try await reader.decode(ClaimBody.self, from: request)
        return JSONResponse.make(bytes: TaskJSONWriter.claim(try await ops.claim(body, presence: ClientConnection.current)))
    }

    @Sendable func heartbeat(_ request: Request, context: Context) async throws -> Response {
        let id = try TaskRoutes<Context>.taskID(context)
        let body = try await reader.decode(HeartbeatBody.self, from: request)
        return JSONResponse.make(try await ops.heartbeat(id, body))
    }

    @Sendable func heartbeatMany(_ request: Request, context: Context) async throws -> Response {
        JSONResponse.make(try await ops.heartbeatMany(try await reader.decode(HeartbeatManyBody.self, from: request)))
    }

    @Sendable func complete(_ request: Request, context: Context) async throws -> Response {
        let id = try TaskRoutes<Context>.taskID(context)
        let body = try await reader.decode(CompleteBody.self, from: request)
        return JSONResponse.make(bytes: TaskJSONWriter.task(try await ops.complete(id, body)))
    }

    @Sendable func fail(_ request: Request, context: Context) async throws -> Response {
        let id = try TaskRoutes<Context>.taskID(context)
        let body = try await reader.decode(FailBody.self, from: request)
        return JSONResponse.make(bytes: TaskJSONWriter.task(try await ops.fail(id, body)))
    }

    @Sendable func ack(_ request: Request, context: Context) async throws -> Response {
        // One pass reads and checks the usual body; anything else is checked, then decoded.
        let buffer = try await reader.read(request, validate: false)
        let acks =
            try FastAckDecoder.decode(buffer, maxDepth: reader.maxJSONDepth)
            ?? NodeAPI.acks(reader.decodeChecked(AckBody.self, from: buffer))
        let outcomes = try await ops.ack(acks)
        return JSONResponse.make(bytes: TaskJSONWriter.ackResults(ids: acks.map(\.lease.id), outcomes: outcomes))
    }

    @Sendable func release(_ request: Request, context: Context) async throws -> Response {
        JSONResponse.make(try await ops.release(try await reader.decode(ReleaseBody.self, from: request)))
    }
}
