import BatonCore
import BatonNode
import Foundation
import Hummingbird

/// `/v1/workflows` (docs/workflows.md), and `/v1/tasks/{id}/parents`.
struct WorkflowRoutes<Context: RequestContext>: Sendable {
    let ops: NodeAPI
    let reader: JSONBodyReader

    var routes: [Route<Context>] {
        [
            Route(
                .post, "/v1/workflows", access: .producer, rpc: "workflow.submit",
                summary: "Submit a workflow: named nodes with `after` edges, or chain, group and chord shorthands, nested freely",
                request: "WorkflowRequest", response: "Workflow", submit),
            Route(.get, "/v1/workflows/:id", access: .producer, rpc: "workflow.get", summary: "Get a workflow", response: "Workflow", get),
            Route(
                .get, "/v1/workflows/:id/wait", access: .producer, rpc: "workflow.wait",
                summary: "Long-poll until the workflow finishes", response: "Workflow",
                query: [
                    QueryParameter(
                        name: "timeout", schema: .object(["type": "number", "minimum": 0]),
                        description: "Seconds to wait at most (default 30), capped by the node's maximum wait")
                ], wait),
            Route(
                .post, "/v1/workflows/:id/cancel", access: .producer, rpc: "workflow.cancel",
                summary: "Cancel every node of a workflow that has not finished", response: "Workflow", cancel),
            Route(
                .get, "/v1/tasks/:id/parents", access: .worker, rpc: "task.parents",
                summary: "A task's parents and their results, in the order the task lists them", response: "ParentPage",
                query: [
                    QueryParameter(
                        name: "limit", schema: APISchemas.integer(1...TaskParentsParams.maxLimit),
                        description: "Parents per page (default \(TaskParentsParams.defaultLimit))"),
                    QueryParameter(
                        name: "cursor", schema: APISchemas.string(pattern: "^[0-9]*$"),
                        description: "A previous page's `next_cursor` (empty: the first page)"),
                ], parents),
        ]
    }

    @Sendable func submit(_ request: Request, context: Context) async throws -> Response {
        let body = try JSONBodyReader.decode(JSONValue.self, from: try await reader.read(request))
        let submission = try WorkflowSpec.compile(body, maxArgsBytes: ops.configuration.maxArgsBytes)
        let outcome = try await ops.submitWorkflow(
            submission, idempotencyKey: try UniqueSubmit.idempotencyKey(request), fingerprint: try Self.fingerprint(body))
        var response = JSONResponse.make(status: outcome.replayed ? .ok : .created, outcome.workflow)
        response.headers[.location] = "/v1/workflows/\(outcome.workflow.id)"
        return response
    }

    /// The request's fingerprint for `Idempotency-Key`: its canonical JSON.
    static func fingerprint(_ body: JSONValue) throws -> String {
        TaskEnqueueOutcome.fingerprint(try BatonJSON.encoder().encode(body))
    }

    @Sendable func get(_ request: Request, context: Context) async throws -> Response {
        JSONResponse.make(try await ops.workflow(try TaskRoutes<Context>.taskID(context)))
    }

    @Sendable func wait(_ request: Request, context: Context) async throws -> Response {
        let id = try TaskRoutes<Context>.taskID(context)
        return JSONResponse.make(try await ops.waitWorkflow(id, timeout: try TaskRoutes<Context>.timeout(request)))
    }

    @Sendable func cancel(_ request: Request, context: Context) async throws -> Response {
        JSONResponse.make(try await ops.cancelWorkflow(try TaskRoutes<Context>.taskID(context)))
    }

    @Sendable func parents(_ request: Request, context: Context) async throws -> Response {
        JSONResponse.make(
            try await ops.parents(
                try TaskRoutes<Context>.taskID(context), cursor: request.uri.queryParameters["cursor"].map(String.init),
                limit: try TaskRoutes<Context>.limit(request)))
    }
}

extension NodeAPI {
    /// The JSON-RPC methods of workflows, with the REST routes' params and results.
    var workflowRPCMethods: [String: RPCMethod] {
        let ops = self
        return [
            "workflow.submit": RPCMethod(access: .producer) { p in
                let key = try p.idempotencyKey()
                let body = JSONValue.object(p.removing(RPCParams.idempotencyKeyName).object)
                let submission = try WorkflowSpec.compile(body, maxArgsBytes: ops.configuration.maxArgsBytes)
                let fingerprint = try WorkflowRoutes<BasicRequestContext>.fingerprint(body)
                return RPCParams.json(try await ops.submitWorkflow(submission, idempotencyKey: key, fingerprint: fingerprint).workflow)
            },
            "workflow.get": RPCMethod(access: .producer) { p in RPCParams.json(try await ops.workflow(try p.taskID())) },
            "workflow.wait": RPCMethod(access: .producer) { p in
                RPCParams.json(try await ops.waitWorkflow(try p.taskID(), timeout: try p.double("timeout")))
            },
            "workflow.cancel": RPCMethod(access: .producer) { p in RPCParams.json(try await ops.cancelWorkflow(try p.taskID())) },
            "task.parents": RPCMethod(access: .worker) { p in
                RPCParams.json(try await ops.parents(try p.taskID(), cursor: try p.string("cursor"), limit: try p.int("limit")))
            },
        ]
    }
}
