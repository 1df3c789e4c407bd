import BatonCore
import Logging
import ServiceLifecycle

/// Periodically treats running tasks whose lease expired (their worker vanished) as failed
/// attempts: retried with backoff, or `failed` when none are left (`store.leaseRescueMany`).
///
/// Stops at once on graceful shutdown. Run it on one node per store (the leader).
public struct LeaseRescuer: Service {
    public static let defaultBatch = 1000

    public let store: any TaskStore
    public let interval: Duration
    public let defaultRetry: RetryPolicy
    public let batch: Int
    /// Passes run only while this node is the leader.
    public let leadership: any Leadership
    private let logger: Logger

    public init(
        store: any TaskStore, interval: Duration = Defaults.rescueInterval, defaultRetry: RetryPolicy = .default,
        batch: Int = LeaseRescuer.defaultBatch,
        leadership: any Leadership = AlwaysLeader(), logger: Logger = Logger(label: "baton.rescuer")
    ) {
        self.store = store
        self.interval = interval
        self.defaultRetry = defaultRetry
        self.batch = max(1, batch)
        self.leadership = leadership
        self.logger = logger
    }

    public func run() async throws {
        await MaintenanceLoop.run(interval: interval, logger: logger) {
            guard await leadership.isLeader() else { return }
            let rescued = try await rescueOnce()
            if rescued > 0 { logger.info("rescued tasks with expired leases", metadata: ["count": "\(rescued)"]) }
        }
    }

    /// One pass: rescues every expired lease, batch after batch. Returns how many.
    @discardableResult
    public func rescueOnce() async throws -> Int {
        var total = 0
        while !Task.isCancelled {
            let n = try await store.leaseRescueMany(LeaseRescueParams(defaultRetry: defaultRetry, limit: batch))
            total += n
            if n < batch { break }
        }
        return total
    }
}

/// The shared loop of the maintenance services: sleep, work, repeat, until cancelled or
/// graceful shutdown. A failing pass is logged and retried at the next interval.
enum MaintenanceLoop {
    static func run(interval: Duration, logger: Logger, _ pass: @escaping @Sendable () async throws -> Void) async {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    try await Task.sleep(for: interval)
                } catch {
                    return
                }
                do {
                    try await pass()
                } catch is CancellationError {
                    return
                } catch {
                    logger.warning("maintenance pass failed; retrying next interval", metadata: ["error": "\(error)"])
                }
            }
        }
    }
}
