import BatonCore
import BatonNode
import Hummingbird

/// `POST /v1/workers` (a worker announces itself: id, queues, kinds with their retry policies,
/// concurrency, tasks in flight, version) and `GET /v1/workers` (the workers this node heard
/// from recently; on PostgreSQL, the whole cluster's).
struct WorkerRegistryRoutes<Context: RequestContext>: Sendable {
    let ops: NodeAPI
    let reader: JSONBodyReader

    var routes: [Route<Context>] {
        [
            Route(
                .post, "/v1/workers", access: .worker, rpc: "worker.register", summary: "Announce a worker and its kinds",
                request: "WorkerAnnouncement", response: "WorkerInfo", register),
            Route(
                .get, "/v1/workers", access: .producer, rpc: "worker.list", summary: "List the workers seen recently",
                response: "WorkerList", list),
        ]
    }

    @Sendable func register(_ request: Request, context: Context) async throws -> Response {
        let announcement = try await reader.decode(WorkerAnnouncement.self, from: request)
        return JSONResponse.make(try ops.registerWorker(announcement))
    }

    @Sendable func list(_ request: Request, context: Context) async throws -> Response {
        JSONResponse.make(try await ops.workers())
    }
}
