/// What a scheduler node serves from: tasks, schedules, paused queues, and unique and
/// idempotent submits. Both stores (SQLite, PostgreSQL) are one.
///
/// The node (`NodeServices.store`) and the CLI's store opening require it by type, so no
/// route has to ask at run time whether its store can do what the route needs. Components
/// that only move tasks (dispatcher, completer, a worker's local source, maintenance) keep
/// asking for a `TaskStore` alone.
public typealias NodeStore = TaskStore & ScheduleStore & QueueAdminStore & UniqueTaskStore
