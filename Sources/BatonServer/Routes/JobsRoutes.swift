import BatonCore
import BatonNode
import Foundation
import Hummingbird

/// The HTTP API of the Go Distributed Task Scheduler, as a drop-in (docs/compat.md): create a
/// job, read it, take the next one as a worker, report its completion. A job is a Baton task
/// of queue `default` whose kind is the job's type (`sleep`, `http`, `file`: Baton's built-in
/// kinds); its priority is Baton's (1–10, higher first).
struct JobsRoutes<Context: RequestContext>: Sendable {
    let ops: NodeAPI
    let reader: JSONBodyReader
    let mount: DropInConfiguration

    var routes: [Route<Context>] {
        let token = mount.tokenInPath
        return [
            Route(
                .post, mount.path("/jobs"), access: .producer, summary: "Create a job (the Go Distributed Task Scheduler's API)",
                request: "JobRequest", response: "Job",
                dropIn: DropInSpec(successes: [.init(status: "201", description: "Created", schema: "Job")], tokenInPath: token), create),
            Route(
                .get, mount.path("/jobs/:id"), access: .producer, summary: "A job's status (the Go Distributed Task Scheduler's API)",
                response: "Job",
                dropIn: DropInSpec(
                    successes: [.init(status: "200", description: "The job", schema: "Job")], errors: ["404"], tokenInPath: token), get),
            Route(
                .get, mount.path("/next-job"), access: .worker,
                summary: "A worker takes the next job under a lease (the Go Distributed Task Scheduler's API)", response: "ClaimedJob",
                query: [
                    QueryParameter(
                        name: "worker_id", schema: APISchemas.workerID,
                        description: "The worker's id (default `\(JobsCompat.defaultWorker)`); `complete` may name it to be fenced"),
                    QueryParameter(
                        name: "lease",
                        schema: .object(["type": "number", "exclusiveMinimum": 0, "maximum": .double(ops.configuration.maxLease.seconds)]),
                        description: "Seconds the job is the worker's (default: the node's `limits.defaultLease`)"),
                ],
                dropIn: DropInSpec(
                    successes: [
                        .init(status: "200", description: "The job, now running under a lease", schema: "ClaimedJob"),
                        .init(status: "204", description: "No job is ready", schema: nil),
                    ], tokenInPath: token), next),
            Route(
                .post, mount.path("/jobs/:id/complete"), access: .worker,
                summary: "A worker reports a job done, or failed (the Go Distributed Task Scheduler's API)", request: "JobCompletion",
                response: "Job",
                dropIn: DropInSpec(
                    successes: [.init(status: "200", description: "The job as it is now", schema: "Job")], errors: ["404", "409"],
                    bodyOptional: true, tokenInPath: token), complete),
        ]
    }

    @Sendable func create(_ request: Request, context: Context) async throws -> Response {
        let body = try JSONBodyReader.decode(JSONValue.self, from: try await reader.read(request))
        let outcome = try await ops.submitOutcome([try JobsCompat.newTask(body)], idempotencyKey: nil)
        guard let task = outcome.tasks.first else { throw BatonError(.internal, "the store returned no task") }
        var response = JSONResponse.make(status: .created, JobsCompat.job(task))
        response.headers[.location] = request.uri.path + "/\(task.id)"
        return response
    }

    @Sendable func get(_ request: Request, context: Context) async throws -> Response {
        JSONResponse.make(JobsCompat.job(try await ops.get(try TaskRoutes<Context>.taskID(context))))
    }

    @Sendable func next(_ request: Request, context: Context) async throws -> Response {
        let query = request.uri.queryParameters
        let worker = query["worker_id"].map(String.init) ?? JobsCompat.defaultWorker
        var leaseMS: Int?
        if let text = query["lease"] {
            guard let seconds = Double(text), seconds.isFinite, seconds > 0, seconds <= ops.configuration.maxLease.seconds else {
                throw BatonError.invalidArgument(
                    "lease must be a number of seconds above 0 and up to \(Int(ops.configuration.maxLease.seconds)), got '\(text)'")
            }
            leaseMS = max(1, Int((seconds * 1000).rounded(.up)))
        }
        let claimed = try await ops.claim(
            ClaimBody(worker: worker, queues: [JobsCompat.queue], kinds: JobsCompat.types, max: 1, waitMS: 0, leaseMS: leaseMS))
        guard let first = claimed.first else { return Response(status: .noContent) }
        var job = JobsCompat.fields(first.task)
        job["lease_token"] = .string(first.leaseToken)
        return JSONResponse.make(JSONValue.object(job))
    }

    @Sendable func complete(_ request: Request, context: Context) async throws -> Response {
        let id = try TaskRoutes<Context>.taskID(context)
        let buffer = try await reader.read(request)
        let report = try JobsCompat.Completion(
            buffer.readableBytes == 0 ? .object([:]) : JSONBodyReader.decode(JSONValue.self, from: buffer))
        let token: String
        if let given = report.leaseToken {
            token = given
        } else {
            token = try await DropInLease.token(
                ops, id, worker: report.worker,
                notRunning: { "job \(id) is \(JobsCompat.status($0.state)), not running: there is no attempt to complete" },
                heldByOther: { "job \(id) is held by worker '\($0)', not '\(report.worker ?? "")'" })
        }
        let task: TaskRecord
        if report.success {
            task = try await ops.complete(id, CompleteBody(leaseToken: token, result: report.result))
        } else {
            task = try await ops.fail(
                id, FailBody(leaseToken: token, error: report.error ?? "the worker reported the job failed", retryable: true))
        }
        return JSONResponse.make(JobsCompat.job(task))
    }
}

/// The Go Distributed Task Scheduler's jobs as Baton tasks, and back.
enum JobsCompat {
    /// The Baton queue of jobs.
    static let queue = Defaults.queue
    /// The job types, each a Baton built-in kind.
    static let types = ["sleep", "http", "file"]
    static let defaultWorker = "jobs-worker"
    static let fileOps = ["write", "append", "read", "delete"]

    /// A job as its clients read it.
    static func fields(_ task: TaskRecord) -> [String: JSONValue] {
        var job: [String: JSONValue] = [
            "id": .string(task.id.description), "type": .string(task.kind), "payload": payload(task),
            "priority": .int(Int64(task.priority)), "status": .string(status(task.state)), "attempts": .int(Int64(task.attempt)),
            "max_attempts": .int(Int64(task.maxAttempts)), "created_at": .string(BatonJSON.formatDate(task.createdAt)),
        ]
        if let at = task.startedAt { job["started_at"] = .string(BatonJSON.formatDate(at)) }
        if let at = task.finishedAt { job["completed_at"] = .string(BatonJSON.formatDate(at)) }
        if task.state == .running, let worker = task.leaseOwner { job["worker_id"] = .string(worker) }
        if let result = task.result, let value = try? result.parsed() { job["result"] = value }
        if let error = task.lastError { job["error"] = .string(error) }
        return job
    }

    static func job(_ task: TaskRecord) -> JSONValue { .object(fields(task)) }

    /// Baton's states in the job statuses: `pending` (waiting, delayed, ready or backing off
    /// before a retry), `running`, `completed`, `failed`, `cancelled`.
    static func status(_ state: TaskState) -> String {
        switch state {
        case .waiting, .pending, .ready: "pending"
        case .running: "running"
        case .succeeded: "completed"
        case .failed: "failed"
        case .cancelled: "cancelled"
        }
    }

    /// The payload as the job was created: a `sleep` task's `seconds` is its `duration`.
    static func payload(_ task: TaskRecord) -> JSONValue {
        guard let args = try? task.args.parsed() else { return .null }
        guard task.kind == "sleep", case .object(var members) = args, let seconds = members["seconds"] else { return args }
        members["seconds"] = nil
        members["duration"] = seconds
        return .object(members)
    }

    /// The task of a `POST /jobs` body: `type`, `payload` and an optional `priority`; other
    /// members are ignored, as a Go server decoding into a struct ignores them.
    static func newTask(_ body: JSONValue) throws -> NewTask {
        guard case .object(let job) = body else { throw BatonError.invalidArgument("a job must be a JSON object") }
        guard case .string(let type)? = job["type"] else {
            throw BatonError.invalidArgument("field 'type' is required: one of \(types.joined(separator: ", "))")
        }
        guard types.contains(type) else {
            throw BatonError.invalidArgument("type '\(type)' is not a job type (expected one of \(types.joined(separator: ", ")))")
        }
        guard case .object(var payload)? = job["payload"] else { throw BatonError.invalidArgument("field 'payload' must be a JSON object") }
        var priority = Defaults.priority
        switch job["priority"] {
        case nil, .null?: break
        case .int(let p)? where Limits.priorityRange.contains(Int(clamping: p)): priority = Int(p)
        case .double(let p)? where p.rounded() == p && p >= 1 && p <= 10: priority = Int(p)
        default: throw BatonError.invalidArgument("priority must be an integer from 1 to 10 (higher first)")
        }
        switch type {
        case "sleep":
            guard let seconds = payload["duration"]?.doubleValue, seconds.isFinite, seconds >= 0, seconds <= Limits.maxSeconds else {
                throw BatonError.invalidArgument(
                    "payload.duration must be a number of seconds from 0 to \(Int(Limits.maxSeconds)) for a sleep job")
            }
            payload["seconds"] = payload["duration"]
            payload["duration"] = nil
        case "http":
            guard case .string(let url)? = payload["url"], !url.isEmpty else {
                throw BatonError.invalidArgument("payload.url must be a non-empty string for an http job")
            }
            if let method = payload["method"], method.stringValue == nil {
                throw BatonError.invalidArgument("payload.method must be a string")
            }
        default:
            guard case .string(let op)? = payload["op"], fileOps.contains(op) else {
                throw BatonError.invalidArgument("payload.op must be one of \(fileOps.joined(separator: ", ")) for a file job")
            }
            guard case .string(let path)? = payload["path"], !path.isEmpty else {
                throw BatonError.invalidArgument("payload.path must be a non-empty string for a file job")
            }
            if let content = payload["content"], content.stringValue == nil {
                throw BatonError.invalidArgument("payload.content must be a string")
            }
        }
        return NewTask(kind: type, args: RawJSON(.object(payload)), queue: queue, priority: priority)
    }

    /// A `POST /jobs/{id}/complete` body (empty: success). Other members are ignored.
    struct Completion {
        var success = true
        var result: RawJSON?
        var error: String?
        var worker: String?
        var leaseToken: String?

        init(_ body: JSONValue) throws {
            guard case .object(let members) = body else { throw BatonError.invalidArgument("the completion must be a JSON object") }
            func string(_ name: String) throws -> String? {
                switch members[name] {
                case nil, .null?: return nil
                case .string(let text)?: return text
                default: throw BatonError.invalidArgument("field '\(name)' must be a string")
                }
            }
            switch members["success"] {
            case nil, .null?: break
            case .bool(let ok)?: success = ok
            default: throw BatonError.invalidArgument("field 'success' must be true or false")
            }
            if let value = members["result"], value != .null { result = RawJSON(value) }
            error = try string("error")
            worker = try string("worker_id")
            leaseToken = try string("lease_token")
        }
    }
}
