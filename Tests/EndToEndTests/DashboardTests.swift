import BatonClient
import BatonCore
import BatonTesting
import Foundation
import Testing

/// The dashboard (`GET /ui`) in a real browser: Debian's chromium driven by Playwright from
/// PyPI (Tests/Browser/dashboard.py), against a `baton standalone` process with tokens.
/// Skipped when chromium or the venv's Playwright is missing, unless `CI=true`, where that
/// fails the test (.ci/run installs both).
extension EndToEnd {
    @Suite(.serialized) struct DashboardTests {
        static let python = BuildVenv.python(importing: ["playwright"])
        static let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first { FileManager.default.isExecutableFile(atPath: $0) }
        static let onCI = ProcessInfo.processInfo.environment["CI"] == "true"
        static let script = BuildVenv.repositoryRoot.appendingPathComponent("Tests/Browser/dashboard.py").path

        @Test(
            .enabled(
                if: (python != nil && chromium != nil) || onCI,
                "needs chromium (apt-get install chromium) and Playwright in .build-venv (scripts/python-venv.sh); CI=true makes this a failure"
            ))
        func anOperatorSeesAndSteersTheWorkInABrowser() async throws {
            let python = try #require(Self.python, "Playwright in .build-venv is required when CI=true (scripts/python-venv.sh)")
            let chromium = try #require(Self.chromium, "chromium is required when CI=true (apt-get install chromium)")
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
                    Self.script, "--url", url.absoluteString.trimmingCharacters(in: CharacterSet(charactersIn: "/")),
                    "--producer-token", "ui-producer", "--admin-token", "ui-admin", "--chromium", chromium, "--tasks", tasks,
                    "--artifacts", dir.url.path,
                ], executable: python)
            let status = try await browser.waitForExit(timeout: .seconds(180))
            try await Task.sleep(for: .milliseconds(30))
            #expect(status == 0, "dashboard.py:\n\(browser.stdout)\n\(browser.stderr)")
            #expect(browser.stdout.contains("dashboard: ok"))

            // What the clicks did, through the API.
            #expect(try await producer.get(sleeping.id).state == .cancelled)
            #expect(try await producer.get(failed.id).maxAttempts == 2, "the operator's retry allows one more attempt")
            #expect(try await producer.queues().first { $0.name == "default" }?.paused == true)
            await #expect(throws: (any Error).self, "the operator deleted the finished task") { try await producer.get(html.id) }
        }
    }
}
