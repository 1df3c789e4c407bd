import BatonCore
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// On a store that several nodes share (PostgreSQL, a ``WorkerDirectory``): writes the workers
/// this node heard from since its last write to the store every ``interval`` (±20% jitter),
/// and once more when the node stops, so that `GET /v1/workers` on any node lists the whole
/// fleet (``list(local:forgetAfter:)``). A worker that talks only to another node appears
/// at most about one interval late; one statement per interval, none while no worker talks.
public final class WorkerDirectorySync: Service, Sendable {
    public static let defaultInterval: Duration = .seconds(3)

    public let directory: any WorkerDirectory
    public let registry: WorkerRegistry
    public let interval: Duration
    let logger: Logger
    /// Everything the registry saw up to this time is in the store.
    private let written = Mutex(Date.distantPast)

    public init(
        directory: any WorkerDirectory, registry: WorkerRegistry, interval: Duration = WorkerDirectorySync.defaultInterval,
        logger: Logger
    ) {
        self.directory = directory
        self.registry = registry
        self.interval = interval
        self.logger = logger
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    try await Task.sleep(for: self.interval * Double.random(in: 0.8...1.2))
                } catch {
                    break
                }
                await self.write()
            }
        }
        // Stopping gracefully: what this node heard last is not lost to the others.
        if !Task.isCancelled { await write() }
    }

    /// Writes what the registry heard since the last write; a failure is retried at the next.
    public func write() async {
        let cut = Date()
        let since = written.withLock { $0 }
        let workers = registry.seen(after: since)
        guard !workers.isEmpty else { return }
        do {
            try await directory.workersRecord(WorkersRecordParams(workers: workers))
            written.withLock { $0 = max($0, cut) }
        } catch {
            logger.warning("could not write the workers this node heard from", metadata: ["error": "\(error)"])
        }
    }

    /// The cluster's workers heard from within `forgetAfter`: the store's records merged with
    /// this node's own (which may be newer than what it wrote).
    public func list(local: [WorkerInfo], forgetAfter: Duration, at now: Date = Date()) async throws -> [WorkerInfo] {
        let stored = try await directory.workersSeen(since: now.addingTimeInterval(-forgetAfter.seconds))
        return WorkerInfo.merged(stored, local)
    }
}
