import BatonCore
import BatonPostgres
import Testing

@Suite("PostgresStoreConfiguration")
struct ConfigurationTests {
    @Test func parsesAFullURL() throws {
        let c = try PostgresStoreConfiguration(url: "postgresql://alice:s%40cret@db.example:6543/jobs?sslmode=require&schema=baton")
        #expect(c.host == "db.example" && c.port == 6543)
        #expect(c.username == "alice" && c.password == "s@cret" && c.database == "jobs")
        #expect(c.sslMode == .require && c.schema == "baton")
        #expect(!c.redactedDescription.contains("s@cret"))
    }

    @Test func defaultsPortSchemaAndSSL() throws {
        let c = try PostgresStoreConfiguration(url: "postgres://bob@localhost/baton?sslmode=disable")
        #expect(c.port == 5432 && c.password == nil && c.schema == "public" && c.sslMode == .disable)
        #expect(c.callTimeout == .seconds(5))
    }

    @Test(arguments: [
        ("mysql://u@h/db", "postgres://"),
        ("postgres://h/db", "no user"),
        ("postgres://u@h", "no database"),
        ("postgres://u@h/db?sslmode=sometimes", "sslmode"),
        ("postgres://u@h/db?pool=3", "'pool'"),
        ("postgres://u@h/db?schema=Bad-Name", "schema"),
    ])
    func badURLsNameTheProblem(_ url: String, _ expected: String) {
        do {
            _ = try PostgresStoreConfiguration(url: url)
            Issue.record("\(url) should be refused")
        } catch {
            #expect(error.code == .invalidArgument)
            #expect(error.message.contains(expected), "\(error.message)")
        }
    }

    @Test func leaderLockKeyDependsOnTheSchema() throws {
        let a = try PostgresStoreConfiguration(url: "postgres://u@h/db", schema: "a")
        let b = try PostgresStoreConfiguration(url: "postgres://u@h/db", schema: "b")
        #expect(a.effectiveLeaderLockKey != b.effectiveLeaderLockKey)
        #expect(a.effectiveLeaderLockKey == (try PostgresStoreConfiguration(url: "postgres://x@y/z", schema: "a")).effectiveLeaderLockKey)
    }
}
