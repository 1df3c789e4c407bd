import BatonCore
import BatonNode
import Hummingbird

/// Builds the OpenAPI 3.1 document from the route table and the wire contract
/// (``APISchemas``), with the node's limits.
enum OpenAPIDocument {
    static func make(_ routes: [RouteSpec], limits: NodeAPILimits = NodeAPILimits()) -> JSONValue {
        let schemas = APISchemas(limits: limits).all
        var paths: [String: JSONValue] = [:]
        for route in routes {
            let (path, names) = openAPIPath(route.path)
            var operation: [String: JSONValue] = [
                "summary": .string(route.summary),
                "operationId": .string(operationID(route)),
                "x-baton-access": .string(route.access.description),
                "responses": .object(responses(route)),
            ]
            var parameters: [JSONValue] = names.map { name in
                .object(["name": .string(name), "in": "path", "required": .bool(true), "schema": pathSchema(route.path, name)])
            }
            for query in route.query {
                parameters.append(
                    .object([
                        "name": .string(query.name), "in": "query", "required": .bool(false), "schema": query.schema,
                        "description": .string(query.description),
                    ]))
            }
            if route.method == .post && Self.idempotentSubmits.contains(route.path) {
                parameters.append(
                    .object([
                        "name": "Idempotency-Key", "in": "header", "required": .bool(false),
                        "schema": APISchemas.string(1...UniqueSubmit.maxKeyLength, pattern: "^[\\x21-\\x7E]+$"),
                        "description": "Replays of the same request answer the first one's tasks (docs/api.md).",
                    ]))
            }
            if !parameters.isEmpty { operation["parameters"] = .array(parameters) }
            if let request = route.requestSchema {
                operation["requestBody"] = .object([
                    "required": .bool(route.dropIn?.bodyOptional != true),
                    "content": .object(["application/json": .object(["schema": APISchemas.ref(request)])]),
                ])
            }
            switch route.access {
            case _ where route.dropIn?.tokenInPath == true: operation["security"] = .array([])
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
                "version": .string(BatonVersion.current),
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

    /// A path parameter's schema: a task id, a queue name or a schedule name.
    static func pathSchema(_ path: String, _ name: String) -> JSONValue {
        if name == "id" { return APISchemas.ref("TaskID") }
        // A drop-in route's token in the path (docs/compat.md).
        if name == "token" { return APISchemas.string(1...4096) }
        if name == "uuid" { return APISchemas.string(pattern: "^(task_)?\(APISchemas.uuidPattern)$") }
        return path.hasPrefix("/v1/queues") ? APISchemas.queueName : APISchemas.scheduleName
    }

    static func operationID(_ route: RouteSpec) -> String {
        let words = route.path.split(separator: "/").map { $0.hasPrefix(":") ? "By" + $0.dropFirst().capitalized : $0.capitalized }
        return route.method.rawValue.lowercased() + words.joined().filter { $0.isLetter || $0.isNumber }
    }

    static func responses(_ route: RouteSpec) -> [String: JSONValue] {
        var out: [String: JSONValue] = [:]
        func json(_ description: String, _ schema: String) -> JSONValue {
            .object([
                "description": .string(description),
                "content": .object(["application/json": .object(["schema": APISchemas.ref(schema)])]),
            ])
        }
        if let dropIn = route.dropIn {
            for success in dropIn.successes {
                out[success.status] =
                    success.schema.map { json(success.description, $0) } ?? .object(["description": .string(success.description)])
            }
            var errors = ["400", "503"] + dropIn.errors
            if route.requestSchema != nil { errors += ["413", "415"] }
            if route.access != .public { errors += ["401", "403"] }
            for code in errors {
                out[code] = json("Error", ["400", "404", "409"].contains(code) ? dropIn.errorSchema : "Error")
            }
            return out
        }
        let body = route.responseSchema ?? "Status"
        let isRPC = route.path == "/rpc"
        switch (route.method, route.path) {
        case (.delete, _):
            out["204"] = .object(["description": "Done; no body"])
        case (.get, "/v1/events"):
            out["200"] = .object([
                "description":
                    "Server-Sent Events: `id: <epoch>-<n>` (the node's journal; on PostgreSQL `c.<n>`, the cluster's log), `event: <type>`, `data: <JSON>` per event (docs/api.md#events)",
                "content": .object([
                    "text/event-stream": .object([
                        "schema": .object([
                            "type": "object", "required": ["event", "data"],
                            "properties": .object([
                                "id": .object(["type": "string"]),
                                "event": APISchemas.enumeration([
                                    "enqueued", "claimed", "transitioned", "progress", "rescued", "schedule_fired", "leadership", "gap",
                                ]),
                                "data": .object(["type": "string", "contentMediaType": "application/json"]),
                                "retry": .object(["type": "integer", "minimum": 0]),
                            ]),
                        ])
                    ])
                ]),
            ])
        case (.get, "/openapi.json"):
            out["200"] = .object([
                "description": "This document (OpenAPI 3.1)",
                "content": .object(["application/json": .object(["schema": .object(["type": "object"])])]),
            ])
        case (.get, "/metrics"):
            out["200"] = .object([
                "description": "Prometheus text exposition format 0.0.4 (docs/operations.md lists the series)",
                "content": .object(["text/plain": .object(["schema": .object(["type": "string"])])]),
            ])
        case (.post, "/v1/tasks"):
            var created = json("Created (some tasks may be duplicates, flagged `duplicate`)", body)
            if case .object(var members) = created {
                members["links"] = .object(taskLinks)
                created = .object(members)
            }
            out["201"] = created
            out["200"] = json("Every task was a duplicate of an active one, or an idempotent replay", body)
        case (.post, "/v1/schedules"):
            out["201"] = json("Created", body)
        case (.post, "/v1/workflows"), (.post, "/v1/compat/machinery/workflows"):
            out["201"] = json("Created", body)
            out["200"] = json("An idempotent replay: the workflow first stored under this Idempotency-Key", body)
        case (.put, _):
            out["201"] = json("Created", body)
            out["200"] = json("Replaced", body)
        default:
            out["200"] = json("Success", body)
        }
        if isRPC { out["204"] = .object(["description": "Every call was a notification"]) }
        var errors = ["400", "503"]
        if route.requestSchema != nil { errors += ["413", "415"] }
        if route.access != .public { errors += ["401", "403"] }
        if route.path.contains(":") || route.path == "/v1/schedules" { errors += ["404", "409"] }
        // An unknown workflow to filter by.
        if route.path == "/v1/events" { errors += ["404"] }
        // A task id already taken (409), an Idempotency-Key reused with another request (422).
        if route.method == .post && route.path == "/v1/tasks" { errors += ["409", "422"] }
        // A workflow: an Idempotency-Key reused with another request (422); Machinery: a UUID
        // already taken (409).
        if route.method == .post && route.path == "/v1/workflows" { errors += ["422"] }
        if route.method == .post && route.path == "/v1/compat/machinery/workflows" { errors += ["409", "422"] }
        for code in errors {
            out[code] = json(isRPC ? "A JSON-RPC error object for the whole request" : "Error", isRPC ? "RPCAnswer" : "Error")
        }
        return out
    }

    /// The submits that take an `Idempotency-Key` header.
    static let idempotentSubmits: Set<String> = ["/v1/tasks", "/v1/workflows", "/v1/compat/machinery/workflows"]

    /// From a submitted task to what can be done with it (for clients and schemathesis'
    /// stateful tests).
    static let taskLinks: [String: JSONValue] = {
        let id: JSONValue = .object(["id": "$response.body#/id"])
        var links: [String: JSONValue] = [:]
        for (name, operation) in [
            ("GetTask", "getV1TasksById"), ("WaitTask", "getV1TasksByIdWait"), ("CancelTask", "postV1TasksByIdCancel"),
            ("RetryTask", "postV1TasksByIdRetry"), ("DeleteTask", "deleteV1TasksById"),
        ] {
            links[name] = .object(["operationId": .string(operation), "parameters": id])
        }
        return links
    }()
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
