import BatonCore
import Foundation
import Hummingbird

/// `/v1/schedules`: create, list, show (with the next fire times), replace, delete, pause and
/// resume. Needs a store with the `ScheduleStore` capability; admin role.
struct ScheduleRoutes<Context: RequestContext>: Sendable {
    let node: NodeServices
    let reader: JSONBodyReader

    /// How many upcoming fire times `GET /v1/schedules/{name}` shows.
    static var nextCount: Int { 5 }

    var routes: [Route<Context>] {
        [
            Route(.post, "/v1/schedules", access: .admin, summary: "Create a schedule", request: "Schedule", response: "Schedule", create),
            Route(.get, "/v1/schedules", access: .admin, summary: "List schedules", response: "ScheduleList", list),
            Route(
                .get, "/v1/schedules/:name", access: .admin, summary: "Show a schedule and its next fire times", response: "Schedule", get),
            Route(
                .put, "/v1/schedules/:name", access: .admin, summary: "Create or replace a schedule", request: "Schedule",
                response: "Schedule", put),
            Route(.delete, "/v1/schedules/:name", access: .admin, summary: "Delete a schedule", delete),
            Route(.post, "/v1/schedules/:name/pause", access: .admin, summary: "Pause a schedule", response: "Schedule", pause),
            Route(.post, "/v1/schedules/:name/resume", access: .admin, summary: "Resume a schedule", response: "Schedule", resume),
        ]
    }

    /// A schedule as the API shows it: the record plus its next fire times.
    struct ScheduleBody: Encodable {
        var record: ScheduleRecord
        var next: [Date]

        enum CodingKeys: String, CodingKey { case next }

        func encode(to encoder: any Encoder) throws {
            try record.encode(to: encoder)
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(next, forKey: .next)
        }
    }

    struct ListBody: Encodable {
        var schedules: [ScheduleBody]
    }

    func store() throws -> any ScheduleStore {
        guard let store = node.store as? any ScheduleStore else {
            throw BatonError.invalidArgument("this node's store does not support schedules")
        }
        return store
    }

    func body(_ record: ScheduleRecord) async throws -> ScheduleBody {
        ScheduleBody(record: record, next: record.next(Self.nextCount, after: try await node.store.now()))
    }

    @Sendable func create(_ request: Request, context: Context) async throws -> Response {
        let definition = try JSONBodyReader.decode(ScheduleDefinition.self, from: try await reader.read(request))
        try definition.validate()
        let record = try await store().scheduleUpsert(ScheduleUpsertParams(definition: definition))
        var response = JSONResponse.make(status: .created, try await body(record))
        response.headers[.location] = "/v1/schedules/\(record.name)"
        return response
    }

    @Sendable func put(_ request: Request, context: Context) async throws -> Response {
        let name = try Self.name(context)
        var definition = try JSONBodyReader.decode(ScheduleDefinition.self, from: try await reader.read(request))
        if definition.name.isEmpty { definition.name = name }
        guard definition.name == name else {
            throw BatonError.invalidArgument("name '\(definition.name)' in the body differs from '\(name)' in the path")
        }
        try definition.validate()
        let existed = try await store().scheduleGet(name) != nil
        let record = try await store().scheduleUpsert(ScheduleUpsertParams(definition: definition, replace: true))
        return JSONResponse.make(status: existed ? .ok : .created, try await body(record))
    }

    @Sendable func list(_ request: Request, context: Context) async throws -> Response {
        var bodies: [ScheduleBody] = []
        for record in try await store().scheduleList() { bodies.append(try await body(record)) }
        return JSONResponse.make(ListBody(schedules: bodies))
    }

    @Sendable func get(_ request: Request, context: Context) async throws -> Response {
        let name = try Self.name(context)
        guard let record = try await store().scheduleGet(name) else { throw BatonError.notFound("schedule '\(name)' not found") }
        return JSONResponse.make(try await body(record))
    }

    @Sendable func delete(_ request: Request, context: Context) async throws -> Response {
        try await store().scheduleDelete(try Self.name(context))
        return Response(status: .noContent)
    }

    @Sendable func pause(_ request: Request, context: Context) async throws -> Response {
        JSONResponse.make(try await body(try await store().scheduleSetPaused(try Self.name(context), paused: true)))
    }

    @Sendable func resume(_ request: Request, context: Context) async throws -> Response {
        JSONResponse.make(try await body(try await store().scheduleSetPaused(try Self.name(context), paused: false)))
    }

    static func name(_ context: Context) throws -> String {
        let name = context.parameters.get("name") ?? ""
        try NewTask.validateName(name, field: "name", maxLength: ScheduleDefinition.maxNameLength)
        return name
    }
}
