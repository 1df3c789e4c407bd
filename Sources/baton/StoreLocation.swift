import BatonCore
import BatonSQLite
import Foundation

/// Where tasks live, parsed from `--store`/`BATON_STORE`: `sqlite:PATH` (or `sqlite://PATH`).
enum StoreLocation: Equatable {
    case sqlite(path: String)

    static let standaloneDefault = StoreLocation.sqlite(path: "baton.db")

    init(_ text: String) throws(CLIError) {
        if text.hasPrefix("sqlite://") {
            self = .sqlite(path: String(text.dropFirst("sqlite://".count)))
        } else if text.hasPrefix("sqlite:") {
            self = .sqlite(path: String(text.dropFirst("sqlite:".count)))
        } else if text.hasPrefix("postgres://") || text.hasPrefix("postgresql://") {
            throw .usage("PostgreSQL stores are not available in this build yet; use sqlite:PATH")
        } else {
            throw .usage("unknown store '\(text)': expected sqlite:PATH")
        }
        if case .sqlite(let path) = self, path.isEmpty {
            throw .usage("the store URL '\(text)' names no file")
        }
    }

    /// Opens the store described by the settings (or `fallback` when none is set).
    static func open(_ settings: Settings, fallback: StoreLocation?) async throws -> any TaskStore {
        let location: StoreLocation
        if let text = settings.string("store") {
            location = try StoreLocation(text)
        } else if let fallback {
            location = fallback
        } else {
            throw CLIError.usage("no store given: use --store sqlite:PATH or --db PATH")
        }
        switch location {
        case .sqlite(let path):
            let synchronous: SQLiteStoreConfiguration.Synchronous
            switch settings.string("sqlite.synchronous")?.lowercased() {
            case nil, "normal": synchronous = .normal
            case "full": synchronous = .full
            case let other?: throw CLIError.usage("sqlite.synchronous must be normal or full, got '\(other)'")
            }
            return try await SQLiteTaskStore.open(
                SQLiteStoreConfiguration(path: path, synchronous: synchronous, defaultRetry: try settings.retryPolicy()))
        }
    }
}
