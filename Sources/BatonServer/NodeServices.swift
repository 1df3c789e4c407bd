import BatonCore
import Logging

/// What a scheduler node serves from: the store (tasks, schedules, paused queues, unique
/// submits: a `NodeStore`), the claim coalescer and the batch completer.
///
/// Build one per process and share it between the HTTP server and in-process workers, so
/// that all claims go through one `TaskDispatcher` and all acks through one `TaskCompleter`.
public struct NodeServices: Sendable {
    public var store: any NodeStore
    public var dispatcher: TaskDispatcher
    public var completer: TaskCompleter
    /// The node's event stream (the completer's; the dispatcher should share it).
    public var events: NodeEvents { completer.events }
    /// Wakes `GET /v1/tasks/{id}/wait` long-polls when a task reaches a terminal state.
    public let waiters: TaskWaiters
    /// The workers this node heard from, and their kinds' retry policies (the completer's).
    public var workers: WorkerRegistry { completer.workers }

    public init(store: any NodeStore, dispatcher: TaskDispatcher, completer: TaskCompleter) {
        self.store = store
        self.dispatcher = dispatcher
        self.completer = completer
        self.waiters = TaskWaiters(events: completer.events)
    }

    /// A dispatcher and a completer with their default configurations over `store`, sharing
    /// one event stream and one worker registry.
    public init(store: any NodeStore, logger: Logger = Logger(label: "baton.node")) {
        let events = NodeEvents()
        self.init(
            store: store,
            dispatcher: TaskDispatcher(store: store, events: events, logger: logger),
            completer: TaskCompleter(store: store, events: events, logger: logger))
    }
}
