import BatonTesting
import Foundation
import Testing

/// `baton health` against real `baton serve` processes: ready, stopped, not answering, and a
/// node whose store went away (503 from `/ready`). The container image's HEALTHCHECK.
extension EndToEnd {
    @Suite(.serialized) struct HealthCommandTests {
        @Test func aReadyNodeExitsZeroAndAStoppedOneSaysItCannotBeReached() async throws {
            let dir = try TempDir()
            let node = try BatonProcess(["serve", "--db", dir.path("baton.db"), "--port", "0"])
            defer { node.signal(SIGKILL) }
            let url = try await node.url()

            let ready = try await baton(["health", "--server", url])
            #expect(ready.status == 0, "\(ready.stderr)")
            #expect(ready.stdout == "ready: \(url)\n")
            #expect(ready.stderr.isEmpty, "\(ready.stderr)")

            // BATON_SERVER works as for the other client commands; BATON_STORE is ignored.
            let fromEnvironment = try await baton(
                ["health"], environment: ["BATON_SERVER": url, "BATON_STORE": "sqlite:\(dir.path("other.db"))"])
            #expect(fromEnvironment.status == 0, "\(fromEnvironment.stderr)")
            #expect(fromEnvironment.stdout == "ready: \(url)\n")
            #expect(!FileManager.default.fileExists(atPath: dir.path("other.db")), "health never opens a store")

            node.signal(SIGKILL)
            try await node.waitForExit()
            let stopped = try await baton(["health", "--server", url])
            #expect(stopped.status == 4, "\(stopped.stderr)")
            #expect(stopped.stdout.isEmpty)
            #expect(stopped.stderr == "cannot reach \(url): connection refused\n")
        }

        @Test func eachGivenNodeIsCheckedAndOneDownFailsTheCheck() async throws {
            let dir = try TempDir()
            let node = try BatonProcess(["serve", "--db", dir.path("baton.db"), "--port", "0"])
            defer { node.signal(SIGKILL) }
            let url = try await node.url()
            let down = "http://127.0.0.1:9"
            let result = try await baton(["health", "--server", url, "--server", down])
            #expect(result.status == 4, "\(result.stderr)")
            #expect(result.stdout == "ready: \(url)\n", "no failover: each node is asked")
            #expect(result.stderr == "cannot reach \(down): connection refused\n")
        }

        /// A server that accepts the connection and never answers: `--timeout` bounds the wait.
        @Test func aNodeThatDoesNotAnswerFailsWithinTheTimeout() async throws {
            let dir = try TempDir()
            let script = """
                import socket, time
                s = socket.socket()
                s.bind(("127.0.0.1", 0))
                s.listen(16)
                print(s.getsockname()[1], flush=True)
                time.sleep(120)
                """
            let silent = try BatonProcess(["-u", "-c", script], directory: dir.url, executable: "/usr/bin/python3")
            defer { silent.signal(SIGKILL) }
            let port = try await eventually("the silent server's port") {
                silent.stdout.split(separator: "\n").first.map(String.init)
            }
            let url = "http://127.0.0.1:\(port)"
            let start = ContinuousClock.now
            let result = try await baton(["health", "--server", url, "--timeout", "1"])
            let took = ContinuousClock.now - start
            #expect(result.status == 4, "\(result.stderr)")
            #expect(result.stderr == "cannot reach \(url): no answer in time\n")
            #expect(took < .seconds(4), "\(took)")
        }

        @Test func aStoreOrABadTimeoutIsAUsageError() async throws {
            let dir = try TempDir()
            let store = try await baton(["health", "--db", dir.path("baton.db")])
            #expect(store.status == 64, "\(store.stderr)")
            #expect(store.stderr == "error: baton health asks a node: give --server, not --store or --db\n")
            for timeout in ["0", "-1", "nan"] {
                let bad = try await baton(["health", "--timeout", timeout])
                #expect(bad.status == 64, "\(timeout): \(bad.stderr)")
                #expect(bad.stderr.contains("--timeout must be a positive number of seconds"), "\(bad.stderr)")
            }
            let help = try await baton(["health", "--help"])
            #expect(help.status == 0)
            #expect(help.stdout.contains("--server") && help.stdout.contains("--token") && help.stdout.contains("--ca-file"))
        }

        /// A node on PostgreSQL whose database stops taking connections answers `/ready` with
        /// 503: `baton health` says not ready, with the node's reason, and ready again after.
        @Test func aNodeWhoseStoreIsGoneIsNotReady() async throws {
            guard let base = TestPostgres.url(for: "aNodeWhoseStoreIsGoneIsNotReady") else { return }
            guard let control = TestPostgres.control else {
                if TestPostgres.isCI { Issue.record("BATON_TEST_PG_CTL/PGDATA/PG_USER not set in CI") }
                return
            }
            // A database of its own, so that refusing its connections touches no other test.
            let database = TestPostgres.freshSchema(prefix: "health_")
            _ = try await MultiNodeTests.psql(control.pgCtl, url: base, "CREATE DATABASE \(database)")
            defer {
                Task { _ = try? await MultiNodeTests.psql(control.pgCtl, url: base, "DROP DATABASE IF EXISTS \(database) WITH (FORCE)") }
            }
            var components = try #require(URLComponents(string: base))
            components.path = "/\(database)"
            let store = try #require(components.string)
            let node = try BatonProcess(
                ["serve", "--store", store, "--port", "0"], environment: ["BATON_POSTGRES_CALL_TIMEOUT": "1"])
            defer { node.signal(SIGKILL) }
            let url = try await node.url(timeout: .seconds(60))
            #expect(await eventually(within: .seconds(30)) { (try? await baton(["health", "--server", url]))?.status == 0 })

            _ = try await MultiNodeTests.psql(
                control.pgCtl, url: base,
                "ALTER DATABASE \(database) ALLOW_CONNECTIONS false; SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '\(database)'"
            )
            let notReady = try await eventually("baton health to report the node not ready", within: .seconds(30)) {
                () async throws -> CommandResult? in
                let result = try await baton(["health", "--server", url])
                return result.status == 0 ? nil : result
            }
            #expect(notReady.status == 4, "\(notReady.stderr)")
            #expect(notReady.stdout.isEmpty)
            #expect(notReady.stderr == "not ready: \(url) (503: the store is not available)\n")
            #expect(node.isRunning, "the node stays up while its store is away")

            _ = try await MultiNodeTests.psql(control.pgCtl, url: base, "ALTER DATABASE \(database) ALLOW_CONNECTIONS true")
            #expect(await eventually(within: .seconds(30)) { (try? await baton(["health", "--server", url]))?.status == 0 })
        }
    }
}
