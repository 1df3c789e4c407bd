import BatonClient
import BatonCore
import BatonPostgres
import BatonTesting
import Foundation
import PostgresNIO
import Testing

extension EndToEnd {
    /// `examples/seed000-export` end to end: freundallein/sqs-scheduler's export pipeline with
    /// its example worker written as a Baton handler, through moto (`scripts/with-moto.sh`) and
    /// PostgreSQL (`scripts/with-postgres.sh`). Without either the test prints why it is
    /// skipped (under `CI=true` it fails).
    @Suite(.serialized) struct SeedExportExampleTests {
        /// The example's binary, built next to `baton` (a target of the root package).
        static var examplePath: String {
            URL(fileURLWithPath: BatonBinary.path).deletingLastPathComponent().appendingPathComponent("seed000-export").path
        }

        static func count(_ sql: String, _ configuration: PostgresStoreConfiguration) async throws -> Int {
            let rows = try await TestPostgres.execute(sql, configuration)
            return Int(try #require(rows.first).decode(Int64.self))
        }

        /// `enqueue --count 100`: 100 random rows and 100 `submit:export` messages; a node on
        /// PostgreSQL ingests, dispatches and stores the results of two example workers: every
        /// task succeeds, every row is exported exactly once, with its payload; an object
        /// submitted again is not exported twice.
        @Test func everyRowIsExportedExactlyOnce() async throws {
            guard let endpoint = SQSPipelineTests.skipUnlessMoto(),
                let store = TestPostgres.storeURL(for: "everyRowIsExportedExactlyOnce"),
                let database = TestPostgres.url(for: "everyRowIsExportedExactlyOnce")
            else { return }
            let started = ContinuousClock.now
            let schema = TestPostgres.freshSchema(prefix: "export_")
            let tables = try #require(try TestPostgres.configuration(schema: schema))
            defer { Task { await TestPostgres.drop(tables) } }
            let sqs = try SQSPipelineTests.client(endpoint)
            let submit = try await SQSPipelineTests.queue(sqs, "export-submit")
            let work = try await SQSPipelineTests.queue(sqs, "export-work")
            let results = try await SQSPipelineTests.queue(sqs, "export-results")
            let environment = SQSPipelineTests.awsEnvironment

            let node = try BatonProcess(
                [
                    "serve", "--store", store, "--port", "0", "--sqs-endpoint", endpoint, "--sqs-ingest", submit, "--sqs-dispatch",
                    "default=\(work)", "--sqs-results", results, "--sqs-lease", "60",
                ], environment: environment)
            defer { Task { await node.stop() } }
            let client = BatonClient(servers: [try #require(URL(string: try await node.url(timeout: .seconds(60))))])
            let common = ["--database", database, "--schema", schema, "--sqs-endpoint", endpoint]
            let workers = try (0..<2).map { _ in
                try BatonProcess(
                    ["worker"] + common + ["--work", work, "--results", results, "--concurrency", "8"], environment: environment,
                    executable: Self.examplePath)
            }
            defer { for w in workers { Task { await w.stop() } } }

            let total = 100
            let enqueue = try BatonProcess(
                ["enqueue"] + common + ["--submit", submit, "--count", "\(total)"], environment: environment, executable: Self.examplePath)
            #expect(try await enqueue.waitForExit(timeout: .seconds(60)) == 0, "\(enqueue.stderr)")

            try await eventually("every export task to succeed", within: .seconds(120), every: .milliseconds(300)) { () -> Bool? in
                let queues = try await client.queues()
                return queues.first { $0.name == "default" }?.count(.succeeded) == total ? true : nil
            }
            let page = try await client.list(TaskListParams(kind: "export", limit: 1000))
            #expect(page.tasks.count == total && page.tasks.allSatisfy { $0.state == .succeeded }, "each message became one task")
            let objectIDs = try page.tasks.compactMap { try $0.args.parsed()["objectID"]?.stringValue }
            #expect(Set(objectIDs).count == total)
            for task in page.tasks {
                let result = try task.result?.parsed()
                #expect(result?["objectID"] == task.args.parsedOrNull["objectID"], "\(task.result?.text ?? "no result")")
                #expect(result?["outcome"] == "exported" || result?["outcome"] == "already-exported")
            }

            let objects = try await Self.count("SELECT count(*) FROM \"\(schema)\".t_object", tables)
            let exported = try await Self.count("SELECT count(*) FROM \"\(schema)\".t_exported_object", tables)
            let matching = try await Self.count(
                """
                SELECT count(*) FROM "\(schema)".t_object o JOIN "\(schema)".t_exported_object e
                ON e.object_id = o.id AND e.payload = o.payload
                """, tables)
            #expect(
                objects == total && exported == total && matching == total, "objects \(objects), exported \(exported), matching \(matching)"
            )
            let ids = try await TestPostgres.execute("SELECT id::text FROM \"\(schema)\".t_object", tables).map {
                try $0.decode(String.self)
            }
            #expect(Set(ids) == Set(objectIDs), "the tasks are the rows inserted")

            // The same object submitted again (as a retried submission or a task run twice
            // would): the task succeeds and the copy is not made a second time.
            let again = try #require(objectIDs.first)
            try await SQSPipelineTests.send(
                sqs, submit, [#"{"jsonrpc":"2.0","method":"submit:export","params":{"objectID":"\#(again)"}}"#])
            try await eventually("the repeated export to succeed", within: .seconds(60), every: .milliseconds(300)) { () -> Bool? in
                let queues = try await client.queues()
                return queues.first { $0.name == "default" }?.count(.succeeded) == total + 1 ? true : nil
            }
            let repeated = try await client.list(TaskListParams(kind: "export", limit: 1)).tasks.first
            #expect(try repeated?.result?.parsed()["outcome"] == "already-exported", "\(repeated?.result?.text ?? "no result")")
            #expect(try await Self.count("SELECT count(*) FROM \"\(schema)\".t_exported_object", tables) == total)
            for w in workers { #expect(w.isRunning, "\(w.stderr.suffix(2000))") }
            print("seed000-export: \(total) rows exported through moto in \(ContinuousClock.now - started) (incl. start-up)")
        }
    }
}

extension RawJSON {
    fileprivate var parsedOrNull: JSONValue { (try? parsed()) ?? .null }
}
