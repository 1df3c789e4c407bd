import BatonCore
import BatonNode
import Foundation

/// The wire contract: every API type's fields and constraints, stated once, as JSON Schema.
///
/// `GET /openapi.json` is generated from it (``OpenAPIDocument``), with the node's own limits
/// (batch size, lease range); the codecs are hand-written for speed and are held to it:
/// `WireContractTests` validates what each writer produces against these schemas and feeds
/// the decoders valid and invalid values derived from them, and schemathesis checks a live
/// node against the document in CI. A constraint the server enforces and this does not state
/// (or the reverse) fails one of those.
///
/// Semantic rules that JSON Schema cannot state (a cron expression's field ranges, an
/// interval of at least 1 s, an IANA time zone) carry a custom `format` (`baton-cron`,
/// `baton-interval`, `baton-timezone`) and a pattern for their syntax.
struct APISchemas {
    var limits: NodeAPILimits

    // MARK: Building blocks

    static func ref(_ name: String) -> JSONValue { .object(["$ref": .string("#/components/schemas/\(name)")]) }

    static func object(_ properties: [String: JSONValue], required: [String] = [], additional: Bool = false) -> JSONValue {
        var schema: [String: JSONValue] = ["type": "object", "properties": .object(properties)]
        if !required.isEmpty { schema["required"] = .array(required.sorted().map { .string($0) }) }
        schema["additionalProperties"] = .bool(additional)
        return .object(schema)
    }

    /// A request body's object: as ``object(_:required:additional:)``, and an optional member
    /// may also be `null`, which the server reads as absent.
    static func request(_ properties: [String: JSONValue], required: [String] = [], additional: Bool = false) -> JSONValue {
        var members = properties
        for (name, schema) in properties where !required.contains(name) && schema != any { members[name] = nullable(schema) }
        return object(members, required: required, additional: additional)
    }

    static func array(_ items: JSONValue, minItems: Int? = nil, maxItems: Int? = nil) -> JSONValue {
        var schema: [String: JSONValue] = ["type": "array", "items": items]
        if let minItems { schema["minItems"] = .int(Int64(minItems)) }
        if let maxItems { schema["maxItems"] = .int(Int64(maxItems)) }
        return .object(schema)
    }

    static func integer(_ range: ClosedRange<Int>? = nil, minimum: Int? = nil) -> JSONValue {
        var schema: [String: JSONValue] = ["type": "integer"]
        if let range {
            schema["minimum"] = .int(Int64(range.lowerBound))
            schema["maximum"] = .int(Int64(range.upperBound))
        } else if let minimum {
            schema["minimum"] = .int(Int64(minimum))
            schema["maximum"] = .int(Int64.max)
        }
        return .object(schema)
    }

    /// A string of `lengths` characters (Unicode scalars, as JSON Schema counts them).
    static func string(_ lengths: ClosedRange<Int>? = nil, pattern: String? = nil, format: String? = nil) -> JSONValue {
        var schema: [String: JSONValue] = ["type": "string"]
        if let lengths {
            schema["minLength"] = .int(Int64(lengths.lowerBound))
            schema["maxLength"] = .int(Int64(lengths.upperBound))
        }
        if let pattern { schema["pattern"] = .string(pattern) }
        if let format { schema["format"] = .string(format) }
        return .object(schema)
    }

    static func enumeration(_ values: [String]) -> JSONValue { .object(["type": "string", "enum": .array(values.map { .string($0) })]) }

    static func nullable(_ schema: JSONValue) -> JSONValue { .object(["anyOf": [schema, .object(["type": "null"])]]) }

    static let any: JSONValue = .object([:])
    static let boolean: JSONValue = .object(["type": "boolean"])
    /// A retry policy's cap: from `RetryPolicy.minCap` to `Limits.maxSeconds`.
    static let cap: JSONValue = .object([
        "type": "number", "minimum": .double(RetryPolicy.minCap), "maximum": .double(Limits.maxSeconds),
    ])
    /// Any finite JSON number.
    static let number: JSONValue = .object(["type": "number"])
    /// Seconds, from 0 to `Limits.maxSeconds`.
    static let nonNegative: JSONValue = .object(["type": "number", "minimum": 0, "maximum": .double(Limits.maxSeconds)])
    /// Seconds, above 0 and up to `Limits.maxSeconds`.
    static let positive: JSONValue = .object(["type": "number", "exclusiveMinimum": 0, "maximum": .double(Limits.maxSeconds)])

    /// The names of kinds, queues and schedules: letters, digits and `. _ - : /`.
    static let namePattern = "^[A-Za-z0-9._:/-]+$"
    static func name(maxLength: Int) -> JSONValue { string(1...maxLength, pattern: namePattern) }
    static let kindName = name(maxLength: Limits.maxKindLength)
    static let queueName = name(maxLength: Limits.maxQueueLength)
    static let scheduleName = name(maxLength: ScheduleDefinition.maxNameLength)
    /// A workflow's name or a node's (``Limits/validateText(_:field:_:)``).
    static let nodeName = string(1...Limits.maxNodeNameLength, pattern: Limits.noNULPattern)

    /// RFC 3339 as Baton reads it: upper-case `T`, `Z` or an offset, optional fraction.
    static let dateTime = string(
        pattern:
            #"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,9})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$"#,
        format: "date-time")

    /// A task id as Baton reads it: a UUID in its 36-character form.
    static let uuidPattern = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
    static let taskID = string(pattern: "^\(uuidPattern)$", format: "uuid")

    static let stateNames = TaskState.allCases.map(\.rawValue)
    static let state = enumeration(stateNames)
    /// `state=ready,running`: a comma list of state names (empty: every state).
    static let stateList = string(pattern: "^((\(stateNames.joined(separator: "|")))(,(\(stateNames.joined(separator: "|"))))*)?$")

    static let workerID = string(1...Limits.maxWorkerIDLength, pattern: Limits.workerIDPattern)
    static let leaseToken = string()

    // MARK: The schemas

    /// Every named schema of the API.
    var all: [String: JSONValue] {
        var s: [String: JSONValue] = [:]
        let ref = Self.ref
        let object = Self.object
        let request = Self.request
        let array = Self.array

        s["TaskID"] = Self.taskID
        s["Status"] = object(["status": Self.string()], ["status"], false)
        s["Error"] = object(
            [
                "error": object(
                    [
                        "code": Self.enumeration(
                            BatonError.Code.allCases.map(\.description) + [
                                APIError.methodNotAllowedCode, APIError.unsupportedMediaTypeCode,
                            ]),
                        "message": Self.string(),
                    ],
                    ["code", "message"], false)
            ], ["error"], false)

        // Retry policies: one shape per policy.
        s["RetryPolicy"] = .object([
            "oneOf": [
                request(
                    [
                        "policy": Self.enumeration(["exponential"]), "backoff": Self.nonNegative, "cap": Self.cap,
                        "jitter": Self.boolean,
                    ], ["policy"], false),
                request(
                    ["policy": Self.enumeration(["fibonacci"]), "backoff": Self.nonNegative, "cap": Self.cap], ["policy"], false),
                request(["policy": Self.enumeration(["fixed"]), "backoff": Self.nonNegative], ["policy"], false),
                request(["policy": Self.enumeration(["none"])], ["policy"], false),
            ]
        ])

        // Submitting.
        var newTask = Self.newTaskProperties
        s["NewTask"] = Self.withNot(
            request(newTask, ["kind"], false), required: ["run_at", "delay"], because: "give either run_at or delay, not both")
        s["NewTaskBatch"] = array(ref("NewTask"), 1, limits.maxBatch)
        s["NewTaskOrBatch"] = .object(["oneOf": [ref("NewTask"), ref("NewTaskBatch")]])

        // Reading.
        s["AttemptError"] = object(
            ["attempt": Self.integer(minimum: 1), "at": Self.dateTime, "message": Self.string()], ["attempt", "at", "message"], false)
        s["Task"] = object(Self.taskProperties, Self.taskRequired, false)
        var claimed = Self.taskProperties
        claimed["lease_token"] = Self.leaseToken
        s["ClaimedTask"] = object(claimed, Self.taskRequired + ["lease_token"], false)
        var submitted = Self.taskProperties
        submitted["duplicate"] = Self.boolean
        s["SubmittedTask"] = object(submitted, Self.taskRequired, false)
        s["TaskList"] = object(["tasks": array(ref("SubmittedTask"), nil, nil)], ["tasks"], false)
        s["SubmitResponse"] = .object(["oneOf": [ref("SubmittedTask"), ref("TaskList")]])
        s["TaskPage"] = object(
            ["tasks": array(ref("Task"), nil, nil), "next_cursor": Self.nullable(Self.taskID)], ["tasks", "next_cursor"], false)
        s["QueueCounts"] = object(
            [
                "name": Self.queueName,
                "counts": .object([
                    "type": "object", "propertyNames": Self.state,
                    "additionalProperties": Self.integer(minimum: 0),
                ]),
                "oldest_ready_at": Self.dateTime, "paused": Self.boolean,
            ], ["name", "counts"], false)
        s["QueuesResponse"] = object(
            [
                "queues": array(ref("QueueCounts"), nil, nil), "as_of": Self.dateTime,
                "age_seconds": .object(["type": "number", "minimum": 0]),
            ], ["queues"], false)
        s["PausedQueues"] = object(["paused": array(Self.queueName, nil, nil)], ["paused"], false)

        // The worker protocol. Its request bodies ignore members they do not know, so that
        // newer workers can talk to older nodes.
        let lease: JSONValue = Self.integer(1...Int(limits.maxLease.seconds * 1000))
        s["ClaimBody"] = request(
            [
                "worker": Self.workerID, "queues": array(Self.queueName, 1, nil), "kinds": array(Self.kindName, nil, nil),
                "max": Self.integer(1...NodeAPI.maxClaim), "wait_ms": Self.integer(minimum: 0), "lease_ms": lease,
            ], ["worker"], true)
        s["ClaimResponse"] = object(["tasks": array(ref("ClaimedTask"), nil, nil)], ["tasks"], false)
        let fraction: JSONValue = .object(["type": "number", "minimum": 0, "maximum": 1])
        let message = Self.string(0...Limits.maxProgressMessageLength)
        s["Progress"] = object(
            ["fraction": fraction, "message": message, "attempt": Self.integer(minimum: 1), "at": Self.dateTime], ["fraction"], false)
        s["ProgressReport"] = request(["fraction": fraction, "message": message], ["fraction"], true)
        s["HeartbeatBody"] = request(
            ["lease_token": Self.leaseToken, "lease_ms": lease, "progress": ref("ProgressReport")], ["lease_token"], true)
        s["HeartbeatResponse"] = object(
            ["cancelled": Self.boolean, "lease_expires_at": Self.dateTime], ["cancelled"], false)
        s["LeaseItem"] = request(["id": Self.taskID, "lease_token": Self.leaseToken], ["id", "lease_token"], true)
        s["HeartbeatItem"] = request(
            ["id": Self.taskID, "lease_token": Self.leaseToken, "progress": ref("ProgressReport")], ["id", "lease_token"], true)
        s["HeartbeatManyBody"] = request(
            ["worker": Self.workerID, "leases": array(ref("HeartbeatItem"), nil, nil), "lease_ms": lease], ["leases"], true)
        s["HeartbeatManyResponse"] = object(
            [
                "results": array(
                    object(
                        [
                            "id": Self.taskID, "status": Self.enumeration(["extended", "cancelled", "lost", "not_found"]),
                            "lease_expires_at": Self.dateTime,
                        ], ["id", "status"], false), nil, nil)
            ], ["results"], false)
        s["CompleteBody"] = request(
            ["lease_token": Self.leaseToken, "result": Self.any, "follow_ups": array(ref("NewTask"), nil, limits.maxBatch)],
            ["lease_token"],
            true)
        s["FailBody"] = request(
            [
                "lease_token": Self.leaseToken, "error": Self.string(), "retryable": Self.boolean,
                "retry_after_ms": Self.integer(minimum: 0),
            ], ["lease_token", "error"], true)
        s["AckItem"] = request(
            [
                "id": Self.taskID, "lease_token": Self.leaseToken, "outcome": Self.enumeration(["complete", "fail"]),
                "result": Self.any, "error": Self.string(), "retryable": Self.boolean, "retry_after_ms": Self.integer(minimum: 0),
            ], ["id", "lease_token", "outcome"], true)
        s["AckBody"] = request(["acks": array(ref("AckItem"), nil, nil)], ["acks"], true)
        s["AckResponse"] = object(
            [
                "results": array(
                    object(
                        [
                            "id": Self.taskID, "status": Self.enumeration(["applied", "stale_lease", "not_found"]),
                            "state": Self.state,
                        ], ["id", "status"], false), nil, nil)
            ], ["results"], false)
        s["ReleaseBody"] = request(["leases": array(ref("LeaseItem"), nil, nil)], ["leases"], true)
        s["ReleaseResponse"] = object(["released": Self.integer(minimum: 0)], ["released"], false)
        s["KindAnnouncement"] = request(["name": Self.kindName, "retry": ref("RetryPolicy")], ["name"], true)
        let announcement: [String: JSONValue] = [
            "worker": Self.workerID, "queues": array(Self.queueName, 1, WorkerAnnouncement.maxQueues),
            "kinds": array(ref("KindAnnouncement"), nil, WorkerAnnouncement.maxKinds),
            "concurrency": Self.integer(1...1_000_000), "running": Self.integer(minimum: 0),
            "version": Self.string(1...WorkerAnnouncement.maxVersionLength),
        ]
        s["WorkerAnnouncement"] = request(announcement, ["worker", "queues", "kinds", "concurrency", "running"], true)
        var info = announcement
        info["transport"] = Self.enumeration(["http", "sqs", "in-process"])
        info["first_seen"] = Self.dateTime
        info["last_seen"] = Self.dateTime
        s["WorkerInfo"] = object(
            info, ["worker", "queues", "kinds", "concurrency", "running", "transport", "first_seen", "last_seen"], false)
        s["WorkerList"] = object(["workers": array(ref("WorkerInfo"), nil, nil)], ["workers"], false)

        // Workflows.
        var node = newTask
        node["id"] = nil
        node["name"] = Self.nodeName
        node["after"] = array(
            .object([
                "oneOf": [
                    Self.nodeName,
                    request(
                        [
                            "name": Self.nodeName, "id": Self.taskID,
                            "on": Self.enumeration(DependencyCondition.allCases.map(\.rawValue)),
                        ], [], false),
                ]
            ]), nil, Limits.maxParents)
        s["WorkflowNode"] = request(node, ["name", "kind"], false)
        let item: JSONValue = .object([
            "description": "A task (it has `kind`, and may have `name`), or a nested `chain`, `group` or `chord`.",
            "type": "object",
        ])
        s["WorkflowRequest"] = .object([
            "description":
                "Exactly one of `nodes`, `chain`, `group` or `chord`. See docs/workflows.md for the grammar and the names given to shorthand nodes.",
            "allOf": [
                request(
                    [
                        "name": Self.nodeName,
                        "policy": Self.enumeration(DependencyPolicy.allCases.map(\.rawValue)),
                        "nodes": array(ref("WorkflowNode"), 1, Limits.maxWorkflowNodes),
                        "chain": array(item, 1, nil), "group": array(item, 1, nil),
                        "chord": request(["header": array(item, 1, nil), "body": item], ["header", "body"], false),
                    ], [], false),
                .object([
                    "oneOf": .array(
                        ["nodes", "chain", "group", "chord"].map { key in JSONValue.object(["required": .array([.string(key)])]) })
                ]),
            ],
        ])
        s["WorkflowTaskNode"] = object(
            [
                "name": Self.nodeName, "id": Self.taskID, "kind": Self.kindName, "state": Self.state,
                "skipped": Self.boolean, "result": Self.any, "last_error": Self.string(),
            ], ["name", "id", "kind", "state", "skipped"], false)
        s["Workflow"] = object(
            [
                "id": Self.taskID, "name": Self.nodeName,
                "state": Self.enumeration(WorkflowState.allCases.map(\.rawValue)), "cancel_requested": Self.boolean,
                "created_at": Self.dateTime, "nodes": array(ref("WorkflowTaskNode"), nil, nil),
                "counts": .object([
                    "type": "object", "propertyNames": Self.state, "additionalProperties": Self.integer(minimum: 0),
                ]),
            ], ["id", "state", "cancel_requested", "created_at", "nodes", "counts"], false)
        s["ParentResult"] = object(
            [
                "name": Self.nodeName, "id": Self.taskID, "state": Self.state,
                "on": Self.enumeration(DependencyCondition.allCases.map(\.rawValue)), "result": Self.any,
                "last_error": Self.string(),
            ], ["name", "id", "state", "on"], false)
        s["ParentPage"] = object(
            ["parents": array(ref("ParentResult"), nil, nil), "next_cursor": Self.nullable(Self.string(pattern: "^[0-9]+$"))],
            ["parents", "next_cursor"], false)

        // Machinery compatibility.
        s["MachineryRequest"] = .object([
            "description":
                "A Machinery signature, chain {Tasks}, group {GroupUUID, Tasks}, chord {Group, Callback} or array of signatures, with Machinery's Go field names; a chord member sent alone (GroupUUID, GroupTaskCount above 1, ChordCallback) joins its chord's workflow (docs/workflows.md).",
            "type": ["object", "array"],
        ])
        let machineryResult = object(["Type": Self.string(), "Value": Self.any], ["Type", "Value"], false)
        s["MachineryTaskState"] = object(
            [
                "TaskUUID": Self.string(), "TaskName": Self.string(),
                "State": Self.enumeration(["PENDING", "RECEIVED", "STARTED", "RETRY", "SUCCESS", "FAILURE"]),
                "Results": Self.nullable(array(machineryResult, nil, nil)), "Error": Self.string(), "CreatedAt": Self.dateTime,
                "TTL": Self.integer(),
            ], ["TaskUUID", "TaskName", "State", "Results", "Error", "CreatedAt", "TTL"], false)
        s["MachinerySubmitted"] = object(
            ["workflow_id": Self.taskID, "tasks": array(ref("MachineryTaskState"), nil, nil)], ["workflow_id", "tasks"], false)

        // Drop-in APIs of earlier systems (docs/compat.md).
        s.merge(Self.dropInSchemas) { $1 }

        // Schedules.
        newTask["id"] = nil
        newTask["run_at"] = nil
        for field in ["after", "policy", "pass"] { newTask[field] = nil }
        let rule: [String: JSONValue] = [
            "cron": Self.string(pattern: Self.cronPattern, format: "baton-cron"),
            "every": Self.string(pattern: Self.intervalPattern, format: "baton-interval"),
            "timezone": Self.string(pattern: #"^[A-Za-z0-9_+/-]+$"#, format: "baton-timezone"),
            "misfire": Self.enumeration(["skip", "once", "catch-up", "catchup", "catch_up"]),
        ]
        var definition = rule
        definition["name"] = Self.scheduleName
        definition["task"] = request(newTask, ["kind"], false)
        s["Schedule"] = .object([
            "allOf": [
                request(definition, ["name", "task"], false),
                Self.exactlyOneRule,
            ]
        ])
        var scheduleBody = definition
        scheduleBody["name"] = nil
        s["ScheduleBody"] = .object([
            "description": "As `Schedule`, named by the path (a `name` member, if sent, must be the path's).",
            "allOf": [
                request(scheduleBody, ["task"], false),
                Self.exactlyOneRule,
            ],
        ])
        var record = definition
        record["paused"] = Self.boolean
        record["last_fired"] = Self.dateTime
        record["created_at"] = Self.dateTime
        record["updated_at"] = Self.dateTime
        record["next"] = array(Self.dateTime, nil, nil)
        s["ScheduleRecord"] = object(
            record, ["name", "timezone", "misfire", "task", "paused", "created_at", "updated_at"], false)
        s["ScheduleList"] = object(["schedules": array(ref("ScheduleRecord"), nil, nil)], ["schedules"], false)

        // JSON-RPC 2.0.
        let rpcID: JSONValue = .object(["type": ["string", "number", "null"]])
        s["RPCCall"] = object(
            [
                "jsonrpc": Self.enumeration(["2.0"]), "method": Self.string(),
                "params": .object([
                    "type": ["object", "array"],
                    "description": "Named params (an object); positional params are answered with -32602 Invalid params.",
                ]),
                "id": rpcID,
            ], ["jsonrpc", "method"], true)
        s["RPCRequest"] = .object([
            "description":
                "One call, or a batch: 1 to max_batch values, each answered on its own (a value that is not a call gets -32600 Invalid Request).",
            "anyOf": [ref("RPCCall"), array(Self.any, 1, limits.maxBatch)],
        ])
        let rpcError = object(
            [
                "code": Self.integer(), "message": Self.string(),
                "data": object(["code": Self.string(), "message": Self.string()], [], false),
            ], ["code", "message"], false)
        s["RPCAnswer"] = .object([
            "oneOf": [
                object(["jsonrpc": Self.enumeration(["2.0"]), "result": Self.any, "id": rpcID], ["jsonrpc", "result", "id"], false),
                object(["jsonrpc": Self.enumeration(["2.0"]), "error": rpcError, "id": rpcID], ["jsonrpc", "error", "id"], false),
            ]
        ])
        s["RPCResponse"] = .object(["anyOf": [ref("RPCAnswer"), array(ref("RPCAnswer"), 1, nil)]])
        return s
    }

    /// The Go Distributed Task Scheduler's jobs and taskq's tasks (`JobsRoutes`, `TaskqRoutes`).
    static var dropInSchemas: [String: JSONValue] {
        var s: [String: JSONValue] = [:]
        let priority = nullable(integer(Limits.priorityRange))
        let nonEmpty: JSONValue = .object(["type": "string", "minLength": 1])
        func job(_ type: String, _ payload: JSONValue) -> JSONValue {
            object(
                ["type": enumeration([type]), "payload": payload, "priority": priority], required: ["type", "payload"], additional: true)
        }
        s["JobRequest"] = .object([
            "description": "A job: its type, a payload for that type, and a priority from 1 to 10 (higher first; default 5).",
            "oneOf": [
                job("sleep", object(["duration": nonNegative], required: ["duration"], additional: true)),
                job("http", object(["url": nonEmpty, "method": string()], required: ["url"], additional: true)),
                job(
                    "file",
                    object(
                        ["op": enumeration(JobsCompat.fileOps), "path": nonEmpty, "content": string()], required: ["op", "path"],
                        additional: true)),
            ],
        ])
        var job: [String: JSONValue] = [
            "id": taskID, "type": kindName, "payload": any, "priority": integer(Limits.priorityRange),
            "status": enumeration(["pending", "running", "completed", "failed", "cancelled"]), "attempts": integer(minimum: 0),
            "max_attempts": integer(Limits.maxAttemptsRange), "created_at": dateTime, "started_at": dateTime,
            "completed_at": dateTime, "worker_id": workerID, "result": any, "error": string(),
        ]
        let jobRequired = ["id", "type", "payload", "priority", "status", "attempts", "max_attempts", "created_at"]
        s["Job"] = object(job, required: jobRequired)
        job["lease_token"] = leaseToken
        s["ClaimedJob"] = object(job, required: jobRequired + ["lease_token"])
        s["JobCompletion"] = request(
            ["success": boolean, "result": any, "error": string(), "worker_id": string(), "lease_token": string()], additional: true)

        let schedule: JSONValue = .object(["type": "integer", "minimum": 0, "maximum": .int(TaskqCompat.maxSchedule)])
        s["TaskqEnqueue"] = object(
            ["name": kindName, "schedule": schedule, "config": any], required: ["name", "schedule", "config"], additional: true)
        s["TaskqEnqueued"] = object(
            ["name": kindName, "schedule": schedule, "config": any, "uuid": taskID], required: ["name", "schedule", "config", "uuid"],
            additional: true)
        s["TaskqDequeue"] = object(
            ["capabilities": array(string(), minItems: 1), "processor": any], required: ["processor", "capabilities"], additional: true)
        s["TaskqTask"] = object(
            ["name": kindName, "args": any, "uuid": taskID, "schedule": integer(minimum: 0)],
            required: ["name", "args", "uuid", "schedule"])
        s["TaskqUpdate"] = object(
            ["uuid": string(), "success": boolean, "result": any, "processor": any], required: ["processor", "result", "success", "uuid"],
            additional: true)
        s["TaskqAbout"] = object(["node": string(), "version": string(), "time": dateTime], required: ["node", "version", "time"])
        s["TaskqError"] = object(["error": string()], required: ["error"])
        return s
    }

    /// The members of a task as submitted.
    static var newTaskProperties: [String: JSONValue] {
        [
            "id": taskID,
            "kind": kindName,
            "args": any,
            "queue": queueName,
            "priority": integer(Limits.priorityRange),
            "run_at": dateTime,
            "delay": nonNegative,
            "max_attempts": integer(Limits.maxAttemptsRange),
            "timeout": positive,
            "retry": ref("RetryPolicy"),
            "unique_key": string(1...Limits.maxUniqueKeyLength, pattern: Limits.noNULPattern),
            "unique_window": positive,
            "tags": array(string(1...Limits.maxTagLength, pattern: Limits.noNULPattern), maxItems: Limits.maxTags),
            "after": array(dependency, maxItems: Limits.maxParents),
            "policy": enumeration(DependencyPolicy.allCases.map(\.rawValue)),
            "pass": enumeration(ResultPassing.allCases.map(\.rawValue)),
        ]
    }

    /// One edge into a task: a parent's id, or `{"id", "on"}`.
    static var dependency: JSONValue {
        .object([
            "oneOf": [
                taskID,
                request(
                    ["id": taskID, "on": enumeration(DependencyCondition.allCases.map(\.rawValue))], required: ["id"], additional: false),
            ]
        ])
    }

    /// The members of a task as Baton answers it (`TaskJSONWriter`).
    static var taskProperties: [String: JSONValue] {
        [
            "id": taskID, "kind": kindName, "args": any, "queue": queueName, "priority": integer(Limits.priorityRange),
            "state": state, "attempt": integer(minimum: 0), "max_attempts": integer(Limits.maxAttemptsRange),
            "run_at": dateTime, "created_at": dateTime, "started_at": dateTime, "finished_at": dateTime,
            "lease_owner": workerID, "lease_expires_at": dateTime, "lease_token": string(), "result": any,
            "last_error": string(), "errors": array(ref("AttemptError")), "timeout": positive, "retry": ref("RetryPolicy"),
            "unique_key": string(1...Limits.maxUniqueKeyLength, pattern: Limits.noNULPattern),
            "tags": array(string(1...Limits.maxTagLength, pattern: Limits.noNULPattern)),
            "workflow_id": taskID, "node": nodeName, "parents": integer(minimum: 1),
            "pass": enumeration(ResultPassing.allCases.map(\.rawValue)), "progress": ref("Progress"),
            "traceparent": string(),
        ]
    }

    static let taskRequired = [
        "id", "kind", "args", "queue", "priority", "state", "attempt", "max_attempts", "run_at", "created_at", "errors", "tags",
    ]

    /// `schema`, and not every one of `required` at once with a value other than `null`.
    static func withNot(_ schema: JSONValue, required: [String], because reason: String) -> JSONValue {
        guard case .object(var members) = schema else { return schema }
        members["not"] = .object([
            "required": .array(required.map { .string($0) }),
            "properties": .object(
                Dictionary(uniqueKeysWithValues: required.map { ($0, JSONValue.object(["not": .object(["type": "null"])])) })),
            "description": .string(reason),
        ])
        return .object(members)
    }

    /// A schedule has exactly one rule: `cron` or `every`, given as a string (`null` is absent).
    static let exactlyOneRule: JSONValue = .object([
        "oneOf": [
            .object(["required": ["cron"], "properties": .object(["cron": .object(["type": "string"])])]),
            .object(["required": ["every"], "properties": .object(["every": .object(["type": "string"])])]),
        ]
    ])

    /// The syntax of a cron expression (5 or 6 fields of numbers, names, `*`, `?`, ranges,
    /// steps and lists, or a macro); the field ranges are checked by the server
    /// (`format: baton-cron`).
    static let cronPattern: String = {
        let atom = "([0-9]+|[A-Za-z]{3})"
        let item = "(\\*|\\?|\(atom)(-\(atom))?)(/[0-9]+)?"
        let field = "\(item)(,\(item))*"
        return "^((\(field))( \(field)){4,5}|@(yearly|annually|monthly|weekly|daily|midnight|hourly))$"
    }()

    /// `30s`, `5m`, `1h30m`, `1.5h`, `250ms`: at least 1 s in all (`format: baton-interval`).
    static let intervalPattern = "^([0-9]+(\\.[0-9]+)?(ms|s|m|h|d))+$"
}
