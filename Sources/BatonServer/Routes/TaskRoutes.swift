import BatonCore
import BatonNode
import Foundation
import Hummingbird

/// `/v1/tasks`: submit one or a batch, get, list, wait, cancel, retry, delete.
struct TaskRoutes<Context: RequestContext>: Sendable {
    let ops: NodeAPI
    let reader: JSONBodyReader

    var routes: [Route<Context>] {
        [
            // An array body is `task.submitBatch` (`RPCParityTests.sharedRoutes`).
            Route(
                .post, "/v1/tasks", access: .producer, rpc: "task.submit", summary: "Submit a task, or an array of tasks",
                request: "NewTaskOrBatch", response: "SubmitResponse", submit),
            Route(
                .get, "/v1/tasks", access: .producer, rpc: "task.list", summary: "List tasks, newest first", response: "TaskPage",
                query: Self.listQuery, list),
            Route(.get, "/v1/tasks/:id", access: .producer, rpc: "task.get", summary: "Get a task", response: "Task", get),
            Route(.delete, "/v1/tasks/:id", access: .admin, rpc: "task.delete", summary: "Delete a finished task", delete),
            Route(
                .get, "/v1/tasks/:id/wait", access: .producer, rpc: "task.wait", summary: "Long-poll until the task finishes",
                response: "Task",
                query: [
                    QueryParameter(
                        name: "timeout", schema: .object(["type": "number", "minimum": 0]),
                        description: "Seconds to wait at most (default 30), capped by the node's maximum wait")
                ], wait),
            Route(.post, "/v1/tasks/:id/cancel", access: .producer, rpc: "task.cancel", summary: "Cancel a task", response: "Task", cancel),
            Route(
                .post, "/v1/tasks/:id/retry", access: .producer, rpc: "task.retry", summary: "Retry a finished task", response: "Task",
                retry),
        ]
    }

    static var listQuery: [QueryParameter] {
        [
            QueryParameter(name: "state", schema: APISchemas.stateList, description: "Only tasks in these states (a comma list)"),
            QueryParameter(name: "queue", schema: APISchemas.string(), description: "Only tasks of this queue (empty: every queue)"),
            QueryParameter(name: "kind", schema: APISchemas.string(), description: "Only tasks of this kind (empty: every kind)"),
            QueryParameter(name: "tag", schema: APISchemas.string(), description: "Only tasks with this tag (empty: any)"),
            QueryParameter(
                name: "limit", schema: APISchemas.integer(1...TaskListParams.maxLimit),
                description: "Tasks per page (default \(TaskListParams.defaultLimit))"),
            QueryParameter(
                name: "cursor", schema: APISchemas.string(pattern: "^(\(APISchemas.uuidPattern))?$"),
                description: "A previous page's `next_cursor` (empty: the first page)"),
        ]
    }

    @Sendable func submit(_ request: Request, context: Context) async throws -> Response {
        // One pass reads and checks the usual body; anything else is checked, then decoded.
        let body = try await reader.read(request, validate: false)
        let isBatch = body.readableBytesView.first(where: { !Self.isWhitespace($0) }) == UInt8(ascii: "[")
        // Unique keys and Idempotency-Key: a duplicate answers 200 with "duplicate": true.
        let key = try UniqueSubmit.idempotencyKey(request)
        if isBatch {
            let outcome = try await ops.submitOutcome(
                try FastNewTaskDecoder.decodeBatch(body, maxDepth: reader.maxJSONDepth)
                    ?? reader.decodeChecked([NewTask].self, from: body), idempotencyKey: key)
            return JSONResponse.make(status: UniqueSubmit.status(outcome), bytes: UniqueSubmit.taskListJSON(outcome))
        } else {
            let outcome = try await ops.submitOutcome(
                [try FastNewTaskDecoder.decodeOne(body, maxDepth: reader.maxJSONDepth) ?? reader.decodeChecked(NewTask.self, from: body)],
                idempotencyKey: key)
            guard let first = outcome.tasks.first else { throw BatonError(.internal, "the store returned no task") }
            var response = JSONResponse.make(
                status: UniqueSubmit.status(outcome), bytes: UniqueSubmit.taskJSON(first, duplicate: outcome.duplicate[0]))
            response.headers[.location] = "/v1/tasks/\(first.id)"
            return response
        }
    }

    @Sendable func get(_ request: Request, context: Context) async throws -> Response {
        JSONResponse.make(bytes: TaskJSONWriter.task(try await ops.get(try Self.taskID(context))))
    }

    @Sendable func list(_ request: Request, context: Context) async throws -> Response {
        let query = request.uri.queryParameters
        let limit = try Self.limit(request)
        let page = try await ops.list(
            states: query["state"].flatMap {
                $0.isEmpty ? nil : $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            },
            queue: query["queue"].map(String.init), kind: query["kind"].map(String.init), limit: limit,
            cursor: query["cursor"].map(String.init), tag: query["tag"].map(String.init))
        return JSONResponse.make(bytes: TaskJSONWriter.page(page))
    }

    /// Long-polls until the task is terminal or the timeout passes; answers the task as it is then.
    @Sendable func wait(_ request: Request, context: Context) async throws -> Response {
        let id = try Self.taskID(context)
        return JSONResponse.make(bytes: TaskJSONWriter.task(try await ops.wait(id, timeout: try Self.timeout(request))))
    }

    @Sendable func cancel(_ request: Request, context: Context) async throws -> Response {
        JSONResponse.make(bytes: TaskJSONWriter.task(try await ops.cancel(try Self.taskID(context))))
    }

    @Sendable func retry(_ request: Request, context: Context) async throws -> Response {
        JSONResponse.make(bytes: TaskJSONWriter.task(try await ops.retry(try Self.taskID(context))))
    }

    @Sendable func delete(_ request: Request, context: Context) async throws -> Response {
        try await ops.delete(try Self.taskID(context))
        return Response(status: .noContent)
    }

    /// The `timeout` query parameter of a long-poll: seconds, if given.
    static func timeout(_ request: Request) throws -> Double? {
        guard let text = request.uri.queryParameters["timeout"] else { return nil }
        guard let seconds = Double(text), seconds.isFinite, seconds >= 0 else {
            throw BatonError.invalidArgument("timeout must be a non-negative number of seconds, got '\(text)'")
        }
        return seconds
    }

    /// The `limit` query parameter of a page, if given.
    static func limit(_ request: Request) throws -> Int? {
        guard let text = request.uri.queryParameters["limit"] else { return nil }
        guard let n = Int(text) else { throw BatonError.invalidArgument("limit must be an integer, got '\(text)'") }
        return n
    }

    static func taskID(_ context: Context) throws -> TaskID {
        try NodeAPI.taskID(context.pathParameter("id"))
    }

    static func isWhitespace(_ b: UInt8) -> Bool {
        b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09
    }
}
