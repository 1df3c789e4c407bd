import GRDB

/// The schema's versions. A migration, once shipped, never changes: add a new one.
enum Migrations {
    /// `PRAGMA application_id` of every Baton database: "BATN".
    static let applicationID: Int32 = 0x4241_544E

    static let migrator: DatabaseMigrator = {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            for statement in SQL.schemaV1 {
                try db.execute(sql: statement)
            }
            try db.execute(sql: "PRAGMA application_id = \(applicationID)")
        }
        migrator.registerMigration("v2") { db in
            for statement in SQL.schemaV2 {
                try db.execute(sql: statement)
            }
        }
        migrator.registerMigration("v3") { db in
            for statement in SQL.schemaV3 {
                try db.execute(sql: statement)
            }
        }
        migrator.registerMigration("v4") { db in
            for statement in SQL.schemaV4 {
                try db.execute(sql: statement)
            }
        }
        migrator.registerMigration("v5") { db in
            for statement in SQL.schemaV5 {
                try db.execute(sql: statement)
            }
        }
        migrator.registerMigration("v6") { db in
            for statement in SQL.schemaV6 {
                try db.execute(sql: statement)
            }
        }
        migrator.registerMigration("v7") { db in
            for statement in SQL.schemaV7 {
                try db.execute(sql: statement)
            }
        }
        return migrator
    }()
}
