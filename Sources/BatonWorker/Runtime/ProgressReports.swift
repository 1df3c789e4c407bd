import BatonCore
import Synchronization

/// The progress handlers reported since the runtime last sent it (``TaskContext/progress(_:_:)``):
/// the latest report per attempt, sent about once a second with a heartbeat of just those
/// leases, so that a handler reporting in a tight loop costs one write per second at most.
final class ProgressReports: Sendable {
    private let pending = Mutex<[LeaseRef: TaskProgress]>([:])

    /// How often reports are sent.
    static let interval: Duration = .seconds(1)

    func report(_ lease: LeaseRef, _ progress: TaskProgress) {
        pending.withLock { $0[lease] = progress }
    }

    /// Takes every report not yet sent.
    func take() -> [LeaseRef: TaskProgress] {
        pending.withLock { p in
            defer { p.removeAll(keepingCapacity: true) }
            return p
        }
    }
}
