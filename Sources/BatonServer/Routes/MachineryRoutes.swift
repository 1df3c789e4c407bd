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
        return JSONResponse.make(status: .created, try await ops.submitMachinery(body))
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

    /// Stores a Machinery workflow. A signature whose UUID is a UUID (Machinery's own are
    /// `task_` and a UUID) keeps it as its Baton task id, so that it can be found by it.
    func submitMachinery(_ body: JSONValue) async throws -> MachinerySubmitted {
        let submission = Self.adoptingUUIDs(try Machinery.compile(body, maxArgsBytes: configuration.maxArgsBytes))
        let outcome = try await submitWorkflow(submission, idempotencyKey: nil)
        var tasks: [MachineryTaskState] = []
        for node in outcome.workflow.nodes { tasks.append(MachineryTaskState(try await get(node.id))) }
        return MachinerySubmitted(workflowID: outcome.workflow.id, tasks: tasks)
    }

    /// The task with this Machinery UUID (`task_<uuid>` or a bare UUID), in Machinery's shape.
    func machineryState(_ uuid: String) async throws -> MachineryTaskState {
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

    var machineryRPCMethods: [String: RPCMethod] {
        let ops = self
        return [
            "machinery.submit": RPCMethod(access: .producer) { p in RPCParams.json(try await ops.submitMachinery(.object(p.object))) },
            "machinery.state": RPCMethod(access: .producer) { p in
                guard let uuid = try p.string("uuid") else { throw BatonError.invalidArgument("field 'uuid' is required") }
                return RPCParams.json(try await ops.machineryState(uuid))
            },
        ]
    }
}
