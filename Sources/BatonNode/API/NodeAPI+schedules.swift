import BatonCore
import Foundation

/// Schedules, for `/v1/schedules` and the `schedule.*` JSON-RPC methods: create, list, show
/// (with the next fire times), create or replace, delete, pause and resume.
extension NodeAPI {
    /// How many upcoming fire times a schedule shows.
    public static var scheduleNextCount: Int { 5 }

    /// A schedule as the API shows it: the record plus its next fire times.
    public struct ScheduleView: Encodable, Sendable {
        public var record: ScheduleRecord
        public var next: [Date]

        public init(record: ScheduleRecord, next: [Date]) {
            self.record = record
            self.next = next
        }

        enum CodingKeys: String, CodingKey { case next }

        public func encode(to encoder: any Encoder) throws {
            try record.encode(to: encoder)
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(next, forKey: .next)
        }
    }

    public struct ScheduleList: Encodable, Sendable {
        public var schedules: [ScheduleView]
        public init(schedules: [ScheduleView]) { self.schedules = schedules }
    }

    /// Creates a schedule. Throws `conflict` when one of that name exists.
    public func scheduleCreate(_ definition: ScheduleDefinition) async throws -> ScheduleView {
        try definition.validate(stringArgKinds: node.configuration.stringArgKinds)
        return try await scheduleView(try await node.store.scheduleUpsert(ScheduleUpsertParams(definition: definition)))
    }

    /// Creates or replaces the schedule `name` (replacing keeps its creation time, last tick
    /// and paused flag). A definition without a name takes `name`; one with another name is
    /// refused. `created` is `false` when a schedule was replaced.
    public func schedulePut(_ name: String, _ definition: ScheduleDefinition) async throws -> (schedule: ScheduleView, created: Bool) {
        try Self.checkScheduleName(name)
        var definition = definition
        if definition.name.isEmpty { definition.name = name }
        guard definition.name == name else {
            throw BatonError.invalidArgument("name '\(definition.name)' in the body differs from '\(name)' in the path")
        }
        try definition.validate(stringArgKinds: node.configuration.stringArgKinds)
        let existed = try await node.store.scheduleGet(name) != nil
        let record = try await node.store.scheduleUpsert(ScheduleUpsertParams(definition: definition, replace: true))
        return (try await scheduleView(record), !existed)
    }

    /// Every schedule, by name.
    public func scheduleList() async throws -> ScheduleList {
        let records = try await node.store.scheduleList()
        let now = try await node.store.now()
        return ScheduleList(schedules: records.map { Self.scheduleView($0, now: now) })
    }

    /// Throws `notFound`.
    public func scheduleGet(_ name: String) async throws -> ScheduleView {
        try Self.checkScheduleName(name)
        guard let record = try await node.store.scheduleGet(name) else { throw BatonError.notFound("schedule '\(name)' not found") }
        return try await scheduleView(record)
    }

    /// Throws `notFound`. The tasks it submitted stay.
    public func scheduleDelete(_ name: String) async throws {
        try Self.checkScheduleName(name)
        try await node.store.scheduleDelete(name)
    }

    /// Pauses (no ticks fire) or resumes a schedule. Throws `notFound`.
    public func scheduleSetPaused(_ name: String, paused: Bool) async throws -> ScheduleView {
        try Self.checkScheduleName(name)
        return try await scheduleView(try await node.store.scheduleSetPaused(name, paused: paused))
    }

    private func scheduleView(_ record: ScheduleRecord) async throws -> ScheduleView {
        Self.scheduleView(record, now: try await node.store.now())
    }

    private static func scheduleView(_ record: ScheduleRecord, now: Date) -> ScheduleView {
        ScheduleView(record: record, next: record.next(scheduleNextCount, after: now))
    }

    public static func checkScheduleName(_ name: String) throws {
        try NewTask.validateName(name, field: "name", maxLength: ScheduleDefinition.maxNameLength)
    }
}
