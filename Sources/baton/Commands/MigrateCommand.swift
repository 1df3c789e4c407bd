import ArgumentParser
import BatonCore
import BatonPostgres
import Logging

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Apply the store's migrations and exit (nodes also apply them when they start).",
        discussion: "Safe while other nodes run or start: PostgreSQL migrations take an advisory lock."
    )

    @OptionGroup var common: CommonOptions

    func run() async throws {
        try await reportingErrors {
            let settings = try await common.settings()
            try LogSetup.bootstrap(try settings.logLevel(), default: .warning)
            switch try StoreLocation.location(settings, fallback: nil) {
            case .postgres(let url):
                let config = try StoreLocation.postgresConfiguration(url, settings)
                try await PostgresTaskStore.withStore(config, logger: Logger(label: "baton.migrate")) { _ in }
            case .sqlite:
                // Opening a SQLite store applies its migrations.
                _ = try await StoreLocation.open(settings, fallback: nil)
            }
            print("migrated")
        }
    }
}
