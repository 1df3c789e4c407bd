import BatonCore
import BatonSQLite
import BatonTesting
import Foundation
import Testing

/// Issue 7 end to end: schedules fired by a standalone node (declared in YAML and added with
/// the CLI), and cancelling a running task.
extension EndToEnd {
    @Suite(.serialized) struct SchedulingTests {
        @Test func everySecondScheduleFiresOneTaskPerTick() async throws {
            let dir = try TempDir()
            let db = dir.path("baton.db")
            let config = dir.path("baton.yaml")
            try """
            schedules:
              from-yaml:
                every: 1s
                misfire: catch-up
                task:
                  kind: noop
                  queue: yaml
            """.write(toFile: config, atomically: true, encoding: .utf8)
            let node = try BatonProcess(["standalone", "--db", db, "--port", "0", "--config", config])
            defer { Task { await node.stop() } }
            _ = try await node.url()

            let added = try await baton([
                "schedule", "add", "tick", "echo", "--every", "1s", "--misfire", "catch-up", "--args", #"{"a":1}"#, "--db", db,
            ])
            #expect(added.status == 0, "\(added.stderr)")
            let list = try await baton(["schedule", "list", "--db", db])
            #expect(list.stdout.contains("from-yaml") && list.stdout.contains("tick"), "\(list.stdout)")
            try await Task.sleep(for: .seconds(5))
            let paused = try await baton(["schedule", "pause", "tick", "--db", db])
            #expect(paused.status == 0, "\(paused.stderr)")

            let store = try await SQLiteTaskStore.open(SQLiteStoreConfiguration(path: db))
            defer { try? store.close() }
            for schedule in ["tick", "from-yaml"] {
                let tasks = try await store.taskList(TaskListParams(limit: 1000)).tasks.filter { $0.tags.contains("schedule:\(schedule)") }
                let ticks = tasks.compactMap { t in
                    t.tags.first { $0.hasPrefix("tick:") }.flatMap { BatonJSON.parseDate(String($0.dropFirst(5))) }
                }
                .sorted()
                #expect(ticks.count == tasks.count)
                #expect(Set(ticks).count == ticks.count, "\(schedule): a tick fired twice")
                #expect(ticks.count >= 4, "\(schedule): only \(ticks.count) ticks in ~5 s")
                // No tick missing between the first and the last: consecutive seconds (catch-up: a
                // firer's pass late by more than a tick on a loaded machine still fires each one).
                for (a, b) in zip(ticks, ticks.dropFirst()) {
                    #expect(b.timeIntervalSince(a) == 1, "\(schedule): gap between \(a) and \(b)")
                }
                if schedule == "tick" { #expect(tasks.allSatisfy { $0.kind == "echo" && $0.args.text == #"{"a":1}"# }) }
                if schedule == "from-yaml" { #expect(tasks.allSatisfy { $0.queue == "yaml" }) }
            }
            let show = try await baton(["schedule", "show", "tick", "--db", db])
            #expect(show.stdout.contains("paused:     yes"), "\(show.stdout)")
            #expect(show.stdout.components(separatedBy: "next:").count == 6, "five next fire times: \(show.stdout)")
        }

        /// A declared schedule whose ticks would submit a task of a `sqs.stringKinds` kind with
        /// arguments that are not strings stops the node at start, naming the schedule.
        @Test func aDeclaredScheduleWithNonStringArgsForAStringKindStopsTheNode() async throws {
            let dir = try TempDir()
            let config = dir.path("baton.yaml")
            try """
            schedules:
              nightly-export:
                every: 1h
                task:
                  kind: export
                  args: {"objectID": 7}
            """.write(toFile: config, atomically: true, encoding: .utf8)
            let refused = try await baton(
                ["serve", "--db", dir.path("baton.db"), "--port", "0", "--config", config, "--sqs-string-kinds", "export"],
                timeout: .seconds(30))
            #expect(refused.status != 0)
            #expect(
                refused.stderr.contains("schedule nightly-export in \(config)")
                    && refused.stderr.contains("kind export takes a flat JSON object of strings"), "\(refused.stderr)")
            #expect(!FileManager.default.fileExists(atPath: dir.path("baton.db")), "refused before the store was opened")
        }

        @Test func cancellingARunningSleepStopsItAndFreesTheSlot() async throws {
            let dir = try TempDir()
            let db = dir.path("baton.db")
            let node = try BatonProcess([
                "standalone", "--db", db, "--port", "0", "--lease", "0.6", "--concurrency", "1", "--log-level", "debug",
            ])
            defer { Task { await node.stop() } }
            _ = try await node.url()

            let submitted = try await baton(["submit", "sleep", "--args", #"{"seconds": 30}"#, "--db", db])
            let id = submitted.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            let store = try await SQLiteTaskStore.open(SQLiteStoreConfiguration(path: db))
            defer { try? store.close() }
            let taskID = try #require(TaskID(id), "\(submitted.stderr)")
            try await eventually("the sleep task to run", within: .seconds(10)) { () -> Bool? in
                try await store.taskGet(taskID)?.state == .running ? true : nil
            }
            let cancelled = try await baton(["cancel", id, "--db", db])
            #expect(cancelled.status == 0, "\(cancelled.stderr)")
            let start = ContinuousClock.now
            #expect(try await store.taskGet(taskID)?.state == .cancelled)
            // Heartbeats every 0.2 s report the cancel; the handler stops.
            try await eventually("the node to log that the handler stopped", within: .seconds(8)) { () -> Bool? in
                node.stderr.contains("task stopped") ? true : nil
            }
            // Long before the task's 30 s; the bound leaves room for a slow machine.
            #expect(ContinuousClock.now - start < .seconds(5), "stopped after \(ContinuousClock.now - start)")
            // The only worker slot is free again: an echo task runs and succeeds.
            let echo = try await baton(["submit", "echo", "--args", #"{"after":"cancel"}"#, "--db", db, "--wait", "--wait-timeout", "10"])
            #expect(echo.status == 0 && echo.stdout.hasPrefix("succeeded"), "\(echo.stdout) \(echo.stderr)")
            #expect(try await store.taskGet(taskID)?.state == .cancelled, "a late completion is refused")
        }
    }
}
