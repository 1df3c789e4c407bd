// seed000-export: the example worker of freundallein/sqs-scheduler — it "exports sql database
// records from `t_object` to `t_exported_object`" — as a Baton handler, with that system's
// `make test` (insert random objects, enqueue an `export` task for each into SQS).
//
//   seed000-export setup   --database URL [--schema S]
//   seed000-export enqueue --database URL [--schema S] --submit QUEUE [--count N]
//   seed000-export worker  --database URL [--schema S] --work QUEUE --results QUEUE [--concurrency C] [--lease SECONDS]
//
// QUEUE is any form Baton takes (`sqs://NAME`, a queue URL); `--sqs-endpoint URL` points at a
// local SQS (moto); credentials and region come from the environment (AWS_ACCESS_KEY_ID, …).
// A Baton node does the rest: it ingests the submissions queue, dispatches the tasks to the
// work queue, and stores the results (README.md).

import BatonCore
import BatonSQS
import BatonSQSBroker
import BatonWorker
import Foundation
import Logging
import PostgresNIO
import ServiceLifecycle

/// The command line: a command, then `--name value` options.
struct Options {
    var command: String
    var values: [String: String]

    static let usage = """
        usage: seed000-export setup|enqueue|worker --database postgres://USER:PASSWORD@HOST:PORT/DB [--schema S]
                 enqueue: --submit QUEUE [--count N]
                 worker:  --work QUEUE --results QUEUE [--concurrency C] [--lease SECONDS]
                 SQS:     [--sqs-endpoint URL] (region and credentials from the environment)
        """

    init(_ arguments: [String]) throws {
        guard let command = arguments.first, ["setup", "enqueue", "worker"].contains(command) else {
            throw ExampleError("expected a command: setup, enqueue or worker\n\(Self.usage)")
        }
        self.command = command
        values = [:]
        var rest = arguments.dropFirst()
        while let name = rest.popFirst() {
            guard name.hasPrefix("--"), let value = rest.popFirst() else { throw ExampleError("'\(name)' needs a value\n\(Self.usage)") }
            values[String(name.dropFirst(2))] = value
        }
    }

    func required(_ name: String) throws -> String {
        guard let value = values[name], !value.isEmpty else { throw ExampleError("--\(name) is required for \(command)\n\(Self.usage)") }
        return value
    }

    func int(_ name: String, default value: Int, in range: ClosedRange<Int>) throws -> Int {
        guard let text = values[name] else { return value }
        guard let n = Int(text), range.contains(n) else {
            throw ExampleError("--\(name) must be an integer from \(range.lowerBound) to \(range.upperBound), got '\(text)'")
        }
        return n
    }

    var schema: String {
        get throws {
            let schema = values["schema"] ?? "public"
            guard !schema.isEmpty,
                schema.unicodeScalars.allSatisfy({ $0.isASCII && (CharacterSet.alphanumerics.contains($0) || $0 == "_") })
            else { throw ExampleError("--schema must be letters, digits and underscores, got '\(schema)'") }
            return schema
        }
    }

    /// The PostgreSQL client of `--database` (plain TCP: a local server).
    func postgres(_ logger: Logger) throws -> PostgresClient {
        let text = try required("database")
        guard let url = URLComponents(string: text), ["postgres", "postgresql"].contains(url.scheme ?? ""), let host = url.host,
            let user = url.user
        else { throw ExampleError("--database must be postgres://USER:PASSWORD@HOST:PORT/DATABASE, got '\(text)'") }
        let database = String(url.path.dropFirst())
        let configuration = PostgresClient.Configuration(
            host: host, port: url.port ?? 5432, username: user.removingPercentEncoding ?? user,
            password: url.password?.removingPercentEncoding, database: database.isEmpty ? nil : database, tls: .disable)
        return PostgresClient(configuration: configuration, backgroundLogger: logger)
    }

    /// The SQS queue named by option `name`, with `--sqs-endpoint` when given.
    func queue(_ name: String, _ logger: Logger) throws -> SQSQueue {
        let address = try SQSQueueAddress(try required(name))
        var configuration = SQSClientConfiguration()
        if let endpoint = values["sqs-endpoint"] {
            guard let url = URL(string: endpoint) else { throw ExampleError("--sqs-endpoint is not a URL: '\(endpoint)'") }
            configuration.endpoint = url
        }
        return try SQSQueue(address, configuration: configuration, logger: logger)
    }
}

struct ExampleError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Runs `body` while `client` runs (started first: PostgresNIO warns of a query made before).
func withPostgres<T: Sendable>(_ client: PostgresClient, _ body: @Sendable () async throws -> T) async throws -> T {
    let (started, signal) = AsyncStream<Void>.makeStream()
    return try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask {
            signal.finish()
            await client.run()
            return nil
        }
        defer { group.cancelAll() }
        for await _ in started {}
        return try await body()
    }
}

LogfmtLogHandler.bootstrap(level: .info)
let logger = Logger(label: "seed000-export")
do {
    let options = try Options(Array(CommandLine.arguments.dropFirst()))
    let client = try options.postgres(logger)
    let tables = ExportTables(client: client, schema: try options.schema)
    switch options.command {
    case "setup":
        try await withPostgres(client) { try await tables.create() }
        print("tables \(tables.objects) and \(tables.exported) are ready")

    case "enqueue":
        // freundallein/sqs-scheduler's `make test`: random objects, and a `submit:export`
        // notification for each in the submissions queue.
        let count = try options.int("count", default: 100, in: 1...100_000)
        let submit = try options.queue("submit", logger)
        let ids = try await withPostgres(client) {
            try await tables.create()
            return try await tables.insertRandom(count)
        }
        let url = try await submit.queueURL()
        for start in stride(from: 0, to: ids.count, by: 10) {
            let entries = ids[start..<min(start + 10, ids.count)].enumerated().map { n, id in
                SQS.SendMessageBatchEntry(
                    id: "m\(n)", messageBody: #"{"jsonrpc":"2.0","method":"submit:export","params":{"objectID":"\#(id)"}}"#)
            }
            let sent = try await submit.client.sendMessageBatch(.init(queueURL: url, entries: entries))
            guard sent.failed.isEmpty else { throw ExampleError("SQS refused \(sent.failed.count) messages: \(sent.failed)") }
        }
        print("inserted \(ids.count) objects into \(tables.objects) and enqueued \(ids.count) export tasks")

    case "worker":
        let registry = HandlerRegistry()
        registry.registerExport(tables)
        let lease = try options.int("lease", default: 30, in: 1...43_200)
        let source = SQSTaskSource(work: try options.queue("work", logger), results: try options.queue("results", logger), logger: logger)
        let runtime = WorkerRuntime(
            source: source, registry: registry,
            configuration: WorkerConfiguration(
                kinds: ["export"], concurrency: try options.int("concurrency", default: 8, in: 1...1000), lease: .seconds(lease)),
            logger: logger)
        try await withPostgres(client) {
            try await tables.create()
            logger.info("worker started", metadata: ["tables": "\(tables.objects), \(tables.exported)"])
            let group = ServiceGroup(services: [runtime], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
            try await group.run()
        }

    default:
        throw ExampleError(Options.usage)
    }
} catch {
    // PostgresNIO's errors say what the server answered only when reflected.
    let text = error is PSQLError ? String(reflecting: error) : "\(error)"
    FileHandle.standardError.write(Data("seed000-export: \(text)\n".utf8))
    exit(1)
}
