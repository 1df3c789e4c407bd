import BatonCore
import BatonNode
import Foundation
import Hummingbird

/// The HTTP API of taskq, the task queue of dist-sched-tasks, as a drop-in (docs/compat.md):
/// a scheduler enqueues a task (`name`, epoch `schedule`, `config`), a processor dequeues one
/// of the names it declares as `capabilities` and updates it with `success`. A taskq task is
/// a Baton task of queue `taskq` whose kind is its name, arguments its config, and run time
/// its schedule. Answers and their status codes are taskq's, errors included
/// (`{"error": "..."}`).
struct TaskqRoutes<Context: RequestContext>: Sendable {
    let ops: NodeAPI
    let reader: JSONBodyReader
    let mount: DropInConfiguration

    var routes: [Route<Context>] {
        let token = mount.tokenInPath
        return [
            Route(
                .post, mount.path("/v1/tasks/enqueue"), access: .producer, summary: "Enqueue a task (taskq's API)",
                request: "TaskqEnqueue", response: "TaskqEnqueued",
                dropIn: DropInSpec(
                    successes: [.init(status: "201", description: "Enqueued", schema: "TaskqEnqueued")], errorSchema: "TaskqError",
                    tokenInPath: token), enqueue),
            Route(
                .post, mount.path("/v1/tasks/dequeue"), access: .worker,
                summary: "A processor takes the next due task of its capabilities (taskq's API)", request: "TaskqDequeue",
                response: "TaskqTask",
                dropIn: DropInSpec(
                    successes: [.init(status: "200", description: "The task, now running under a lease", schema: "TaskqTask")],
                    errors: ["404"], errorSchema: "TaskqError", tokenInPath: token), dequeue),
            Route(
                .post, mount.path("/v1/tasks/update"), access: .worker, summary: "A processor reports a task's outcome (taskq's API)",
                request: "TaskqUpdate", response: "TaskqUpdate",
                dropIn: DropInSpec(
                    successes: [.init(status: "200", description: "Applied; the request as sent", schema: "TaskqUpdate")],
                    errors: ["409"], errorSchema: "TaskqError", tokenInPath: token), update),
            Route(
                .get, mount.path("/v1/about"), access: .public, summary: "Server information (taskq's API)", response: "TaskqAbout",
                dropIn: DropInSpec(
                    successes: [.init(status: "200", description: "This node", schema: "TaskqAbout")], tokenInPath: token), about),
        ]
    }

    @Sendable func enqueue(_ request: Request, context: Context) async throws -> Response {
        try await TaskqCompat.answering {
            let body = try JSONBodyReader.decode(JSONValue.self, from: try await reader.read(request))
            let (task, request) = try TaskqCompat.newTask(body)
            let outcome = try await ops.submitOutcome([task], idempotencyKey: nil)
            guard let stored = outcome.tasks.first else { throw BatonError(.internal, "the store returned no task") }
            // taskq answers the request as sent, with the task's uuid added.
            var answer = request
            answer["uuid"] = .string(stored.id.description)
            return JSONResponse.make(status: .created, JSONValue.object(answer))
        }
    }

    @Sendable func dequeue(_ request: Request, context: Context) async throws -> Response {
        try await TaskqCompat.answering {
            let body = try JSONBodyReader.decode(JSONValue.self, from: try await reader.read(request))
            guard case .object(let members) = body else { throw BatonError.invalidArgument("the dequeue request must be a JSON object") }
            try TaskqCompat.requireKeys(["processor", "capabilities"], in: members, of: "dequeue")
            guard case .array(let items)? = members["capabilities"] else {
                throw BatonError.invalidArgument("Capabilities should be a list")
            }
            guard !items.isEmpty else { throw BatonError.invalidArgument("Capabilities should not be empty") }
            var names: [String] = []
            for item in items {
                guard case .string(let name) = item else { throw BatonError.invalidArgument("Capabilities should be a list of string") }
                names.append(name)
            }
            let notFound = BatonError(.notFound, "No task found matching capabilities: " + names.map { "\"\($0)\"" }.joined(separator: ","))
            // A name that cannot be a Baton kind matches no task: taskq answers 404 for it too.
            let capabilities = names.filter { (try? NewTask.validateName($0, field: "capability", maxLength: Limits.maxKindLength)) != nil }
            guard !capabilities.isEmpty else { throw notFound }
            let worker = TaskqCompat.processorID(members["processor"])
            let claimed = try await ops.claim(
                ClaimBody(worker: worker, queues: [TaskqCompat.queue], kinds: capabilities, max: 1, waitMS: 0))
            guard let first = claimed.first else { throw notFound }
            return JSONResponse.make(TaskqCompat.task(first.task))
        }
    }

    @Sendable func update(_ request: Request, context: Context) async throws -> Response {
        try await TaskqCompat.answering {
            let body = try JSONBodyReader.decode(JSONValue.self, from: try await reader.read(request))
            guard case .object(let members) = body else { throw BatonError.invalidArgument("the update request must be a JSON object") }
            try TaskqCompat.requireKeys(["processor", "result", "success", "uuid"], in: members, of: "update")
            guard case .bool(let success)? = members["success"] else {
                throw BatonError.invalidArgument("Update request success should be boolean")
            }
            // taskq answers 400 for a uuid it does not know, malformed or not.
            let unknown = BatonError.invalidArgument("Task uuid: \(members["uuid"]?.stringValue ?? "(not a string)") does not exist")
            guard case .string(let uuid)? = members["uuid"], let id = TaskID(uuid) else { throw unknown }
            if success {
                guard case .object = members["result"], case .object = members["processor"] else {
                    throw BatonError.invalidArgument("result and processor should be dict")
                }
            }
            let processor = members["processor"].flatMap { $0 == .null ? nil : TaskqCompat.processorID($0) }
            let token: String
            do {
                token = try await DropInLease.token(
                    ops, id, worker: processor,
                    notRunning: { "task \(uuid) is \($0.state.rawValue), not dequeued: there is nothing to update" },
                    heldByOther: { "task \(uuid) was dequeued by processor '\($0)', not this one" })
            } catch let error as BatonError where error.code == .notFound {
                throw unknown
            }
            let result = members["result"].map { RawJSON($0) } ?? .null
            if success {
                _ = try await ops.complete(id, CompleteBody(leaseToken: token, result: result))
            } else {
                // taskq hands a failed task to the next dequeue at once.
                _ = try await ops.fail(
                    id,
                    FailBody(leaseToken: token, error: "the processor reported a failure", retryable: true, retryAfterMS: 0))
            }
            return JSONResponse.make(body)
        }
    }

    @Sendable func about(_ request: Request, context: Context) async throws -> Response {
        JSONResponse.make(
            JSONValue.object([
                "node": .string(ProcessInfo.processInfo.hostName), "version": .string(BatonVersion.current),
                "time": .string(BatonJSON.formatDate(Date())),
            ]))
    }
}

/// taskq's tasks as Baton tasks, and back.
enum TaskqCompat {
    /// The Baton queue of taskq's tasks.
    static let queue = "taskq"
    /// taskq retries a failed task without end; Baton stops at its largest `max_attempts`.
    static let maxAttempts = Limits.maxAttemptsRange.upperBound
    /// The latest `schedule` accepted: 9999-12-31T23:59:59Z.
    static let maxSchedule: Int64 = 253_402_300_799
    /// The tag keeping a task's `schedule` as enqueued (its run time moves when it is retried).
    static let scheduleTag = "taskq.schedule:"
    static let defaultProcessor = "taskq-processor"

    /// Runs a handler, answering its 400, 404 and 409 in taskq's shape, `{"error": "..."}`.
    static func answering(_ body: () async throws -> Response) async throws -> Response {
        do {
            return try await body()
        } catch {
            let api = APIError(error)
            guard [400, 404, 409].contains(api.status.code) else { throw error }
            return JSONResponse.make(status: api.status, JSONValue.object(["error": .string(api.message)]))
        }
    }

    /// taskq's check of a request's keys: all of `keys` present (any value, `null` too).
    static func requireKeys(_ keys: [String], in members: [String: JSONValue], of request: String) throws(BatonError) {
        let missing = keys.filter { members[$0] == nil }
        guard missing.isEmpty else {
            throw BatonError.invalidArgument("Required keys missing in \(request) request: \(missing.joined(separator: ", "))")
        }
    }

    /// The task of an enqueue request (`name`, `schedule`, `config`; other members are
    /// ignored) and the request's members, which the answer echoes.
    static func newTask(_ body: JSONValue) throws -> (NewTask, [String: JSONValue]) {
        guard case .object(let members) = body else { throw BatonError.invalidArgument("Task should be a dict") }
        try requireKeys(["name", "schedule", "config"], in: members, of: "enqueue")
        guard case .string(let name)? = members["name"] else { throw BatonError.invalidArgument("name should be a string") }
        try NewTask.validateName(name, field: "name", maxLength: Limits.maxKindLength)
        let schedule: Int64
        switch members["schedule"] {
        case .int(let s)? where (0...maxSchedule).contains(s): schedule = s
        case .double(let s)? where s.rounded() == s && s >= 0 && s <= Double(maxSchedule): schedule = Int64(s)
        default: throw BatonError.invalidArgument("schedule should be an epoch timestamp in seconds (an integer from 0 to \(maxSchedule))")
        }
        let config = members["config"] ?? .null
        let task = NewTask(
            kind: name, args: RawJSON(config), queue: queue, runAt: Date(timeIntervalSince1970: TimeInterval(schedule)),
            maxAttempts: maxAttempts, tags: [scheduleTag + String(schedule)])
        return (task, members)
    }

    /// A dequeued task as taskq answers it: `name`, `args` (the config), `uuid`, `schedule`.
    static func task(_ task: TaskRecord) -> JSONValue {
        let tagged = task.tags.first { $0.hasPrefix(scheduleTag) }.flatMap { Int64($0.dropFirst(scheduleTag.count)) }
        return .object([
            "name": .string(task.kind), "args": (try? task.args.parsed()) ?? .null, "uuid": .string(task.id.description),
            "schedule": .int(tagged ?? Int64(task.runAt.timeIntervalSince1970)),
        ])
    }

    /// The worker id of a processor: taskq's processors describe themselves as an object
    /// (`host`, `pid`, `name`), which becomes `host/pid/name`; a string is taken as it is.
    static func processorID(_ processor: JSONValue?) -> String {
        var id: String
        switch processor {
        case .string(let text)? where !text.isEmpty:
            id = text
        case .object(let members)?:
            let parts = ["host", "pid", "name"].compactMap { key -> String? in
                switch members[key] {
                case .string(let text)?: text
                case .int(let n)?: String(n)
                case .double(let d)?: String(d)
                default: nil
                }
            }
            id = parts.isEmpty ? defaultProcessor : parts.joined(separator: "/")
        default:
            id = defaultProcessor
        }
        if id.unicodeScalars.count > Limits.maxWorkerIDLength {
            id = String(String.UnicodeScalarView(id.unicodeScalars.prefix(Limits.maxWorkerIDLength)))
        }
        return id
    }
}
