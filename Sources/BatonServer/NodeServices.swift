import BatonCore
import Logging

/// What a scheduler node serves from: the store, the claim coalescer and the batch completer.
///
/// Build one per process and share it between the HTTP server and in-process workers, so
/// that all claims go through one `TaskDispatcher` and all acks through one `TaskCompleter`.
public struct NodeServices: Sendable {
    public var store: any TaskStore
    public var dispatcher: TaskDispatcher
    public var completer: TaskCompleter
    /// Wakes `GET /v1/tasks/{id}/wait` long-polls when this node finishes a task.
    public let events: TaskEvents

    public init(store: any TaskStore, dispatcher: TaskDispatcher, completer: TaskCompleter, events: TaskEvents = TaskEvents()) {
        self.store = store
        self.dispatcher = dispatcher
        self.completer = completer
        self.events = events
    }

    /// A dispatcher and a completer with their default configurations over `store`.
    public init(store: any TaskStore, logger: Logger = Logger(label: "baton.node")) {
        self.init(
            store: store,
            dispatcher: TaskDispatcher(store: store, logger: logger),
            completer: TaskCompleter(store: store, logger: logger))
    }
}
