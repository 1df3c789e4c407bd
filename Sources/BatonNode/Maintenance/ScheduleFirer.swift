import BatonCore
import Foundation
import Logging
import ServiceLifecycle

/// Fires schedules: on the leader, every `interval`, lists the schedules (so one created or
/// changed on any node is seen within an interval) and submits a task per due tick.
///
/// Exactly once per tick, whatever the number of firers: each fire is the store's
/// compare-and-set `scheduleFire`, guarded by the `last_fired` this firer read. Each task is
/// the schedule's template, tagged `schedule:<name>` and `tick:<RFC 3339 time>`.
public struct ScheduleFirer: Service {
    public static let defaultInterval: Duration = .milliseconds(250)

    public let store: any ScheduleStore
    public let leadership: any Leadership
    public let interval: Duration
    /// Schedules declared in the node's settings, upserted when the firer starts (for a store
    /// that only becomes reachable once the node's services run, such as PostgreSQL).
    public let definitions: [ScheduleDefinition]
    /// Where each fire is reported, as a `scheduleFired` event.
    public let events: NodeEvents
    private let logger: Logger

    public init(
        store: any ScheduleStore, leadership: any Leadership = AlwaysLeader(), interval: Duration = ScheduleFirer.defaultInterval,
        definitions: [ScheduleDefinition] = [], events: NodeEvents = NodeEvents(), logger: Logger = Logger(label: "baton.scheduler")
    ) {
        self.store = store
        self.events = events
        self.leadership = leadership
        self.interval = interval
        self.definitions = definitions
        self.logger = logger
    }

    public func run() async throws {
        if !definitions.isEmpty {
            try await Self.startup(store, definitions: definitions, logger: logger)
        }
        await MaintenanceLoop.run(interval: LiveSetting(interval), leadership: leadership, logger: logger) {
            try await fireOnce()
        }
    }

    /// One pass over every schedule. Returns how many tasks were submitted.
    @discardableResult
    public func fireOnce() async throws -> Int {
        let now = try await store.now()
        var submitted = 0
        for record in try await store.scheduleList() where !record.paused {
            do {
                submitted += try await fire(record, now: now)
            } catch {
                logger.warning("firing schedule failed", metadata: ["schedule": "\(record.name)", "error": "\(error)"])
            }
        }
        return submitted
    }

    /// Fires the due ticks of one schedule; 0 when none are due or another firer won.
    func fire(_ record: ScheduleRecord, now: Date) async throws -> Int {
        let rule = try record.rule()
        let policy = try record.misfirePolicy()
        let (ticks, advanceTo) = policy.ticksToFire(rule: rule, lastFired: record.firedThrough, now: now)
        guard let advanceTo else { return 0 }
        if let workflow = try record.definition.startsWorkflow() {
            return try await fireWorkflows(record, workflow, ticks: ticks, advanceTo: advanceTo)
        }
        let tasks = ticks.map { tick in
            var task = record.definition.task
            task.tags += ["schedule:\(record.name)", "tick:\(BatonJSON.formatDate(tick))"]
            return task
        }
        let store = self.store
        let fired = try await NodeAPI.traced(tasks) { tasks in
            try await store.scheduleFire(
                ScheduleFireParams(name: record.name, expectedLastFired: record.lastFired, newLastFired: advanceTo, tasks: tasks))
        }
        guard fired else { return 0 }
        events.emit(.scheduleFired(schedule: record.name, tasks: tasks.count))
        if ticks.isEmpty {
            logger.info("skipped missed ticks", metadata: ["schedule": "\(record.name)", "through": "\(BatonJSON.formatDate(advanceTo))"])
        } else {
            logger.debug("fired", metadata: ["schedule": "\(record.name)", "tasks": "\(tasks.count)"])
        }
        return tasks.count
    }
}

extension ScheduleFirer {
    /// Starts the schedule's workflow once per tick, then advances the schedule (the same
    /// compare-and-set, with no task of its own). Exactly once per tick even across firers
    /// and crashes: each tick's workflow is stored under the idempotency key
    /// `schedule:<name>@<tick>`, so a firer that repeats a tick (it lost the compare-and-set, or
    /// crashed before it) is answered with the workflow already stored.
    func fireWorkflows(_ record: ScheduleRecord, _ workflow: JSONValue, ticks: [Date], advanceTo: Date) async throws -> Int {
        guard let unique = store as? any UniqueTaskStore else {
            throw BatonError(.internal, "this store cannot start workflows from schedules (no idempotent submits)")
        }
        let fingerprint = TaskEnqueueOutcome.fingerprint(try BatonJSON.encoder().encode(workflow))
        var submitted = 0
        for tick in ticks {
            var submission = try WorkflowSpec.compile(workflow)
            for i in submission.tasks.indices {
                submission.tasks[i].tags += ["schedule:\(record.name)", "tick:\(BatonJSON.formatDate(tick))"]
            }
            let key = "schedule:\(record.name)@\(BatonJSON.formatDate(tick))"
            let outcome = try await NodeAPI.traced(submission.tasks, stored: \.tasks) { tasks in
                try await unique.taskEnqueueManyOutcome(
                    TaskEnqueueParams(
                        tasks: tasks, idempotencyKey: key, workflow: submission.workflow, strictUnique: true,
                        requestFingerprint: fingerprint))
            }
            if outcome.tasks.first?.workflowID == submission.workflow.id {
                events.emit(outcome.tasks.map { NodeEvent.enqueued(TaskRef($0)) })
                submitted += outcome.tasks.count
            }
        }
        let fired = try await store.scheduleFire(
            ScheduleFireParams(name: record.name, expectedLastFired: record.lastFired, newLastFired: advanceTo, tasks: []))
        guard fired else { return 0 }
        events.emit(.scheduleFired(schedule: record.name, tasks: submitted))
        logger.debug("fired", metadata: ["schedule": "\(record.name)", "workflows": "\(ticks.count)"])
        return submitted
    }

    /// Upserts the schedules a node declares in its settings (replacing same-named ones,
    /// which keeps their last tick) before the firer starts.
    public static func startup(_ store: any ScheduleStore, definitions: [ScheduleDefinition], logger: Logger) async throws {
        for definition in definitions {
            _ = try await store.scheduleUpsert(ScheduleUpsertParams(definition: definition, replace: true))
            logger.info("schedule declared in settings", metadata: ["schedule": "\(definition.name)"])
        }
    }
}
