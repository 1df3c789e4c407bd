import BatonCore
import Logging
import ServiceLifecycle

/// The shared loop of the maintenance services: sleep, work (while this node is the
/// leader), repeat, until cancelled or graceful shutdown. A failing pass is logged and
/// retried at the next interval.
enum MaintenanceLoop {
    static func run(
        interval: LiveSetting<Duration>, leadership: any Leadership, logger: Logger, _ pass: @escaping @Sendable () async throws -> Void
    ) async {
        await cancelWhenGracefulShutdown {
            var last = ContinuousClock.now
            while !Task.isCancelled {
                // Sleeps in slices of at most `slice`, so that a reloaded interval counts from
                // the last pass without waiting out the old one.
                let now = ContinuousClock.now
                let due = last + interval.value
                if now < due {
                    do {
                        try await Task.sleep(for: min(due - now, slice))
                    } catch {
                        return
                    }
                    continue
                }
                last = now
                do {
                    guard await leadership.isLeader() else { continue }
                    try await pass()
                } catch is CancellationError {
                    return
                } catch {
                    logger.warning("maintenance pass failed; retrying next interval", metadata: ["error": "\(error)"])
                }
            }
        }
    }

    /// The longest single sleep of the loop.
    static let slice: Duration = .seconds(1)

    /// Runs `step` with `batch` as its limit until it reports fewer than `batch` done (or
    /// the task is cancelled). Returns the total.
    static func drain(batch: Int, _ step: (Int) async throws -> Int) async throws -> Int {
        var total = 0
        while !Task.isCancelled {
            let n = try await step(batch)
            total += n
            if n < batch { break }
        }
        return total
    }
}
