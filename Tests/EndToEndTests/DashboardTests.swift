import BatonClient
import BatonCore
import BatonTesting
import Foundation
import Testing

/// The dashboard (`GET /ui`) in a real browser: Debian's chromium driven by Playwright from
/// PyPI (Tests/Browser/dashboard.py against a `baton standalone` process with tokens,
/// Tests/Browser/dashboard_cluster.py against two `baton serve` nodes on PostgreSQL).
/// Skipped when chromium or the venv's Playwright is missing, unless `CI=true`, where that
/// fails the test (.ci/run installs both).
extension EndToEnd {
    /// What the browser tests need: the venv's Python with Playwright, and chromium.
    enum BrowserTools {
        static let python = BuildVenv.python(importing: ["playwright"])
        static let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first { FileManager.default.isExecutableFile(atPath: $0) }
        static let onCI = ProcessInfo.processInfo.environment["CI"] == "true"
        static let script = BuildVenv.repositoryRoot.appendingPathComponent("Tests/Browser/dashboard.py").path
        static let clusterScript = BuildVenv.repositoryRoot.appendingPathComponent("Tests/Browser/dashboard_cluster.py").path

        /// The venv's Python with Playwright, and chromium (required when `CI=true`).
        static func browser() throws -> (python: String, chromium: String) {
            let python = try #require(Self.python, "Playwright in .build-venv is required when CI=true (scripts/python-venv.sh)")
            let chromium = try #require(Self.chromium, "chromium is required when CI=true (apt-get install chromium)")
            return (python, chromium)
        }
    }

    @Suite(
        .serialized,
        .enabled(
            if: (BrowserTools.python != nil && BrowserTools.chromium != nil) || BrowserTools.onCI,
            "needs chromium (apt-get install chromium) and Playwright in .build-venv (scripts/python-venv.sh); CI=true makes this a failure"
        )
    )
    struct DashboardTests {
        @Test func anOperatorSeesAndSteersTheWorkInABrowser() async throws {
            let (python, chromium) = try BrowserTools.browser()
            let dir = try TempDir()
            let node = try BatonProcess(
                ["standalone", "--db", dir.path("baton.db"), "--port", "0", "--retry", "none"],
                environment: ["BATON_AUTH_TOKENS": "admin:ui-admin,producer:ui-producer,worker:ui-worker"])
            defer { Task { await node.stop() } }
            let url = try #require(URL(string: try await node.url()))
            let producer = BatonClient(servers: [url], token: "ui-producer")
            let admin = BatonClient(servers: [url], token: "ui-admin")

            // Known work: three successes, one failure, a long task reporting progress, a task
            // whose arguments hold markup, a chain of two, and a schedule.
            let echoes = try await producer.submit((1...3).map { NewTask(kind: "echo", args: try! RawJSON(validating: #"{"n": \#($0)}"#)) })
            let failed = try await producer.submit(NewTask(kind: "fail", args: RawJSON.emptyObject, maxAttempts: 1))
            let html = try await producer.submit(
                NewTask(kind: "noop", args: try RawJSON(validating: #"{"note": "<img src=x onerror=\"window.__xss=1\">"}"#)))
            let sleeping = try await producer.submit(NewTask(kind: "sleep", args: try RawJSON(validating: #"{"seconds": 120}"#)))
            let chain = try await producer.submitWorkflow(
                .chain([
                    .task(NewTask(kind: "echo", args: RawJSON(trusted: "1")), name: "extract"),
                    .task(NewTask(kind: "echo", args: RawJSON(trusted: "2")), name: "load"),
                ]))
            _ = try await admin.scheduleUpsert(ScheduleDefinition(name: "nightly", cron: "0 3 * * *", task: NewTask(kind: "noop")))
            for task in echoes + [failed, html] { _ = try await producer.wait(task.id, timeout: .seconds(10)) }
            #expect(try await producer.waitWorkflow(chain.id, timeout: .seconds(10)).state == .succeeded)
            try await eventually("the sleeping task to run and the counts to include every task", within: .seconds(15)) {
                let counts = try await producer.queues().first { $0.name == "default" }?.counts ?? [:]
                return counts["running"] == 1 && counts["succeeded"] == 6 && counts["failed"] == 1 ? true : nil
            }
            let tasks =
                #"{"failed": "\#(failed.id)", "sleeping": "\#(sleeping.id)", "html": "\#(html.id)", "member": "\#(chain.nodes[1].id)"}"#
            let browser = try BatonProcess(
                [
                    BrowserTools.script, "--url", url.absoluteString.trimmingCharacters(in: CharacterSet(charactersIn: "/")),
                    "--producer-token", "ui-producer", "--admin-token", "ui-admin", "--chromium", chromium, "--tasks", tasks,
                    "--artifacts", dir.url.path,
                ], executable: python)
            let status = try await browser.waitForExit(timeout: .seconds(180))
            #expect(status == 0, "dashboard.py:\n\(browser.stdout)\n\(browser.stderr)")
            #expect(browser.stdout.contains("dashboard: ok"))

            // What the clicks did, through the API.
            #expect(try await producer.get(sleeping.id).state == .cancelled)
            #expect(try await producer.get(failed.id).maxAttempts == 2, "the operator's retry allows one more attempt")
            #expect(try await producer.queues().first { $0.name == "default" }?.paused == true)
            await #expect(throws: (any Error).self, "the operator deleted the finished task") { try await producer.get(html.id) }
        }

        /// The dashboard of one node of a PostgreSQL cluster (Tests/Browser/dashboard_cluster.py):
        /// node A serves the page, every task goes through node B and runs on a `baton worker`
        /// that knows only B. A's page shows B's work, worker, live events and progress, and its
        /// cancel and pause reach the task on B's worker and the queue B dispatches.
        @Test func theDashboardOfOneNodeShowsAndSteersTheCluster() async throws {
            let (python, chromium) = try BrowserTools.browser()
            guard let store = TestPostgres.storeURL(for: "theDashboardOfOneNodeShowsAndSteersTheCluster") else { return }
            let dir = try TempDir()
            let nodes = try await MultiNodeTests.startNodes(2, store: store, extra: ["--counts-interval", "1"])
            defer { for n in nodes { n.process.signal(SIGKILL) } }
            let (a, b) = (nodes[0], nodes[1])
            let worker = try BatonProcess(["worker", "--server", b.url, "--id", "fleet-b", "--concurrency", "8"])
            defer { Task { await worker.stop() } }

            let echoes = try await b.client.submit((1...3).map { NewTask(kind: "echo", args: try! RawJSON(validating: #"{"n": \#($0)}"#)) })
            for task in echoes { #expect(try await b.client.wait(task.id, timeout: .seconds(20)).state == .succeeded) }
            let sleeping = try await b.client.submit(NewTask(kind: "sleep", args: try RawJSON(validating: #"{"seconds": 120}"#)))
            try await eventually("the sleeping task to run on B's worker", within: .seconds(15)) { () -> Bool? in
                try await b.client.get(sleeping.id).leaseOwner == "fleet-b" ? true : nil
            }
            let browser = try BatonProcess(
                [
                    BrowserTools.clusterScript, "--url", a.url, "--other", b.url, "--chromium", chromium, "--sleeping",
                    sleeping.id.description,
                    "--worker", "fleet-b", "--artifacts", dir.url.path,
                ], executable: python)
            let status = try await browser.waitForExit(timeout: .seconds(180))
            #expect(status == 0, "dashboard_cluster.py:\n\(browser.stdout)\n\(browser.stderr)")
            #expect(browser.stdout.contains("dashboard-cluster: ok"))

            // What the clicks on A did, through B.
            #expect(try await b.client.get(sleeping.id).state == .cancelled)
            #expect(try await b.client.queues().first { $0.name == "default" }?.paused == false)
            let waited = try #require(
                browser.stdout.split(separator: "\n").first { $0.hasPrefix("waited: ") }.flatMap { TaskID(String($0.dropFirst(8))) })
            let ran = try await b.client.get(waited)
            #expect(ran.state == .succeeded && ran.attempt == 1, "\(ran)")
        }
    }
}
