import BatonCore
import Foundation
import Logging
import PostgresNIO

/// One numbered SQL file of `Migrations/` (`001_init.sql`, …).
struct PostgresMigration: Sendable, Hashable {
    var version: Int
    var name: String
    var sql: String

    /// The file's statements: it is split at semicolons that end a line, after dropping
    /// `--` comment lines, except inside a `$$`-quoted function body.
    var statements: [String] {
        var statements: [String] = []
        var current = ""
        var inBody = false
        for line in sql.split(separator: "\n", omittingEmptySubsequences: false) {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.hasPrefix("--") || trimmed.isEmpty { continue }
            current += line + "\n"
            if line.components(separatedBy: "$$").count % 2 == 0 { inBody.toggle() }
            if !inBody, trimmed.hasSuffix(";") {
                statements.append(current.trimmingCharacters(in: .whitespacesAndNewlines).dropLast().description)
                current = ""
            }
        }
        let rest = current.trimmingCharacters(in: .whitespacesAndNewlines)
        if !rest.isEmpty { statements.append(rest) }
        return statements
    }

    /// Every migration shipped with this build, in order.
    static func bundled() throws -> [PostgresMigration] {
        guard let directory = Bundle.module.url(forResource: "Migrations", withExtension: nil) else {
            throw BatonError(.internal, "the PostgreSQL migrations are missing from the build (Bundle.module has no Migrations)")
        }
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".sql") }
        var migrations: [PostgresMigration] = []
        for file in files {
            guard let version = Int(file.prefix { $0.isNumber }), version > 0 else {
                throw BatonError(.internal, "migration file \(file) does not start with its number")
            }
            let sql = try String(contentsOf: directory.appendingPathComponent(file), encoding: .utf8)
            migrations.append(PostgresMigration(version: version, name: String(file.dropLast(4)), sql: sql))
        }
        migrations.sort { $0.version < $1.version }
        for (index, migration) in migrations.enumerated() where migration.version != index + 1 {
            throw BatonError(.internal, "migrations must be numbered 1, 2, 3, … without gaps; found \(migration.name)")
        }
        return migrations
    }
}

/// Applies the bundled migrations to one schema, in one transaction that holds a transaction
/// advisory lock: two nodes starting at once apply each migration exactly once (the second
/// waits, then finds nothing to do). Applied versions are recorded in `baton_migrations`.
struct PostgresMigrator: Sendable {
    var schema: String
    var lockKey: Int64

    /// Checks that the schema is at the version this Baton knows, changing nothing: for
    /// commands that only read or submit, which must not migrate. Throws `storeIncompatible`
    /// saying to run `baton migrate` when it is missing or behind, or that a newer Baton
    /// migrated it.
    func check(client: PostgresClient, logger: Logger) async throws {
        let latest = try PostgresMigration.bundled().last?.version ?? 0
        let table = "\"\(schema)\".baton_migrations"
        let exists = try await client.query("SELECT to_regclass(\(table)) IS NOT NULL", logger: logger).collect()
        guard try exists.first?.decode(Bool.self) == true else {
            throw BatonError(.storeIncompatible, "schema \(schema) holds no Baton tables: run `baton migrate` with this --store first")
        }
        let rows = try await client.query(PostgresQuery(unsafeSQL: "SELECT coalesce(max(version), 0) FROM \(table)"), logger: logger)
            .collect()
        let current = try rows.first?.decode(Int.self) ?? 0
        if current > latest {
            throw BatonError(
                .storeIncompatible, "schema \(schema) was migrated to version \(current) by a newer Baton; this one knows up to \(latest)")
        }
        if current < latest {
            throw BatonError(
                .storeIncompatible,
                "schema \(schema) is at version \(current), this Baton needs \(latest): run `baton migrate` with this --store first")
        }
    }

    /// Applies what is missing; returns the versions applied.
    @discardableResult
    func apply(client: PostgresClient, logger: Logger) async throws -> [Int] {
        let migrations = try PostgresMigration.bundled()
        let latest = migrations.last?.version ?? 0
        let quoted = "\"\(schema)\""
        let schema = self.schema
        let lockKey = self.lockKey
        return try await client.withConnection { connection in
            try await connection.withTransaction(logger: logger) { connection -> [Int] in
                try await connection.query("SELECT pg_advisory_xact_lock(\(lockKey))", logger: logger)
                try await connection.query(PostgresQuery(unsafeSQL: "CREATE SCHEMA IF NOT EXISTS \(quoted)"), logger: logger)
                try await connection.query(
                    PostgresQuery(
                        unsafeSQL: """
                            CREATE TABLE IF NOT EXISTS \(quoted).baton_migrations (
                                version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())
                            """), logger: logger)
                let rows = try await connection.query(
                    PostgresQuery(unsafeSQL: "SELECT coalesce(max(version), 0) FROM \(quoted).baton_migrations"), logger: logger
                ).collect()
                let current = try rows.first?.decode(Int.self) ?? 0
                if current > latest {
                    throw BatonError(
                        .storeIncompatible,
                        "schema \(schema) was migrated to version \(current) by a newer Baton; this one knows up to \(latest)")
                }
                let pending = migrations.filter { $0.version > current }
                if pending.isEmpty { return [] }
                try await connection.query(PostgresQuery(unsafeSQL: "SET LOCAL search_path TO \(quoted), pg_catalog"), logger: logger)
                for migration in pending {
                    for statement in migration.statements {
                        try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                    }
                    try await connection.query(
                        "INSERT INTO baton_migrations (version, name) VALUES (\(migration.version), \(migration.name))", logger: logger)
                    logger.info("applied migration", metadata: ["schema": "\(schema)", "migration": "\(migration.name)"])
                }
                return pending.map(\.version)
            }
        }
    }
}
