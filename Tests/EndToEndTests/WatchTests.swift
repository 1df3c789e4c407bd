import BatonClient
import BatonCore
import BatonTesting
import Foundation
import Testing

extension EndToEnd {
    /// `baton watch` as a separate process against a real node: it prints the events of work
    /// submitted meanwhile, filtered, and ends at its `--timeout`.
    @Suite(.serialized) struct WatchTests {
        @Test func watchPrintsATasksLifeAndHonoursItsFilter() async throws {
            let dir = try TempDir()
            let node = try BatonProcess(["standalone", "--db", dir.path("baton.db"), "--port", "0", "--queues", "default,mail"])
            defer { Task { await node.stop() } }
            let url = try await node.url()
            let all = try BatonProcess(["watch", "--server", url, "--timeout", "12", "--json"])
            let mail = try BatonProcess(["watch", "--server", url, "--timeout", "12", "--queue", "mail"])
            defer {
                Task {
                    await all.stop()
                    await mail.stop()
                }
            }
            let client = BatonClient(servers: [URL(string: url)!])
            // Both watchers are streaming once each printed an event of a probe submitted since.
            try await eventually("both watchers streaming", within: .seconds(10), every: .milliseconds(300)) { () -> Bool? in
                let probe = try await client.submit(NewTask(kind: "noop", queue: "mail")).id.description
                try await Task.sleep(for: .milliseconds(200))
                return all.stdout.contains(probe) && mail.stdout.contains(probe) ? true : nil
            }
            let task = try await client.submit(NewTask(kind: "echo", args: try RawJSON(validating: "[1]")))
            let mailTask = try await client.submit(NewTask(kind: "echo", queue: "mail"))
            #expect(try await client.wait(task.id, timeout: .seconds(10)).state == .succeeded)
            #expect(try await client.wait(mailTask.id, timeout: .seconds(10)).state == .succeeded)
            #expect(try await all.waitForExit(timeout: .seconds(20)) == 0, "\(all.stderr)")
            #expect(try await mail.waitForExit(timeout: .seconds(20)) == 0, "\(mail.stderr)")

            let lines = all.stdout.split(separator: "\n").compactMap {
                try? JSONDecoder().decode(JSONValue.self, from: Data($0.utf8))
            }
            let mine = lines.filter { $0["data"]?["task"]?.stringValue == task.id.description }
            // A worker may take the task before the submit's own `enqueued` is emitted (docs/api.md#events).
            #expect(
                mine.compactMap { $0["type"]?.stringValue }.sorted() == ["claimed", "enqueued", "transitioned"], "\(all.stdout)")
            #expect(mine.map { $0["type"]?.stringValue }.filter { $0 != "enqueued" } == ["claimed", "transitioned"])
            #expect(mine.last?["data"]?["to"]?.stringValue == "succeeded")
            #expect(mine.allSatisfy { $0["id"]?.stringValue?.contains("-") == true })

            // The human form, filtered to the mail queue.
            let mailLines = mail.stdout.split(separator: "\n").map(String.init)
            #expect(mailLines.contains { $0.contains("enqueued") && $0.contains(mailTask.id.description) }, "\(mail.stdout)")
            #expect(mailLines.contains { $0.contains("running→succeeded") && $0.contains(mailTask.id.description) })
            #expect(!mail.stdout.contains(task.id.description))
        }

        @Test func watchWithoutANodeIsAUsageError() async throws {
            let dir = try TempDir()
            let result = try await baton(["watch", "--db", dir.path("baton.db"), "--timeout", "1"])
            #expect(result.status != 0)
            #expect(result.stderr.contains("--server"), "\(result.stderr)")
        }
    }
}
