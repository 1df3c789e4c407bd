import BatonCore
import Hummingbird

/// Builds the OpenAPI 3.1 document from the route table; the schemas are hand-written JSON Schema.
enum OpenAPIDocument {
    static func make(_ routes: [RouteSpec]) -> JSONValue {
        var paths: [String: JSONValue] = [:]
        for route in routes {
            let (path, parameters) = openAPIPath(route.path)
            var operation: [String: JSONValue] = [
                "summary": .string(route.summary),
                "operationId": .string(operationID(route)),
                "x-baton-access": .string(route.access.description),
                "responses": .object(responses(route)),
            ]
            if !parameters.isEmpty {
                operation["parameters"] = .array(
                    parameters.map { name in
                        .object([
                            "name": .string(name), "in": "path", "required": .bool(true),
                            "schema": name == "id" ? ref("TaskID") : .object(["type": "string"]),
                        ])
                    })
            }
            if let request = route.requestSchema {
                operation["requestBody"] = .object([
                    "required": .bool(true),
                    "content": .object(["application/json": .object(["schema": schema(request)])]),
                ])
            }
            switch route.access {
            case .public: operation["security"] = .array([])
            default: operation["security"] = .array([.object(["bearer": .array([])])])
            }
            var item = paths[path]?.objectValue ?? [:]
            item[route.method.rawValue.lowercased()] = .object(operation)
            paths[path] = .object(item)
        }
        return .object([
            "openapi": "3.1.0",
            "info": .object([
                "title": "Baton",
                "version": "1",
                "description": .string(
                    "Baton's HTTP API. Roles: producer (submit and watch tasks), worker (claim and ack), admin (everything). "
                        + "`x-baton-access` names the role each operation requires."),
            ]),
            "paths": .object(paths),
            "components": .object([
                "securitySchemes": .object(["bearer": .object(["type": "http", "scheme": "bearer"])]),
                "schemas": .object(schemas),
            ]),
        ])
    }

    /// `/v1/tasks/:id` → `/v1/tasks/{id}` and its parameter names.
    static func openAPIPath(_ path: String) -> (String, [String]) {
        var names: [String] = []
        let segments = path.split(separator: "/", omittingEmptySubsequences: false).map { segment -> String in
            guard segment.hasPrefix(":") else { return String(segment) }
            names.append(String(segment.dropFirst()))
            return "{\(segment.dropFirst())}"
        }
        return (segments.joined(separator: "/"), names)
    }

    static func operationID(_ route: RouteSpec) -> String {
        let words = route.path.split(separator: "/").map { $0.hasPrefix(":") ? "By" + $0.dropFirst().capitalized : $0.capitalized }
        return route.method.rawValue.lowercased() + words.joined().filter { $0.isLetter || $0.isNumber }
    }

    static func responses(_ route: RouteSpec) -> [String: JSONValue] {
        var out: [String: JSONValue] = [:]
        let success: String
        if route.method == .delete {
            success = "204"
        } else if route.method == .post && route.path == "/v1/tasks" {
            success = "201"
        } else {
            success = "200"
        }
        if success == "204" {
            out[success] = .object(["description": "Done; no body"])
        } else {
            out[success] = .object([
                "description": "Success",
                "content": .object(["application/json": .object(["schema": schema(route.responseSchema ?? "Object")])]),
            ])
        }
        var errors = ["400", "413", "415", "503"]
        if route.access != .public { errors += ["401", "403"] }
        if route.path.contains(":") { errors += ["404", "409"] }
        for code in errors {
            out[code] = .object([
                "description": "Error",
                "content": .object(["application/json": .object(["schema": ref("Error")])]),
            ])
        }
        return out
    }

    static func ref(_ name: String) -> JSONValue { .object(["$ref": .string("#/components/schemas/\(name)")]) }

    /// A reference to a known schema; a plain object for a name without one.
    static func schema(_ name: String) -> JSONValue { schemas[name] == nil ? .object(["type": "object"]) : ref(name) }

    static func object(_ properties: [String: JSONValue], required: [String] = [], additional: Bool = false) -> JSONValue {
        var schema: [String: JSONValue] = ["type": "object", "properties": .object(properties)]
        if !required.isEmpty { schema["required"] = .array(required.map { .string($0) }) }
        if !additional { schema["additionalProperties"] = .bool(false) }
        return .object(schema)
    }

    static func array(_ items: JSONValue) -> JSONValue { .object(["type": "array", "items": items]) }
    static let string: JSONValue = .object(["type": "string"])
    static let integer: JSONValue = .object(["type": "integer"])
    static let number: JSONValue = .object(["type": "number"])
    static let boolean: JSONValue = .object(["type": "boolean"])
    static let any: JSONValue = .object([:])
    static let dateTime: JSONValue = .object(["type": "string", "format": "date-time"])
    static func nullable(_ type: String, format: String? = nil) -> JSONValue {
        var s: [String: JSONValue] = ["type": .array([.string(type), "null"])]
        if let format { s["format"] = .string(format) }
        return .object(s)
    }

    static let states: JSONValue = .object([
        "type": "string", "enum": .array(TaskState.allCases.map { .string($0.rawValue) }),
    ])

    static let retryPolicy: JSONValue = .object(["type": "object", "description": "A retry policy (see docs/api.md)"])

    static let schemas: [String: JSONValue] = [
        "TaskID": .object(["type": "string", "format": "uuid"]),
        "Object": .object(["type": "object"]),
        "Status": object(["status": string], required: ["status"]),
        "Error": object(
            ["error": object(["code": string, "message": string], required: ["code", "message"])], required: ["error"]),
        "NewTask": object(
            [
                "kind": .object(["type": "string", "minLength": 1, "maxLength": .int(Int64(Limits.maxKindLength))]),
                "args": any,
                "queue": .object(["type": "string", "minLength": 1, "maxLength": .int(Int64(Limits.maxQueueLength))]),
                "priority": .object([
                    "type": "integer", "minimum": .int(Int64(Limits.priorityRange.lowerBound)),
                    "maximum": .int(Int64(Limits.priorityRange.upperBound)),
                ]),
                "run_at": dateTime,
                "delay": number,
                "max_attempts": .object([
                    "type": "integer", "minimum": 1, "maximum": .int(Int64(Limits.maxAttemptsRange.upperBound)),
                ]),
                "timeout": number,
                "retry": retryPolicy,
                "unique_key": string,
                "tags": .object(["type": "array", "items": string, "maxItems": .int(Int64(Limits.maxTags))]),
                "id": ref("TaskID"),
            ], required: ["kind"]),
        "NewTaskOrBatch": .object(["oneOf": .array([ref("NewTask"), array(ref("NewTask"))])]),
        "Task": object(
            [
                "id": ref("TaskID"), "kind": string, "args": any, "queue": string, "priority": integer,
                "state": states, "attempts": integer, "max_attempts": integer,
                "run_at": dateTime, "created_at": dateTime, "updated_at": dateTime,
                "started_at": nullable("string", format: "date-time"), "finished_at": nullable("string", format: "date-time"),
                "lease_owner": nullable("string"), "lease_expires_at": nullable("string", format: "date-time"),
                "result": any, "error": nullable("string"), "timeout": nullable("number"), "retry": any,
                "unique_key": nullable("string"), "tags": array(string),
            ], required: ["id", "kind", "args", "queue", "priority", "state"], additional: true),
        "TaskList": object(["tasks": array(ref("Task"))], required: ["tasks"]),
        "TaskOrTaskList": .object(["oneOf": .array([ref("Task"), ref("TaskList")])]),
        "TaskPage": object(["tasks": array(ref("Task")), "next_cursor": nullable("string")], required: ["tasks", "next_cursor"]),
        "QueuesResponse": object(["queues": array(.object(["type": "object"]))], required: ["queues"]),
        "ClaimBody": object(
            [
                "worker": string, "queues": array(string), "kinds": array(string),
                "max": .object(["type": "integer", "minimum": 1, "maximum": 1000]),
                "wait_ms": .object(["type": "integer", "minimum": 0]), "lease_ms": .object(["type": "integer", "minimum": 1]),
            ], required: ["worker"], additional: true),
        "ClaimResponse": object(
            ["tasks": array(.object(["allOf": .array([ref("Task"), object(["lease_token": string], additional: true)])]))],
            required: ["tasks"]),
        "HeartbeatBody": object(["lease_token": string, "lease_ms": integer], required: ["lease_token"], additional: true),
        "HeartbeatResponse": object(
            ["cancelled": boolean, "lease_expires_at": nullable("string", format: "date-time")], required: ["cancelled"]),
        "LeaseItem": object(["id": ref("TaskID"), "lease_token": string], required: ["id", "lease_token"], additional: true),
        "HeartbeatManyBody": object(
            ["worker": string, "leases": array(ref("LeaseItem")), "lease_ms": integer], required: ["leases"], additional: true),
        "HeartbeatManyResponse": object(
            [
                "results": array(
                    object(
                        [
                            "id": ref("TaskID"),
                            "status": .object(["type": "string", "enum": ["extended", "cancelled", "lost", "not_found"]]),
                            "lease_expires_at": dateTime,
                        ], required: ["id", "status"]))
            ], required: ["results"]),
        "CompleteBody": object(["lease_token": string, "result": any], required: ["lease_token"], additional: true),
        "FailBody": object(
            ["lease_token": string, "error": string, "retryable": boolean, "retry_after_ms": .object(["type": "integer", "minimum": 0])],
            required: ["lease_token", "error"], additional: true),
        "AckBody": object(
            [
                "acks": array(
                    object(
                        [
                            "id": ref("TaskID"), "lease_token": string,
                            "outcome": .object(["type": "string", "enum": ["complete", "fail"]]),
                            "result": any, "error": string, "retryable": boolean, "retry_after_ms": integer,
                        ], required: ["id", "lease_token", "outcome"], additional: true))
            ], required: ["acks"], additional: true),
        "AckResponse": object(
            [
                "results": array(
                    object(
                        [
                            "id": ref("TaskID"),
                            "status": .object(["type": "string", "enum": ["applied", "stale_lease", "not_found"]]),
                            "state": states,
                        ], required: ["id", "status"]))
            ], required: ["results"]),
        "ReleaseBody": object(["leases": array(ref("LeaseItem"))], required: ["leases"], additional: true),
        "ReleaseResponse": object(["released": integer], required: ["released"]),
        "KindAnnouncement": object(["name": string, "retry": any], required: ["name"], additional: true),
        "WorkerAnnouncement": object(
            [
                "worker": string, "queues": array(string), "kinds": array(ref("KindAnnouncement")),
                "concurrency": .object(["type": "integer", "minimum": 1, "maximum": 1_000_000]),
                "running": .object(["type": "integer", "minimum": 0]), "version": string,
            ], required: ["worker", "queues", "kinds", "concurrency", "running"], additional: true),
        "WorkerInfo": object(
            [
                "worker": string, "queues": array(string), "kinds": array(ref("KindAnnouncement")), "concurrency": integer,
                "running": integer, "version": string, "transport": .object(["type": "string", "enum": ["http", "in-process"]]),
                "first_seen": dateTime, "last_seen": dateTime,
            ], required: ["worker", "queues", "kinds", "concurrency", "running", "transport", "first_seen", "last_seen"]),
        "WorkerList": object(["workers": array(ref("WorkerInfo"))], required: ["workers"]),
        "RPCRequest": .object([
            "description": "A JSON-RPC 2.0 request object, or a batch (array) of them; see docs/api.md",
            "oneOf": .array([.object(["type": "object"]), .object(["type": "array", "items": .object(["type": "object"])])]),
        ]),
        "RPCResponse": .object([
            "description": "A JSON-RPC 2.0 response object, or an array of them (204 when every call was a notification)",
            "oneOf": .array([.object(["type": "object"]), .object(["type": "array", "items": .object(["type": "object"])])]),
        ]),
    ]
}

extension JSONValue: ExpressibleByStringLiteral {
    public init(stringLiteral value: String) { self = .string(value) }
}

extension JSONValue: ExpressibleByIntegerLiteral {
    public init(integerLiteral value: Int64) { self = .int(value) }
}

extension JSONValue: ExpressibleByArrayLiteral {
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
}

extension JSONValue {
    var objectValue: [String: JSONValue]? {
        if case .object(let members) = self { return members }
        return nil
    }
}
