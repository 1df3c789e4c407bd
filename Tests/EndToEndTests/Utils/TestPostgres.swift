import Foundation
import Testing

/// The PostgreSQL server of the end-to-end tests: `BATON_TEST_POSTGRES_URL`, exported by
/// `scripts/with-postgres.sh` together with what a test needs to restart the cluster.
enum TestPostgres {
    static var environment: [String: String] { ProcessInfo.processInfo.environment }

    /// The server's URL, or `nil` when it is not set. Locally the caller then skips with a
    /// printed reason; in CI (`CI=true`) a missing server is recorded as a failure.
    static func baseURL(for test: String) -> String? {
        if let url = environment["BATON_TEST_POSTGRES_URL"], !url.isEmpty { return url }
        if environment["CI"] == "true" {
            Issue.record("BATON_TEST_POSTGRES_URL is not set in CI; \(test) needs PostgreSQL")
        } else {
            print("\(test): skipped, BATON_TEST_POSTGRES_URL not set (run under scripts/with-postgres.sh)")
        }
        return nil
    }

    /// A store URL for a schema of its own (created by the nodes' first migration), so that
    /// each test starts from empty tables.
    static func storeURL(for test: String) -> String? {
        guard let base = baseURL(for: test) else { return nil }
        let schema = "e2e_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(16).lowercased()
        return base + (base.contains("?") ? "&" : "?") + "schema=\(schema)"
    }

    /// `pg_ctl`, the data directory and the OS user that owns the cluster, when known.
    static var control: (pgCtl: String, dataDirectory: String, user: String)? {
        guard let pgCtl = environment["BATON_TEST_PG_CTL"], let data = environment["BATON_TEST_PGDATA"],
            let user = environment["BATON_TEST_PG_USER"]
        else { return nil }
        return (pgCtl, data, user)
    }
}
