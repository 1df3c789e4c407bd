import BatonCore
import Foundation

/// Schedules and paused queues over HTTP (`/v1/schedules`, `/v1/queues/{name}/pause|resume`).
extension BatonClient {
    /// A schedule as the server shows it, with its next fire times.
    public struct ScheduleInfo: Sendable, Decodable {
        public var record: ScheduleRecord
        public var next: [Date]

        enum CodingKeys: String, CodingKey { case next }

        public init(from decoder: any Decoder) throws {
            record = try ScheduleRecord(from: decoder)
            next = try decoder.container(keyedBy: CodingKeys.self).decodeIfPresent([Date].self, forKey: .next) ?? []
        }
    }

    private struct ScheduleList: Decodable {
        var schedules: [ScheduleInfo]
    }

    private struct PausedQueues: Decodable {
        var paused: [String]
    }

    /// `POST /v1/schedules` (`replace: false`, a clash is `conflict`) or `PUT /v1/schedules/{name}`.
    public func scheduleUpsert(_ definition: ScheduleDefinition, replace: Bool = false) async throws -> ScheduleInfo {
        let body = try encode(ScheduleBody(definition))
        if replace {
            return try await call(.PUT, "/v1/schedules/\(definition.name)", body: body, expect: ScheduleInfo.self)
        }
        return try await call(.POST, "/v1/schedules", body: body, expect: ScheduleInfo.self)
    }

    public func scheduleList() async throws -> [ScheduleInfo] {
        try await call(.GET, "/v1/schedules", expect: ScheduleList.self).schedules
    }

    public func scheduleGet(_ name: String) async throws -> ScheduleInfo {
        try await call(.GET, "/v1/schedules/\(name)", expect: ScheduleInfo.self)
    }

    public func scheduleDelete(_ name: String) async throws {
        _ = try await send(.DELETE, "/v1/schedules/\(name)", query: [], body: nil, extraTime: .zero)
    }

    public func scheduleSetPaused(_ name: String, paused: Bool) async throws -> ScheduleInfo {
        try await call(.POST, "/v1/schedules/\(name)/\(paused ? "pause" : "resume")", expect: ScheduleInfo.self)
    }

    /// Pauses (`true`) or resumes a queue; returns the paused queues.
    public func queueSetPaused(_ name: String, paused: Bool) async throws -> [String] {
        try await call(.POST, "/v1/queues/\(name)/\(paused ? "pause" : "resume")", expect: PausedQueues.self).paused
    }

    public func queuePausedList() async throws -> [String] {
        try await call(.GET, "/v1/queues/paused", expect: PausedQueues.self).paused
    }
}

/// The request body of a schedule: its definition as submitted.
private struct ScheduleBody: Encodable {
    var definition: ScheduleDefinition
    init(_ definition: ScheduleDefinition) { self.definition = definition }
    func encode(to encoder: any Encoder) throws { try definition.encode(to: encoder) }
}
