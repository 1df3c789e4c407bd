import ArgumentParser
import BatonCore
import BatonNode
import Foundation

/// `baton workers`: the workers seen recently, as `GET /v1/workers` lists them (on PostgreSQL,
/// the whole cluster's; read from the store directly when given `--store`).
struct WorkersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "workers",
        abstract: "List the workers seen in the last 5 minutes (on PostgreSQL, by any node of the cluster).")
    @OptionGroup var target: TargetOptions
    @OptionGroup var output: OutputOptions

    func run() async throws {
        try await reportingErrors {
            let workers: [WorkerInfo]
            switch try await AdminTarget.resolve(target) {
            case .remote(let client):
                workers = try await client.workers()
            case .local(let store):
                guard let directory = store as? any WorkerDirectory else {
                    throw CLIError.usage("a node on SQLite keeps its workers in memory: ask it with --server URL")
                }
                let since = Date().addingTimeInterval(-WorkerRegistry.defaultForgetAfter.seconds)
                workers = try await directory.workersSeen(since: since)
            }
            if output.json {
                print(Output.jsonLine(WorkerList(workers: workers)))
                return
            }
            let now = Date()
            var table = [["WORKER", "TRANSPORT", "QUEUES", "KINDS", "RUNNING", "CONCURRENCY", "LAST SEEN"]]
            for w in workers {
                let ago = max(0, Int(now.timeIntervalSince(w.lastSeen).rounded()))
                table.append([
                    w.worker, w.transport, w.queues.joined(separator: ","),
                    w.kinds.isEmpty ? "any" : w.kinds.map(\.name).joined(separator: ","), String(w.running),
                    String(w.concurrency), "\(ago)s ago",
                ])
            }
            print(formatColumns(table))
        }
    }
}
