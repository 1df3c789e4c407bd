import BatonCore
import BatonNode
import Hummingbird

/// `/health`, `/ready`, `/metrics` and `/v1/queues`.
struct SystemRoutes<Context: RequestContext>: Sendable {
    let ops: NodeAPI

    var routes: [Route<Context>] {
        [
            Route(.get, "/health", access: .public, summary: "The process is up", response: "Status", health),
            Route(.get, "/ready", access: .public, summary: "The store answers", response: "Status", ready),
            Route(.get, "/metrics", access: .metrics, summary: "Prometheus metrics of this node", metrics),
            Route(
                .get, "/v1/queues", access: .producer, rpc: "queue.list", summary: "Task counts per queue and state",
                response: "QueuesResponse", queues),
        ]
    }

    struct Status: Encodable {
        var status: String
    }

    /// The process is up.
    @Sendable func health(_ request: Request, context: Context) async throws -> Response {
        JSONResponse.make(Status(status: "ok"))
    }

    /// The store answers: 200, else 503 `unavailable`.
    @Sendable func ready(_ request: Request, context: Context) async throws -> Response {
        do {
            _ = try await ops.node.store.now()
        } catch {
            context.logger.warning("readiness check failed", metadata: ["error": "\(error)"])
            throw BatonError.unavailable("the store is not available")
        }
        return JSONResponse.make(Status(status: "ready"))
    }

    /// The node's metrics in Prometheus' text format; 404 when the node keeps none.
    @Sendable func metrics(_ request: Request, context: Context) async throws -> Response {
        guard let metrics = ops.node.metrics else { throw BatonError(.notFound, "this node keeps no metrics (node.metrics is off)") }
        var headers = HTTPFields()
        headers[.contentType] = NodeMetrics.contentType
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: metrics.exposition())))
    }

    @Sendable func queues(_ request: Request, context: Context) async throws -> Response {
        JSONResponse.make(try await ops.queues())
    }
}
