import BatonCore
import Foundation

/// A workflow built in Swift: tasks linked by chains, groups and chords, nested freely
/// (docs/workflows.md). `request` is the body of `POST /v1/workflows`.
///
/// ```swift
/// let flow = WorkflowStep.chord(
///     header: (1...3).map { .task(NewTask(kind: "square", args: RawJSON(.int($0)))) },
///     body: .task(NewTask(kind: "sum", args: RawJSON(trusted: "[]"), pass: .prepend), name: "sum"))
/// let workflow = try await client.submitWorkflow(flow, name: "squares")
/// ```
public indirect enum WorkflowStep: Sendable, Hashable {
    /// One task; `name` is its node name (else its position, as docs/workflows.md says).
    case task(NewTask, name: String? = nil)
    /// Each step runs after every task the step before ends with succeeded.
    case chain([WorkflowStep])
    /// The steps run independently.
    case group([WorkflowStep])
    /// `body` runs after every task of `header`, with their results in member order.
    case chord(header: [WorkflowStep], body: WorkflowStep)

    /// The step as the JSON of the workflow grammar.
    public var json: JSONValue {
        get throws {
            switch self {
            case .task(let task, let name):
                guard case .object(var members) = try JSONValue.decoding(task) else {
                    throw BatonError.invalidArgument("a task must encode as a JSON object")
                }
                members["id"] = nil
                if let name { members["name"] = .string(name) }
                return .object(members)
            case .chain(let steps): return .object(["chain": .array(try steps.map { try $0.json })])
            case .group(let steps): return .object(["group": .array(try steps.map { try $0.json })])
            case .chord(let header, let body):
                return .object(["chord": .object(["header": .array(try header.map { try $0.json }), "body": try body.json])])
            }
        }
    }

    /// The body of `POST /v1/workflows` for this step (a single task becomes a chain of one).
    public func request(name: String? = nil, policy: DependencyPolicy? = nil) throws -> JSONValue {
        var top: [String: JSONValue]
        switch self {
        case .task: top = ["chain": .array([try json])]
        default:
            guard case .object(let members) = try json else { throw BatonError(.internal, "a step encodes as an object") }
            top = members
        }
        if let name { top["name"] = .string(name) }
        if let policy { top["policy"] = .string(policy.rawValue) }
        return .object(top)
    }
}

extension JSONValue {
    /// A Codable value as a JSON value.
    static func decoding(_ value: some Encodable) throws -> JSONValue {
        try BatonJSON.decoder().decode(JSONValue.self, from: BatonJSON.encoder().encode(value))
    }
}

/// Workflows over HTTP (`/v1/workflows`, `/v1/tasks/{id}/parents`).
extension BatonClient {
    /// Submits a workflow built with ``WorkflowStep``; returns it as stored.
    public func submitWorkflow(_ step: WorkflowStep, name: String? = nil, policy: DependencyPolicy? = nil) async throws
        -> WorkflowRecord
    {
        try await submitWorkflow(try step.request(name: name, policy: policy))
    }

    /// Submits a workflow given in the JSON grammar of docs/workflows.md.
    public func submitWorkflow(_ body: JSONValue) async throws -> WorkflowRecord {
        try await call(.POST, "/v1/workflows", body: try encode(body), expect: WorkflowRecord.self)
    }

    public func workflow(_ id: TaskID) async throws -> WorkflowRecord {
        try await call(.GET, "/v1/workflows/\(id)", expect: WorkflowRecord.self)
    }

    /// Waits until the workflow has finished or `timeout` passes (the server's long-poll);
    /// returns it as it is then.
    public func waitWorkflow(_ id: TaskID, timeout: Duration) async throws -> WorkflowRecord {
        let deadline = ContinuousClock.now.advanced(by: max(.zero, timeout))
        while true {
            let slice = min(max(.zero, deadline - ContinuousClock.now), Self.longPollSlice)
            let record = try await call(
                .GET, "/v1/workflows/\(id)/wait", query: [("timeout", String(format: "%.3f", slice.seconds))], extraTime: slice,
                expect: WorkflowRecord.self)
            if record.state.isTerminal || ContinuousClock.now >= deadline { return record }
            try Task.checkCancellation()
        }
    }

    /// Cancels every node that has not finished.
    public func cancelWorkflow(_ id: TaskID) async throws -> WorkflowRecord {
        try await call(.POST, "/v1/workflows/\(id)/cancel", expect: WorkflowRecord.self)
    }

    /// A page of a task's parents with their results.
    public func parents(of id: TaskID, cursor: String? = nil, limit: Int = TaskParentsParams.defaultLimit) async throws -> ParentPage {
        var query = [("limit", String(limit))]
        if let cursor { query.append(("cursor", cursor)) }
        return try await call(.GET, "/v1/tasks/\(id)/parents", query: query, expect: ParentPage.self)
    }
}
