import BatonCore
import BatonPostgres
import BatonSQLite
import Foundation
import Logging
import ServiceLifecycle

/// The CLI's side of a store location (`--store`/`BATON_STORE`, parsed by BatonCore's
/// `StoreLocation`): the default, and opening the store for a node or a brief command.
extension StoreLocation {
    static let standaloneDefault = StoreLocation.sqlite(path: "baton.db")

    /// Parses `--store`/`BATON_STORE`; a bad URL is a usage error.
    static func parse(_ text: String) throws(CLIError) -> StoreLocation {
        do throws(BatonError) { return try StoreLocation(text) } catch { throw CLIError(error) }
    }

    /// A store opened for a node: the store, the service that must run beside it (the
    /// PostgreSQL pool, listener and leader elector), and who is leader.
    struct Opened {
        var store: any NodeStore
        var service: (any Service)?
        var leadership: any Leadership
        /// Where the store is and the settings it runs with, for the node's startup line.
        var logMetadata: Logger.Metadata = [:]
    }

    /// Opens the store for a node: a PostgreSQL store's service goes into the node's
    /// `ServiceGroup` (it applies migrations when it starts).
    static func openForNode(_ settings: Settings, fallback: StoreLocation?) async throws -> Opened {
        let location = try location(settings, fallback: fallback)
        if case .postgres(let url) = location {
            let store = PostgresTaskStore(configuration: try postgresConfiguration(url, settings), logger: Logger(label: "baton.postgres"))
            let c = store.configuration
            return Opened(
                store: store, service: store, leadership: store.leadership,
                logMetadata: [
                    "store": "\(location.displayText)", "schema": "\(c.schema)", "pool_size": "\(c.poolSize)",
                    "call_timeout": "\(c.callTimeout)",
                ])
        }
        let store = try await open(settings, fallback: fallback)
        var metadata: Logger.Metadata = ["store": "\(location.displayText)"]
        if let sqlite = store as? SQLiteTaskStore {
            metadata["synchronous"] = "\(sqlite.configuration.synchronous.rawValue)"
            metadata["busy_timeout"] = "\(sqlite.configuration.busyTimeout)"
        }
        return Opened(store: store, service: nil, leadership: AlwaysLeader(), logMetadata: metadata)
    }

    /// Where the store is, for a log line: a SQLite file's absolute path, or a PostgreSQL URL
    /// without its password.
    var displayText: String {
        switch self {
        case .sqlite(let path):
            let url = URL(fileURLWithPath: path, relativeTo: URL(fileURLWithPath: FileManager.default.currentDirectoryPath))
            return "sqlite:" + url.standardizedFileURL.path
        case .postgres(let url):
            guard var components = URLComponents(string: url) else { return "postgres://…" }
            if components.password != nil { components.password = "<redacted>" }
            return components.string ?? "postgres://…"
        }
    }

    static func location(_ settings: Settings, fallback: StoreLocation?) throws -> StoreLocation {
        if let text = settings.string("store") { return try parse(text) }
        if let fallback { return fallback }
        throw CLIError.usage("no store given: use --store sqlite:PATH (or postgres://…) or --db PATH")
    }

    static func postgresConfiguration(_ url: String, _ settings: Settings) throws -> PostgresStoreConfiguration {
        try settings.read { reader throws(BatonError) in try PostgresStoreConfiguration(url: url, reader: reader) }
    }

    /// Opens the store described by the settings (or `fallback` when none is set), for a
    /// command that runs briefly and only reads or submits: a PostgreSQL store runs only its
    /// connection pools (no leader election, no listener), in the background until the
    /// process exits, and is checked, not migrated: an unreachable database fails within the
    /// connect timeout, a missing or older schema says to run `baton migrate`.
    static func open(_ settings: Settings, fallback: StoreLocation?) async throws -> any NodeStore {
        switch try location(settings, fallback: fallback) {
        case .postgres(let url):
            let store = PostgresTaskStore(configuration: try postgresConfiguration(url, settings), logger: Logger(label: "baton.postgres"))
            Task { try? await store.runClient() }
            try await store.checkSchema()
            return store
        case .sqlite(let path):
            let configuration = try settings.read { reader throws(BatonError) in try SQLiteStoreConfiguration(path: path, reader: reader) }
            return try await SQLiteTaskStore.open(configuration)
        }
    }
}
