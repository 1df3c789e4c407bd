import BatonCore
import Foundation
import Logging
import PostgresNIO
import Testing

@testable import BatonPostgres

/// The PostgreSQL server the tests use: `BATON_TEST_POSTGRES_URL`, as set by
/// `scripts/with-postgres.sh`. Without it the tests are skipped locally and fail in CI.
enum TestDatabase {
    static let url = ProcessInfo.processInfo.environment["BATON_TEST_POSTGRES_URL"].flatMap { $0.isEmpty ? nil : $0 }
    static let isCI = ProcessInfo.processInfo.environment["CI"] == "true"

    /// Run the test when there is a database, or in CI (where its absence is a failure).
    static var enabled: Bool {
        if url == nil && !isCI {
            print("BatonPostgresTests: skipped, BATON_TEST_POSTGRES_URL not set (run under scripts/with-postgres.sh)")
        }
        return url != nil || isCI
    }

    static let logger: Logger = {
        var logger = Logger(label: "baton.postgres.test")
        logger.logLevel = ProcessInfo.processInfo.environment["BATON_TEST_LOG"].flatMap(Logger.Level.init(rawValue:)) ?? .error
        return logger
    }()

    /// A configuration for a fresh schema of its own, or `nil` after recording the issue.
    static func configuration(
        schema: String = freshSchema(), callTimeout: Duration = .seconds(5), poolSize: Int = 4,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> PostgresStoreConfiguration? {
        guard let url else {
            Issue.record("BATON_TEST_POSTGRES_URL not set", sourceLocation: sourceLocation)
            return nil
        }
        var configuration = try PostgresStoreConfiguration(url: url, schema: schema)
        configuration.callTimeout = callTimeout
        configuration.poolSize = poolSize
        configuration.applicationName = "baton-test-\(schema)"
        return configuration
    }

    static func freshSchema() -> String {
        "baton_test_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(16).lowercased()
    }

    /// Runs `body` with a migrated store on a fresh schema, and drops the schema afterwards.
    static func withStore<T: Sendable>(
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

    /// Drops the configuration's schema (with everything in it).
    static func drop(_ configuration: PostgresStoreConfiguration) async {
        _ = try? await execute("DROP SCHEMA IF EXISTS \"\(configuration.schema)\" CASCADE", configuration)
    }

    /// Runs SQL on a connection of its own (outside any store) and returns its rows.
    @discardableResult
    static func execute(_ sql: String, _ configuration: PostgresStoreConfiguration) async throws -> [PostgresRow] {
        var admin = configuration
        admin.applicationName = "baton-test-admin"
        let connection = try await DedicatedConnection.connect(PostgresTaskStore.connectionConfiguration(admin), logger: logger)
        do {
            let rows = try await connection.query(PostgresQuery(unsafeSQL: sql), logger: logger).collect()
            try await connection.close()
            return rows
        } catch {
            try? await connection.close()
            throw error
        }
    }
}
