import BatonCore
import BatonNode
import Foundation

/// One JSON-RPC method: who may call it, and how it runs. Params are named (a JSON object)
/// with the REST field names; the result is the REST response's JSON.
struct RPCMethod: Sendable {
    var access: Access
    var run: @Sendable (_ params: RPCParams) async throws -> [UInt8]
}

/// A call's named params (`{}` when the call has none).
struct RPCParams: Sendable {
    let object: [String: JSONValue]

    /// The params decoded as a request body type (unknown members are ignored unless `T` refuses them).
    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        let data = try BatonJSON.encoder().encode(JSONValue.object(object))
        do {
            return try JSONBodyReader.decoder.decode(T.self, from: data)
        } catch let error as DecodingError {
            throw BatonError.invalidArgument(DecodingErrorMessage.describe(error))
        }
    }

    static let idempotencyKeyName = "idempotency_key"

    /// `idempotency_key`, checked as the REST `Idempotency-Key` header is.
    func idempotencyKey() throws -> String? {
        guard let key = try string(Self.idempotencyKeyName) else { return nil }
        return try UniqueSubmit.checkKey(key, field: Self.idempotencyKeyName)
    }

    /// The params without `key`.
    func removing(_ key: String) -> RPCParams {
        var object = object
        object.removeValue(forKey: key)
        return RPCParams(object: object)
    }

    func taskID() throws -> TaskID {
        guard let value = object["id"] else { throw BatonError.invalidArgument("field 'id' is required") }
        guard let text = value.stringValue else { throw BatonError.invalidArgument("field 'id': expected a string") }
        return try NodeAPI.taskID(text)
    }

    func string(_ key: String) throws -> String? {
        switch object[key] {
        case nil, .null?: return nil
        case .string(let s)?: return s
        default: throw BatonError.invalidArgument("field '\(key)': expected a string")
        }
    }

    func int(_ key: String) throws -> Int? {
        switch object[key] {
        case nil, .null?: return nil
        case .int(let i)?: return Int(i)
        case .double(let d)? where d == d.rounded() && abs(d) < 1e15: return Int(d)
        default: throw BatonError.invalidArgument("field '\(key)': expected an integer")
        }
    }

    func double(_ key: String) throws -> Double? {
        switch object[key] {
        case nil, .null?: return nil
        case let value?:
            guard let d = value.doubleValue else { throw BatonError.invalidArgument("field '\(key)': expected a number") }
            return d
        }
    }

    /// A string, a comma-separated string, or an array of strings.
    func strings(_ key: String) throws -> [String]? {
        switch object[key] {
        case nil, .null?: return nil
        case .string(let s)?: return s.split(separator: ",").map(String.init)
        case .array(let items)?:
            return try items.map { item in
                guard let s = item.stringValue else { throw BatonError.invalidArgument("field '\(key)': expected strings") }
                return s
            }
        default: throw BatonError.invalidArgument("field '\(key)': expected a string or an array of strings")
        }
    }
}

extension NodeAPI {
    /// Every JSON-RPC method, by name. `submit:KIND` (the message form of freundallein/scheduler) is resolved by `rpcMethod(named:)`.
    var rpcMethods: [String: RPCMethod] {
        let ops = self
        return workflowRPCMethods.merging(machineryRPCMethods) { first, _ in first }.merging([
            // `idempotency_key` is the REST `Idempotency-Key` header; results carry `duplicate` as REST's do.
            "task.submit": RPCMethod(access: .producer) { p in
                let key = try p.idempotencyKey()
                let task = try p.removing(RPCParams.idempotencyKeyName).decode(NewTask.self)
                let outcome = try await ops.submitOutcome([task], idempotencyKey: key)
                guard let first = outcome.tasks.first else { throw BatonError(.internal, "the store returned no task") }
                return UniqueSubmit.taskJSON(first, duplicate: outcome.duplicate[0])
            },
            "task.submitBatch": RPCMethod(access: .producer) { p in
                guard let tasks = p.object["tasks"] else { throw BatonError.invalidArgument("field 'tasks' is required") }
                let decoded = try RPCParams(object: ["tasks": tasks]).decode(SubmitBatchParams.self)
                return UniqueSubmit.taskListJSON(try await ops.submitOutcome(decoded.tasks, idempotencyKey: try p.idempotencyKey()))
            },
            "task.get": RPCMethod(access: .producer) { p in
                TaskJSONWriter.task(try await ops.get(try p.taskID()))
            },
            "task.list": RPCMethod(access: .producer) { p in
                let page = try await ops.list(
                    states: try p.strings("state"), queue: try p.string("queue"), kind: try p.string("kind"),
                    limit: try p.int("limit"), cursor: try p.string("cursor"), tag: try p.string("tag"))
                return TaskJSONWriter.page(page)
            },
            "task.wait": RPCMethod(access: .producer) { p in
                TaskJSONWriter.task(try await ops.wait(try p.taskID(), timeout: try p.double("timeout")))
            },
            "task.cancel": RPCMethod(access: .producer) { p in
                TaskJSONWriter.task(try await ops.cancel(try p.taskID()))
            },
            "task.retry": RPCMethod(access: .producer) { p in
                TaskJSONWriter.task(try await ops.retry(try p.taskID()))
            },
            "task.delete": RPCMethod(access: .admin) { p in
                try await ops.delete(try p.taskID())
                return Array("null".utf8)
            },
            // One batch of `GET /v1/events`: params `{"last_event_id", "queue", "kind", "task",
            // "workflow", "timeout"}` (seconds to wait for an event, default 0, capped).
            "event.poll": RPCMethod(access: .producer) { p in
                var filter = try await ops.eventFilter(
                    queue: try p.string("queue"), kind: try p.string("kind"), task: try p.string("task"),
                    workflow: try p.string("workflow"))
                let timeout = try p.double("timeout") ?? 0
                guard timeout.isFinite, timeout >= 0 else {
                    throw BatonError.invalidArgument("timeout must be a non-negative number of seconds")
                }
                var (cursor, gap) = try await ops.beginEvents(lastEventID: try p.string("last_event_id"))
                defer { ops.endEvents() }
                let batch = await ops.readEvents(
                    after: &cursor, filter: &filter, timeout: min(.seconds(timeout), ops.configuration.maxWait))
                return EventJSON.batch(batch, gap: gap || batch.gap)
            },
            "queue.list": RPCMethod(access: .producer) { _ in
                Array(JSONResponse.encode(try await ops.queues()).readableBytesView)
            },
            // Paused queues and schedules (admin): params `{"name"}`, or a schedule's fields.
            "queue.paused": RPCMethod(access: .admin) { _ in RPCParams.json(try await ops.queuePausedList()) },
            "queue.pause": RPCMethod(access: .admin) { p in RPCParams.json(try await ops.queuePause(try p.name())) },
            "queue.resume": RPCMethod(access: .admin) { p in RPCParams.json(try await ops.queueResume(try p.name())) },
            "schedule.create": RPCMethod(access: .admin) { p in
                RPCParams.json(try await ops.scheduleCreate(try p.decode(ScheduleDefinition.self)))
            },
            "schedule.put": RPCMethod(access: .admin) { p in
                let name = try p.name()
                return RPCParams.json(try await ops.schedulePut(name, try p.decode(ScheduleDefinition.self)).schedule)
            },
            "schedule.list": RPCMethod(access: .admin) { _ in RPCParams.json(try await ops.scheduleList()) },
            "schedule.get": RPCMethod(access: .admin) { p in RPCParams.json(try await ops.scheduleGet(try p.name())) },
            "schedule.delete": RPCMethod(access: .admin) { p in
                try await ops.scheduleDelete(try p.name())
                return Array("null".utf8)
            },
            "schedule.pause": RPCMethod(access: .admin) { p in
                RPCParams.json(try await ops.scheduleSetPaused(try p.name(), paused: true))
            },
            "schedule.resume": RPCMethod(access: .admin) { p in
                RPCParams.json(try await ops.scheduleSetPaused(try p.name(), paused: false))
            },
            "worker.claim": RPCMethod(access: .worker) { p in
                TaskJSONWriter.claim(try await ops.claim(try p.decode(ClaimBody.self), presence: ClientConnection.current))
            },
            "worker.heartbeat": RPCMethod(access: .worker) { p in
                // With `id`: one lease (`lease_token`); with `leases`: many.
                if p.object["leases"] != nil {
                    return Array(JSONResponse.encode(try await ops.heartbeatMany(try p.decode(HeartbeatManyBody.self))).readableBytesView)
                }
                let response = try await ops.heartbeat(try p.taskID(), try p.decode(HeartbeatBody.self))
                return Array(JSONResponse.encode(response).readableBytesView)
            },
            "worker.complete": RPCMethod(access: .worker) { p in
                TaskJSONWriter.task(try await ops.complete(try p.taskID(), try p.decode(CompleteBody.self)))
            },
            "worker.fail": RPCMethod(access: .worker) { p in
                TaskJSONWriter.task(try await ops.fail(try p.taskID(), try p.decode(FailBody.self)))
            },
            "worker.ack": RPCMethod(access: .worker) { p in
                let acks = try NodeAPI.acks(try p.decode(AckBody.self))
                let outcomes = try await ops.ack(acks)
                return TaskJSONWriter.ackResults(ids: acks.map(\.lease.id), outcomes: outcomes)
            },
            "worker.release": RPCMethod(access: .worker) { p in
                Array(JSONResponse.encode(try await ops.release(try p.decode(ReleaseBody.self))).readableBytesView)
            },
            "worker.register": RPCMethod(access: .worker) { p in
                Array(JSONResponse.encode(try ops.registerWorker(try p.decode(WorkerAnnouncement.self))).readableBytesView)
            },
            "worker.list": RPCMethod(access: .producer) { _ in
                Array(JSONResponse.encode(try await ops.workers()).readableBytesView)
            },
        ]) { first, _ in first }
    }

    /// freundallein/scheduler's form: `submit:KIND` submits a task of that kind with the params
    /// as its args (``SubmitKindCall``, which the SQS ingest uses too).
    func rpcMethod(named name: String, in methods: [String: RPCMethod]) -> RPCMethod? {
        if let method = methods[name] { return method }
        guard SubmitKindCall.kind(ofMethod: name) != nil else { return nil }
        let ops = self
        return RPCMethod(access: .producer) { p in
            guard let task = SubmitKindCall.task(method: name, params: p.object) else {
                throw BatonError(.internal, "\(name) is not a submit:KIND method")
            }
            return TaskJSONWriter.task(try await ops.submit(task))
        }
    }
}

struct SubmitBatchParams: Decodable {
    var tasks: [NewTask]
}
