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
        let tasks = ticks.map { tick in
            var task = record.definition.task
            task.tags += ["schedule:\(record.name)", "tick:\(BatonJSON.formatDate(tick))"]
            return task
        }
        let fired = try await store.scheduleFire(
            ScheduleFireParams(name: record.name, expectedLastFired: record.lastFired, newLastFired: advanceTo, tasks: tasks))
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
    /// Upserts the schedules a node declares in its settings (replacing same-named ones,
    /// which keeps their last tick) before the firer starts.
    public static func startup(_ store: any ScheduleStore, definitions: [ScheduleDefinition], logger: Logger) async throws {
        for definition in definitions {
            _ = try await store.scheduleUpsert(ScheduleUpsertParams(definition: definition, replace: true))
            logger.info("schedule declared in settings", metadata: ["schedule": "\(definition.name)"])
        }
    }
}
