import BatonCore
import Foundation

/// Machinery compatibility (docs/workflows.md): its signatures, chains, groups and chords
/// stored as workflows, whether they come over HTTP (`POST /v1/compat/machinery/workflows`)
/// or as Machinery's brokers carry them (a message on an ingest queue).
extension NodeAPI {
    /// Stores a Machinery signature, chain, group, chord or array of signatures as one
    /// workflow. A signature whose UUID is a UUID (Machinery's own are `task_` and a UUID)
    /// keeps it as its Baton task id, so that it can be found by it. A repeated
    /// `idempotencyKey` with the same body answers the workflow it first stored.
    public func submitMachineryWorkflow(_ body: JSONValue, idempotencyKey: String?) async throws -> WorkflowOutcome {
        let submission = Self.adoptingUUIDs(try Machinery.compile(body, maxArgsBytes: configuration.maxArgsBytes))
        // Signatures without a UUID get ids anew each time: the body itself identifies the request.
        let fingerprint = try idempotencyKey.map { _ in TaskEnqueueOutcome.fingerprint(try BatonJSON.encoder().encode(body)) }
        return try await submitWorkflow(submission, idempotencyKey: idempotencyKey, fingerprint: fingerprint)
    }

    /// The task with this Machinery UUID (`task_<uuid>` or a bare UUID), in Machinery's shape.
    public func machineryState(_ uuid: String) async throws -> MachineryTaskState {
        guard let id = Self.machineryTaskID(uuid) else {
            throw BatonError.invalidArgument("'\(uuid)' is not a Machinery task UUID (task_<uuid>, or a UUID)")
        }
        return MachineryTaskState(try await get(id))
    }

    static func machineryTaskID(_ uuid: String) -> TaskID? {
        TaskID(uuid.hasPrefix("task_") ? String(uuid.dropFirst(5)) : uuid)
    }

    /// The submission with each task whose node name is a Machinery UUID given that id, and
    /// the edges that named the old ids moved with it.
    static func adoptingUUIDs(_ submission: WorkflowSubmission) -> WorkflowSubmission {
        var renamed: [TaskID: TaskID] = [:]
        var result = submission
        for i in result.tasks.indices {
            guard let old = result.tasks[i].id, let node = result.tasks[i].node, let id = machineryTaskID(node) else { continue }
            renamed[old] = id
            result.tasks[i].id = id
        }
        for i in result.tasks.indices {
            for j in result.tasks[i].after.indices {
                if let id = renamed[result.tasks[i].after[j].parent] { result.tasks[i].after[j].parent = id }
            }
        }
        return result
    }
}
