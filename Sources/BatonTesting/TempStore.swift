import BatonCore
import BatonSQLite
import Foundation
import Testing

/// A SQLite store on a fresh database in a temporary directory of its own. ``cleanUp()`` closes
/// the store and removes the directory.
public final class TempStore: Sendable {
    public let directory: TempDir
    public let store: SQLiteTaskStore

    /// The database file.
    public var path: String { store.configuration.path }

    private init(directory: TempDir, store: SQLiteTaskStore) {
        self.directory = directory
        self.store = store
    }

    /// Opens a store on `<tmp>/<prefix>-<UUID>/baton.db` with `configuration(path)`.
    public static func make(
        prefix: String = "baton-test", configuration: (String) -> SQLiteStoreConfiguration = { SQLiteStoreConfiguration(path: $0) }
    ) async throws -> TempStore {
        let directory = try TempDir(prefix: prefix)
        let store = try await SQLiteTaskStore.open(configuration(directory.path("baton.db")))
        return TempStore(directory: directory, store: store)
    }

    /// Opens a store whose tasks fail over to `defaultRetry` when they name no policy.
    public static func make(prefix: String = "baton-test", defaultRetry: RetryPolicy) async throws -> TempStore {
        try await make(prefix: prefix) { SQLiteStoreConfiguration(path: $0, defaultRetry: defaultRetry) }
    }

    /// Closes the store and removes its directory.
    public func cleanUp() {
        try? store.close()
        directory.remove()
    }

    /// Submits `tasks` and returns them as stored.
    @discardableResult
    public func enqueue(_ tasks: [NewTask]) async throws -> [TaskRecord] {
        try await store.taskEnqueueMany(TaskEnqueueParams(tasks: tasks))
    }

    /// Submits `task` and returns it as stored.
    public func enqueue(_ task: NewTask) async throws -> TaskRecord {
        try await enqueue([task])[0]
    }

    /// The task `id`; fails the test when there is none.
    public func get(_ id: TaskID) async throws -> TaskRecord {
        try #require(try await store.taskGet(id))
    }

    /// How many tasks of `queue` are in `state`.
    public func count(_ state: TaskState, queue: String = Defaults.queue) async throws -> Int {
        try await store.queueCounts().first { $0.name == queue }?.count(state) ?? 0
    }
}
