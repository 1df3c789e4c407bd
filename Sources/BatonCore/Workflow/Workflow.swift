import Foundation

/// A workflow to store with its tasks (``TaskEnqueueParams/workflow``): its id and name.
public struct NewWorkflow: Sendable, Hashable {
    public var id: TaskID
    public var name: String?
    /// How many nodes the workflow will have when its tasks arrive in several requests (a
    /// Machinery group or chord sent a member per message): it is `running` until it has them.
    public var expectedNodes: Int?
    /// Whether a workflow already stored under `id` is joined rather than refused as a
    /// conflict: the workflow of a Machinery group sent a member per message, made by
    /// whichever member is stored first (its `name` and `expectedNodes` then stay).
    public var joinsExisting: Bool

    public init(id: TaskID, name: String? = nil, expectedNodes: Int? = nil, joinsExisting: Bool = false) {
        self.id = id
        self.name = name
        self.expectedNodes = expectedNodes
        self.joinsExisting = joinsExisting
    }
}

/// Where a workflow is, derived from its nodes (``WorkflowRecord/derive``).
public enum WorkflowState: String, Sendable, Codable, CaseIterable, Hashable {
    /// Some node has not finished.
    case running
    /// Every node finished and none failed or was cancelled (a node skipped because its edge
    /// was not needed, such as an error callback whose parent succeeded, does not count).
    case succeeded
    /// Every node finished and one failed.
    case failed
    /// Every node finished, none failed, and the workflow or one of its nodes was cancelled.
    case cancelled

    public var isTerminal: Bool { self != .running }
}

/// One node of a stored workflow, as `GET /v1/workflows/{id}` shows it.
public struct WorkflowNode: Sendable, Hashable, Codable {
    public var name: String
    public var id: TaskID
    public var kind: String
    public var state: TaskState
    /// Cancelled by its dependencies (an edge that can never be satisfied), not by a request.
    public var skipped: Bool
    public var result: RawJSON?
    public var lastError: String?

    public init(
        name: String, id: TaskID, kind: String, state: TaskState, skipped: Bool = false, result: RawJSON? = nil,
        lastError: String? = nil
    ) {
        self.name = name
        self.id = id
        self.kind = kind
        self.state = state
        self.skipped = skipped
        self.result = result
        self.lastError = lastError
    }

    enum CodingKeys: String, CodingKey {
        case name, id, kind, state, skipped, result
        case lastError = "last_error"
    }
}

/// A stored workflow and its nodes in stored order: parents first, level by level (``WorkflowSpec``).
public struct WorkflowRecord: Sendable, Hashable, Codable {
    public var id: TaskID
    public var name: String?
    public var state: WorkflowState
    /// Whether `POST /v1/workflows/{id}/cancel` was asked.
    public var cancelRequested: Bool
    public var createdAt: Date
    public var nodes: [WorkflowNode]

    public init(
        id: TaskID, name: String?, cancelRequested: Bool, createdAt: Date, nodes: [WorkflowNode], expectedNodes: Int? = nil
    ) {
        self.id = id
        self.name = name
        self.cancelRequested = cancelRequested
        self.createdAt = createdAt
        self.nodes = nodes
        self.state = Self.derive(cancelRequested: cancelRequested, nodes: nodes, expectedNodes: expectedNodes)
    }

    /// Running while a node has not finished, or fewer nodes than `expectedNodes` have been
    /// stored (unless it was cancelled); then failed if a node failed, else cancelled if the
    /// workflow or a node was cancelled by a request, else succeeded.
    public static func derive(cancelRequested: Bool, nodes: [WorkflowNode], expectedNodes: Int? = nil) -> WorkflowState {
        if nodes.contains(where: { !$0.state.isTerminal }) { return .running }
        if let expectedNodes, nodes.count < expectedNodes, !cancelRequested { return .running }
        if nodes.contains(where: { $0.state == .failed }) { return .failed }
        if cancelRequested || nodes.contains(where: { $0.state == .cancelled && !$0.skipped }) { return .cancelled }
        return .succeeded
    }

    /// Counts of the nodes by state.
    public var counts: [String: Int] {
        var all: [String: Int] = [:]
        for state in TaskState.allCases { all[state.rawValue] = 0 }
        for node in nodes { all[node.state.rawValue, default: 0] += 1 }
        return all
    }

    enum CodingKeys: String, CodingKey {
        case id, name, state
        case cancelRequested = "cancel_requested"
        case createdAt = "created_at"
        case nodes, counts
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decode(TaskID.self, forKey: .id)
        name = try c.decodeIfPresent(String.self, forKey: .name)
        state = try c.decode(WorkflowState.self, forKey: .state)
        cancelRequested = try c.decode(Bool.self, forKey: .cancelRequested)
        createdAt = try c.decode(Date.self, forKey: .createdAt)
        nodes = try c.decode([WorkflowNode].self, forKey: .nodes)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encodeIfPresent(name, forKey: .name)
        try c.encode(state, forKey: .state)
        try c.encode(cancelRequested, forKey: .cancelRequested)
        try c.encode(createdAt, forKey: .createdAt)
        try c.encode(nodes, forKey: .nodes)
        try c.encode(counts, forKey: .counts)
    }
}

/// `GET /v1/tasks/{id}/parents` paging.
public struct TaskParentsParams: Sendable, Hashable {
    public var id: TaskID
    /// The position to start after (from a previous page's `next_cursor`).
    public var cursor: Int?
    public var limit: Int

    public static let maxLimit = 1000
    public static let defaultLimit = 1000

    public init(id: TaskID, cursor: Int? = nil, limit: Int = TaskParentsParams.defaultLimit) {
        self.id = id
        self.cursor = cursor
        self.limit = limit
    }

    public func validate() throws(BatonError) {
        guard (1...Self.maxLimit).contains(limit) else {
            throw .invalidArgument("limit must be between 1 and \(Self.maxLimit), got \(limit)")
        }
    }
}
