import BatonCore
import BatonNode
import Foundation
import Hummingbird

/// `/v1/schedules`: create, list, show (with the next fire times), replace, delete, pause and
/// resume, over `NodeAPI` (as the `schedule.*` JSON-RPC methods); admin role.
struct ScheduleRoutes<Context: RequestContext>: Sendable {
    let ops: NodeAPI
    let reader: JSONBodyReader

    var routes: [Route<Context>] {
        [
            Route(
                .post, "/v1/schedules", access: .admin, rpc: "schedule.create", summary: "Create a schedule", request: "Schedule",
                response: "ScheduleRecord", create),
            Route(.get, "/v1/schedules", access: .admin, rpc: "schedule.list", summary: "List schedules", response: "ScheduleList", list),
            Route(
                .get, "/v1/schedules/:name", access: .admin, rpc: "schedule.get", summary: "Show a schedule and its next fire times",
                response: "ScheduleRecord", get),
            Route(
                .put, "/v1/schedules/:name", access: .admin, rpc: "schedule.put", summary: "Create or replace a schedule",
                request: "ScheduleBody", response: "ScheduleRecord", put),
            Route(.delete, "/v1/schedules/:name", access: .admin, rpc: "schedule.delete", summary: "Delete a schedule", delete),
            Route(
                .post, "/v1/schedules/:name/pause", access: .admin, rpc: "schedule.pause", summary: "Pause a schedule",
                response: "ScheduleRecord", pause),
            Route(
                .post, "/v1/schedules/:name/resume", access: .admin, rpc: "schedule.resume", summary: "Resume a schedule",
                response: "ScheduleRecord", resume),
        ]
    }

    @Sendable func create(_ request: Request, context: Context) async throws -> Response {
        let definition = try JSONBodyReader.decode(ScheduleDefinition.self, from: try await reader.read(request))
        let schedule = try await ops.scheduleCreate(definition)
        var response = JSONResponse.make(status: .created, schedule)
        response.headers[.location] = "/v1/schedules/\(Self.pathSegment(schedule.record.name))"
        return response
    }

    @Sendable func put(_ request: Request, context: Context) async throws -> Response {
        let name = try Self.name(context)
        let definition = try JSONBodyReader.decode(ScheduleDefinition.self, from: try await reader.read(request))
        let (schedule, created) = try await ops.schedulePut(name, definition)
        return JSONResponse.make(status: created ? .created : .ok, schedule)
    }

    @Sendable func list(_ request: Request, context: Context) async throws -> Response {
        JSONResponse.make(try await ops.scheduleList())
    }

    @Sendable func get(_ request: Request, context: Context) async throws -> Response {
        JSONResponse.make(try await ops.scheduleGet(try Self.name(context)))
    }

    @Sendable func delete(_ request: Request, context: Context) async throws -> Response {
        try await ops.scheduleDelete(try Self.name(context))
        return Response(status: .noContent)
    }

    @Sendable func pause(_ request: Request, context: Context) async throws -> Response {
        JSONResponse.make(try await ops.scheduleSetPaused(try Self.name(context), paused: true))
    }

    @Sendable func resume(_ request: Request, context: Context) async throws -> Response {
        JSONResponse.make(try await ops.scheduleSetPaused(try Self.name(context), paused: false))
    }

    /// A name as one path segment: `/` (which names may hold) and anything else outside the
    /// unreserved characters percent-encoded.
    static func pathSegment(_ name: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return name.addingPercentEncoding(withAllowedCharacters: allowed) ?? name
    }

    /// The path's name, checked before the body is read.
    static func name(_ context: Context) throws -> String {
        let name = context.pathParameter("name")
        try NodeAPI.checkScheduleName(name)
        return name
    }
}
