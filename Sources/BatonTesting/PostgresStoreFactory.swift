import BatonCore
import BatonPostgres
import Foundation
import Synchronization
import Testing

/// A fresh schema per store on the server of `BATON_TEST_POSTGRES_URL` (see ``TestPostgres``);
/// the store's `run()` runs in a task of its own until `dispose`, which drops the schema once no
/// store uses it. Include it among a test's factories when
/// `TestPostgres.enabled(for:)` says so; without the URL in CI, `makeStore()` fails the test.
public struct PostgresStoreFactory: StoreFactory {
    public var testDescription: String { "PostgreSQL" }

    private struct Running {
        var task: Task<Void, any Error>
        var schema: String
    }

    private static let running = Mutex<[ObjectIdentifier: Running]>([:])

    /// At most this many PostgreSQL test databases at once: every store starts a pool, a
    /// listener and an elector and migrates a schema, and dozens of them starting together on a
    /// two-core machine delay each test's statements by far more than its timing tolerances.
    private static let permits = Permits(3)

    public init() {}

    public func makeStore() async throws -> any TaskStore {
        let schema = TestPostgres.freshSchema(prefix: "baton_conf_")
        guard let configuration = try TestPostgres.configuration(for: "PostgresStoreFactory", schema: schema) else {
            throw BatonError.unavailable("BATON_TEST_POSTGRES_URL not set")
        }
        await Self.permits.acquire()
        do {
            return try await start(configuration)
        } catch {
            Self.permits.release()
            throw error
        }
    }

    public func makeSecondStore(sharing store: any TaskStore) async throws -> any TaskStore {
        let postgres = try #require(store as? PostgresTaskStore)
        return try await start(postgres.configuration)
    }

    public func dispose(_ store: any TaskStore) async {
        guard let postgres = store as? PostgresTaskStore else { return }
        let schema = postgres.configuration.schema
        let (entry, lastUser) = Self.running.withLock { running -> (Running?, Bool) in
            let entry = running.removeValue(forKey: ObjectIdentifier(postgres))
            return (entry, !running.values.contains { $0.schema == schema })
        }
        if lastUser {
            try? await postgres.dropSchema()
        }
        postgres.shutdown()
        _ = await entry?.task.result
        if lastUser && entry != nil { Self.permits.release() }
    }

    private func start(_ configuration: PostgresStoreConfiguration) async throws -> PostgresTaskStore {
        let store = PostgresTaskStore(configuration: configuration, logger: TestPostgres.logger)
        let task = Task { try await store.run() }
        Self.running.withLock { $0[ObjectIdentifier(store)] = Running(task: task, schema: configuration.schema) }
        do {
            try await store.migrate()
        } catch {
            Self.running.withLock { _ = $0.removeValue(forKey: ObjectIdentifier(store)) }
            store.shutdown()
            _ = await task.result
            throw error
        }
        return store
    }
}
