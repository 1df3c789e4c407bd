import BatonCore
import BatonNode
import Foundation
import Hummingbird

/// Machinery compatibility: its signatures, chains, groups and chords as Baton
/// workflows, and task states in Machinery's names and shapes (docs/workflows.md).
struct MachineryRoutes<Context: RequestContext>: Sendable {
    let ops: NodeAPI
    let reader: JSONBodyReader

    var routes: [Route<Context>] {
        [
            Route(
                .post, "/v1/compat/machinery/workflows", access: .producer, rpc: "machinery.submit",
                summary: "Submit a Machinery signature, chain, group, chord or array of signatures as a workflow",
                request: "MachineryRequest", response: "MachinerySubmitted", submit),
            Route(
                .get, "/v1/compat/machinery/tasks/:uuid", access: .producer, rpc: "machinery.state",
                summary: "A task's state in Machinery's TaskState shape, by its Machinery UUID", response: "MachineryTaskState", state),
        ]
    }

    @Sendable func submit(_ request: Request, context: Context) async throws -> Response {
        let body = try JSONBodyReader.decode(JSONValue.self, from: try await reader.read(request))
        let (submitted, replayed) = try await ops.submitMachinery(body, idempotencyKey: try UniqueSubmit.idempotencyKey(request))
        // A replayed Idempotency-Key answers what it first stored, as `POST /v1/workflows` does.
        return JSONResponse.make(status: replayed ? .ok : .created, submitted)
    }

    @Sendable func state(_ request: Request, context: Context) async throws -> Response {
        JSONResponse.make(try await ops.machineryState(try context.parameters.require("uuid")))
    }
}

extension NodeAPI {
    /// What `POST /v1/compat/machinery/workflows` answers: the workflow and each task's state.
    struct MachinerySubmitted: Encodable {
        var workflowID: TaskID
        var tasks: [MachineryTaskState]

        enum CodingKeys: String, CodingKey {
            case workflowID = "workflow_id"
            case tasks
        }
    }

    /// Stores a Machinery workflow and answers each task's state (for a member of a group sent
    /// alone, the tasks this request stored, not the group's), and whether the request
    /// replayed its idempotency key.
    func submitMachinery(_ body: JSONValue, idempotencyKey: String? = nil) async throws -> (MachinerySubmitted, replayed: Bool) {
        let outcome = try await submitMachineryWorkflow(body, idempotencyKey: idempotencyKey)
        var tasks: [MachineryTaskState] = []
        for id in outcome.tasks ?? outcome.workflow.nodes.map(\.id) { tasks.append(MachineryTaskState(try await get(id))) }
        return (MachinerySubmitted(workflowID: outcome.workflow.id, tasks: tasks), outcome.replayed)
    }

    var machineryRPCMethods: [String: RPCMethod] {
        let ops = self
        return [
            "machinery.submit": RPCMethod(access: .producer) { p in RPCParams.json(try await ops.submitMachinery(.object(p.object)).0) },
            "machinery.state": RPCMethod(access: .producer) { p in
                guard let uuid = try p.string("uuid") else { throw BatonError.invalidArgument("field 'uuid' is required") }
                return RPCParams.json(try await ops.machineryState(uuid))
            },
        ]
    }
}
