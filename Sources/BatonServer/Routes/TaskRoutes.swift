import BatonCore
import Foundation
import Hummingbird

/// `/v1/tasks`: submit one or a batch, get, list, wait, cancel, retry, delete.
struct TaskRoutes<Context: RequestContext>: Sendable {
    let node: NodeServices
    let configuration: ServerConfiguration
    let reader: JSONBodyReader

    var routes: [Route<Context>] {
        [
            Route(.post, "/v1/tasks", submit),
            Route(.get, "/v1/tasks", list),
            Route(.get, "/v1/tasks/:id", get),
            Route(.delete, "/v1/tasks/:id", delete),
            Route(.get, "/v1/tasks/:id/wait", wait),
            Route(.post, "/v1/tasks/:id/cancel", cancel),
            Route(.post, "/v1/tasks/:id/retry", retry),
        ]
    }

    @Sendable func submit(_ request: Request, context: Context) async throws -> Response {
        let body = try await reader.read(request)
        let isBatch = body.readableBytesView.first(where: { !Self.isWhitespace($0) }) == UInt8(ascii: "[")
        if isBatch {
            let tasks = try JSONBodyReader.decode([NewTask].self, from: body)
            guard !tasks.isEmpty else { throw BatonError.invalidArgument("the batch is empty; submit at least one task") }
            guard tasks.count <= configuration.maxBatch else {
                throw BatonError(.tooLarge, "the batch has \(tasks.count) tasks, more than the limit of \(configuration.maxBatch)")
            }
            for (i, task) in tasks.enumerated() {
                do {
                    try task.validate(maxArgsBytes: configuration.maxArgsBytes)
                } catch {
                    throw BatonError(error.code, "task [\(i)]: \(error.message)")
                }
            }
            let stored = try await node.store.taskEnqueueMany(TaskEnqueueParams(tasks: tasks))
            return JSONResponse.make(status: .created, bytes: TaskJSONWriter.taskList(stored))
        } else {
            let task = try JSONBodyReader.decode(NewTask.self, from: body)
            try task.validate(maxArgsBytes: configuration.maxArgsBytes)
            let stored = try await node.store.taskEnqueueMany(TaskEnqueueParams(tasks: [task]))
            guard let first = stored.first else { throw BatonError(.internal, "the store returned no task") }
            var response = JSONResponse.make(status: .created, bytes: TaskJSONWriter.task(first))
            response.headers[.location] = "/v1/tasks/\(first.id)"
            return response
        }
    }

    @Sendable func get(_ request: Request, context: Context) async throws -> Response {
        let id = try Self.taskID(context)
        guard let task = try await node.store.taskGet(id) else { throw BatonError.taskNotFound(id) }
        return JSONResponse.make(bytes: TaskJSONWriter.task(task))
    }

    @Sendable func list(_ request: Request, context: Context) async throws -> Response {
        let query = request.uri.queryParameters
        var params = TaskListParams()
        if let states = query["state"].map(String.init), !states.isEmpty {
            params.states = try states.split(separator: ",").map { name in
                let trimmed = name.trimmingCharacters(in: .whitespaces)
                guard let state = TaskState(rawValue: trimmed) else {
                    let valid = TaskState.allCases.map(\.rawValue).joined(separator: ", ")
                    throw BatonError.invalidArgument("state '\(trimmed)' is not a task state (expected one of \(valid))")
                }
                return state
            }
        }
        if let queue = query["queue"].map(String.init), !queue.isEmpty { params.queue = queue }
        if let kind = query["kind"].map(String.init), !kind.isEmpty { params.kind = kind }
        if let limit = query["limit"] {
            guard let n = Int(limit) else { throw BatonError.invalidArgument("limit must be an integer, got '\(limit)'") }
            params.limit = n
        }
        if let cursor = query["cursor"].map(String.init), !cursor.isEmpty { params.cursor = cursor }
        _ = try params.validatedCursor()
        let page = try await node.store.taskList(params)
        return JSONResponse.make(bytes: TaskJSONWriter.page(page))
    }

    /// Long-polls until the task is terminal or the timeout passes; answers the task as it is then.
    @Sendable func wait(_ request: Request, context: Context) async throws -> Response {
        let id = try Self.taskID(context)
        var timeout = min(Self.defaultWait, configuration.maxWait)
        if let text = request.uri.queryParameters["timeout"] {
            guard let seconds = Double(text), seconds.isFinite, seconds >= 0 else {
                throw BatonError.invalidArgument("timeout must be a non-negative number of seconds, got '\(text)'")
            }
            timeout = min(.milliseconds(Int64(seconds * 1000)), configuration.maxWait)
        }
        let deadline = ContinuousClock.now.advanced(by: timeout)
        let task = try await node.events.withSignal(for: id) { signal in
            while true {
                let generation = signal.generation
                guard let task = try await node.store.taskGet(id) else { throw BatonError.taskNotFound(id) }
                let remaining = deadline - ContinuousClock.now
                if task.state.isTerminal || remaining <= .zero || Task.isCancelled { return task }
                await signal.wait(after: generation, timeout: min(remaining, Self.waitPoll))
            }
        }
        return JSONResponse.make(bytes: TaskJSONWriter.task(task))
    }

    @Sendable func cancel(_ request: Request, context: Context) async throws -> Response {
        let id = try Self.taskID(context)
        let task = try await node.store.taskCancel(id)
        node.events.finished(id)
        return JSONResponse.make(bytes: TaskJSONWriter.task(task))
    }

    @Sendable func retry(_ request: Request, context: Context) async throws -> Response {
        let id = try Self.taskID(context)
        let task = try await node.store.taskRetry(id)
        return JSONResponse.make(bytes: TaskJSONWriter.task(task))
    }

    @Sendable func delete(_ request: Request, context: Context) async throws -> Response {
        let id = try Self.taskID(context)
        try await node.store.taskDelete(id)
        return Response(status: .noContent)
    }

    /// A `wait` without `timeout` waits this long (capped by `maxWait`).
    static var defaultWait: Duration { .seconds(30) }
    /// Fallback re-read of a waited-on task finished elsewhere (rescuer, another node).
    static var waitPoll: Duration { .milliseconds(50) }

    static func taskID(_ context: Context) throws -> TaskID {
        let text = context.parameters.get("id") ?? ""
        guard let id = TaskID(text) else { throw BatonError.invalidArgument("'\(text)' is not a task id (a UUID)") }
        return id
    }

    static func isWhitespace(_ b: UInt8) -> Bool {
        b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09
    }
}
