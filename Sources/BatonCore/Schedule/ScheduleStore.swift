import Foundation

/// What a schedule is: a rule (cron in a time zone, or a fixed interval), a misfire policy
/// and the task each tick submits. As submitted (`POST /v1/schedules`, YAML `schedules:`).
public struct ScheduleDefinition: Sendable, Hashable {
    public var name: String
    /// Exactly one of `cron` and `every`.
    public var cron: String?
    /// An interval such as `30s`, `5m`, `1h30m`.
    public var every: String?
    /// IANA time zone id for `cron` (default UTC).
    public var timezone: String
    /// `skip`, `once` or `catch-up`.
    public var misfire: String
    /// The task each tick submits (its `id` must be absent).
    public var task: NewTask

    public init(
        name: String, cron: String? = nil, every: String? = nil, timezone: String = "UTC", misfire: String = "skip", task: NewTask
    ) {
        self.name = name
        self.cron = cron
        self.every = every
        self.timezone = timezone
        self.misfire = misfire
        self.task = task
    }

    public static let maxNameLength = Limits.maxQueueLength

    /// Checks every field and returns the parsed rule and policy; errors name the field.
    @discardableResult
    public func validate() throws(BatonError) -> (rule: ScheduleRule, misfire: MisfirePolicy) {
        try NewTask.validateName(name, field: "name", maxLength: Self.maxNameLength)
        let policy = try MisfirePolicy.named(misfire)
        let rule = try Self.rule(cron: cron, every: every, timezone: timezone)
        if task.id != nil { throw .invalidArgument("task: a schedule's task template must not have an id") }
        if task.runAt != nil { throw .invalidArgument("task: a schedule's task template must not have run_at") }
        if task.hasParents || task.policy != nil || task.pass != nil || task.node != nil {
            throw .invalidArgument(
                "task: a schedule's task template cannot have after, policy or pass (a schedule of kind \(Self.workflowKind) starts a workflow)"
            )
        }
        do {
            try task.validate()
        } catch {
            throw BatonError(error.code, "task: \(error.message)")
        }
        if let workflow = try startsWorkflow() {
            do {
                _ = try WorkflowSpec.compile(workflow)
            } catch {
                throw BatonError(error.code, "task: the workflow in args: \(error.message)")
            }
        }
        return (rule, policy)
    }

    /// ``validate()``, and that every task a tick submits whose kind is in `stringArgKinds`
    /// (a node's ``NewTask/validateStringArgs()`` kinds) has arguments of strings: the task
    /// template, or each node of the workflow it starts. Otherwise each tick's task would fail
    /// at dispatch, long after the schedule was accepted.
    public func validate(stringArgKinds: Set<String>) throws(BatonError) {
        try validate()
        guard !stringArgKinds.isEmpty else { return }
        let tasks = try startsWorkflow().map { workflow throws(BatonError) in try WorkflowSpec.compile(workflow).tasks } ?? [task]
        for task in tasks where stringArgKinds.contains(task.kind) {
            do {
                try task.validateStringArgs()
            } catch {
                throw BatonError(error.code, "task: \(task.node.map { "workflow node \($0): " } ?? "")\(error.message)")
            }
        }
    }

    /// A schedule whose task is of this kind starts a workflow at each tick: the task's `args`
    /// are the workflow (the body of `POST /v1/workflows`).
    public static let workflowKind = "baton.workflow"

    /// The workflow each tick starts, if the schedule's task is of ``workflowKind``.
    public func startsWorkflow() throws(BatonError) -> JSONValue? {
        guard task.kind == Self.workflowKind else { return nil }
        do {
            return try task.args.parsed()
        } catch {
            throw .invalidArgument("task: the workflow in args is not valid JSON")
        }
    }

    /// The rule of a `cron` or `every` text; exactly one must be given.
    public static func rule(cron: String?, every: String?, timezone: String) throws(BatonError) -> ScheduleRule {
        switch (cron, every) {
        case (nil, nil): throw .invalidArgument("give either cron or every")
        case (.some, .some): throw .invalidArgument("give either cron or every, not both")
        case (let text?, nil):
            guard let zone = TimeZone(identifier: timezone) else {
                throw .invalidArgument("timezone: unknown time zone '\(timezone)' (expected an IANA id such as Europe/Paris)")
            }
            return .cron(try CronExpression(text), zone)
        case (nil, let text?):
            guard TimeZone(identifier: timezone) != nil else {
                throw .invalidArgument("timezone: unknown time zone '\(timezone)' (expected an IANA id such as Europe/Paris)")
            }
            return .every(try ScheduleRule.parseInterval(text))
        }
    }
}

extension ScheduleDefinition: Codable {
    enum CodingKeys: String, CodingKey, CaseIterable {
        case name, cron, every, timezone, misfire, task
    }

    public init(from decoder: any Decoder) throws {
        let all = try decoder.container(keyedBy: AnyKey.self)
        for key in all.allKeys where CodingKeys(stringValue: key.stringValue) == nil {
            throw DecodingError.dataCorrupted(
                .init(codingPath: decoder.codingPath + [key], debugDescription: "unknown field '\(key.stringValue)' in a schedule"))
        }
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            name: try c.decodeIfPresent(String.self, forKey: .name) ?? "",
            cron: try c.decodeIfPresent(String.self, forKey: .cron),
            every: try c.decodeIfPresent(String.self, forKey: .every),
            timezone: try c.decodeIfPresent(String.self, forKey: .timezone) ?? "UTC",
            misfire: try c.decodeIfPresent(String.self, forKey: .misfire) ?? "skip",
            task: try c.decode(NewTask.self, forKey: .task))
    }
}

/// A stored schedule: its definition, whether it is paused, and the last tick fired.
public struct ScheduleRecord: Sendable, Hashable {
    public var definition: ScheduleDefinition
    public var paused: Bool
    /// The last tick a task was submitted for (or skipped past); `nil` before the first.
    public var lastFired: Date?
    public var createdAt: Date
    public var updatedAt: Date

    public init(definition: ScheduleDefinition, paused: Bool, lastFired: Date?, createdAt: Date, updatedAt: Date) {
        self.definition = definition
        self.paused = paused
        self.lastFired = lastFired
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }

    public var name: String { definition.name }

    /// The parsed rule (stored definitions were validated when stored).
    public func rule() throws(BatonError) -> ScheduleRule {
        try ScheduleDefinition.rule(cron: definition.cron, every: definition.every, timezone: definition.timezone)
    }

    public func misfirePolicy() throws(BatonError) -> MisfirePolicy { try MisfirePolicy.named(definition.misfire) }

    /// Where tick computation starts: the last tick fired, else the creation time.
    public var firedThrough: Date { lastFired ?? createdAt }

    /// The next `count` fire times after `date` (default: after the last tick fired or now,
    /// whichever is later).
    public func next(_ count: Int, after date: Date) -> [Date] {
        guard let rule = try? rule() else { return [] }
        return rule.next(count, after: max(date, firedThrough))
    }
}

extension ScheduleRecord: Encodable {
    enum CodingKeys: String, CodingKey {
        case name, cron, every, timezone, misfire, task, paused
        case lastFired = "last_fired"
        case createdAt = "created_at"
        case updatedAt = "updated_at"
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(definition.name, forKey: .name)
        try c.encodeIfPresent(definition.cron, forKey: .cron)
        try c.encodeIfPresent(definition.every, forKey: .every)
        try c.encode(definition.timezone, forKey: .timezone)
        try c.encode(definition.misfire, forKey: .misfire)
        try c.encode(definition.task, forKey: .task)
        try c.encode(paused, forKey: .paused)
        try c.encodeIfPresent(lastFired, forKey: .lastFired)
        try c.encode(createdAt, forKey: .createdAt)
        try c.encode(updatedAt, forKey: .updatedAt)
    }
}

extension ScheduleRecord: Decodable {
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            definition: ScheduleDefinition(
                name: try c.decode(String.self, forKey: .name),
                cron: try c.decodeIfPresent(String.self, forKey: .cron),
                every: try c.decodeIfPresent(String.self, forKey: .every),
                timezone: try c.decode(String.self, forKey: .timezone),
                misfire: try c.decode(String.self, forKey: .misfire),
                task: try c.decode(NewTask.self, forKey: .task)),
            paused: try c.decode(Bool.self, forKey: .paused),
            lastFired: try c.decodeIfPresent(Date.self, forKey: .lastFired),
            createdAt: try c.decode(Date.self, forKey: .createdAt),
            updatedAt: try c.decode(Date.self, forKey: .updatedAt))
    }
}

public struct ScheduleUpsertParams: Sendable {
    public var definition: ScheduleDefinition
    /// `false`: a schedule of that name is a `conflict`. `true`: replace it, keeping its
    /// creation time, last tick and paused flag.
    public var replace: Bool
    public init(definition: ScheduleDefinition, replace: Bool = false) {
        self.definition = definition
        self.replace = replace
    }
}

public struct ScheduleFireParams: Sendable {
    public var name: String
    /// The guard: the schedule's `last_fired` as the firer read it.
    public var expectedLastFired: Date?
    public var newLastFired: Date
    /// The tick's tasks (none when a misfire policy skips the missed ticks).
    public var tasks: [NewTask]
    public init(name: String, expectedLastFired: Date?, newLastFired: Date, tasks: [NewTask]) {
        self.name = name
        self.expectedLastFired = expectedLastFired
        self.newLastFired = newLastFired
        self.tasks = tasks
    }
}

/// A store that keeps schedules (capability of `TaskStore`; part of `NodeStore`).
public protocol ScheduleStore: TaskStore {
    /// Creates (or with `replace`, replaces) a schedule. Throws `conflict` on a name clash.
    func scheduleUpsert(_ p: ScheduleUpsertParams) async throws -> ScheduleRecord
    func scheduleGet(_ name: String) async throws -> ScheduleRecord?
    /// By name.
    func scheduleList() async throws -> [ScheduleRecord]
    /// Throws `notFound`.
    func scheduleDelete(_ name: String) async throws
    /// Throws `notFound`.
    func scheduleSetPaused(_ name: String, paused: Bool) async throws -> ScheduleRecord

    /// The exactly-once primitive: in one transaction, inserts `p.tasks` and sets
    /// `last_fired` to `p.newLastFired`, only if `last_fired` still equals
    /// `p.expectedLastFired`. Returns `false` (inserting nothing) otherwise, or when the
    /// schedule no longer exists.
    func scheduleFire(_ p: ScheduleFireParams) async throws -> Bool
}

/// A store whose queues can be paused: claims skip a paused queue's tasks; submits still work.
public protocol QueueAdminStore: TaskStore {
    func queuePause(_ name: String) async throws
    func queueResume(_ name: String) async throws
    func queuePausedList() async throws -> [String]
}

/// What an enqueue did, per task: inserted, or answered with an existing task.
public struct TaskEnqueueOutcome: Sendable, Hashable {
    public var tasks: [TaskRecord]
    /// Per task: `true` when an existing task (same unique key) was returned instead.
    public var duplicate: [Bool]
    /// Whether this is the outcome an idempotency key recorded, answered again (nothing stored).
    public var replayed: Bool
    public init(tasks: [TaskRecord], duplicate: [Bool], replayed: Bool = false) {
        self.tasks = tasks
        self.duplicate = duplicate
        self.replayed = replayed
    }
}

extension TaskEnqueueOutcome {
    /// A fingerprint of a request's tasks (128-bit FNV-1a of their canonical JSON and its
    /// length), which a store keeps with an idempotency key to tell a retried request from a
    /// different one under the same key.
    public static func requestFingerprint(_ tasks: [NewTask]) throws -> String {
        fingerprint(try BatonJSON.encoder().encode(tasks))
    }

    /// The fingerprint of a request's canonical bytes.
    public static func fingerprint(_ data: Data) -> String {
        var a: UInt64 = 0xcbf2_9ce4_8422_2325
        var b: UInt64 = 0x6c62_272e_07bb_0142
        for byte in data {
            a = (a ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
            b = (b ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 &+ 0x9E37_79B9
        }
        return String(a, radix: 16) + String(b, radix: 16) + ":" + String(data.count)
    }

    /// The outcome an idempotency key recorded, from its task ids and duplicate flags, with
    /// the tasks that still exist (`task(id)` is `nil` for one deleted since).
    public static func recorded<ID>(ids: [ID], duplicates: [Bool], task: (ID) throws -> TaskRecord?) rethrows -> Self {
        var outcome = TaskEnqueueOutcome(tasks: [], duplicate: [], replayed: true)
        for (i, id) in ids.enumerated() {
            guard let record = try task(id) else { continue }
            outcome.tasks.append(record)
            outcome.duplicate.append(i < duplicates.count ? duplicates[i] : false)
        }
        return outcome
    }
}

/// A store that enforces `unique_key`/`unique_window` and idempotency keys, and says which
/// tasks were duplicates. A repeated idempotency key answers the first outcome.
public protocol UniqueTaskStore: TaskStore {
    func taskEnqueueManyOutcome(_ p: TaskEnqueueParams) async throws -> TaskEnqueueOutcome
}
