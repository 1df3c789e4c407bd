import BatonCore
import Foundation

/// Machinery compatibility (docs/workflows.md): its signatures, chains, groups and chords
/// stored as workflows, whether they come over HTTP (`POST /v1/compat/machinery/workflows`)
/// or as Machinery's brokers carry them (a message on an ingest queue).
extension NodeAPI {
    /// Stores what a message of a broker's submissions queue or list asks for (``BrokerSubmission``),
    /// under `idempotencyKey`: a message delivered again stores its tasks once.
    public func submit(_ body: String, idempotencyKey: String) async throws {
        switch try BrokerSubmission.read(body) {
        case .tasks(let tasks): _ = try await submitOutcome(tasks, idempotencyKey: idempotencyKey)
        case .machinery(let value): _ = try await submitMachineryWorkflow(value, idempotencyKey: idempotencyKey)
        }
    }

    /// Stores a Machinery signature, chain, group, chord or array of signatures as one
    /// workflow. A signature whose UUID is a UUID (Machinery's own are `task_` and a UUID)
    /// keeps it as its Baton task id, so that it can be found by it. A repeated
    /// `idempotencyKey` with the same body answers the workflow it first stored. A member of a
    /// group or chord sent alone (as Machinery's brokers send them) joins its group (``joinGroup``).
    public func submitMachineryWorkflow(_ body: JSONValue, idempotencyKey: String?) async throws -> WorkflowOutcome {
        // Signatures without a UUID get ids anew each time: the body itself identifies the request.
        let fingerprint = try idempotencyKey.map { _ in TaskEnqueueOutcome.fingerprint(try BatonJSON.encoder().encode(body)) }
        if let member = try Machinery.groupMember(body, maxArgsBytes: configuration.maxArgsBytes) {
            return try await joinGroup(member, idempotencyKey: idempotencyKey, fingerprint: fingerprint)
        }
        let submission = try Machinery.compile(body, maxArgsBytes: configuration.maxArgsBytes).adoptingMachineryUUIDs()
        return try await submitWorkflow(submission, idempotencyKey: idempotencyKey, fingerprint: fingerprint)
    }

    /// Stores one member of a group or chord sent a member per message, in the group's
    /// workflow (made by the first member stored, joined by the others in the same
    /// statement: ``NewWorkflow/joinsExisting``); for a chord, then the callback once all
    /// `count` members are: its parents are the members, on success, in the order they were
    /// stored.
    ///
    /// Exact without a lock: every member's message looks for the full count after its own
    /// member committed (and again when the message is delivered again), so the last member to
    /// commit sees them all; two that both do insert the callback under its one id, and the
    /// second's conflict means it exists. A member whose message never arrives leaves the
    /// chord waiting, as Machinery's would.
    func joinGroup(_ group: MachineryGroupMember, idempotencyKey: String?, fingerprint: String?) async throws -> WorkflowOutcome {
        let id = group.workflow.id
        let stored = try await storeNodes(group.member, of: group.workflow, idempotencyKey: idempotencyKey, fingerprint: fingerprint)
        var record = try await workflow(id)
        var tasks = stored.tasks.map(\.id)
        if let chord = group.chord {
            func hasCallback(_ record: WorkflowRecord) -> Bool { record.nodes.contains { $0.id == chord.id } }
            if !hasCallback(record), record.nodes.count >= group.count {
                do {
                    let callback = try await storeNodes(
                        chord.tasks(after: record.nodes.map(\.id)), of: nil, idempotencyKey: nil, fingerprint: nil)
                    tasks += callback.tasks.map(\.id)
                } catch let error as BatonError where error.code == .conflict {
                    guard hasCallback(try await workflow(id)) else { throw error }
                }
                record = try await workflow(id)
            }
        }
        return WorkflowOutcome(workflow: record, replayed: stored.replayed, tasks: tasks)
    }

    /// The task with this Machinery UUID (``Machinery/taskID(_:)``), in Machinery's shape.
    public func machineryState(_ uuid: String) async throws -> MachineryTaskState {
        guard let id = Machinery.taskID(uuid) else {
            throw BatonError.invalidArgument("'\(uuid)' is not a Machinery task UUID (task_<uuid>, chord_<uuid>, or a UUID)")
        }
        return MachineryTaskState(try await get(id))
    }
}
