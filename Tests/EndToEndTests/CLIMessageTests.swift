import BatonCore
import BatonTesting
import Foundation
import Testing

/// What the CLI says when the node is not there, is not a Baton node, speaks another protocol,
/// or is there but no worker serves the task: one clear line and a documented exit code.
extension EndToEnd {
    @Suite(.serialized) struct CLIMessageTests {
        @Test func aRefusedConnectionSaysSo() async throws {
            let result = try await baton(["list", "--server", "http://127.0.0.1:9"])
            #expect(result.status == 4, "\(result.stderr)")
            #expect(result.stderr == "error: no Baton server could be reached: http://127.0.0.1:9: connection refused\n")
        }

        @Test func anotherHTTPServerIsNotABatonNode() async throws {
            let root = try TempDir()
            let server = try BatonProcess(
                ["-u", "-m", "http.server", "0", "--bind", "127.0.0.1"], directory: root.url, executable: "/usr/bin/python3")
            defer { server.signal(SIGKILL) }
            // "Serving HTTP on 127.0.0.1 port 41234 (http://127.0.0.1:41234/) ..."
            let port = try await eventually("python3 -m http.server's port") {
                server.stdout.split(separator: " ").drop(while: { $0 != "port" }).dropFirst().first.map(String.init)
            }
            let url = "http://127.0.0.1:\(port)"
            for arguments in [["submit", "echo"], ["status", TaskID.generate().description], ["list"]] {
                let result = try await baton(arguments + ["--server", url])
                #expect(result.status == 6, "\(arguments): \(result.stderr)")
                #expect(result.stderr.hasPrefix("error: \(url) is not a Baton node: it answered "), "\(result.stderr)")
                #expect(!result.stderr.contains("<"), "the page is not dumped: \(result.stderr)")
            }
        }

        @Test func httpsToAPlainHTTPNodeNamesTheCause() async throws {
            let dir = try TempDir()
            let node = try BatonProcess(["serve", "--db", dir.path("baton.db"), "--port", "0"])
            defer { node.signal(SIGKILL) }
            let url = try await node.url()
            let result = try await baton(["list", "--server", url.replacingOccurrences(of: "http://", with: "https://")])
            #expect(result.status == 4, "\(result.stderr)")
            #expect(result.stderr.contains("the server does not speak TLS (a plain-HTTP node? use http://)"), "\(result.stderr)")
            #expect(!result.stderr.contains(".build"), "no path of the TLS library's sources: \(result.stderr)")
        }

        @Test func noWorkerForTheKindIsWarnedAndAGivenUpWaitHasItsCode() async throws {
            let dir = try TempDir()
            let node = try BatonProcess(["standalone", "--db", dir.path("baton.db"), "--port", "0"])
            defer { node.signal(SIGKILL) }
            let url = try await node.url()
            #expect(await eventually(within: .seconds(20)) { (try? await baton(["list", "--server", url]))?.status == 0 })
            // The in-process workers serve `echo` on `default`: no warning.
            let served = try await baton(["submit", "echo", "--args", #"{"a":1}"#, "--wait", "--server", url])
            #expect(served.status == 0, "\(served.stderr)")
            #expect(served.stderr.isEmpty, "\(served.stderr)")
            // The arguments may also follow the kind.
            let positional = try await baton(["submit", "echo", #"{"b":2}"#, "--wait", "--server", url])
            #expect(positional.status == 0 && positional.stdout == "succeeded\n{\"b\":2}\n", "\(positional.stdout) \(positional.stderr)")

            let misspelt = try await baton(["submit", "emial.send", "--wait", "--wait-timeout", "1", "--server", url])
            #expect(misspelt.status == 7, "\(misspelt.stderr)")
            #expect(misspelt.stdout == "ready\n")
            #expect(misspelt.stderr.contains("warning: no worker the node heard from recently serves kind 'emial.send' on queue 'default'"))
            #expect(misspelt.stderr.contains("error: --wait gave up after 1 s with the task ready"), "\(misspelt.stderr)")

            let otherQueue = try await baton(["submit", "echo", "--queue", "nobody", "--server", url])
            #expect(otherQueue.status == 0)
            #expect(otherQueue.stderr.contains("serves kind 'echo' on queue 'nobody'"), "\(otherQueue.stderr)")
        }

        @Test func aDuplicateUniqueKeySaysItIsADuplicate() async throws {
            let dir = try TempDir()
            let db = dir.path("baton.db")
            let first = try await baton(["submit", "report", "--unique-key", "daily", "--delay", "3600", "--db", db])
            #expect(first.status == 0 && first.stderr.isEmpty, "\(first.stderr)")
            let second = try await baton(["submit", "report", "--unique-key", "daily", "--delay", "3600", "--db", db])
            #expect(second.status == 0)
            #expect(second.stdout == first.stdout, "the existing task's id")
            #expect(second.stderr.contains("duplicate of an active task with unique key 'daily'"), "\(second.stderr)")
            let json = try await baton(["submit", "report", "--unique-key", "daily", "--delay", "3600", "--db", db, "--json"])
            let object = try JSONDecoder().decode(JSONValue.self, from: Data(json.stdout.utf8))
            guard case .object(let fields) = object else {
                Issue.record("not an object: \(json.stdout)")
                return
            }
            #expect(fields["duplicate"] == .bool(true))
            #expect(fields["id"] == .string(first.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
        }
    }
}

extension EndToEnd.CLIMessageTests {
    /// `list` and `submit` on PostgreSQL only read or submit: they neither migrate nor elect
    /// a leader, and fail fast (the connect timeout) when the database is down.
    @Test func aCommandOnADownDatabaseFailsFastWithoutMigrating() async throws {
        let started = ContinuousClock.now
        let result = try await baton(["list", "--store", "postgres://baton@127.0.0.1:9/baton"])
        #expect(result.status == 4, "\(result.stderr)")
        #expect(result.stderr.contains("connection refused"), "\(result.stderr)")
        #expect(!result.stderr.contains("migrat"), "\(result.stderr)")
        #expect(ContinuousClock.now - started < .seconds(15))
    }

    @Test func aCommandOnAnUnmigratedSchemaSaysToMigrate() async throws {
        guard let store = TestPostgres.storeURL(for: "aCommandOnAnUnmigratedSchemaSaysToMigrate") else { return }
        for arguments in [["list"], ["submit", "echo"]] {
            let result = try await baton(arguments + ["--store", store])
            #expect(result.status == 5, "\(arguments): \(result.stderr)")
            #expect(result.stderr.contains("run `baton migrate`"), "\(result.stderr)")
        }
        // Nothing was migrated by them: `baton migrate` does it, then they work.
        let migrated = try await baton(["migrate", "--store", store])
        #expect(migrated.status == 0, "\(migrated.stderr)")
        let submitted = try await baton(["submit", "echo", "--store", store])
        #expect(submitted.status == 0, "\(submitted.stderr)")
        let listed = try await baton(["list", "--store", store])
        #expect(listed.status == 0 && listed.stdout.contains("echo"), "\(listed.stdout)")
    }
}

extension EndToEnd.CLIMessageTests {
    /// The node's log names its database at startup, and says when a task failed for good.
    @Test func theLogNamesTheDatabaseAndTheEndOfATask() async throws {
        let dir = try TempDir()
        let db = dir.path("baton.db")
        let node = try BatonProcess(["standalone", "--db", db, "--port", "0"])
        defer { node.signal(SIGKILL) }
        let url = try await node.url()
        #expect(node.stderr.contains("msg=\"store opened\""), "\(node.stderr)")
        #expect(node.stderr.contains("store=sqlite:\(URL(fileURLWithPath: db).standardizedFileURL.path)"), "\(node.stderr)")

        let failed = try await baton([
            "submit", "fail", "--args", #"{"message":"boom"}"#, "--max-attempts", "2", "--retry", "fixed",
            "--backoff", "0.05", "--wait", "--server", url,
        ])
        #expect(failed.status == 1, "\(failed.stderr)")
        #expect(await eventually { node.stderr.contains("task failed for good") })
        let lines = node.stderr.split(separator: "\n")
        #expect(lines.filter { $0.contains("will be retried") }.count == 1, "the first attempt: \(node.stderr)")
        let last = try #require(lines.first { $0.contains("task failed for good") })
        #expect(last.contains("no attempts left (2 of 2)") && last.contains("level=error"), "\(last)")
        #expect(!last.contains("retry_after"))
    }
}
