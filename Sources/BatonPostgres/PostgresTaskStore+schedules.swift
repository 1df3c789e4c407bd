import BatonCore
import Foundation
import PostgresNIO

extension PostgresTaskStore: ScheduleStore {
    public func scheduleUpsert(_ p: ScheduleUpsertParams) async throws -> ScheduleRecord {
        try p.definition.validate()
        let name = p.definition.name
        let definition = try ColumnJSON.encode(p.definition)
        let query = PostgresQuery(
            unsafeSQL: p.replace ? sql.scheduleReplace : sql.scheduleInsert,
            binds: Self.bindings { b in
                b.append(name)
                b.append(definition)
            })
        let record = try await call("storing schedule \(name)") { [client] () -> ScheduleRecord? in
            try await client.query(query).collect().first.map(ScheduleRecord.init(postgres:))
        }
        guard let record else { throw BatonError.conflict("schedule '\(name)' already exists") }
        return record
    }

    public func scheduleGet(_ name: String) async throws -> ScheduleRecord? {
        let query = PostgresQuery(unsafeSQL: sql.scheduleGet, binds: Self.bindings { $0.append(name) })
        return try await call("reading schedule \(name)") { [client] in
            try await client.query(query).collect().first.map(ScheduleRecord.init(postgres:))
        }
    }

    public func scheduleList() async throws -> [ScheduleRecord] {
        let query = PostgresQuery(unsafeSQL: sql.scheduleList)
        return try await call("listing schedules") { [client] in
            try await client.query(query).collect().map(ScheduleRecord.init(postgres:))
        }
    }

    public func scheduleDelete(_ name: String) async throws {
        let query = PostgresQuery(unsafeSQL: sql.scheduleDelete, binds: Self.bindings { $0.append(name) })
        let deleted = try await call("deleting schedule \(name)") { [client] in
            try await !client.query(query).collect().isEmpty
        }
        if !deleted { throw BatonError.notFound("schedule '\(name)' not found") }
    }

    public func scheduleSetPaused(_ name: String, paused: Bool) async throws -> ScheduleRecord {
        let query = PostgresQuery(
            unsafeSQL: sql.scheduleSetPaused,
            binds: Self.bindings { b in
                b.append(paused)
                b.append(name)
            })
        let record = try await call("pausing schedule \(name)") { [client] () -> ScheduleRecord? in
            try await client.query(query).collect().first.map(ScheduleRecord.init(postgres:))
        }
        guard let record else { throw BatonError.notFound("schedule '\(name)' not found") }
        return record
    }

    /// One transaction: the compare-and-set of `last_fired` (`UPDATE … WHERE last_fired IS NOT
    /// DISTINCT FROM $expected`), then the tick's tasks (with the usual unique-key checks) only
    /// if it changed the row. A concurrent fire of the same schedule waits for the row lock,
    /// then finds `last_fired` changed and inserts nothing.
    public func scheduleFire(_ p: ScheduleFireParams) async throws -> Bool {
        for task in p.tasks { try task.validate() }
        let insert = p.tasks.isEmpty ? nil : try uniqueInsert(p.tasks)
        let advance = PostgresQuery(
            unsafeSQL: sql.scheduleAdvance,
            binds: Self.bindings { b in
                b.append(p.newLastFired)
                b.append(p.name)
                b.append(p.expectedLastFired)
            })
        let logger = self.logger
        let fired = try await call("firing schedule \(p.name)") { [client] () -> Bool in
            try await client.withTransaction(logger: logger) { connection -> Bool in
                guard try await !connection.query(advance, logger: logger).collect().isEmpty else { return false }
                if let insert { _ = try await insert.run(on: connection, logger: logger) }
                return true
            }
        }
        if fired && !p.tasks.isEmpty { readySignal.notify() }
        return fired
    }
}

extension ScheduleRecord {
    /// Reads a row selected with `PostgresSQL.scheduleColumns`.
    init(postgres row: PostgresRow) throws {
        let (_, text, paused, lastFired, createdAt, updatedAt) = try row.decode((String, String, Bool, Date?, Date, Date).self)
        self.init(
            definition: try ColumnJSON.decode(ScheduleDefinition.self, text, column: "definition"), paused: paused,
            lastFired: lastFired, createdAt: createdAt, updatedAt: updatedAt)
    }
}
