import Foundation

/// A task to submit: its kind, arguments and options.
public struct NewTask: Sendable, Hashable {
    public var kind: String
    public var args: RawJSON
    public var queue: String
    public var priority: Int
    /// Absolute time to run at; exclusive with `delay`.
    public var runAt: Date?
    /// Seconds from submission (store clock) to run at; exclusive with `runAt`.
    public var delay: Double?
    public var maxAttempts: Int
    public var timeout: Double?
    public var retry: RetryPolicy?
    public var uniqueKey: String?
    /// How long `uniqueKey` stays taken, in seconds from the existing task's creation; `nil`:
    /// while the existing task is not terminal.
    public var uniqueWindow: Double?
    public var tags: [String]
    /// A caller-chosen id (for idempotent resubmission); generated when `nil`.
    public var id: TaskID?
    /// The parents this task waits for (state `waiting`) before it may run: tasks of the same
    /// submission or existing ones, finished or not. See `docs/workflows.md`.
    public var after: [TaskDependency]
    /// What happens when a parent ends in a way that can never satisfy its edge; `nil`: `cancel`.
    public var policy: DependencyPolicy?
    /// `prepend`: the parents' results are prepended to the arguments when the task runs.
    public var pass: ResultPassing?
    /// The workflow the task belongs to (set by the workflow routes, not by a task submit).
    public var workflowID: TaskID?
    /// The task's node name in its workflow: how its dependents' `ctx.parents` name it.
    public var node: String?
    /// The W3C `traceparent` of the span that submitted it (set by the node when tracing is on;
    /// see ``TaskTrace``), carried to the worker that runs it.
    public var traceparent: String?

    public init(
        kind: String, args: RawJSON = .emptyObject, queue: String = Defaults.queue,
        priority: Int = Defaults.priority, runAt: Date? = nil, delay: Double? = nil,
        maxAttempts: Int = Defaults.maxAttempts, timeout: Double? = nil, retry: RetryPolicy? = nil,
        uniqueKey: String? = nil, tags: [String] = [], id: TaskID? = nil, uniqueWindow: Double? = nil,
        after: [TaskDependency] = [], policy: DependencyPolicy? = nil, pass: ResultPassing? = nil, workflowID: TaskID? = nil,
        node: String? = nil
    ) {
        self.kind = kind
        self.args = args
        self.queue = queue
        self.priority = priority
        self.runAt = runAt
        self.delay = delay
        self.maxAttempts = maxAttempts
        self.timeout = timeout
        self.retry = retry
        self.uniqueKey = uniqueKey
        self.uniqueWindow = uniqueWindow
        self.tags = tags
        self.id = id
        self.after = after
        self.policy = policy
        self.pass = pass
        self.workflowID = workflowID
        self.node = node
    }

    /// Whether the task waits for parents.
    public var hasParents: Bool { !after.isEmpty }

    /// Checks every field; the first problem found is reported, naming the field.
    public func validate(maxArgsBytes: Int = Limits.defaultMaxArgsBytes) throws(BatonError) {
        try Self.validateName(kind, field: "kind", maxLength: Limits.maxKindLength)
        try Self.validateName(queue, field: "queue", maxLength: Limits.maxQueueLength)
        guard Limits.priorityRange.contains(priority) else {
            throw .invalidArgument("priority must be between 1 and 10, got \(priority)")
        }
        guard Limits.maxAttemptsRange.contains(maxAttempts) else {
            throw .invalidArgument("max_attempts must be between 1 and \(Limits.maxAttemptsRange.upperBound), got \(maxAttempts)")
        }
        if runAt != nil && delay != nil {
            throw .invalidArgument("give either run_at or delay, not both")
        }
        if let delay, !(delay >= 0 && delay <= Limits.maxSeconds) {
            throw .invalidArgument("delay must be a number of seconds from 0 to \(Int(Limits.maxSeconds)), got \(delay)")
        }
        if let timeout, !(timeout > 0 && timeout <= Limits.maxSeconds) {
            throw .invalidArgument("timeout must be a positive number of seconds up to \(Int(Limits.maxSeconds)), got \(timeout)")
        }
        if let uniqueKey { try Limits.validateText(uniqueKey, field: "unique_key", 1...Limits.maxUniqueKeyLength) }
        if let uniqueWindow, !(uniqueWindow > 0 && uniqueWindow <= Limits.maxSeconds) {
            throw .invalidArgument("unique_window must be a positive number of seconds up to \(Int(Limits.maxSeconds))")
        }
        if tags.count > Limits.maxTags {
            throw .invalidArgument("at most \(Limits.maxTags) tags, got \(tags.count)")
        }
        for tag in tags { try Limits.validateText(tag, field: "each tag", 1...Limits.maxTagLength) }
        if !after.isEmpty || pass != nil || node != nil { try validateDependencies() }
        if args.byteCount > maxArgsBytes {
            throw BatonError(.tooLarge, "args are \(args.byteCount) bytes, more than the limit of \(maxArgsBytes)")
        }
    }

    /// Checks that the arguments are a flat JSON object of strings without a member named
    /// `attempt`: what freundallein/sqs-scheduler's Go worker reads as a work message's
    /// `params` (a map of strings, `attempt` included). For the kinds a node marks so
    /// (`sqs.stringKinds`, docs/brokers.md).
    public func validateStringArgs() throws(BatonError) {
        try Self.validateStringArgs(args, kind: kind)
    }

    /// ``validateStringArgs()`` for a stored task's arguments.
    public static func validateStringArgs(_ args: RawJSON, kind: String) throws(BatonError) {
        let why =
            "kind \(kind) takes a flat JSON object of strings as its arguments (sqs.stringKinds: freundallein/sqs-scheduler's workers read params as strings)"
        let value: JSONValue
        do {
            value = try args.parsed()
        } catch {
            throw .invalidArgument("\(why); the arguments are not JSON")
        }
        guard case .object(let members) = value else { throw .invalidArgument("\(why); got \(value.typeDescription)") }
        for (name, member) in members.sorted(by: { $0.key < $1.key }) {
            if name == "attempt" { throw .invalidArgument("\(why); \"attempt\" is Baton's: the attempt is sent under that name") }
            guard case .string = member else { throw .invalidArgument("\(why); \"\(name)\" is \(member.typeDescription)") }
        }
    }

    /// The workflow fields: checked only for a task that has them (plain tasks skip it all).
    private func validateDependencies() throws(BatonError) {
        if after.count > Limits.maxParents {
            throw .invalidArgument("at most \(Limits.maxParents) parents per task, got \(after.count)")
        }
        if let id, after.contains(where: { $0.parent == id }) {
            throw .invalidArgument("task \(id) cannot depend on itself")
        }
        if Set(after.map(\.parent)).count != after.count {
            throw .invalidArgument("after names the same parent twice")
        }
        if pass != nil, after.isEmpty {
            throw .invalidArgument("pass needs parents: give after")
        }
        if let pass, !args.isArray {
            throw .invalidArgument("pass: \(pass.rawValue) needs args to be a JSON array")
        }
        if let node { try Limits.validateText(node, field: "node name", 1...Limits.maxNodeNameLength) }
    }

    /// Kind and queue names: 1…max bytes of letters, digits and `. _ - : /`.
    public static func validateName(_ name: String, field: String, maxLength: Int) throws(BatonError) {
        if name.isEmpty { throw .invalidArgument("\(field) must not be empty") }
        if name.utf8.count > maxLength {
            throw .invalidArgument("\(field) is \(name.utf8.count) bytes long, more than the limit of \(maxLength)")
        }
        for byte in name.utf8 {
            let ok =
                (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-")
                || byte == UInt8(ascii: ":") || byte == UInt8(ascii: "/")
            if !ok {
                throw .invalidArgument("\(field) '\(name)' may contain only letters, digits and . _ - : /")
            }
        }
    }
}

extension NewTask: Codable {
    enum CodingKeys: String, CodingKey, CaseIterable {
        case kind, args, queue, priority
        case runAt = "run_at"
        case delay
        case maxAttempts = "max_attempts"
        case timeout, retry
        case uniqueKey = "unique_key"
        case uniqueWindow = "unique_window"
        case tags, id
        case after, policy, pass
    }

    public init(from decoder: any Decoder) throws {
        let all = try decoder.container(keyedBy: AnyKey.self)
        for key in all.allKeys where CodingKeys(stringValue: key.stringValue) == nil {
            throw DecodingError.dataCorrupted(
                .init(codingPath: decoder.codingPath + [key], debugDescription: "unknown field '\(key.stringValue)' in a task"))
        }
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            kind: try c.decode(String.self, forKey: .kind),
            args: try c.decodeIfPresent(RawJSON.self, forKey: .args) ?? .emptyObject,
            queue: try c.decodeIfPresent(String.self, forKey: .queue) ?? Defaults.queue,
            priority: try c.decodeIfPresent(Int.self, forKey: .priority) ?? Defaults.priority,
            runAt: try c.decodeIfPresent(Date.self, forKey: .runAt),
            delay: try c.decodeIfPresent(Double.self, forKey: .delay),
            maxAttempts: try c.decodeIfPresent(Int.self, forKey: .maxAttempts) ?? Defaults.maxAttempts,
            timeout: try c.decodeIfPresent(Double.self, forKey: .timeout),
            retry: try c.decodeIfPresent(RetryPolicy.self, forKey: .retry),
            uniqueKey: try c.decodeIfPresent(String.self, forKey: .uniqueKey),
            tags: try c.decodeIfPresent([String].self, forKey: .tags) ?? [],
            id: try c.decodeIfPresent(TaskID.self, forKey: .id),
            uniqueWindow: try c.decodeIfPresent(Double.self, forKey: .uniqueWindow),
            after: try c.decodeIfPresent([TaskDependency].self, forKey: .after) ?? [],
            policy: try c.decodeIfPresent(DependencyPolicy.self, forKey: .policy),
            pass: try c.decodeIfPresent(ResultPassing.self, forKey: .pass)
        )
    }

    /// The submitted fields; `after` only when the task has parents.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(kind, forKey: .kind)
        try c.encode(args, forKey: .args)
        try c.encode(queue, forKey: .queue)
        try c.encode(priority, forKey: .priority)
        try c.encodeIfPresent(runAt, forKey: .runAt)
        try c.encodeIfPresent(delay, forKey: .delay)
        try c.encode(maxAttempts, forKey: .maxAttempts)
        try c.encodeIfPresent(timeout, forKey: .timeout)
        try c.encodeIfPresent(retry, forKey: .retry)
        try c.encodeIfPresent(uniqueKey, forKey: .uniqueKey)
        try c.encodeIfPresent(uniqueWindow, forKey: .uniqueWindow)
        try c.encode(tags, forKey: .tags)
        try c.encodeIfPresent(id, forKey: .id)
        if !after.isEmpty { try c.encode(after, forKey: .after) }
        try c.encodeIfPresent(policy, forKey: .policy)
        try c.encodeIfPresent(pass, forKey: .pass)
    }
}
