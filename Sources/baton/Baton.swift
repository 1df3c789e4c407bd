import ArgumentParser
import BatonCore

@main
struct Baton: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "baton",
        abstract: "Baton: a distributed task scheduler.",
        discussion: """
            Exit codes: 0 success; 1 a waited task ended failed or cancelled; 2 refused (e.g. cancel of a \
            finished task); 3 not found; 4 store or server unreachable; 5 the database is not a Baton \
            database; 6 the server is not a Baton node; 7 --wait gave up before the task finished; 64 usage \
            error or invalid input. `baton health` exits 4 when a node is not ready.
            """,
        version: BatonVersion.current,
        subcommands: [
            Standalone.self, Serve.self, Worker.self, Submit.self, Status.self, List.self, Cancel.self, Retry.self, WorkflowCommand.self,
            ScheduleCommand.self,
            QueueCommand.self, WorkersCommand.self, Watch.self, Health.self, Bench.self, Migrate.self,
        ],
        defaultSubcommand: Standalone.self
    )
}
