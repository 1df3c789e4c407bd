import BatonCore
import BatonPostgres
import Foundation
import Logging
import PostgresNIO
import Synchronization
import Testing

/// The PostgreSQL server of the tests: `BATON_TEST_POSTGRES_URL`, as `scripts/with-postgres.sh`
/// exports it (with what a test needs to restart the cluster).
///
/// The rule every PostgreSQL test follows, in ``url(for:sourceLocation:)``: without the URL the
/// test is skipped locally with a printed reason, and fails under `CI=true`, where a missing
/// server is a failure, never a skip. Each test works in a schema of its own
/// (``freshSchema(prefix:)``), dropped when it ends.
public enum TestPostgres {
    static var environment: [String: String] { ProcessInfo.processInfo.environment }

    /// `BATON_TEST_POSTGRES_URL`, or `nil` when it is unset or empty.
    public static var configuredURL: String? {
        environment["BATON_TEST_POSTGRES_URL"].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// Whether the tests run in CI (`CI=true`).
    public static var isCI: Bool { environment["CI"] == "true" }

    /// The server's URL for `test`, or `nil` when it is not set: then in CI the issue is recorded
    /// (the test fails), and locally the skip is printed. A test that gets `nil` returns.
    public static func url(for test: String, sourceLocation: SourceLocation = #_sourceLocation) -> String? {
        TestServer.url(
            "BATON_TEST_POSTGRES_URL", server: "PostgreSQL", script: "scripts/with-postgres.sh", for: test, sourceLocation: sourceLocation)
    }

    /// Whether PostgreSQL tests run at all: with a URL, and in CI (where each then fails in
    /// ``url(for:sourceLocation:)``). For `.enabled(if: TestPostgres.enabled(for: "…"))` on a
    /// suite or test, and for including PostgreSQL among a test's arguments.
    public static func enabled(for test: String) -> Bool {
        isCI || url(for: test) != nil
    }

    /// A new schema name, `<prefix><16 hex digits>`.
    public static func freshSchema(prefix: String = "baton_test_") -> String {
        prefix + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(16).lowercased()
    }

    /// A configuration for `schema` (by default a fresh one) on the test server, or `nil` as
    /// ``url(for:sourceLocation:)`` says. Its sessions report `baton-test-<schema>` as their
    /// application name.
    public static func configuration(
        for test: String = #function, schema: String = freshSchema(), callTimeout: Duration = .seconds(5), poolSize: Int = 4,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> PostgresStoreConfiguration? {
        guard let url = url(for: test, sourceLocation: sourceLocation) else { return nil }
        var configuration = try PostgresStoreConfiguration(url: url, schema: schema)
        configuration.callTimeout = callTimeout
        configuration.poolSize = poolSize
        configuration.applicationName = "baton-test-\(schema)"
        return configuration
    }

    /// A store URL for a fresh schema (created by the first migration) on the test server, or
    /// `nil` as ``url(for:sourceLocation:)`` says: for `baton` processes, so that each test starts
    /// from empty tables.
    public static func storeURL(for test: String, sourceLocation: SourceLocation = #_sourceLocation) -> String? {
        guard let base = url(for: test, sourceLocation: sourceLocation) else { return nil }
        return base + (base.contains("?") ? "&" : "?") + "schema=\(freshSchema(prefix: "e2e_"))"
    }

    /// `pg_ctl`, the data directory and the OS user that owns the cluster, when
    /// `scripts/with-postgres.sh` exported them (`BATON_TEST_PG_CTL`, `BATON_TEST_PGDATA`,
    /// `BATON_TEST_PG_USER`).
    public static var control: (pgCtl: String, dataDirectory: String, user: String)? {
        guard let pgCtl = environment["BATON_TEST_PG_CTL"], let data = environment["BATON_TEST_PGDATA"],
            let user = environment["BATON_TEST_PG_USER"]
        else { return nil }
        return (pgCtl, data, user)
    }

    /// The logger of the stores the kit starts: errors only, unless `BATON_TEST_LOG` asks.
    public static let logger = testLogger("postgres", level: .error)

    /// Runs `body` with a migrated store on the configuration's schema, and drops the schema
    /// afterwards, whether `body` returns or throws.
    public static func withStore<T: Sendable>(
        _ configuration: PostgresStoreConfiguration, _ body: (PostgresTaskStore) async throws -> T
    ) async throws -> T {
        do {
            let result = try await PostgresTaskStore.withStore(configuration, logger: logger, body)
            await drop(configuration)
            return result
        } catch {
            await drop(configuration)
            throw error
        }
    }

    /// Drops the configuration's schema with everything in it, on a connection of its own
    /// (no store needs to run). Errors are ignored: the schema may never have been created.
    public static func drop(_ configuration: PostgresStoreConfiguration) async {
        _ = try? await execute("DROP SCHEMA IF EXISTS \"\(configuration.schema)\" CASCADE", configuration)
    }

    /// Runs `sql` on a connection of its own to the configuration's server (outside any store)
    /// and returns its rows.
    @discardableResult
    public static func execute(_ sql: String, _ configuration: PostgresStoreConfiguration) async throws -> [PostgresRow] {
        var admin = configuration
        admin.applicationName = "baton-test-admin"
        let options = try PostgresTaskStore.makeConnectionConfiguration(admin)
        let connection = try await PostgresConnection.connect(
            configuration: options, id: connectionIDs.add(1, ordering: .relaxed).newValue, logger: logger)
        do {
            let rows = try await connection.query(PostgresQuery(unsafeSQL: sql), logger: logger).collect()
            try await connection.close()
            return rows
        } catch {
            try? await connection.close()
            throw error
        }
    }

    private static let connectionIDs = Atomic<Int>(0)
}

/// A counting semaphore for async code: at most `count` holders at once, the others wait in
/// arrival order.
public final class Permits: Sendable {
    private struct State {
        var available: Int
        var waiters: [CheckedContinuation<Void, Never>] = []
    }
    private let state: Mutex<State>

    public init(_ count: Int) { state = Mutex(State(available: count)) }

    /// Waits for a permit and takes it.
    public func acquire() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let granted = state.withLock { s -> Bool in
                if s.available > 0 {
                    s.available -= 1
                    return true
                }
                s.waiters.append(continuation)
                return false
            }
            if granted { continuation.resume() }
        }
    }

    /// Returns a permit: to the first waiter, or to the pool.
    public func release() {
        let next = state.withLock { s -> CheckedContinuation<Void, Never>? in
            if s.waiters.isEmpty {
                s.available += 1
                return nil
            }
            return s.waiters.removeFirst()
        }
        next?.resume()
    }
}
