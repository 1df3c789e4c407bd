import BatonCore
import BatonSQLite
import BatonTesting
import Foundation
import Testing

/// The CLI's answers to bad input: a clear message, a documented exit code, nothing written.
extension EndToEnd {
    @Suite(.serialized) struct CLITests {
        @Test(arguments: [
            (["submit", "echo", "--args", "{bad"], "--args: not valid JSON"),
            (["submit", "echo", "{bad"], "arguments: not valid JSON"),
            (["submit", "echo", "{}", "--args", "{}"], "arguments given twice"),
            (["submit", "echo", "--priority", "11"], "priority must be between 1 and 10"),
            (["submit", "echo", "--delay=-1"], "delay must be a number of seconds from 0"),
            (["submit", "echo", "--delay", "-5"], "delay must be a number of seconds from 0"),
            (["submit", "echo", "--priority", "-1"], "priority must be between 1 and 10"),
            (["submit", ""], "kind must not be empty"),
            (["submit", "echo", "--queue", String(repeating: "q", count: 65)], "queue is 65 bytes long"),
            (["submit", "bad kind"], "may contain only"),
            (["submit", "echo", "--at", "tomorrow"], "is not an ISO 8601 time"),
            (["submit", "echo", "--retry", "sometimes"], "unknown retry policy"),
            (["status", "not-an-id"], "is not a task id"),
            (["list", "--state", "done"], "unknown state 'done'"),
            (["workers"], "keeps its workers in memory: ask it with --server URL"),
        ])
        func badInputIsAUsageErrorAndWritesNothing(_ arguments: [String], _ message: String) async throws {
            let dir = try TempDir()
            let db = dir.path("baton.db")
            let result = try await baton(arguments + ["--db", db])
            #expect(result.status == 64, "\(arguments): \(result.stderr)")
            #expect(result.stderr.contains(message), "\(result.stderr)")
            if FileManager.default.fileExists(atPath: db) {
                let store = try await SQLiteTaskStore.open(SQLiteStoreConfiguration(path: db))
                #expect(try await store.taskList(TaskListParams()).tasks.isEmpty)
            }
        }

        @Test func unknownTaskIsNotFound() async throws {
            let dir = try TempDir()
            let db = dir.path("baton.db")
            let id = TaskID.generate().description
            for command in ["status", "cancel", "retry"] {
                let result = try await baton([command, id, "--db", db])
                #expect(result.status == 3, "\(command): \(result.stderr)")
                #expect(result.stderr.contains("not found"))
            }
        }

        @Test func cancelAndRetryThroughTheCLI() async throws {
            let dir = try TempDir()
            let db = dir.path("baton.db")
            let id = try await baton(["submit", "later", "--delay", "3600", "--db", db]).stdout.trimmingCharacters(
                in: .whitespacesAndNewlines)
            let status = try await baton(["status", id, "--db", db, "--json"])
            #expect(try BatonJSON.decoder().decode(TaskRecord.self, from: Data(status.stdout.utf8)).state == .pending)

            let cancelled = try await baton(["cancel", id, "--db", db])
            #expect(cancelled.status == 0 && cancelled.stdout == "\(id) cancelled\n")
            let again = try await baton(["cancel", id, "--db", db])
            #expect(again.status == 2, "cancel of a finished task is refused")
            #expect(again.stderr.contains("cancelled"))

            let retried = try await baton(["retry", id, "--db", db])
            #expect(retried.status == 0 && retried.stdout == "\(id) ready\n")
            let refused = try await baton(["retry", id, "--db", db])
            #expect(refused.status == 2, "retry of a task that is not finished is refused")
        }

        @Test func unreadableDatabasePathIsUnreachable() async throws {
            let result = try await baton(["list", "--db", "/nonexistent-dir-\(UUID().uuidString)/baton.db"])
            #expect(result.status == 4, "\(result.stderr)")
            #expect(result.stderr.contains("cannot open"))
        }

        @Test func garbageFileIsRefusedAndLeftUnchanged() async throws {
            let dir = try TempDir()
            let path = dir.path("notes.db")
            let bytes = Data(String(repeating: "not a database, just my notes\n", count: 200).utf8)
            try bytes.write(to: URL(fileURLWithPath: path))
            let result = try await baton(["submit", "echo", "--db", path])
            #expect(result.status == 5, "\(result.stderr)")
            #expect(result.stderr.contains(path))
            #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == bytes)
        }

        @Test func foreignSQLiteDatabaseIsRefusedAndLeftUnchanged() async throws {
            let dir = try TempDir()
            let path = dir.path("app.db")
            let python = Process()
            python.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            python.arguments = [
                "python3", "-c",
                "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute('create table users(id integer primary key, name text)'); c.execute(\"insert into users(name) values ('ada')\"); c.commit()",
                path,
            ]
            try python.run()
            python.waitUntilExit()
            #expect(python.terminationStatus == 0)
            let before = try Data(contentsOf: URL(fileURLWithPath: path))
            let result = try await baton(["standalone", "--db", path, "--port", "0"])
            #expect(result.status == 5, "\(result.stderr)")
            #expect(result.stderr.contains("not a Baton database"))
            #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before)
        }

        @Test func conflictingStoreFlagsAreAUsageError() async throws {
            let result = try await baton(["list", "--db", "a.db", "--store", "sqlite:b.db"])
            #expect(result.status == 64)
            #expect(result.stderr.contains("not both"))
        }

        @Test func configFileAndEnvironmentPrecedence() async throws {
            let dir = try TempDir()
            let fileDB = dir.path("from-file.db")
            let envDB = dir.path("from-env.db")
            let flagDB = dir.path("from-flag.db")
            let config = dir.path("baton.yaml")
            try "store: sqlite:\(fileDB)\n".write(toFile: config, atomically: true, encoding: .utf8)

            _ = try await baton(["submit", "echo", "--config", config])
            #expect(FileManager.default.fileExists(atPath: fileDB), "the YAML file names the store")
            _ = try await baton(["submit", "echo", "--config", config], environment: ["BATON_STORE": "sqlite:\(envDB)"])
            #expect(FileManager.default.fileExists(atPath: envDB), "BATON_STORE wins over the file")
            _ = try await baton(["submit", "echo", "--config", config, "--db", flagDB], environment: ["BATON_STORE": "sqlite:\(envDB)"])
            #expect(FileManager.default.fileExists(atPath: flagDB), "the flag wins over the environment")

            var counts: [Int] = []
            for path in [fileDB, envDB, flagDB] {
                counts.append(try await SQLiteTaskStore.open(SQLiteStoreConfiguration(path: path)).taskList(TaskListParams()).tasks.count)
            }
            #expect(counts == [1, 1, 1])
        }
    }
}
