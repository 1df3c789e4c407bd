import PostgresNIO

/// The statements on the hot path (claim, plain enqueue, completion, and the next due time
/// a claimer asks for when its queues are empty), as named prepared statements: PostgresNIO
/// prepares each once per connection, and PostgreSQL then plans it once instead of on every
/// call. Sent unnamed, the claim was planned on every call, 1.1–1.3 ms each
/// (`Benchmarks/analysis.md`).
///
/// A prepared statement's text is static, so these name their tables without a schema and
/// rely on the hot pool's sessions having `search_path` set to the store's schema
/// (`PostgresTaskStore.hotSessionSettings`). Their results are the same rows as the unnamed
/// form's.
///
/// A cached plan is made once, with the table statistics of that moment: a generic plan
/// made while the queue held a dozen tasks seq-scans it, and PostgreSQL would keep that plan
/// while the queue grows to a million, until the next ANALYZE. So the hot sessions plan
/// with sequential scans disabled, which leaves every statement here its index and TID
/// paths whatever the statistics say, and use the generic plan from the first call, so
/// that the plan they run is the one the plan test checks
/// (`hotStatementsKeepTheirIndexesInTheCachedPlan`).
protocol PreparedHotStatement: PostgresPreparedStatement where Row == PostgresRow {
    var bindings: PostgresBindings { get }
}

extension PreparedHotStatement {
    func makeBindings() throws -> PostgresBindings { bindings }
    func decodeRow(_ row: PostgresRow) throws -> PostgresRow { row }
}

struct ClaimStatement: PreparedHotStatement {
    static let name = "baton_claim_v2"
    static let sql = PostgresSQL.searchPath.claim
    let bindings: PostgresBindings
}

struct EnqueueStatement: PreparedHotStatement {
    static let name = "baton_enqueue_v2"
    static let sql = PostgresSQL.searchPath.enqueue
    let bindings: PostgresBindings
}

struct CompleteStatement: PreparedHotStatement {
    static let name = "baton_complete_v1"
    static let sql = PostgresSQL.searchPath.complete(reporting: false)
    let bindings: PostgresBindings
}

/// The completion while the node's events are observed: it also returns the ended attempts.
struct CompleteReportingStatement: PreparedHotStatement {
    static let name = "baton_complete_reporting_v1"
    static let sql = PostgresSQL.searchPath.complete(reporting: true)
    let bindings: PostgresBindings
}

/// Asked by every claimer that finds its queues empty, before it sleeps.
struct NextDueStatement: PreparedHotStatement {
    static let name = "baton_next_due_v1"
    static let sql = PostgresSQL.searchPath.nextDue
    let bindings: PostgresBindings
}

extension PostgresClient {
    /// Runs a hot statement prepared on the leased connection; every row, in order.
    func rows<Statement: PreparedHotStatement>(_ statement: Statement) async throws -> [PostgresRow] {
        var rows: [PostgresRow] = []
        for try await row in try await execute(statement) { rows.append(row) }
        return rows
    }
}

extension PostgresConnection {
    /// Runs a hot statement prepared on this connection; every row, in order.
    func rows<Statement: PreparedHotStatement>(_ statement: Statement, logger: Logger) async throws -> [PostgresRow] {
        var rows: [PostgresRow] = []
        for try await row in try await execute(statement, logger: logger) { rows.append(row) }
        return rows
    }
}

extension PostgresTaskStore {
    /// The settings of every session of the hot pool, sent in its startup packet. With
    /// `schemaClock` (a testing aid, see `PostgresStoreConfiguration.schemaClock`) the schema is
    /// searched before `pg_catalog`, so that a test's `"<schema>".now()` replaces the built-in.
    static func hotSessionSettings(schema: String, schemaClock: Bool = false) -> [(String, String)] {
        [
            ("search_path", schemaClock ? schemaFirstSearchPath(schema) : "\"\(schema)\""), ("enable_seqscan", "off"),
            ("plan_cache_mode", "force_generic_plan"),
        ]
    }

    /// A `search_path` that names `pg_catalog` after the schema: PostgreSQL then looks in the
    /// schema first, where it otherwise searches `pg_catalog` implicitly before everything.
    static func schemaFirstSearchPath(_ schema: String) -> String {
        "\"\(schema)\", pg_catalog"
    }
}
