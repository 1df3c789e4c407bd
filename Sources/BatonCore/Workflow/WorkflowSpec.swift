import Foundation

/// A workflow request compiled into what a store takes (``TaskEnqueueParams`` with its
/// `workflow`): the workflow and every node as a task.
public struct WorkflowSubmission: Sendable, Hashable {
    public var workflow: NewWorkflow
    /// Every node as a task, parents before children (topological order), each with
    /// id (generated), workflowID = workflow.id, node = its name, after = its edges resolved to ids.
    public var tasks: [NewTask]

    public init(workflow: NewWorkflow, tasks: [NewTask]) {
        self.workflow = workflow
        self.tasks = tasks
    }
}

/// Compiles the body of `POST /v1/workflows` into a ``WorkflowSubmission``.
///
/// ## Grammar
///
/// The body is an object:
///
/// ```
/// workflow := { "name"?: string (1–200 characters),
///               "policy"?: "cancel" | "ignore_failed" | "ignore_cancelled" | "ignore",
///               and exactly one of
///               "nodes": [node, …] | "chain": [item, …] | "group": [item, …] | "chord": chord }
/// node     := task fields + { "name": string, "after"?: [after, …] }
/// after    := "<node name>"                                  (condition success)
///           | { "name": "<node name>", "on"?: condition }
///           | { "id": "<id of an existing task>", "on"?: condition }
/// item     := task fields + { "name"?: string, "after"?: [{ "id": …, "on"?: … }, …] }
///           | { "chain": [item, …] } | { "group": [item, …] } | { "chord": chord }
/// chord    := { "header": [item, …], "body": item }
/// condition:= "success" | "failure" | "always"               (default success)
/// ```
///
/// *Task fields* are exactly those of a task submission (``NewTask``'s JSON: `kind`, `args`,
/// `queue`, `priority`, `run_at`, `delay`, `max_attempts`, `timeout`, `retry`, `unique_key`,
/// `unique_window`, `tags`, `pass`, `policy`); `id`, `workflow_id` and `node` are the
/// workflow's to set, and any other field is refused by name. An item is a task when it has
/// `kind`. A task that sets no `policy` takes the workflow's.
///
/// ## Edges
///
/// Every piece of the shorthand has *entry* nodes (those that start it) and *exit* nodes
/// (those that end it). A task is its own entry and exit. A chain gives each step's entries an
/// edge (success) from every exit of the step before; its entries are its first step's, its
/// exits its last step's. A group's entries and exits are its items', in item order. A chord's
/// body entries get an edge from every header exit, in header order; its entries are the
/// header's, its exits the body's. A node's parents are in the order their edges are listed
/// (the `nodes` form) or derived (the shorthand: derived edges first, then the item's own
/// `after`), which is the order `pass` prepends their results in: a chord body receives its
/// members' results in member order.
///
/// ## Names
///
/// A shorthand task without `name` is named by its path of 0-based indexes joined by `.`: the
/// top-level chain `[a, {"group": [b, c]}, d]` names them `0`, `1.0`, `1.1`, `2`; in a chord
/// the header items are `header.0`, `header.1`, … and the body `body`, under the chord's own
/// path (`2.header.0`). Names are 1–200 characters and unique within the workflow.
///
/// ## Refusals
///
/// `invalid_argument` (or the task's own code, `too_large` for big `args`), the first problem
/// found, naming the node or the field: an empty `nodes`, `chain`, `group` or `header`; a
/// duplicate name; an `after` naming no node, the node itself, or the same parent twice; a
/// cycle (`cycle: a → b → a`); more than ``Limits/maxWorkflowNodes`` nodes or
/// ``Limits/maxWorkflowEdges`` edges; a task that ``NewTask/validate(maxArgsBytes:)`` refuses
/// (`node 'x': priority must be between 1 and 10, got 0`).
///
/// The tasks come out topologically sorted, level by level: of the nodes whose parents are all
/// placed, the one of the lowest depth (its longest path from a node without parents) goes
/// next, and among equals the one submitted first. Tasks that become ready together are then
/// stored together: a group of chains stores every chain's first step, then every second step,
/// and so on, so the store writes a few pages per batch of claims or completions instead of one
/// per chain. Ids are drawn from `newID` in that order, after the workflow's, so they sort
/// parents first too.
public enum WorkflowSpec {
    /// Compiles a `POST /v1/workflows` body. `newID` makes ids (``TaskID/generate(at:)`` in
    /// production; tests may pass a counter).
    public static func compile(
        _ body: JSONValue, maxArgsBytes: Int = Limits.defaultMaxArgsBytes, newID: () -> TaskID = { TaskID.generate() }
    ) throws(BatonError) -> WorkflowSubmission {
        guard case .object(let top) = body else { throw .invalidArgument("a workflow must be a JSON object") }
        for key in top.keys.sorted() where !topLevelFields.contains(key) {
            throw .invalidArgument("unknown field '\(key)' in a workflow")
        }
        var name: String?
        if let value = top["name"] {
            guard case .string(let text) = value, Limits.hasLength(text, 1...Limits.maxNodeNameLength) else {
                throw .invalidArgument("name must be a string of 1 to \(Limits.maxNodeNameLength) characters")
            }
            try Limits.refuseNUL(text, field: "name")
            name = text
        }
        var policy: DependencyPolicy?
        if let value = top["policy"] {
            guard case .string(let text) = value, let known = DependencyPolicy(rawValue: text) else {
                throw .invalidArgument("policy must be one of cancel, ignore_failed, ignore_cancelled or ignore")
            }
            policy = known
        }
        let forms = ["nodes", "chain", "group", "chord"].filter { top[$0] != nil }
        guard forms.count == 1, let form = forms.first, let value = top[form] else {
            throw .invalidArgument("give exactly one of nodes, chain, group or chord")
        }
        var compiler = Compiler()
        if form == "nodes" {
            try compiler.nodes(value)
        } else {
            _ = try compiler.shorthand(form, value, path: "", location: form)
            try compiler.linkOwnAfter()
        }
        return try compiler.graph.finish(name: name, policy: policy, maxArgsBytes: maxArgsBytes, newID: newID)
    }

    private static let topLevelFields: Set<String> = ["name", "policy", "nodes", "chain", "group", "chord"]
}

/// The entry and exit nodes of a piece of shorthand.
private struct Piece {
    var entries: [Int]
    var exits: [Int]
}

/// One `after` entry of a task object, before names are resolved.
private enum AfterEntry {
    case node(String, DependencyCondition)
    case task(TaskDependency)
}

/// Reads the request into a ``WorkflowGraph``.
private struct Compiler {
    var graph = WorkflowGraph(noun: "node")
    /// Each shorthand task's own `after` (existing tasks), added after the derived edges.
    private var ownAfter: [(node: Int, dependencies: [TaskDependency])] = []
    private let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }()
    private let decoder = BatonJSON.requestDecoder()

    /// A task object's fields besides `name`: ``NewTask``'s own, less the `id` a workflow sets.
    private static let taskFields: Set<String> = Set(NewTask.CodingKeys.allCases.map(\.rawValue)).subtracting(["id"]).union(["name"])
    /// Why a field a task submission may have is not a workflow task's.
    private static let setByWorkflow: [String: String] = [
        "id": "ids are generated",
        "workflow_id": "it is the workflow's",
        "node": "name a node with name",
    ]

    // MARK: The nodes form

    mutating func nodes(_ value: JSONValue) throws(BatonError) {
        let items = try Self.array(value, location: "nodes")
        if items.count > Limits.maxWorkflowNodes {
            throw .invalidArgument("a workflow has at most \(Limits.maxWorkflowNodes) nodes, got \(items.count)")
        }
        var afters: [[AfterEntry]] = []
        afters.reserveCapacity(items.count)
        for (i, item) in items.enumerated() {
            let location = "nodes[\(i)]"
            guard case .object(let members) = item else { throw .invalidArgument("\(location) must be a task object") }
            guard let name = try Self.explicitName(members, location: location) else {
                throw .invalidArgument("\(location): name is required")
            }
            let (task, after) = try taskObject(members, name: name, namesAllowed: true)
            _ = try graph.add(name: name, task: task, location: location)
            afters.append(after)
        }
        for (child, after) in afters.enumerated() {
            for entry in after {
                switch entry {
                case .node(let parentName, let condition):
                    guard let parent = graph.index(of: parentName) else {
                        throw .invalidArgument(
                            "node '\(graph.nodes[child].name)': after names '\(parentName)', which is not a node of the workflow")
                    }
                    try graph.link(parent, to: child, on: condition)
                case .task(let dependency):
                    try graph.link(existing: dependency, to: child)
                }
            }
        }
    }

    // MARK: The shorthand

    /// A `chain`, `group` or `chord` at `location` (its JSON path, for messages); `path` is
    /// the name prefix of its unnamed tasks.
    mutating func shorthand(_ form: String, _ value: JSONValue, path: String, location: String) throws(BatonError) -> Piece {
        switch form {
        case "chain":
            let items = try Self.array(value, location: location)
            var entries: [Int] = []
            var previous: [Int] = []
            for (i, item) in items.enumerated() {
                let piece = try self.item(item, path: Self.join(path, "\(i)"), location: "\(location)[\(i)]")
                if i == 0 {
                    entries = piece.entries
                } else {
                    try linkAll(previous, to: piece.entries)
                }
                previous = piece.exits
            }
            return Piece(entries: entries, exits: previous)
        case "group":
            let items = try Self.array(value, location: location)
            return try group(items, path: path, indexPrefix: "", location: location)
        default:
            guard case .object(let members) = value else {
                throw .invalidArgument("\(location) must be an object with header and body")
            }
            for key in members.keys.sorted() where key != "header" && key != "body" {
                throw .invalidArgument("\(location): unknown field '\(key)' in a chord")
            }
            guard let header = members["header"], let body = members["body"] else {
                throw .invalidArgument("\(location) needs header and body")
            }
            let headerItems = try Self.array(header, location: "\(location).header")
            let headerPiece = try group(headerItems, path: path, indexPrefix: "header.", location: "\(location).header")
            let bodyPiece = try item(body, path: Self.join(path, "body"), location: "\(location).body")
            try linkAll(headerPiece.exits, to: bodyPiece.entries)
            return Piece(entries: headerPiece.entries, exits: bodyPiece.exits)
        }
    }

    private mutating func group(_ items: [JSONValue], path: String, indexPrefix: String, location: String) throws(BatonError) -> Piece {
        var piece = Piece(entries: [], exits: [])
        for (i, item) in items.enumerated() {
            let part = try self.item(item, path: Self.join(path, "\(indexPrefix)\(i)"), location: "\(location)[\(i)]")
            piece.entries += part.entries
            piece.exits += part.exits
        }
        return piece
    }

    private mutating func item(_ value: JSONValue, path: String, location: String) throws(BatonError) -> Piece {
        guard case .object(let members) = value else {
            throw .invalidArgument("\(location) must be an object: a task (with kind) or a chain, group or chord")
        }
        if members["kind"] != nil {
            let name = try Self.explicitName(members, location: location) ?? path
            if !Limits.hasLength(name, 1...Limits.maxNodeNameLength) {
                throw .invalidArgument("\(location): its name '\(name)' is longer than \(Limits.maxNodeNameLength) characters; give a name")
            }
            let (task, after) = try taskObject(members, name: name, namesAllowed: false)
            let index = try graph.add(name: name, task: task, location: location)
            let dependencies = after.compactMap { entry -> TaskDependency? in
                if case .task(let dependency) = entry { return dependency }
                return nil
            }
            if !dependencies.isEmpty { ownAfter.append((index, dependencies)) }
            return Piece(entries: [index], exits: [index])
        }
        let forms = ["chain", "group", "chord"].filter { members[$0] != nil }
        guard let form = forms.first, let inner = members[form] else {
            throw .invalidArgument("\(location) must be a task (with kind) or one of chain, group or chord")
        }
        for key in members.keys.sorted() where key != form {
            if forms.contains(key) { throw .invalidArgument("\(location): give one of chain, group or chord, not both \(form) and \(key)") }
            throw .invalidArgument("\(location): unknown field '\(key)' beside \(form)")
        }
        return try shorthand(form, inner, path: path, location: "\(location).\(form)")
    }

    /// Every child gets an edge from every parent, in parent order.
    private mutating func linkAll(_ parents: [Int], to children: [Int]) throws(BatonError) {
        for child in children {
            for parent in parents { try graph.link(parent, to: child, on: .success) }
        }
    }

    /// The shorthand tasks' own `after`, after their derived edges.
    mutating func linkOwnAfter() throws(BatonError) {
        for (node, dependencies) in ownAfter {
            for dependency in dependencies { try graph.link(existing: dependency, to: node) }
        }
    }

    // MARK: Task objects

    /// A task object's task (without edges) and its `after` entries; `name` labels messages.
    private func taskObject(
        _ members: [String: JSONValue], name: String, namesAllowed: Bool
    ) throws(BatonError) -> (NewTask, [AfterEntry]) {
        let label = "node '\(name)'"
        for key in members.keys.sorted() where !Self.taskFields.contains(key) {
            if let reason = Self.setByWorkflow[key] {
                throw .invalidArgument("\(label): field '\(key)' cannot be given in a workflow: \(reason)")
            }
            throw .invalidArgument("\(label): unknown field '\(key)' in a task")
        }
        var fields = members
        fields["name"] = nil
        let afterValue = fields.removeValue(forKey: "after")
        // The submit route's decoder reads the fields written back as text; what it is not
        // sure of (`pass`, `policy`, a wrong type) goes through JSONDecoder, which reports
        // the precise error.
        var writer = JSONWriter(capacity: 256)
        writer.value(.object(fields))
        let task: NewTask
        if let fast = writer.bytes.withUnsafeBytes({ NewTaskWireDecoder.decodeOne($0) }) {
            task = fast
        } else {
            task = try slowDecode(fields, label: label)
        }
        guard let afterValue else { return (task, []) }
        guard case .array(let entries) = afterValue else { throw .invalidArgument("\(label): after must be an array") }
        var after: [AfterEntry] = []
        after.reserveCapacity(entries.count)
        for entry in entries {
            after.append(try Self.afterEntry(entry, label: label, namesAllowed: namesAllowed))
        }
        return (task, after)
    }

    private func slowDecode(_ fields: [String: JSONValue], label: String) throws(BatonError) -> NewTask {
        do {
            return try decoder.decode(NewTask.self, from: try encoder.encode(JSONValue.object(fields)))
        } catch let error as DecodingError {
            throw .invalidArgument("\(label): \(DecodingErrorMessage.describe(error))")
        } catch {
            throw .invalidArgument("\(label): \(error)")
        }
    }

    private static func afterEntry(_ entry: JSONValue, label: String, namesAllowed: Bool) throws(BatonError) -> AfterEntry {
        let onlyIDs = "\(label): after in a chain, group or chord names only existing tasks, as {\"id\": …}"
        switch entry {
        case .string(let name):
            guard namesAllowed else { throw .invalidArgument(onlyIDs) }
            return .node(name, .success)
        case .object(let members):
            for key in members.keys.sorted() where !["name", "id", "on"].contains(key) {
                throw .invalidArgument("\(label): unknown field '\(key)' in an after entry")
            }
            var condition = DependencyCondition.success
            if let on = members["on"] {
                guard case .string(let text) = on, let known = DependencyCondition(rawValue: text) else {
                    throw .invalidArgument("\(label): an after entry's on must be success, failure or always")
                }
                condition = known
            }
            switch (members["name"], members["id"]) {
            case (.some(let name), nil):
                guard namesAllowed else { throw .invalidArgument(onlyIDs) }
                guard case .string(let text) = name else { throw .invalidArgument("\(label): an after entry's name must be a string") }
                return .node(text, condition)
            case (nil, .some(let id)):
                guard case .string(let text) = id, let parent = TaskID(text) else {
                    throw .invalidArgument("\(label): an after entry's id must be a task id (a UUID)")
                }
                return .task(TaskDependency(parent: parent, condition: condition))
            case (.some, .some):
                throw .invalidArgument("\(label): an after entry has either name or id, not both")
            case (nil, nil):
                throw .invalidArgument("\(label): an after entry needs name or id")
            }
        default:
            throw .invalidArgument(
                namesAllowed ? "\(label): each after entry must be a node name or an object with name or id" : onlyIDs)
        }
    }

    // MARK: Helpers

    private static func explicitName(_ members: [String: JSONValue], location: String) throws(BatonError) -> String? {
        guard let value = members["name"] else { return nil }
        guard case .string(let name) = value, Limits.hasLength(name, 1...Limits.maxNodeNameLength) else {
            throw .invalidArgument("\(location): name must be a string of 1 to \(Limits.maxNodeNameLength) characters")
        }
        try Limits.refuseNUL(name, field: "\(location): name")
        return name
    }

    private static func array(_ value: JSONValue, location: String) throws(BatonError) -> [JSONValue] {
        guard case .array(let items) = value else { throw .invalidArgument("\(location) must be an array") }
        guard !items.isEmpty else { throw .invalidArgument("\(location) must not be empty") }
        return items
    }

    private static func join(_ path: String, _ part: String) -> String {
        path.isEmpty ? part : "\(path).\(part)"
    }
}

/// A workflow's nodes and edges as they are read, then checked, sorted and given ids
/// (``finish(name:policy:maxArgsBytes:newID:)``). Shared by ``WorkflowSpec`` and ``Machinery``.
struct WorkflowGraph {
    enum Parent: Hashable {
        /// Another node of the workflow, by index.
        case node(Int, DependencyCondition)
        /// An existing task.
        case task(TaskDependency)
    }

    struct Node {
        var name: String
        /// The task without its workflow fields (`id`, `after`, `workflowID`, `node`).
        var task: NewTask
        var parents: [Parent] = []
    }

    /// What messages call a node: `node`, or Machinery's `signature`.
    let noun: String
    private(set) var nodes: [Node] = []
    private var indexes: [String: Int] = [:]
    private var edgeCount = 0

    init(noun: String) { self.noun = noun }

    func index(of name: String) -> Int? { indexes[name] }

    /// Adds a node; `location` places it in the request for the duplicate-name message.
    mutating func add(name: String, task: NewTask, location: String) throws(BatonError) -> Int {
        guard nodes.count < Limits.maxWorkflowNodes else {
            throw .invalidArgument("a workflow has at most \(Limits.maxWorkflowNodes) nodes")
        }
        guard indexes[name] == nil else { throw .invalidArgument("\(location): duplicate \(noun) name '\(name)'") }
        indexes[name] = nodes.count
        nodes.append(Node(name: name, task: task))
        return nodes.count - 1
    }

    mutating func link(_ parent: Int, to child: Int, on condition: DependencyCondition) throws(BatonError) {
        try countEdge()
        nodes[child].parents.append(.node(parent, condition))
    }

    mutating func link(existing dependency: TaskDependency, to child: Int) throws(BatonError) {
        try countEdge()
        nodes[child].parents.append(.task(dependency))
    }

    private mutating func countEdge() throws(BatonError) {
        edgeCount += 1
        if edgeCount > Limits.maxWorkflowEdges {
            throw .invalidArgument("a workflow has at most \(Limits.maxWorkflowEdges) edges")
        }
    }

    mutating func setPass(_ pass: ResultPassing?, of node: Int) { nodes[node].task.pass = pass }

    /// Checks the edges (no self-dependency, no parent twice, no cycle), sorts the nodes
    /// parents first, draws the ids, and validates every task, in O(nodes + edges) plus a
    /// heap's log factor on the nodes.
    func finish(name: String?, policy: DependencyPolicy?, maxArgsBytes: Int, newID: () -> TaskID) throws(BatonError) -> WorkflowSubmission {
        let count = nodes.count
        // Self-dependencies and repeated parents, node by node: `seenBy[p] == child` marks
        // `p` as already a parent of `child`.
        var seenBy = [Int](repeating: -1, count: count)
        var childCounts = [Int](repeating: 0, count: count + 1)
        var unplacedParents = [Int](repeating: 0, count: count)
        for (child, node) in nodes.enumerated() {
            var existing: Set<TaskID> = []
            for parent in node.parents {
                switch parent {
                case .node(let p, _):
                    if p == child { throw .invalidArgument("\(noun) '\(node.name)' cannot depend on itself") }
                    if seenBy[p] == child {
                        throw .invalidArgument("\(noun) '\(node.name)': after names '\(nodes[p].name)' twice")
                    }
                    seenBy[p] = child
                    childCounts[p] += 1
                    unplacedParents[child] += 1
                case .task(let dependency):
                    if !existing.insert(dependency.parent).inserted {
                        throw .invalidArgument("\(noun) '\(node.name)': after names task \(dependency.parent) twice")
                    }
                }
            }
        }
        // Children lists, flattened: node i's children are children[offsets[i] ..< offsets[i + 1]].
        var offsets = [Int](repeating: 0, count: count + 1)
        for i in 0..<count { offsets[i + 1] = offsets[i] + childCounts[i] }
        var fill = offsets
        var children = [Int](repeating: 0, count: offsets[count])
        for (child, node) in nodes.enumerated() {
            for case .node(let p, _) in node.parents {
                children[fill[p]] = child
                fill[p] += 1
            }
        }
        // Kahn's algorithm, level by level: of the placed-ready nodes, the one of the lowest
        // depth (the longest path from a root) goes next, the earliest submitted among equals.
        // The heap's key is `depth * count + index`.
        var depth = [Int](repeating: 0, count: count)
        var ready = IndexHeap()
        for i in 0..<count where unplacedParents[i] == 0 { ready.push(i) }
        var order: [Int] = []
        order.reserveCapacity(count)
        while let key = ready.pop() {
            let next = key % count
            order.append(next)
            for child in children[offsets[next]..<offsets[next + 1]] {
                depth[child] = max(depth[child], depth[next] + 1)
                unplacedParents[child] -= 1
                if unplacedParents[child] == 0 { ready.push(depth[child] * count + child) }
            }
        }
        if order.count < count { throw .invalidArgument(cycle(unplacedParents: unplacedParents)) }

        let workflow = NewWorkflow(id: newID(), name: name)
        var ids = [TaskID?](repeating: nil, count: count)
        for i in order { ids[i] = newID() }
        var tasks = [NewTask?](repeating: nil, count: count)
        for (i, node) in nodes.enumerated() {
            var task = node.task
            task.id = ids[i]
            task.workflowID = workflow.id
            task.node = node.name
            task.policy = task.policy ?? policy
            task.after = node.parents.map { parent in
                switch parent {
                case .node(let p, let condition): TaskDependency(parent: ids[p]!, condition: condition)
                case .task(let dependency): dependency
                }
            }
            do {
                try task.validate(maxArgsBytes: maxArgsBytes)
            } catch {
                throw BatonError(error.code, "\(noun) '\(node.name)': \(error.message)")
            }
            tasks[i] = task
        }
        return WorkflowSubmission(workflow: workflow, tasks: order.map { tasks[$0]! })
    }

    /// `cycle: a → b → a`: one cycle among the nodes Kahn's algorithm could not place. Each
    /// of them has an unplaced parent; following those from the first such node must come
    /// back to a node already seen.
    private func cycle(unplacedParents: [Int]) -> String {
        guard let start = unplacedParents.firstIndex(where: { $0 > 0 }) else { return "cycle" }
        var position: [Int: Int] = [:]
        var walk: [Int] = []
        var current = start
        while position[current] == nil {
            position[current] = walk.count
            walk.append(current)
            for case .node(let p, _) in nodes[current].parents where unplacedParents[p] > 0 {
                current = p
                break
            }
        }
        // The walk goes from child to parent; the cycle reads parent to child.
        var members = Array(walk[position[current]!...].reversed())
        if let first = members.indices.min(by: { members[$0] < members[$1] }) {
            members = Array(members[first...] + members[..<first])
        }
        let names = (members + [members[0]]).map { nodes[$0].name }
        return "cycle: " + names.joined(separator: " → ")
    }
}

/// A binary min-heap of node indexes.
private struct IndexHeap {
    private var items: [Int] = []

    mutating func push(_ value: Int) {
        items.append(value)
        var i = items.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            if items[parent] <= items[i] { break }
            items.swapAt(parent, i)
            i = parent
        }
    }

    mutating func pop() -> Int? {
        guard let top = items.first else { return nil }
        let last = items.removeLast()
        if !items.isEmpty {
            items[0] = last
            var i = 0
            while true {
                let left = 2 * i + 1
                let right = left + 1
                var smallest = i
                if left < items.count && items[left] < items[smallest] { smallest = left }
                if right < items.count && items[right] < items[smallest] { smallest = right }
                if smallest == i { break }
                items.swapAt(i, smallest)
                i = smallest
            }
        }
        return top
    }
}
