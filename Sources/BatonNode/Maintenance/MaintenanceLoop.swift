import BatonCore
import Logging
import ServiceLifecycle

/// The shared loop of the maintenance services: sleep, work (while this node is the
/// leader), repeat, until cancelled or graceful shutdown. A failing pass is logged and
/// retried at the next interval.
enum MaintenanceLoop {
    ///
    /// With `jitter` (a fraction), each interval is stretched or shrunk by up to that much at
    /// random; with `atOnce`, the first pass runs before the first sleep.
    static func run(
        interval: LiveSetting<Duration>, jitter: Double = 0, atOnce: Bool = false, leadership: any Leadership, logger: Logger,
        _ pass: @escaping @Sendable () async throws -> Void
    ) async {
        await cancelWhenGracefulShutdown {
            var last = ContinuousClock.now
            var stretch = atOnce ? 0 : 1.0
            while !Task.isCancelled {
                // Sleeps in slices of at most `slice`, so that a reloaded interval counts from
                // the last pass without waiting out the old one.
                let now = ContinuousClock.now
                let due = last + interval.value * stretch
                if now < due {
                    do {
                        try await Task.sleep(for: min(due - now, slice))
                    } catch {
                        return
                    }
                    continue
                }
                last = now
                stretch = jitter > 0 ? Double.random(in: (1 - jitter)...(1 + jitter)) : 1
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
