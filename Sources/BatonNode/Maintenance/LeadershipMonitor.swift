import BatonCore
import Logging
import ServiceLifecycle

/// Watches whether this node is the cluster's leader and reports each change: a
/// `leadershipChanged` event and a log line. A node that never leads (or always does, on
/// SQLite) reports once, at start.
public struct LeadershipMonitor: Service {
    public static let defaultInterval: Duration = .milliseconds(500)

    public let leadership: any Leadership
    public let events: NodeEvents
    public let interval: Duration
    private let logger: Logger

    public init(
        leadership: any Leadership, events: NodeEvents, interval: Duration = LeadershipMonitor.defaultInterval,
        logger: Logger = Logger(label: "baton.leadership")
    ) {
        self.leadership = leadership
        self.events = events
        self.interval = interval
        self.logger = logger
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            var last: Bool?
            while !Task.isCancelled {
                let now = await leadership.isLeader()
                if now != last {
                    last = now
                    events.emit(.leadershipChanged(isLeader: now))
                    logger.info(now ? "this node is the leader" : "this node is not the leader")
                }
                do { try await Task.sleep(for: interval) } catch { return }
            }
        }
    }
}
