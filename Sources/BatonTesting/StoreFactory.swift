import BatonCore
import BatonSQLite
import Foundation
import Synchronization
import Testing

/// Makes stores for the store conformance suite (``StoreConformance``): a store implementation
/// joins the suite by writing one factory.
///
/// A factory's `testDescription` names the backend in test results ("SQLite", "PostgreSQL").
public protocol StoreFactory: Sendable, CustomTestStringConvertible {
    /// A store on a fresh, empty database of its own.
    func makeStore() async throws -> any TaskStore
    /// Another store instance, with its own connections, on the same database as `store`.
    func makeSecondStore(sharing store: any TaskStore) async throws -> any TaskStore
    /// Closes the store; once no store uses its database any more, removes the database.
    func dispose(_ store: any TaskStore) async
}

extension StoreFactory {
    /// Runs `body` with a fresh store and disposes of it afterwards, whether `body` returns or throws.
    public func withStore<T>(_ body: (any TaskStore) async throws -> T) async throws -> T {
        let store = try await makeStore()
        do {
            let result = try await body(store)
            await dispose(store)
            return result
        } catch {
            await dispose(store)
            throw error
        }
    }
}

/// A SQLite database in a fresh temporary directory per store (a ``TempStore``); a second store
/// opens the same file.
public struct SQLiteStoreFactory: StoreFactory {
    public var testDescription: String { "SQLite" }

    /// The temporary stores made and not yet disposed of.
    private static let made = Mutex<[ObjectIdentifier: TempStore]>([:])

    public init() {}

    public func makeStore() async throws -> any TaskStore {
        let temp = try await TempStore.make(prefix: "baton-conformance")
        Self.made.withLock { $0[ObjectIdentifier(temp.store)] = temp }
        return temp.store
    }

    public func makeSecondStore(sharing store: any TaskStore) async throws -> any TaskStore {
        let sqlite = try #require(store as? SQLiteTaskStore)
        return try await SQLiteTaskStore.open(sqlite.configuration)
    }

    /// Closes the store; a store from `makeStore()` takes its directory with it.
    public func dispose(_ store: any TaskStore) async {
        guard let sqlite = store as? SQLiteTaskStore else { return }
        if let temp = Self.made.withLock({ $0.removeValue(forKey: ObjectIdentifier(sqlite)) }) {
            temp.cleanUp()
        } else {
            try? sqlite.close()
        }
    }
}
