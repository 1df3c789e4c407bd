import Synchronization

/// A connection of Baton's protocol clients (Redis's, AMQP's), as ``ConnectionSlot`` keeps it.
public protocol ReusableConnection: AnyObject, Sendable {
    /// Whether it is still open.
    var isActive: Bool { get }
    /// Closes it as its protocol asks.
    func close() async
}

/// One connection a component keeps for its calls: opened at the first and again once it
/// closed or was dropped (after a failure, or at the end).
public final class ConnectionSlot<Connection: ReusableConnection>: Sendable {
    private let held = Mutex<Connection?>(nil)

    public init() {}

    /// The connection kept while it is open; otherwise a new one from `open`, kept.
    public func get<Failure: Error>(_ open: () async throws(Failure) -> Connection) async throws(Failure) -> Connection {
        if let current = held.withLock({ $0 }), current.isActive { return current }
        let fresh = try await open()
        held.withLock { $0 = fresh }
        return fresh
    }

    /// Closes the connection kept, if any; the next ``get(_:)`` opens another.
    public func drop() async {
        let current = held.withLock { held in
            defer { held = nil }
            return held
        }
        await current?.close()
    }
}
