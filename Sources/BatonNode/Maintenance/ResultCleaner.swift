import BatonCore
import Foundation
import Logging
import ServiceLifecycle

/// Periodically deletes terminal tasks (succeeded, failed, cancelled) that finished more
/// than `retention` ago, with their results (`store.taskDeleteFinished`).
///
/// Stops at once on graceful shutdown. Run it on one node per store (the leader).
public struct ResultCleaner: Service {
    public static let defaultBatch = 10_000

    public let store: any TaskStore
    /// Time between passes; a change applies from the next pass.
    public let intervalSetting: LiveSetting<Duration>
    /// How long finished tasks are kept; a change applies from the next pass.
    public let retentionSetting: LiveSetting<Duration>
    public var interval: Duration { intervalSetting.value }
    public var retention: Duration { retentionSetting.value }
    public let batch: Int
    /// Passes run only while this node is the leader.
    public let leadership: any Leadership
    private let logger: Logger

    public init(
        store: any TaskStore, interval: Duration = Defaults.cleanInterval, retention: Duration = Defaults.retention,
        batch: Int = ResultCleaner.defaultBatch,
        leadership: any Leadership = AlwaysLeader(), logger: Logger = Logger(label: "baton.cleaner")
    ) {
        self.init(
            store: store, interval: LiveSetting(interval), retention: LiveSetting(retention), batch: batch, leadership: leadership,
            logger: logger)
    }

    /// A cleaner whose interval and retention follow live settings.
    public init(
        store: any TaskStore, interval: LiveSetting<Duration>, retention: LiveSetting<Duration>,
        batch: Int = ResultCleaner.defaultBatch, leadership: any Leadership, logger: Logger
    ) {
        self.store = store
        self.intervalSetting = interval
        self.retentionSetting = retention
        self.batch = max(1, batch)
        self.leadership = leadership
        self.logger = logger
    }

    public func run() async throws {
        await MaintenanceLoop.run(interval: intervalSetting, leadership: leadership, logger: logger) {
            let deleted = try await cleanOnce()
            if deleted > 0 { logger.info("deleted finished tasks past retention", metadata: ["count": "\(deleted)"]) }
        }
    }

    /// One pass: deletes every terminal task finished before `now - retention` (store clock).
    @discardableResult
    public func cleanOnce() async throws -> Int {
        let cutoff = try await store.now().addingTimeInterval(-retention.seconds)
        return try await MaintenanceLoop.drain(batch: batch) { limit in
            try await store.taskDeleteFinished(TaskDeleteFinishedParams(finishedBefore: cutoff, limit: limit))
        }
    }
}
