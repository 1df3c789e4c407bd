import BatonCore
import Foundation
import GRDB

/// Looks at an existing file before the store opens it for writing, so that a file that is
/// not a Baton database is refused untouched: no journal-mode change, no schema, no pragma.
enum Preflight {
    private static let sqliteMagic = Data("SQLite format 3\0".utf8)

    static func check(path: String) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            return  // A new database: created by the pool.
        }
        if isDirectory.boolValue {
            throw BatonError(.unavailable, "cannot open database at \(path): it is a directory")
        }
        let header: Data
        do {
            let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
            defer { try? handle.close() }
            header = try handle.read(upToCount: 100) ?? Data()
        } catch {
            throw BatonError(.unavailable, "cannot open database at \(path): \(error.localizedDescription)")
        }
        if header.isEmpty { return }  // An empty file is ours to initialise.
        guard header.count == 100, header.prefix(sqliteMagic.count) == sqliteMagic else {
            throw foreign(path, "it is not a SQLite database")
        }
        let applicationID = header[68..<72].reduce(Int32(0)) { ($0 << 8) | Int32($1) }
        let walMode = header[18] == 2 && header[19] == 2
        let walSize = (try? FileManager.default.attributesOfItem(atPath: path + "-wal")[.size] as? Int) ?? 0
        if applicationID != Migrations.applicationID && walMode && walSize == 0 {
            // Everything is in the main file; opening it, even read-only, would create a WAL
            // beside it. Its header and first page tell enough.
            if applicationID != 0 { throw foreign(path, "it belongs to another application (application_id \(applicationID))") }
            if try !schemaIsEmpty(path: path) { throw foreign(path, "it already holds another application's tables") }
            return
        }
        try inspect(path: path)
    }

    /// Whether page 1 (the schema table) is an empty leaf: no tables, indexes or views.
    private static func schemaIsEmpty(path: String) throws -> Bool {
        do {
            let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
            defer { try? handle.close() }
            let start = try handle.read(upToCount: 105) ?? Data()
            guard start.count == 105 else { return false }
            return start[100] == 0x0D && start[103] == 0 && start[104] == 0
        } catch {
            throw BatonError(.unavailable, "cannot open database at \(path): \(error.localizedDescription)")
        }
    }

    /// Reads the application id, the tables and the applied migrations over a read-only connection.
    private static func inspect(path: String) throws {
        var config = Configuration()
        config.readonly = true
        config.busyMode = .timeout(5)
        struct Facts: Sendable {
            var applicationID: Int32
            var tables: Int
            var superseded: Bool
        }
        let facts: Facts
        do {
            let queue = try DatabaseQueue(path: path, configuration: config)
            defer { try? queue.close() }
            facts = try queue.read { db in
                let applicationID = try Int32.fetchOne(db, sql: "PRAGMA application_id") ?? 0
                let tables = try Int.fetchOne(db, sql: SQL.tableCount) ?? 0
                let superseded = applicationID == Migrations.applicationID ? try Migrations.migrator.hasBeenSuperseded(db) : false
                return Facts(applicationID: applicationID, tables: tables, superseded: superseded)
            }
        } catch let error as DatabaseError where [.SQLITE_NOTADB, .SQLITE_CORRUPT].contains(error.resultCode) {
            throw foreign(path, "it is damaged or not a SQLite database")
        } catch {
            throw BatonError(.unavailable, "cannot open database at \(path): \(SQLiteTaskStore.reason(error))")
        }
        if facts.superseded { throw newerSchema(path) }
        if let reason = foreignReason(applicationID: facts.applicationID, tables: facts.tables) { throw foreign(path, reason) }
    }

    /// Why a database with this application id and this many tables is not Baton's, if it is not.
    static func foreignReason(applicationID: Int32, tables: Int) -> String? {
        if applicationID == Migrations.applicationID { return nil }
        if applicationID != 0 { return "it belongs to another application (application_id \(applicationID))" }
        if tables > 0 { return "it already holds \(tables) table(s) of another application" }
        return nil
    }

    static func foreign(_ path: String, _ reason: String) -> BatonError {
        BatonError(.storeIncompatible, "\(path) is not a Baton database (\(reason)); refusing to touch it")
    }

    static func newerSchema(_ path: String) -> BatonError {
        BatonError(.storeIncompatible, "\(path) is not a Baton database this version can use: it was migrated by a newer Baton")
    }
}
