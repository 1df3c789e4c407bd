import Foundation

/// When an edge from a parent task to a dependent is satisfied. See `docs/workflows.md`.
public enum DependencyCondition: String, Sendable, Codable, CaseIterable, Hashable {
    /// The parent succeeded (Machinery's `OnSuccess`). The default.
    case success
    /// The parent ended `failed` (Machinery's `OnError`).
    case failure
    /// The parent finished, whichever way.
    case always
}

/// What a dependent does when a parent ends in a way that can never satisfy its edge.
public enum DependencyPolicy: String, Sendable, Codable, CaseIterable, Hashable {
    /// The dependent is cancelled (the default), and the cancel cascades to its own dependents.
    case cancel
    /// A parent that ended `failed` counts as satisfying the edge.
    case ignoreFailed = "ignore_failed"
    /// A parent that was cancelled counts as satisfying the edge.
    case ignoreCancelled = "ignore_cancelled"
    /// Both: a parent that failed or was cancelled counts as satisfying the edge.
    case ignore

    /// The bits the stores keep on each edge: 1 ignores a failed parent, 2 a cancelled one.
    public var ignoreBits: Int {
        switch self {
        case .cancel: 0
        case .ignoreFailed: 1
        case .ignoreCancelled: 2
        case .ignore: 3
        }
    }
}

/// How a dependent receives its parents' results besides `ctx.parents()`.
public enum ResultPassing: String, Sendable, Codable, CaseIterable, Hashable {
    /// The results are prepended to the arguments (which must be a JSON array), one element
    /// per parent in the order the parents are listed (Machinery's `Immutable: false`).
    case prepend
    /// Each parent's result must be a JSON array; its items are prepended, parent by parent
    /// (Machinery's results are lists of `{Type, Value}` and become arguments so).
    case prependItems = "prepend_items"

    /// The arguments a dependent runs with: `args` with its parents' results in front (in
    /// parent order; a parent without a result counts as `null`). Throws when `args` is not a
    /// JSON array, or, for ``prependItems``, a result is not one.
    public func arguments(_ args: RawJSON, parentResults: [RawJSON?]) throws(BatonError) -> RawJSON {
        var values: [RawJSON] = []
        switch self {
        case .prepend:
            values = parentResults.map { $0 ?? .null }
        case .prependItems:
            for result in parentResults {
                guard case .array(let items)? = try? (result ?? .null).parsed() else {
                    throw .invalidArgument("pass prepend_items needs each parent's result to be a JSON array")
                }
                values += items.map { RawJSON($0) }
            }
        }
        guard let combined = args.prepending(values) else {
            throw .invalidArgument("pass \(rawValue) needs the task's args to be a JSON array")
        }
        return combined
    }
}

/// One edge into a task: the parent it waits for and when the edge is satisfied.
public struct TaskDependency: Sendable, Hashable {
    public var parent: TaskID
    public var condition: DependencyCondition

    public init(parent: TaskID, condition: DependencyCondition = .success) {
        self.parent = parent
        self.condition = condition
    }

    /// Whether a parent that ended in `parentState` satisfies this edge of a dependent with
    /// `policy`; `nil` while the parent has not finished. The stores keep the same rule as a
    /// generated column (`task_deps.blocked`); the policy table test checks both against it.
    public static func satisfied(
        condition: DependencyCondition, parentState: TaskState, policy: DependencyPolicy
    ) -> Bool? {
        guard parentState.isTerminal else { return nil }
        switch (condition, parentState) {
        case (.always, _), (.success, .succeeded), (.failure, .failed): return true
        case (_, .failed): return policy.ignoreBits & 1 != 0
        case (_, .cancelled): return policy.ignoreBits & 2 != 0
        default: return false
        }
    }
}

extension TaskDependency: Codable {
    enum CodingKeys: String, CodingKey {
        case id
        case on
    }

    /// `"<id>"`, or `{"id": "<id>", "on": "success" | "failure" | "always"}`.
    public init(from decoder: any Decoder) throws {
        if let single = try? decoder.singleValueContainer(), let id = try? single.decode(TaskID.self) {
            self.init(parent: id)
            return
        }
        let all = try decoder.container(keyedBy: AnyKey.self)
        for key in all.allKeys where CodingKeys(stringValue: key.stringValue) == nil {
            throw DecodingError.dataCorrupted(
                .init(codingPath: decoder.codingPath + [key], debugDescription: "unknown field '\(key.stringValue)' in a dependency"))
        }
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            parent: try c.decode(TaskID.self, forKey: .id),
            condition: try c.decodeIfPresent(DependencyCondition.self, forKey: .on) ?? .success)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(parent, forKey: .id)
        try c.encode(condition, forKey: .on)
    }
}

/// A parent's outcome as a dependent sees it (`ctx.parents()`, `GET /v1/tasks/{id}/parents`).
public struct ParentResult: Sendable, Hashable, Codable {
    /// The parent's node name in its workflow, or its id when it has none.
    public var name: String
    public var id: TaskID
    public var state: TaskState
    public var condition: DependencyCondition
    public var result: RawJSON?
    public var lastError: String?

    public init(name: String, id: TaskID, state: TaskState, condition: DependencyCondition, result: RawJSON?, lastError: String?) {
        self.name = name
        self.id = id
        self.state = state
        self.condition = condition
        self.result = result
        self.lastError = lastError
    }

    enum CodingKeys: String, CodingKey {
        case name, id, state
        case condition = "on"
        case result
        case lastError = "last_error"
    }
}

/// One page of a task's parents, in the order the dependent listed them.
public struct ParentPage: Sendable, Hashable, Codable {
    public var parents: [ParentResult]
    /// Pass back as `cursor` for the next page; `nil` on the last page.
    public var nextCursor: String?

    public init(parents: [ParentResult], nextCursor: String?) {
        self.parents = parents
        self.nextCursor = nextCursor
    }

    enum CodingKeys: String, CodingKey {
        case parents
        case nextCursor = "next_cursor"
    }

    /// `next_cursor` is always there: `null` on the last page.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(parents, forKey: .parents)
        try c.encode(nextCursor, forKey: .nextCursor)
    }
}

extension ParentPage {
    /// Every parent of a task, read a page at a time from `fetch` (given the cursor of the page
    /// to read, `nil` for the first); `nil` as soon as more than `most` were read.
    public static func all(
        most: Int = .max, _ fetch: (_ cursor: Int?) async throws -> ParentPage
    ) async throws -> [ParentResult]? {
        var parents: [ParentResult] = []
        var cursor: Int?
        repeat {
            let page = try await fetch(cursor)
            parents += page.parents
            if parents.count > most { return nil }
            cursor = page.nextCursor.flatMap { Int($0) }
        } while cursor != nil
        return parents
    }
}
