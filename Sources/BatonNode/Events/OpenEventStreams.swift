import Synchronization

/// The number of readers of a node's events that are open now: counted once a reader's
/// starting point is fixed (every event after that reaches it), until it leaves.
public final class OpenEventStreams: Sendable {
    private let count = Atomic<Int>(0)

    public init() {}

    public var value: Int { count.load(ordering: .acquiring) }

    func opened() { count.add(1, ordering: .releasing) }
    func closed() { count.subtract(1, ordering: .releasing) }
}
