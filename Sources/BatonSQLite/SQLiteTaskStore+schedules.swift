import BatonCore
import Foundation
import GRDB

extension SQLiteTaskStore: ScheduleStore {
    public func scheduleUpsert(_ p: ScheduleUpsertParams) async throws -> ScheduleRecord {
        try p.definition.validate()
        let definition = try ColumnJSON.encode(p.definition)
        let name = p.definition.name
        return try await write("storing schedule \(name)") { db in
            let now = Millis.now(self.clock)
            let sql = p.replace ? SQL.scheduleReplace : SQL.scheduleInsert
            do {
                guard let row = try Row.fetchOne(db.cachedStatement(sql: sql), arguments: [name, definition, now, now]) else {
                    throw BatonError(.internal, "storing schedule \(name) returned no row")
                }
                return try ScheduleRecord(row: row)
            } catch let error as DatabaseError where error.extendedResultCode == .SQLITE_CONSTRAINT_PRIMARYKEY {
                throw BatonError.conflict("schedule '\(name)' already exists")
            }
        }
    }

    public func scheduleGet(_ name: String) async throws -> ScheduleRecord? {
        try await read("reading schedule \(name)") { db in
            try Row.fetchOne(db.cachedStatement(sql: SQL.scheduleGet), arguments: [name]).map(ScheduleRecord.init(row:))
        }
    }

    public func scheduleList() async throws -> [ScheduleRecord] {
        try await read("listing schedules") { db in
            try Row.fetchAll(db.cachedStatement(sql: SQL.scheduleList)).map(ScheduleRecord.init(row:))
        }
    }

    public func scheduleDelete(_ name: String) async throws {
        try await write("deleting schedule \(name)") { db in
            try db.cachedStatement(sql: SQL.scheduleDelete).execute(arguments: [name])
            if db.changesCount == 0 { throw BatonError.notFound("schedule '\(name)' not found") }
        }
    }

    public func scheduleSetPaused(_ name: String, paused: Bool) async throws -> ScheduleRecord {
        try await write("pausing schedule \(name)") { db in
            guard
                let row = try Row.fetchOne(
                    db.cachedStatement(sql: SQL.scheduleSetPaused), arguments: [paused, Millis.now(self.clock), name])
            else { throw BatonError.notFound("schedule '\(name)' not found") }
            return try ScheduleRecord(row: row)
        }
    }

    /// One write transaction: the compare-and-set of `last_fired`, then the tick's tasks
    /// (with the usual unique-key checks) only if it applied.
    public func scheduleFire(_ p: ScheduleFireParams) async throws -> Bool {
        for task in p.tasks { try task.validate() }
        let prepared = try Self.prepare(p.tasks, now: Millis.now(self.clock))
        let expected = p.expectedLastFired.map(Millis.from)
        let fired = try await write("firing schedule \(p.name)") { db -> Bool in
            try db.cachedStatement(sql: SQL.scheduleAdvance).execute(arguments: [Millis.from(p.newLastFired), p.name, expected])
            guard db.changesCount == 1 else { return false }
            if !prepared.records.isEmpty { _ = try Self.insert(prepared, db: db).outcome }
            return true
        }
        if fired && !p.tasks.isEmpty { readySignal.notify() }
        return fired
    }
}

extension ScheduleRecord {
    /// Reads a row selected with `SQL.scheduleColumns`.
    init(row: Row) throws {
        let text: String = row[1]
        let lastFired: Int64? = row[3]
        self.init(
            definition: try ColumnJSON.decode(ScheduleDefinition.self, text, column: "definition"),
            paused: row[2], lastFired: lastFired.map(Millis.date), createdAt: Millis.date(row[4]), updatedAt: Millis.date(row[5]))
    }
}
