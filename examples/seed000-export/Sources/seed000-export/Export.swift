import BatonWorker
import Foundation
import Logging
import PostgresNIO

/// The example's tables, as freundallein/sqs-scheduler's example worker uses them: objects in
/// `t_object`, their exported copies in `t_exported_object`. One row per object is exported:
/// the copy's primary key is the object's id, so a retried task cannot export it twice.
struct ExportTables: Sendable {
    let client: PostgresClient
    /// The schema holding the tables (letters, digits and underscores; checked by `Options`).
    let schema: String

    var objects: String { "\"\(schema)\".t_object" }
    var exported: String { "\"\(schema)\".t_exported_object" }

    /// Creates the schema and both tables if they do not exist yet. Workers and `enqueue` may
    /// start at once: PostgreSQL's `CREATE … IF NOT EXISTS` is not safe against a concurrent
    /// create of the same name, so the creates take an advisory lock first.
    func create() async throws {
        try await client.withConnection { connection in
            try await connection.query("SELECT pg_advisory_lock(hashtext('seed000-export tables'))", logger: connection.logger)
            do {
                try await createUnlocked(connection)
            } catch {
                _ = try? await connection.query(
                    "SELECT pg_advisory_unlock(hashtext('seed000-export tables'))", logger: connection.logger)
                throw error
            }
            try await connection.query("SELECT pg_advisory_unlock(hashtext('seed000-export tables'))", logger: connection.logger)
        }
    }

    private func createUnlocked(_ connection: PostgresConnection) async throws {
        for sql in [
            "CREATE SCHEMA IF NOT EXISTS \"\(schema)\"",
            """
            CREATE TABLE IF NOT EXISTS \(objects) (
                id bigserial PRIMARY KEY,
                payload text NOT NULL,
                created_at timestamptz NOT NULL DEFAULT now()
            )
            """,
            """
            CREATE TABLE IF NOT EXISTS \(exported) (
                object_id bigint PRIMARY KEY REFERENCES \(objects) (id),
                payload text NOT NULL,
                task_id text NOT NULL,
                attempt integer NOT NULL,
                exported_at timestamptz NOT NULL DEFAULT now()
            )
            """,
        ] {
            try await connection.query(PostgresQuery(unsafeSQL: sql), logger: connection.logger)
        }
    }

    /// Inserts `count` objects with random payloads; their ids, in order.
    func insertRandom(_ count: Int) async throws -> [Int64] {
        let payloads = (0..<count).map { _ in UUID().uuidString.lowercased() }
        var binds = PostgresBindings()
        binds.append(payloads)
        let rows = try await client.query(
            PostgresQuery(unsafeSQL: "INSERT INTO \(objects) (payload) SELECT unnest($1::text[]) RETURNING id", binds: binds))
        var ids: [Int64] = []
        for try await id in rows.decode(Int64.self) { ids.append(id) }
        return ids
    }

    /// What exporting one object did.
    enum Outcome: String, Sendable {
        /// Copied now.
        case exported
        /// Copied by an earlier attempt (its result was lost, or the task was delivered twice).
        case alreadyExported = "already-exported"
    }

    /// Copies object `id` into `t_exported_object` unless it is there already, in one statement.
    /// Throws `FailPermanently` for an object that does not exist: retrying cannot help.
    func export(_ id: Int64, taskID: String, attempt: Int) async throws -> Outcome {
        var binds = PostgresBindings()
        binds.append(id)
        binds.append(taskID)
        binds.append(attempt)
        let sql = """
            WITH copied AS (
                INSERT INTO \(exported) (object_id, payload, task_id, attempt)
                SELECT id, payload, $2, $3 FROM \(objects) WHERE id = $1
                ON CONFLICT (object_id) DO NOTHING RETURNING object_id
            )
            SELECT (SELECT count(*) FROM copied), (SELECT count(*) FROM \(objects) WHERE id = $1)
            """
        let rows = try await client.query(PostgresQuery(unsafeSQL: sql, binds: binds))
        for try await (copied, found) in rows.decode((Int64, Int64).self) {
            guard found == 1 else { throw FailPermanently("object \(id) is not in \(objects)") }
            return copied == 1 ? .exported : .alreadyExported
        }
        throw FailPermanently("the export of object \(id) returned no row")
    }
}

/// The `export` task's arguments, as freundallein/sqs-scheduler sends them: strings only.
struct ExportArgs: Codable, Sendable {
    var objectID: String
}

/// What an `export` task answers: strings only too, as that system's results are.
struct ExportResult: Codable, Sendable {
    var objectID: String
    var outcome: String
}

extension HandlerRegistry {
    /// Registers the `export` handler on `tables`.
    func registerExport(_ tables: ExportTables) {
        register("export") { (args: ExportArgs, context: TaskContext) -> ExportResult in
            guard let id = Int64(args.objectID), id > 0 else {
                throw FailPermanently("objectID must be a positive integer as a string, got '\(args.objectID)'")
            }
            let outcome = try await tables.export(id, taskID: context.taskID.description, attempt: context.attempt)
            context.logger.info("export", metadata: ["object_id": "\(id)", "outcome": "\(outcome.rawValue)"])
            return ExportResult(objectID: args.objectID, outcome: outcome.rawValue)
        }
    }
}
