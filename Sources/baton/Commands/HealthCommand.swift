import ArgumentParser
import BatonClient
import BatonCore
import Foundation

/// `baton health`: whether a node is ready (`GET /ready`), as an exit code and one line per
/// node. The container image's HEALTHCHECK (docs/deploy.md).
struct Health: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check that a node is ready (it answers and its store answers): exit 0 if so, 4 if not.",
        discussion: """
            Asks GET /ready of the node at --server (BATON_SERVER, default \(TargetOptions.defaultServer)); of each \
            one, without failover, when several are given. Prints one line per node: `ready: URL` on stdout, or on \
            stderr `not ready: URL (503: reason)` or `cannot reach URL: reason`. Exits 0 only when every node is \
            ready; 4 when one is not ready or cannot be reached; 6 when what answered is not a Baton node. A \
            store (--store, --db) is refused and BATON_STORE ignored: the question is about a node.
            """)

    @Option(parsing: .unconditional, help: "Seconds each node gets to answer, the connection included.") var timeout: Double = 5
    @OptionGroup var target: TargetOptions

    func validate() throws {
        guard timeout.isFinite, timeout > 0 else { throw ValidationError("--timeout must be a positive number of seconds") }
    }

    func run() async throws {
        var worst = ExitStatus.success
        try await reportingErrors {
            let (client, servers) = try await target.nodeClient(for: "baton health")
            for server in servers {
                let url = BatonClient.displayURL(server)
                do {
                    switch try await client.readiness(of: server, timeout: .seconds(timeout)) {
                    case .ready:
                        print("ready: \(url)")
                    case .notReady(let status, let reason):
                        printError("not ready: \(url) (\(status): \(reason))")
                        worst = max(worst, ExitStatus.unreachable)
                    }
                } catch let error as BatonError where error.code == .unavailable {
                    printError(error.message)
                    worst = max(worst, ExitStatus.unreachable)
                } catch let error as NotABatonNode {
                    printError("\(error)")
                    worst = max(worst, ExitStatus.notABatonNode)
                }
            }
        }
        if worst != ExitStatus.success { throw ExitCode(worst) }
    }
}

extension TargetOptions {
    /// For commands that ask a node, never a store: a client with the token and CA file of
    /// the settings, and the nodes of `--server`/`BATON_SERVER` (else the default one).
    /// `--store`/`--db` are refused; `BATON_STORE` is ignored (a node's own container has it).
    func nodeClient(for command: String) async throws -> (BatonClient, [URL]) {
        if common.store != nil || common.db != nil {
            throw CLIError.usage("\(command) asks a node: give --server, not --store or --db")
        }
        let settings = try await common.settings([
            "server": server.isEmpty ? nil : server.joined(separator: ","),
            "token": token,
            "caFile": caFile,
        ])
        try LogSetup.bootstrap(try settings.logLevel(), default: .warning)
        let backend = try RemoteBackend(
            servers: settings.list("server") ?? [Self.defaultServer], token: settings.string("token"), caFile: settings.string("caFile"))
        return (backend.client, backend.client.servers)
    }
}
