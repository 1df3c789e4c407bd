import BatonClient
import BatonCore
import Foundation

/// What `submit`, `status`, `list`, `cancel` and `retry` act on: a database file directly,
/// or a node over HTTP.
protocol TaskBackend: Sendable {
    /// Submits one task; `duplicate`: an active task holds its unique key, and this is that task.
    func submitReporting(_ task: NewTask) async throws -> (task: TaskRecord, duplicate: Bool)
    /// Whether a worker the node heard from recently serves `kind` on `queue`; `nil` when
    /// that cannot be known (a database has no worker registry, or the node did not say).
    func hasWorker(kind: String, queue: String) async -> Bool?
    func get(_ id: TaskID) async throws -> TaskRecord
    func list(_ params: TaskListParams) async throws -> TaskPage
    func cancel(_ id: TaskID) async throws -> TaskRecord
    func retry(_ id: TaskID) async throws -> TaskRecord
    /// Waits until the task is terminal or `timeout` passes; returns it as it is then.
    func wait(_ id: TaskID, timeout: Duration) async throws -> TaskRecord
}

/// Acts on the store directly (a database file another process may be serving).
struct LocalBackend: TaskBackend {
    let store: any NodeStore
    /// How often `wait` looks again: the node running the task is another process.
    var pollInterval: Duration = .milliseconds(50)

    func submitReporting(_ task: NewTask) async throws -> (task: TaskRecord, duplicate: Bool) {
        let outcome = try await store.taskEnqueueManyOutcome(TaskEnqueueParams(tasks: [task]))
        guard let first = outcome.tasks.first else { throw BatonError(.internal, "the store returned no task") }
        return (first, outcome.duplicate.first ?? false)
    }

    func hasWorker(kind: String, queue: String) async -> Bool? { nil }

    func get(_ id: TaskID) async throws -> TaskRecord {
        guard let task = try await store.taskGet(id) else { throw BatonError.taskNotFound(id) }
        return task
    }

    func list(_ params: TaskListParams) async throws -> TaskPage { try await store.taskList(params) }
    func cancel(_ id: TaskID) async throws -> TaskRecord { try await store.taskCancel(id) }
    func retry(_ id: TaskID) async throws -> TaskRecord { try await store.taskRetry(id) }

    func wait(_ id: TaskID, timeout: Duration) async throws -> TaskRecord {
        let deadline = ContinuousClock.now.advanced(by: timeout)
        while true {
            let task = try await get(id)
            if task.state.isTerminal || ContinuousClock.now >= deadline { return task }
            try await Task.sleep(for: pollInterval)
        }
    }
}

/// Parses a task id argument, or fails with a usage error.
func parseTaskID(_ text: String) throws(CLIError) -> TaskID {
    guard let id = TaskID(text) else { throw .usage("'\(text)' is not a task id (a UUID)") }
    return id
}

/// Acts on a node over HTTP.
struct RemoteBackend: TaskBackend {
    let client: BatonClient

    init(servers: [String], token: String?, caFile: String? = nil) throws {
        let urls = try parseServers(servers)
        if let caFile {
            client = BatonClient(servers: urls, token: token, httpClient: try BatonClient.httpClient(caFile: caFile))
        } else {
            client = BatonClient(servers: urls, token: token)
        }
    }

    func submitReporting(_ task: NewTask) async throws -> (task: TaskRecord, duplicate: Bool) { try await client.submitReporting(task) }

    func hasWorker(kind: String, queue: String) async -> Bool? {
        guard let workers = try? await client.workers() else { return nil }
        // A worker that announces no kinds claims any kind.
        return workers.contains { $0.queues.contains(queue) && ($0.kinds.isEmpty || $0.kinds.contains { $0.name == kind }) }
    }
    func get(_ id: TaskID) async throws -> TaskRecord { try await client.get(id) }
    func list(_ params: TaskListParams) async throws -> TaskPage { try await client.list(params) }
    func cancel(_ id: TaskID) async throws -> TaskRecord { try await client.cancel(id) }
    func retry(_ id: TaskID) async throws -> TaskRecord { try await client.retry(id) }
    func wait(_ id: TaskID, timeout: Duration) async throws -> TaskRecord { try await client.wait(id, timeout: timeout) }
}
