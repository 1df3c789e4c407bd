import Foundation

/// Compatibility with Machinery (a Go task queue): its signatures, chains, groups
/// and chords compiled into a Baton workflow, and Baton's task states in Machinery's terms.
///
/// ## Signatures
///
/// Machinery's JSON uses the Go field names, matched exactly: a signature is
/// `{"UUID", "Name", "RoutingKey", "ETA", "GroupUUID", "GroupTaskCount", "Args", "Headers",
/// "Priority", "Immutable", "RetryCount", "RetryTimeout", "OnSuccess", "OnError",
/// "ChordCallback", "ChordErrorCallback"}`; `BrokerMessageGroupId`, `SQSReceiptHandle`,
/// `StopTaskDeletionOnError` and `IgnoreWhenTaskNotRegistered` (broker details) are accepted
/// and ignored, any other field is refused. Each signature becomes a node:
///
/// - name: its `UUID`, so that state lookups by Machinery UUID find it (`task_<uuid>`, as
///   Machinery makes them, when it has none); the same UUID met again (Machinery's `NewChain`
///   nests each step in the previous one's `OnSuccess`, `NewChord` puts the callback in every
///   member's `ChordCallback`) is the same node, and must have the same fields;
/// - kind: `Name`; queue: `RoutingKey`, or ``Defaults/queue``; run_at: `ETA`;
/// - priority: Machinery's 1…9 are Baton's 2…10; 0 (Go's zero value: unset) is ``Defaults/priority``;
/// - max_attempts: `RetryCount + 1`; retry: ``RetryPolicy/fixed(_:)`` of `RetryTimeout`
///   seconds when it is positive, else (Machinery's default backoff) ``RetryPolicy/fibonacci(base:cap:)``
///   from one second when it retries at all;
/// - args: `Args` as a JSON array of `{"Type", "Value"}` (with `"Name"` when it has one);
/// - `Headers`, `GroupUUID` and `GroupTaskCount` are checked for type and otherwise unused:
///   groups are the workflow's structure (except for a member sent alone, which
///   ``groupMember(_:maxArgsBytes:newID:)`` reads).
///
/// `OnSuccess` children get an edge on `success`, `OnError` children on `failure`, a
/// `ChordCallback` on `success`. A signature with parents, all on `success`, that is not
/// `Immutable` gets `pass: prepend_items`: its parents' results (Machinery's lists of
/// `{"Type", "Value"}`) are prepended to its `Args`, item by item, in parent order. Machinery
/// prepends the error string to an error callback's arguments; Baton has no such passing, so
/// an error callback reads the failure from `ctx.parents` (`last_error`) instead.
/// `ChordErrorCallback` (and a chord's `ErrorCallback`) must be null: it runs when any member
/// fails, and a Baton edge waits for its parent's end, not for the first of several.
///
/// ## Workflows
///
/// The body is a signature; a chain `{"Tasks": [signature, …]}` (step i gets an edge from step
/// i - 1, as `NewChain`'s `OnSuccess` does); a group `{"GroupUUID", "Tasks": [signature, …]}`
/// or a bare array of signatures (independent members); or a chord
/// `{"Group": group, "Callback": signature, "ErrorCallback": null}` (the callback depends on
/// every member, in member order). A group's `GroupUUID` names the workflow.
public enum Machinery {
    /// The broker name in claims: a task's `lease_owner` is `machinery:QUEUE` while a
    /// Machinery worker has it (Baton's queue dispatched to Machinery's workers).
    public static let workersBroker = "machinery"

    /// Compiles a Machinery signature, chain, group, chord or array of signatures. `newID`
    /// makes ids (and the UUIDs of signatures without one).
    public static func compile(
        _ body: JSONValue, maxArgsBytes: Int = Limits.defaultMaxArgsBytes, newID: () -> TaskID = { TaskID.generate() }
    ) throws(BatonError) -> WorkflowSubmission {
        var reader = SignatureReader()
        var name: String?
        switch body {
        case .array(let signatures):
            _ = try reader.members(signatures, location: "", newID: newID)
        case .object(let members) where members["Tasks"] != nil:
            let isGroup = members["GroupUUID"] != nil
            let what = isGroup ? "group" : "chain"
            for key in members.keys.sorted() where key != "Tasks" && key != "GroupUUID" {
                throw .invalidArgument("unknown field '\(key)' in a \(what)")
            }
            let tasks = try SignatureReader.array(members["Tasks"], location: "Tasks")
            let nodes = try reader.members(tasks, location: "Tasks", newID: newID)
            if isGroup {
                name = try SignatureReader.groupName(members["GroupUUID"], location: "GroupUUID")
            } else {
                for (parent, child) in zip(nodes, nodes.dropFirst()) { try reader.link(parent, to: child, on: .success) }
            }
        case .object(let members) where members["Group"] != nil || members["Callback"] != nil:
            for key in members.keys.sorted() where !["Group", "Callback", "ErrorCallback"].contains(key) {
                throw .invalidArgument("unknown field '\(key)' in a chord")
            }
            if let errorCallback = members["ErrorCallback"], errorCallback != .null {
                throw .invalidArgument(SignatureReader.noErrorCallback("ErrorCallback"))
            }
            guard case .object(let group) = members["Group"] else {
                throw .invalidArgument("a chord's Group must be an object {\"GroupUUID\", \"Tasks\"}")
            }
            for key in group.keys.sorted() where key != "Tasks" && key != "GroupUUID" {
                throw .invalidArgument("unknown field '\(key)' in a group")
            }
            guard let callbackValue = members["Callback"], callbackValue != .null else {
                throw .invalidArgument("a chord needs a Callback signature")
            }
            let tasks = try SignatureReader.array(group["Tasks"], location: "Group.Tasks")
            let nodes = try reader.members(tasks, location: "Group.Tasks", newID: newID)
            let callback = try reader.signature(callbackValue, location: "Callback", newID: newID)
            for member in nodes { try reader.link(member, to: callback, on: .success) }
            name = try SignatureReader.groupName(group["GroupUUID"], location: "Group.GroupUUID")
        case .object(let members):
            if try SignatureReader.isLoneChordMember(members) {
                throw .invalidArgument("a chord member sent alone is joined to its chord by Machinery.groupMember, not compiled alone")
            }
            _ = try reader.signature(body, location: "signature", newID: newID)
        default:
            throw .invalidArgument("a Machinery workflow is a signature, a chain, a group, a chord or an array of signatures")
        }
        reader.setPasses()
        return try reader.graph.finish(name: name, policy: nil, maxArgsBytes: maxArgsBytes, newID: newID)
    }

    /// A member of a group or chord as Machinery's brokers send them: one message per member,
    /// each naming its group (`GroupUUID`) and the member count (`GroupTaskCount`), a chord's
    /// also the callback (`ChordCallback`); `nil` for any other body. The node stores each
    /// member in the group's workflow, whose id is the group's UUID, and a chord's callback
    /// once every member is stored (``MachineryGroupMember``).
    ///
    /// A group member whose `GroupUUID` is not Machinery's form (`group_<uuid>` or a UUID) is
    /// not one (`nil`: a workflow of its own). Refused, for a chord member: such a group UUID,
    /// a callback UUID that is not `chord_<uuid>`, `task_<uuid>` or a UUID (every member's
    /// message must name the same workflow and the same callback task), and callbacks of its
    /// own (`OnSuccess`, `OnError`: the members are counted as the workflow's nodes).
    public static func groupMember(
        _ body: JSONValue, maxArgsBytes: Int = Limits.defaultMaxArgsBytes, newID: () -> TaskID = { TaskID.generate() }
    ) throws(BatonError) -> MachineryGroupMember? {
        guard case .object(var members) = body, members["Tasks"] == nil, members["Group"] == nil else { return nil }
        let isChord = try SignatureReader.isLoneChordMember(members)
        let count = try SignatureReader.int(members, "GroupTaskCount", label: "the signature")
        let group = try SignatureReader.string(members, "GroupUUID", label: "the signature")
        guard isChord || (count > 0 && !group.isEmpty) else { return nil }
        guard let workflowID = taskID(group) else {
            guard isChord else { return nil }
            throw .invalidArgument(
                "a chord member sent alone needs a GroupUUID naming its chord (group_<uuid> or a UUID, as Machinery makes them), "
                    + "got '\(group)'")
        }
        // Made by whichever member is stored first, joined by the others.
        var workflow = NewWorkflow(id: workflowID, name: group, joinsExisting: true)
        var chord: MachineryChordCallback?
        if isChord {
            for key in ["OnSuccess", "OnError"] {
                if case .array(let children)? = members[key], !children.isEmpty {
                    throw .invalidArgument(
                        "a chord member sent alone cannot have \(key) callbacks (its chord counts its members as its nodes); "
                            + "send the chord whole as {\"Group\", \"Callback\"} to POST /v1/compat/machinery/workflows")
                }
            }
            guard let callback = members.removeValue(forKey: "ChordCallback"), case .object(let callbackMembers) = callback else {
                throw .invalidArgument("ChordCallback must be a signature object")
            }
            let callbackUUID = try SignatureReader.string(callbackMembers, "UUID", label: "ChordCallback")
            guard let callbackID = taskID(callbackUUID) else {
                throw .invalidArgument(
                    "a chord member sent alone needs a ChordCallback whose UUID every member shares (chord_<uuid> or a UUID, "
                        + "as Machinery makes them), got '\(callbackUUID)'")
            }
            var tasks = try compile(callback, maxArgsBytes: maxArgsBytes, newID: newID).adoptingMachineryUUIDs(in: workflow).tasks
            let root = tasks.firstIndex { $0.id == callbackID } ?? 0
            if try SignatureReader.bool(callbackMembers, "Immutable", label: "ChordCallback") == false {
                tasks[root].pass = .prependItems
            }
            chord = MachineryChordCallback(tasks: tasks, index: root)
        }
        let member = try compile(.object(members), maxArgsBytes: maxArgsBytes, newID: newID).adoptingMachineryUUIDs(in: workflow)
        // Running until every member (and a chord's callback with its own callbacks) is stored.
        workflow.expectedNodes = count + (chord?.tasks.count ?? 0)
        return MachineryGroupMember(workflow: workflow, count: count, member: member.tasks, chord: chord)
    }

    /// The Baton id of a Machinery UUID: `task_<uuid>`, `chord_<uuid>`, `group_<uuid>` (as
    /// Machinery makes them) or a bare UUID; `nil` for anything else.
    public static func taskID(_ uuid: String) -> TaskID? {
        for prefix in ["task_", "chord_", "group_"] where uuid.hasPrefix(prefix) {
            return TaskID(String(uuid.dropFirst(prefix.count)))
        }
        return TaskID(uuid)
    }

    /// Machinery's state of a task: `PENDING` until it runs (waiting for parents or its time,
    /// or ready), `STARTED` while it runs, `RETRY` between a failed attempt and the next one,
    /// `SUCCESS`, and `FAILURE` when it failed or was cancelled.
    ///
    /// Machinery's `RECEIVED` (a worker has taken the message but not started it) is never
    /// reported: a Baton claim is the start, the worker runs what it claims at once, so there
    /// is no stored moment between taking a task and running it.
    public static func state(_ record: TaskRecord) -> String {
        switch record.state {
        case .waiting: "PENDING"
        // A task back in line after a failed attempt (still backing off, or due again and not
        // yet claimed) is Machinery's retry.
        case .pending, .ready: record.attempt > 0 ? "RETRY" : "PENDING"
        case .running: "STARTED"
        case .succeeded: "SUCCESS"
        case .failed, .cancelled: "FAILURE"
        }
    }
}

/// One member of a group or chord that Machinery's broker sent alone
/// (``Machinery/groupMember(_:maxArgsBytes:newID:)``).
public struct MachineryGroupMember: Sendable, Hashable {
    /// The group's workflow: its id is the group's UUID, so that every member joins the same.
    public var workflow: NewWorkflow
    /// How many members the group has (`GroupTaskCount`).
    public var count: Int
    /// The member's task (and its own callbacks', in a group), in the workflow, ids from UUIDs.
    public var member: [NewTask]
    /// A chord's callback, stored once `count` members are.
    public var chord: MachineryChordCallback?

    public init(workflow: NewWorkflow, count: Int, member: [NewTask], chord: MachineryChordCallback?) {
        self.workflow = workflow
        self.count = count
        self.member = member
        self.chord = chord
    }
}

/// A chord's callback and the callbacks it has itself, in the chord's workflow, ids from
/// UUIDs; the callback's parents (the members) are for the node to add, on success, in the
/// order the members were stored.
public struct MachineryChordCallback: Sendable, Hashable {
    public var tasks: [NewTask]
    /// The callback's index in ``tasks``.
    public var index: Int

    public init(tasks: [NewTask], index: Int) {
        self.tasks = tasks
        self.index = index
    }

    /// The callback's id.
    public var id: TaskID? { tasks[index].id }

    /// The tasks with `members` (stored, in order) as the callback's parents.
    public func tasks(after members: [TaskID]) -> [NewTask] {
        var tasks = tasks
        tasks[index].after = members.map { TaskDependency(parent: $0, condition: .success) }
        return tasks
    }
}

extension WorkflowSubmission {
    /// The submission with each task whose node name is a Machinery UUID (``Machinery/taskID(_:)``)
    /// given that id, the edges that named the old ids moved with it; with `workflow`, every
    /// task in that workflow instead of its own.
    public func adoptingMachineryUUIDs(in workflow: NewWorkflow? = nil) -> WorkflowSubmission {
        var renamed: [TaskID: TaskID] = [:]
        var result = self
        for i in result.tasks.indices {
            if let workflow { result.tasks[i].workflowID = workflow.id }
            guard let old = result.tasks[i].id, let node = result.tasks[i].node, let id = Machinery.taskID(node) else { continue }
            renamed[old] = id
            result.tasks[i].id = id
        }
        for i in result.tasks.indices {
            for j in result.tasks[i].after.indices {
                if let id = renamed[result.tasks[i].after[j].parent] { result.tasks[i].after[j].parent = id }
            }
        }
        if let workflow { result.workflow = workflow }
        return result
    }
}

/// One of Machinery's result values, `{"Type": "int64", "Value": 3}`.
public struct MachineryTaskResult: Sendable, Hashable, Codable {
    public var type: String
    public var value: JSONValue

    public init(type: String, value: JSONValue) {
        self.type = type
        self.value = value
    }

    enum CodingKeys: String, CodingKey {
        case type = "Type"
        case value = "Value"
    }

    /// A value's Machinery type as Baton infers it: `string`, `int64`, `float64`, `bool`, or
    /// `json` for null, arrays and objects.
    public static func inferredType(_ value: JSONValue) -> String {
        switch value {
        case .string: "string"
        case .int: "int64"
        case .double: "float64"
        case .bool: "bool"
        case .null, .array, .object: "json"
        }
    }
}

/// A task's state in the shape of Machinery's `TaskState`:
/// `{"TaskUUID", "TaskName", "State", "Results": [{"Type", "Value"}] | null, "Error",
/// "CreatedAt", "TTL"}`.
public struct MachineryTaskState: Sendable, Hashable, Codable {
    /// The task's node name (its Machinery UUID), or its id when it has none.
    public var taskUUID: String
    public var taskName: String
    /// ``Machinery/state(_:)``.
    public var state: String
    public var results: [MachineryTaskResult]?
    /// The last error, `""` when there is none (Go's zero value).
    public var error: String
    public var createdAt: Date
    /// Seconds the result is kept, Machinery's `ResultsExpireIn`; 0: the backend's default.
    public var ttl: Int64

    public init(
        taskUUID: String, taskName: String, state: String, results: [MachineryTaskResult]?, error: String, createdAt: Date,
        ttl: Int64 = 0
    ) {
        self.taskUUID = taskUUID
        self.taskName = taskName
        self.state = state
        self.results = results
        self.error = error
        self.createdAt = createdAt
        self.ttl = ttl
    }

    /// The state of `record`. Its result becomes `Results`: a JSON array of objects each with
    /// `Type` and `Value` (what a Machinery-style task returns) as it is, any other value as
    /// the one result `{"Type": <inferred>, "Value": result}`; no result is `null`. A cancelled
    /// task without an error says `task cancelled`.
    public init(_ record: TaskRecord, ttl: Int64 = 0) {
        self.init(
            taskUUID: record.node ?? record.id.description, taskName: record.kind, state: Machinery.state(record),
            results: (try? record.result?.parsed()).map(Self.results(of:)),
            error: record.lastError ?? (record.state == .cancelled ? "task cancelled" : ""), createdAt: record.createdAt, ttl: ttl)
    }

    static func results(of value: JSONValue) -> [MachineryTaskResult] {
        if case .array(let items) = value {
            var listed: [MachineryTaskResult] = []
            listed.reserveCapacity(items.count)
            for item in items {
                guard case .object(let members) = item, case .string(let type) = members["Type"], let itemValue = members["Value"] else {
                    return [MachineryTaskResult(type: MachineryTaskResult.inferredType(value), value: value)]
                }
                listed.append(MachineryTaskResult(type: type, value: itemValue))
            }
            return listed
        }
        return [MachineryTaskResult(type: MachineryTaskResult.inferredType(value), value: value)]
    }

    enum CodingKeys: String, CodingKey {
        case taskUUID = "TaskUUID"
        case taskName = "TaskName"
        case state = "State"
        case results = "Results"
        case error = "Error"
        case createdAt = "CreatedAt"
        case ttl = "TTL"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        taskUUID = try c.decode(String.self, forKey: .taskUUID)
        taskName = try c.decodeIfPresent(String.self, forKey: .taskName) ?? ""
        state = try c.decode(String.self, forKey: .state)
        results = try c.decodeIfPresent([MachineryTaskResult].self, forKey: .results)
        error = try c.decodeIfPresent(String.self, forKey: .error) ?? ""
        let created = try c.decode(String.self, forKey: .createdAt)
        guard let date = BatonJSON.parseDate(created) else {
            throw DecodingError.dataCorruptedError(forKey: .createdAt, in: c, debugDescription: "'\(created)' is not an RFC 3339 time")
        }
        createdAt = date
        ttl = try c.decodeIfPresent(Int64.self, forKey: .ttl) ?? 0
    }

    /// Every key is written, `Results` as `null` when there are none, as Go writes the struct;
    /// `CreatedAt` is RFC 3339 whatever the encoder's date strategy.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(taskUUID, forKey: .taskUUID)
        try c.encode(taskName, forKey: .taskName)
        try c.encode(state, forKey: .state)
        if let results { try c.encode(results, forKey: .results) } else { try c.encodeNil(forKey: .results) }
        try c.encode(error, forKey: .error)
        try c.encode(BatonJSON.formatDate(createdAt), forKey: .createdAt)
        try c.encode(ttl, forKey: .ttl)
    }
}

/// Reads Machinery signatures into a ``WorkflowGraph``.
private struct SignatureReader {
    var graph = WorkflowGraph(noun: "signature")
    /// Per node: whether it is `Immutable`, and its fields without its callbacks (a UUID met
    /// again must have the same).
    private var immutable: [Bool] = []
    private var definitions: [JSONValue] = []
    /// The edges so far, to merge the repeats Machinery's nesting makes.
    private var edges: [Edge: DependencyCondition] = [:]

    private struct Edge: Hashable {
        var parent: Int
        var child: Int
    }

    private static let fields: Set<String> = [
        "UUID", "Name", "RoutingKey", "ETA", "GroupUUID", "GroupTaskCount", "Args", "Headers", "Priority", "Immutable",
        "RetryCount", "RetryTimeout", "OnSuccess", "OnError", "ChordCallback", "ChordErrorCallback",
        "BrokerMessageGroupId", "SQSReceiptHandle", "StopTaskDeletionOnError", "IgnoreWhenTaskNotRegistered",
    ]
    private static let callbacks = ["OnSuccess", "OnError", "ChordCallback", "ChordErrorCallback"]

    /// Whether a signature is one member of a chord sent alone, as Machinery's brokers carry a
    /// chord: one message per member, each naming the callback (`ChordCallback`) and the member
    /// count (`GroupTaskCount`, more than one). Compiled alone, each would get its own callback.
    static func isLoneChordMember(_ members: [String: JSONValue]) throws(BatonError) -> Bool {
        guard let callback = members["ChordCallback"], callback != .null else { return false }
        return try int(members, "GroupTaskCount", label: "the signature") > 1
    }

    /// The nodes of a list of signatures at `location` (`Tasks`, or `` for a bare array).
    mutating func members(_ signatures: [JSONValue], location: String, newID: () -> TaskID) throws(BatonError) -> [Int] {
        if signatures.isEmpty { throw .invalidArgument("\(location.isEmpty ? "the array of signatures" : location) must not be empty") }
        var nodes: [Int] = []
        nodes.reserveCapacity(signatures.count)
        for (i, value) in signatures.enumerated() {
            nodes.append(try signature(value, location: "\(location)[\(i)]", newID: newID))
        }
        return nodes
    }

    /// A signature's node, with its callbacks' nodes and edges.
    mutating func signature(_ value: JSONValue, location: String, newID: () -> TaskID) throws(BatonError) -> Int {
        guard case .object(let members) = value else { throw .invalidArgument("\(location) must be a signature object") }
        for key in members.keys.sorted() where !Self.fields.contains(key) {
            throw .invalidArgument("\(location): unknown field '\(key)' in a signature")
        }
        var uuid = try Self.string(members, "UUID", label: location)
        if uuid.isEmpty { uuid = "task_\(newID())" }
        let label = "signature '\(uuid)'"
        var definition = members
        for key in Self.callbacks { definition[key] = nil }
        let node: Int
        if let known = graph.index(of: uuid) {
            guard definitions[known] == .object(definition) else {
                throw .invalidArgument("\(label) appears twice with different fields")
            }
            node = known
        } else {
            node = try graph.add(name: uuid, task: try Self.task(members, label: label), location: location)
            immutable.append(try Self.bool(members, "Immutable", label: label))
            definitions.append(.object(definition))
        }
        for (key, condition) in [("OnSuccess", DependencyCondition.success), ("OnError", .failure)] {
            guard let list = members[key], list != .null else { continue }
            guard case .array(let children) = list else { throw .invalidArgument("\(label): \(key) must be an array of signatures") }
            for (i, child) in children.enumerated() {
                try link(node, to: try signature(child, location: "\(location).\(key)[\(i)]", newID: newID), on: condition)
            }
        }
        if let callback = members["ChordCallback"], callback != .null {
            try link(node, to: try signature(callback, location: "\(location).ChordCallback", newID: newID), on: .success)
        }
        if let errorCallback = members["ChordErrorCallback"], errorCallback != .null {
            throw .invalidArgument("\(label): \(Self.noErrorCallback("ChordErrorCallback"))")
        }
        return node
    }

    /// An edge, once however often Machinery's nesting repeats it.
    mutating func link(_ parent: Int, to child: Int, on condition: DependencyCondition) throws(BatonError) {
        let edge = Edge(parent: parent, child: child)
        if let known = edges[edge] {
            guard known == condition else {
                throw .invalidArgument(
                    "signature '\(graph.nodes[child].name)' is both a success and an error callback of '\(graph.nodes[parent].name)'")
            }
            return
        }
        edges[edge] = condition
        try graph.link(parent, to: child, on: condition)
    }

    /// `pass: prepend_items` for every signature that is not `Immutable` and has parents, all
    /// on success.
    mutating func setPasses() {
        for (i, node) in graph.nodes.enumerated() where !immutable[i] && !node.parents.isEmpty {
            let onSuccess = node.parents.allSatisfy { parent in
                if case .node(_, .success) = parent { return true }
                return false
            }
            if onSuccess { graph.setPass(.prependItems, of: i) }
        }
    }

    static func noErrorCallback(_ field: String) -> String {
        "\(field) is not supported: it runs when any member fails, and a Baton edge waits for its own parent"
    }

    static func array(_ value: JSONValue?, location: String) throws(BatonError) -> [JSONValue] {
        guard case .array(let items) = value else { throw .invalidArgument("\(location) must be an array of signatures") }
        return items
    }

    static func groupName(_ value: JSONValue?, location: String) throws(BatonError) -> String? {
        switch value {
        case nil, .null?, .string("")?: return nil
        case .string(let name)?:
            guard Limits.hasLength(name, 1...Limits.maxNodeNameLength) else {
                throw .invalidArgument("\(location) must be at most \(Limits.maxNodeNameLength) characters")
            }
            try Limits.refuseNUL(name, field: location)
            return name
        default: throw .invalidArgument("\(location) must be a string")
        }
    }

    // MARK: Fields

    /// The task of a signature's fields (see ``Machinery``), checked by type and range here,
    /// by ``NewTask/validate(maxArgsBytes:)`` later.
    private static func task(_ members: [String: JSONValue], label: String) throws(BatonError) -> NewTask {
        let name = try string(members, "Name", label: label)
        if name.isEmpty { throw .invalidArgument("\(label): Name is required") }
        let routingKey = try string(members, "RoutingKey", label: label)
        _ = try string(members, "GroupUUID", label: label)
        _ = try int(members, "GroupTaskCount", label: label)
        if let headers = members["Headers"] {
            switch headers {
            case .null, .object: break
            default: throw .invalidArgument("\(label): Headers must be an object")
            }
        }
        var runAt: Date?
        switch members["ETA"] {
        case nil, .null?: break
        case .string(let text)?:
            guard let date = BatonJSON.parseDate(text) else {
                throw .invalidArgument("\(label): ETA '\(text)' is not an RFC 3339 time such as 2026-11-23T19:00:00Z")
            }
            runAt = date
        default: throw .invalidArgument("\(label): ETA must be an RFC 3339 time or null")
        }
        let priority = try int(members, "Priority", label: label)
        guard (0...9).contains(priority) else { throw .invalidArgument("\(label): Priority must be between 0 and 9, got \(priority)") }
        let retryCount = try int(members, "RetryCount", label: label)
        let maxRetries = Limits.maxAttemptsRange.upperBound - 1
        guard (0...maxRetries).contains(retryCount) else {
            throw .invalidArgument("\(label): RetryCount must be between 0 and \(maxRetries), got \(retryCount)")
        }
        let retryTimeout = try int(members, "RetryTimeout", label: label)
        guard retryTimeout >= 0, Double(retryTimeout) <= Limits.maxSeconds else {
            throw .invalidArgument(
                "\(label): RetryTimeout must be a number of seconds from 0 to \(Int(Limits.maxSeconds)), got \(retryTimeout)")
        }
        let retry: RetryPolicy? =
            if retryTimeout > 0 {
                .fixed(.seconds(retryTimeout))
            } else if retryCount > 0 {
                .fibonacci(base: Defaults.retryBase, cap: Defaults.retryCap)
            } else {
                nil
            }
        return NewTask(
            kind: name, args: RawJSON(.array(try args(members["Args"], label: label))),
            queue: routingKey.isEmpty ? Defaults.queue : routingKey, priority: priority == 0 ? Defaults.priority : priority + 1,
            runAt: runAt, maxAttempts: retryCount + 1, retry: retry)
    }

    /// `Args` as `[{"Type", "Value"}]`, with `"Name"` where one is given.
    private static func args(_ value: JSONValue?, label: String) throws(BatonError) -> [JSONValue] {
        guard let value, value != .null else { return [] }
        guard case .array(let items) = value else { throw .invalidArgument("\(label): Args must be an array") }
        var args: [JSONValue] = []
        args.reserveCapacity(items.count)
        for (i, item) in items.enumerated() {
            let where_ = "\(label): Args[\(i)]"
            guard case .object(let members) = item else { throw .invalidArgument("\(where_) must be an object {\"Type\", \"Value\"}") }
            for key in members.keys.sorted() where !["Name", "Type", "Value"].contains(key) {
                throw .invalidArgument("\(where_): unknown field '\(key)' in an argument")
            }
            guard case .string(let type) = members["Type"], !type.isEmpty else { throw .invalidArgument("\(where_) needs a Type") }
            guard let value = members["Value"] else { throw .invalidArgument("\(where_) needs a Value") }
            var arg: [String: JSONValue] = ["Type": .string(type), "Value": value]
            switch members["Name"] {
            case nil, .null?: break
            case .string(let name)?: if !name.isEmpty { arg["Name"] = .string(name) }
            default: throw .invalidArgument("\(where_): Name must be a string")
            }
            args.append(.object(arg))
        }
        return args
    }

    /// A Go string field: absent or null is `""`.
    static func string(_ members: [String: JSONValue], _ key: String, label: String) throws(BatonError) -> String {
        switch members[key] {
        case nil, .null?: return ""
        case .string(let text)?: return text
        default: throw .invalidArgument("\(label): \(key) must be a string")
        }
    }

    /// A Go int field: absent or null is 0.
    static func int(_ members: [String: JSONValue], _ key: String, label: String) throws(BatonError) -> Int {
        switch members[key] {
        case nil, .null?: return 0
        case .int(let number)?: return Int(number)
        default: throw .invalidArgument("\(label): \(key) must be an integer")
        }
    }

    /// A Go bool field: absent or null is false.
    static func bool(_ members: [String: JSONValue], _ key: String, label: String) throws(BatonError) -> Bool {
        switch members[key] {
        case nil, .null?: return false
        case .bool(let flag)?: return flag
        default: throw .invalidArgument("\(label): \(key) must be a boolean")
        }
    }
}
