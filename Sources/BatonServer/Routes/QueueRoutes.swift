import BatonCore
import Hummingbird

/// `/v1/queues/{name}/pause|resume` and `GET /v1/queues/paused`: claims skip a paused queue's
/// tasks; submits still work. Needs a `QueueAdminStore`; admin role.
struct QueueRoutes<Context: RequestContext>: Sendable {
    let node: NodeServices

    var routes: [Route<Context>] {
        [
            Route(.get, "/v1/queues/paused", access: .admin, summary: "List paused queues", response: "PausedQueues", paused),
            Route(.post, "/v1/queues/:name/pause", access: .admin, summary: "Pause a queue", response: "PausedQueues", pause),
            Route(.post, "/v1/queues/:name/resume", access: .admin, summary: "Resume a queue", response: "PausedQueues", resume),
        ]
    }

    struct PausedQueues: Codable {
        var paused: [String]
    }

    func store() throws -> any QueueAdminStore {
        guard let store = node.store as? any QueueAdminStore else {
            throw BatonError.invalidArgument("this node's store does not support pausing queues")
        }
        return store
    }

    @Sendable func paused(_ request: Request, context: Context) async throws -> Response {
        JSONResponse.make(PausedQueues(paused: try await store().queuePausedList()))
    }

    @Sendable func pause(_ request: Request, context: Context) async throws -> Response {
        let store = try store()
        try await store.queuePause(try Self.name(context))
        return JSONResponse.make(PausedQueues(paused: try await store.queuePausedList()))
    }

    @Sendable func resume(_ request: Request, context: Context) async throws -> Response {
        let store = try store()
        try await store.queueResume(try Self.name(context))
        return JSONResponse.make(PausedQueues(paused: try await store.queuePausedList()))
    }

    static func name(_ context: Context) throws -> String {
        let name = context.parameters.get("name") ?? ""
        try NewTask.validateName(name, field: "queue", maxLength: Limits.maxQueueLength)
        return name
    }
}
