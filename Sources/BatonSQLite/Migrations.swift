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
        let later = [
            ("v2", SQL.schemaV2), ("v3", SQL.schemaV3), ("v4", SQL.schemaV4), ("v5", SQL.schemaV5), ("v6", SQL.schemaV6),
            ("v7", SQL.schemaV7), ("v8", SQL.schemaV8), ("v9", SQL.schemaV9),
        ]
        for (version, statements) in later {
            migrator.registerMigration(version) { db in
                for statement in statements {
                    try db.execute(sql: statement)
                }
            }
        }
        return migrator
    }()
}
