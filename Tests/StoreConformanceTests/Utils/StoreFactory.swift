import BatonCore
import BatonSQLite
import Foundation
import Testing

/// Makes stores for the conformance suite. Each backend adds one factory to `storeFactories`.
protocol StoreFactory: Sendable, CustomTestStringConvertible {
    /// A store on a fresh, empty database of its own.
    func makeStore() async throws -> any TaskStore
    /// Another store instance, with its own connections, on the same database as `store`.
    func makeSecondStore(sharing store: any TaskStore) async throws -> any TaskStore
    /// Closes the store and removes its database.
    func dispose(_ store: any TaskStore) async
}

/// Every backend the suite runs against.
let storeFactories: [any StoreFactory] = [SQLiteStoreFactory()] + postgresStoreFactories

/// A SQLite database in a fresh temporary directory per store.
struct SQLiteStoreFactory: StoreFactory {
    var testDescription: String { "SQLite" }

    func makeStore() async throws -> any TaskStore {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("baton-conformance-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return try await SQLiteTaskStore.open(.init(path: directory.appendingPathComponent("baton.db").path))
    }

    func makeSecondStore(sharing store: any TaskStore) async throws -> any TaskStore {
        let sqlite = try #require(store as? SQLiteTaskStore)
        return try await SQLiteTaskStore.open(sqlite.configuration)
    }

    func dispose(_ store: any TaskStore) async {
        guard let sqlite = store as? SQLiteTaskStore else { return }
        try? sqlite.close()
        let directory = URL(fileURLWithPath: sqlite.configuration.path).deletingLastPathComponent()
        try? FileManager.default.removeItem(at: directory)
    }
}

/// Runs `body` with a fresh store from `factory` and disposes of it afterwards.
func withStore<T>(_ factory: any StoreFactory, _ body: (any TaskStore) async throws -> T) async throws -> T {
    let store = try await factory.makeStore()
    do {
        let result = try await body(store)
        await factory.dispose(store)
        return result
    } catch {
        await factory.dispose(store)
        throw error
    }
}
