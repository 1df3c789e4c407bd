import BatonCore
import BatonNode
import Hummingbird

/// `/v1/queues/{name}/pause|resume` and `GET /v1/queues/paused`: claims skip a paused queue's
/// tasks; submits still work. Over `NodeAPI` (as the `queue.*` JSON-RPC methods);
/// admin role.
struct QueueRoutes<Context: RequestContext>: Sendable {
    let ops: NodeAPI

    var routes: [Route<Context>] {
        [
            Route(
                .get, "/v1/queues/paused", access: .admin, rpc: "queue.paused", summary: "List paused queues", response: "PausedQueues",
                paused),
            Route(
                .post, "/v1/queues/:name/pause", access: .admin, rpc: "queue.pause", summary: "Pause a queue", response: "PausedQueues",
                pause),
            Route(
                .post, "/v1/queues/:name/resume", access: .admin, rpc: "queue.resume", summary: "Resume a queue",
                response: "PausedQueues", resume),
        ]
    }

    @Sendable func paused(_ request: Request, context: Context) async throws -> Response {
        JSONResponse.make(try await ops.queuePausedList())
    }

    @Sendable func pause(_ request: Request, context: Context) async throws -> Response {
        JSONResponse.make(try await ops.queuePause(context.pathParameter("name")))
    }

    @Sendable func resume(_ request: Request, context: Context) async throws -> Response {
        JSONResponse.make(try await ops.queueResume(context.pathParameter("name")))
    }
}
