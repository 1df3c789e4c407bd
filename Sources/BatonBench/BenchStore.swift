import BatonCore
import BatonPostgres
import Foundation
import Logging

/// Where the benchmark's tasks live: a temporary SQLite file (removed afterwards) or a given
/// one, or a PostgreSQL database (in a fresh schema, dropped afterwards, unless the URL names
/// one), plus a temporary directory for the children's logs. Tasks go to a queue of their own.
struct BenchStore: Sendable {
    var location: StoreLocation
    /// As the report names the store: `sqlite`, `sqlite:PATH` or `postgres`.
    var description: String
    var workDirectory: URL
    /// A fresh queue name, so a given database's other tasks do not count.
    var queue: String
    /// The PostgreSQL schema created for this run, dropped when it ends.
    var temporarySchema: String?

    /// The store URL, for `baton serve --store`.
    var url: String { location.url }

    init(_ text: String, cleanup: BenchCleanup) throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("baton-benchrun-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        cleanup.add { try? FileManager.default.removeItem(at: dir) }
        workDirectory = dir
        queue = "bench-" + UUID().uuidString.prefix(8).lowercased()
        if text == "sqlite" {
            location = .sqlite(path: dir.appendingPathComponent("bench.db").path)
            description = "sqlite"
            return
        }
        let given: StoreLocation
        do throws(BatonError) { given = try StoreLocation(text) } catch { throw BenchError(.invalidSettings, error.message) }
        switch given {
        case .sqlite(let path):
            location = given
            description = "sqlite:\(path)"
        case .postgres(let postgres):
            let named = URLComponents(string: postgres)?.queryItems?.contains { $0.name == "schema" || $0.name == "search_path" } ?? false
            if named {
                location = given
            } else {
                let schema = "bench_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(12).lowercased()
                location = .postgres(url: postgres + (postgres.contains("?") ? "&" : "?") + "schema=\(schema)")
                temporarySchema = schema
            }
            description = "postgres"
        }
    }

    /// Drops the run's temporary schema, if it made one.
    func dropTemporarySchema() async {
        guard temporarySchema != nil, let config = try? PostgresStoreConfiguration(url: url) else { return }
        do {
            try await PostgresTaskStore.withStore(config, logger: Logger(label: "baton.bench")) { try await $0.dropSchema() }
        } catch {
            FileHandle.standardError.write(Data("bench: could not drop the schema \(config.schema): \(error)\n".utf8))
        }
    }
}
