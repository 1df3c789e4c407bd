import BatonCore
import Foundation
import Logging
import Synchronization
import Testing

@testable import BatonPostgres

/// The PostgreSQL factories: one when `BATON_TEST_POSTGRES_URL` is set or in CI (where a
/// missing URL fails each test), none otherwise (the PostgreSQL runs are skipped locally).
let postgresStoreFactories: [any StoreFactory] = {
    let environment = ProcessInfo.processInfo.environment
    if environment["BATON_TEST_POSTGRES_URL"]?.isEmpty == false || environment["CI"] == "true" {
        return [PostgresStoreFactory()]
    }
    print("StoreConformanceTests: PostgreSQL skipped, BATON_TEST_POSTGRES_URL not set (run under scripts/with-postgres.sh)")
    return []
}()

/// A fresh schema per store on the server of `BATON_TEST_POSTGRES_URL`; the store's `run()`
/// runs in a task of its own until `dispose`, which drops the schema once no store uses it.
struct PostgresStoreFactory: StoreFactory {
    var testDescription: String { "PostgreSQL" }

    private struct Running {
        var task: Task<Void, any Error>
        var schema: String
    }

    private static let running = Mutex<[ObjectIdentifier: Running]>([:])

    /// At most this many PostgreSQL test databases at once: every store starts a pool, a
    /// listener and an elector and migrates a schema, and dozens of them starting together on a
    /// two-core machine delay each test's statements by far more than its timing tolerances.
    private static let permits = Permits(3)

    private static let logger: Logger = {
        var logger = Logger(label: "baton.conformance.postgres")
        logger.logLevel = .error
        return logger
    }()

    func makeStore() async throws -> any TaskStore {
        guard let url = ProcessInfo.processInfo.environment["BATON_TEST_POSTGRES_URL"], !url.isEmpty else {
            Issue.record("BATON_TEST_POSTGRES_URL not set")
            throw BatonError.unavailable("BATON_TEST_POSTGRES_URL not set")
        }
        let schema = "baton_conf_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(16).lowercased()
        var configuration = try PostgresStoreConfiguration(url: url, schema: schema)
        configuration.poolSize = 4
        await Self.permits.acquire()
        do {
            return try await start(configuration)
        } catch {
            Self.permits.release()
            throw error
        }
    }

    func makeSecondStore(sharing store: any TaskStore) async throws -> any TaskStore {
        let postgres = try #require(store as? PostgresTaskStore)
        return try await start(postgres.configuration)
    }

    func dispose(_ store: any TaskStore) async {
        guard let postgres = store as? PostgresTaskStore else { return }
        let schema = postgres.configuration.schema
        let (entry, lastUser) = Self.running.withLock { running -> (Running?, Bool) in
            let entry = running.removeValue(forKey: ObjectIdentifier(postgres))
            return (entry, !running.values.contains { $0.schema == schema })
        }
        if lastUser {
            _ = try? await postgres.queryForTesting("DROP SCHEMA IF EXISTS \"\(schema)\" CASCADE")
        }
        postgres.shutdown()
        _ = await entry?.task.result
        if lastUser && entry != nil { Self.permits.release() }
    }

    private func start(_ configuration: PostgresStoreConfiguration) async throws -> PostgresTaskStore {
        let store = PostgresTaskStore(configuration: configuration, logger: Self.logger)
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

/// A counting semaphore for async code.
final class Permits: Sendable {
    private struct State {
        var available: Int
        var waiters: [CheckedContinuation<Void, Never>] = []
    }
    private let state: Mutex<State>

    init(_ count: Int) { state = Mutex(State(available: count)) }

    func acquire() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let granted = state.withLock { s -> Bool in
                if s.available > 0 {
                    s.available -= 1
                    return true
                }
                s.waiters.append(continuation)
                return false
            }
            if granted { continuation.resume() }
        }
    }

    func release() {
        let next = state.withLock { s -> CheckedContinuation<Void, Never>? in
            if s.waiters.isEmpty {
                s.available += 1
                return nil
            }
            return s.waiters.removeFirst()
        }
        next?.resume()
    }
}
