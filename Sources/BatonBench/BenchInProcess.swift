import BatonCore
import BatonNode
import BatonPostgres
import BatonSQLite
import BatonWorker
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// ``BenchWorkers/inprocess``: the store (SQLite, or PostgreSQL with its connections), the
/// node's dispatcher and completer, and one worker runtime, all in this process, as `baton
/// standalone` runs them.
struct InProcessBench {
    let settings: BenchSettings
    let location: BenchStore
    let progress: ProgressReporter

    func run() async throws -> BenchReport {
        switch location.location {
        case .sqlite(let path):
            let store = try await SQLiteTaskStore.open(SQLiteStoreConfiguration(path: path))
            defer { try? store.close() }
            return try await run(on: store)
        case .postgres(let url):
            let config: PostgresStoreConfiguration
            do throws(BatonError) { config = try PostgresStoreConfiguration(url: url) } catch {
                throw BenchError(.invalidSettings, error.message)
            }
            // The store's pool, listener and elector run beside the benchmark; migrated first.
            return try await PostgresTaskStore.withStore(config, logger: Logger(label: "baton.bench")) { try await run(on: $0) }
        }
    }

    private func run(on store: any NodeStore) async throws -> BenchReport {
        let driver = InProcessDriver(store: store, settings: settings, queue: location.queue)
        // The node's completer and dispatcher run as the services they are in `baton
        // standalone`, in its order; the maintenance services are left out (the bench measures
        // claims and acks alone).
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: [driver.node.completer, driver.node.dispatcher], logger: Logger(label: "baton.bench")))
        return try await withThrowingTaskGroup(of: BenchReport?.self) { tasks in
            tasks.addTask {
                try await group.run()
                return nil
            }
            defer { tasks.cancelAll() }
            let report: BenchReport
            do {
                report = try await BenchRunner(settings: settings, store: location, driver: driver, progress: progress).run()
                await driver.stopWorkers()
            } catch {
                await driver.stopWorkers()
                await group.triggerGracefulShutdown()
                throw error
            }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
            return report
        }
    }
}

final class InProcessDriver: BenchDriver {
    struct Finished: Sendable {
        var count = 0
        var first: ContinuousClock.Instant?
        var last: ContinuousClock.Instant?
    }

    let store: any NodeStore
    /// The node, built as `baton standalone` builds it.
    let node: NodeServices
    var dispatcher: TaskDispatcher { node.dispatcher }
    var completer: TaskCompleter { node.completer }
    let registry = HandlerRegistry()
    let settings: BenchSettings
    let queue: String
    private let finished = Locked(Finished())
    /// Handler start per task, kept only in steady mode (it costs a lock per task).
    private let starts: Locked<[TaskID: ContinuousClock.Instant]>?
    /// Fan-in mode: the chords' bodies, when a member's completion last committed, and each
    /// body's delay from it to its handler's start (one chord runs at a time).
    private struct FanIn {
        var bodies: Set<TaskID> = []
        var lastMemberCommit: ContinuousClock.Instant?
        var delays: [Double] = []
        /// Members submitted, and those whose completion was reported.
        var membersSubmitted = 0
        var membersSeen = 0
        /// Bodies that started before every member's completion had been reported (the ack
        /// committed, its completer not yet resumed): their delay is from an earlier report, an
        /// upper bound.
        var early = 0
    }
    private let fanIn: Locked<FanIn>?
    private let listener: NodeEvents.Cancellation
    private let worker = Mutex<(runtime: WorkerRuntime, task: Task<Void, any Error>)?>(nil)

    init(store: any NodeStore, settings: BenchSettings, queue: String) {
        self.store = store
        self.settings = settings
        self.queue = queue
        let logger = Logger(label: "baton.bench")
        let finished = self.finished
        let fanIn: Locked<FanIn>?
        if case .fanIn = settings.mode { fanIn = Locked(FanIn()) } else { fanIn = nil }
        self.fanIn = fanIn
        node = NodeServices(
            store: store, configuration: NodeConfiguration(dispatcher: .init(claimBatch: settings.claimBatch), metrics: settings.metrics),
            logger: logger)
        // Finished tasks counted from the node's event stream, as a metrics listener would.
        listener = node.events.listen { batch in
            var done = 0
            for case .transitioned(let t) in batch where t.to.isTerminal { done += 1 }
            guard done > 0 else { return }
            let now = ContinuousClock.now
            finished.withLock { f in
                f.count += done
                if f.first == nil { f.first = now }
                f.last = now
            }
            // Emitted after the ack transaction committed: a member's completion is visible.
            fanIn?.withLock { f in
                for case .transitioned(let t) in batch where t.to.isTerminal && !f.bodies.contains(t.id) {
                    f.lastMemberCommit = now
                    f.membersSeen += 1
                }
            }
        }
        if case .steady = settings.mode {
            let starts = Locked<[TaskID: ContinuousClock.Instant]>([:])
            self.starts = starts
            registry.registerRaw("noop") { _, context in
                let now = ContinuousClock.now
                starts.withLock { $0[context.taskID] = now }
                return .null
            }
        } else if let fanIn {
            starts = nil
            registry.registerRaw("noop") { _, context in
                let now = ContinuousClock.now
                fanIn.withLock { f in
                    if f.bodies.contains(context.taskID), let commit = f.lastMemberCommit {
                        if f.membersSeen < f.membersSubmitted { f.early += 1 }
                        f.delays.append((now - commit).seconds * 1000)
                    }
                }
                return .null
            }
        } else {
            starts = nil
            registry.registerRaw("noop") { _, _ in .null }
        }
    }

    var steadyKind: String { "noop" }
    var driverIsNode: Bool { true }
    var pollIsCostly: Bool { false }
    var pollInterval: Duration { .milliseconds(2) }

    func enqueueBacklog(count: Int, progress: ProgressReporter) async throws -> Double {
        let start = ContinuousClock.now
        var done = 0
        if settings.shape != .plain {
            let per = settings.shape.tasksPerSubmission(count)
            while done < count {
                let n = min(per, count - done)
                try await submitShaped(n)
                done += n
                progress.update("enqueue", done: done, total: count)
            }
            return (ContinuousClock.now - start).seconds
        }
        while done < count {
            let n = min(1000, count - done)
            let batch = (0..<n).map { _ in
                NewTask(kind: "noop", args: settings.args, queue: queue, maxAttempts: 1)
            }
            _ = try await store.taskEnqueueMany(TaskEnqueueParams(tasks: batch))
            done += n
            progress.update("enqueue", done: done, total: count)
        }
        return (ContinuousClock.now - start).seconds
    }

    func submitShaped(_ count: Int) async throws {
        let body = try settings.shape.workflowRequest(count: count, kind: "noop", queue: queue, args: settings.args)
        let submission = try WorkflowSpec.compile(body)
        fanIn?.withLock { f in
            let bodies = submission.tasks.filter(\.hasParents).compactMap(\.id)
            f.bodies.formUnion(bodies)
            f.membersSubmitted += submission.tasks.count - bodies.count
        }
        _ = try await store.taskEnqueueMany(TaskEnqueueParams(tasks: submission.tasks, workflow: submission.workflow))
    }

    func submit(_ tasks: [NewTask]) async throws {
        _ = try await store.taskEnqueueMany(TaskEnqueueParams(tasks: tasks))
    }

    func startWorkers() async throws {
        let config = WorkerConfiguration(
            id: "bench-inprocess", queues: [queue], kinds: ["noop"], concurrency: settings.concurrency,
            shutdownGrace: .seconds(5), claimBatch: settings.claimBatch)
        let runtime = node.inProcessWorker(registry: registry, configuration: config)
        let task = Task { try await runtime.run() }
        worker.withLock { $0 = (runtime, task) }
    }

    func stopWorkers() async {
        guard
            let (runtime, task) = worker.withLock({ w in
                defer { w = nil }
                return w
            })
        else { return }
        runtime.shutdownGracefully()
        _ = try? await task.value
        await completer.flush()
    }

    func finishedCount() async throws -> Int { finished.withLock { $0.count } }

    func finishedTasks() async throws -> [TaskRecord] {
        var all: [TaskRecord] = []
        var cursor: String?
        repeat {
            let page = try await store.taskList(
                TaskListParams(states: [.succeeded, .failed], queue: queue, limit: TaskListParams.maxLimit, cursor: cursor))
            all += page.tasks
            cursor = page.nextCursor
        } while cursor != nil
        return all
    }

    func handlerStarts() -> [TaskID: ContinuousClock.Instant]? { starts?.withLock { $0 } }

    func fanInCommitDelays() -> (delays: [Double], early: Int)? { fanIn?.withLock { ($0.delays, $0.early) } }

    func finishTimes() -> (first: ContinuousClock.Instant, last: ContinuousClock.Instant)? {
        finished.withLock { f in
            guard let first = f.first, let last = f.last else { return nil }
            return (first, last)
        }
    }

    func timedClaim() async throws -> Duration {
        let start = ContinuousClock.now
        let claimed = try await dispatcher.claim(
            ClaimRequest(worker: "bench-claimer", queues: [queue], kinds: ["noop"], max: 1, wait: .zero))
        let elapsed = ContinuousClock.now - start
        guard let task = claimed.first else { throw BenchError(.failed, "a claim found no ready task") }
        _ = try await completer.ack(.complete(TaskCompletion(lease: task.lease, result: .null)))
        return elapsed
    }

    func cpu() -> (server: Double?, workers: Double?, driver: Double) { (nil, nil, ProcStats.selfCPUSeconds()) }

    func peakRSS() -> (server: Double?, workers: Double?) {
        let rss = ProcStats.peakRSSMB()
        return (rss, rss)
    }
}
