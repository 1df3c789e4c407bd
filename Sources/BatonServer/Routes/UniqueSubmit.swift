import BatonCore
import BatonNode
import HTTPTypes
import Hummingbird

/// Unique tasks and idempotent submits for `POST /v1/tasks` (and `idempotency_key` in
/// JSON-RPC): the enqueue, the `Idempotency-Key` header, and the `duplicate` flag.
enum UniqueSubmit {
    static let headerName = HTTPField.Name("Idempotency-Key")!
    static let maxKeyLength = 255

    /// The request's `Idempotency-Key`, checked (1…255 bytes).
    static func idempotencyKey(_ request: Request) throws -> String? {
        guard let key = request.headers[headerName] else { return nil }
        guard !key.isEmpty, key.utf8.count <= maxKeyLength else {
            throw BatonError.invalidArgument("Idempotency-Key must be 1 to \(maxKeyLength) bytes")
        }
        return key
    }

    /// Enqueues with unique keys and the idempotency key: duplicates and replays reported.
    static func enqueue(_ store: any UniqueTaskStore, _ tasks: [NewTask], idempotencyKey: String?) async throws -> TaskEnqueueOutcome {
        do {
            return try await store.taskEnqueueManyOutcome(TaskEnqueueParams(tasks: tasks, idempotencyKey: idempotencyKey))
        } catch let error as BatonError where error.code == .idempotencyMismatch {
            throw APIError(status: .unprocessableContent, code: error.code.description, message: error.message)
        }
    }

    /// 201 when a task was created, 200 when the one task was a duplicate.
    static func status(_ outcome: TaskEnqueueOutcome) -> HTTPResponse.Status {
        outcome.duplicate.allSatisfy { $0 } && !outcome.duplicate.isEmpty ? .ok : .created
    }

    /// A task's JSON with `"duplicate": true|false` added.
    static func taskJSON(_ record: TaskRecord, duplicate: Bool) -> [UInt8] {
        var bytes = TaskJSONWriter.task(record)
        guard bytes.last == UInt8(ascii: "}") else { return bytes }
        bytes.removeLast()
        bytes += Array((duplicate ? #","duplicate":true}"# : #","duplicate":false}"#).utf8)
        return bytes
    }

    /// `{"tasks": [...]}` with each task's `duplicate` flag.
    static func taskListJSON(_ outcome: TaskEnqueueOutcome) -> [UInt8] {
        var bytes = Array(#"{"tasks":["#.utf8)
        for (i, task) in outcome.tasks.enumerated() {
            if i > 0 { bytes.append(UInt8(ascii: ",")) }
            bytes += taskJSON(task, duplicate: i < outcome.duplicate.count && outcome.duplicate[i])
        }
        bytes += Array("]}".utf8)
        return bytes
    }
}

extension NodeOperations {
    /// Validates and submits one task or a batch, with unique keys and an idempotency key.
    func submitOutcome(_ tasks: [NewTask], idempotencyKey: String?) async throws -> TaskEnqueueOutcome {
        guard !tasks.isEmpty else { throw BatonError.invalidArgument("the batch is empty; submit at least one task") }
        guard tasks.count <= configuration.maxBatch else {
            throw BatonError(.tooLarge, "the batch has \(tasks.count) tasks, more than the limit of \(configuration.maxBatch)")
        }
        for (i, task) in tasks.enumerated() {
            do {
                try task.validate(maxArgsBytes: configuration.maxArgsBytes)
            } catch {
                throw tasks.count == 1 ? error : BatonError(error.code, "task [\(i)]: \(error.message)")
            }
        }
        let outcome = try await UniqueSubmit.enqueue(node.store, tasks, idempotencyKey: idempotencyKey)
        node.events.emit(
            outcome.tasks.indices.lazy.filter { !outcome.duplicate[$0] }.map { NodeEvent.enqueued(TaskRef(outcome.tasks[$0])) })
        return outcome
    }
}
