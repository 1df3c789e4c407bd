import BatonCore
import BatonSQLite
import BatonTesting
import Foundation
import Testing

@testable import BatonWorker

@Suite(.serialized) struct WorkerRuntimeTests {
    func registry(fileRoot: URL? = nil) -> HandlerRegistry {
        let registry = HandlerRegistry()
        BuiltinKinds.register(into: registry, fileRoot: fileRoot)
        registry.register("add") { (args: AddArgs, _) in args.a + args.b }
        return registry
    }

    @Test func typedTaskSucceedsWithItsEncodedResult() async throws {
        let store = try await TempStore.make()
        defer { store.cleanUp() }
        let worker = RunningWorker(store: store.store, registry: registry(), configuration: workerConfig())
        let add = try await store.enqueue(NewTask(kind: "add", args: try json(#"{"a": 19, "b": 23}"#)))
        let echo = try await store.enqueue(NewTask(kind: "echo", args: try json(#"{"x": [1, "two"]}"#)))
        let noop = try await store.enqueue(NewTask(kind: "noop"))
        let done = try await waitForState(store, add.id, [.succeeded])
        #expect(done.result?.text == "42")
        #expect(done.attempt == 1)
        #expect(try await waitForState(store, echo.id, [.succeeded]).result?.text == #"{"x":[1,"two"]}"#)
        #expect(try await waitForState(store, noop.id, [.succeeded]).result?.text == "null")
        try await worker.stop()
        #expect(worker.runtime.stats.succeeded == 3)
    }

    @Test func argsMismatchFailsPermanentlyAfterOneAttempt() async throws {
        let store = try await TempStore.make()
        defer { store.cleanUp() }
        let worker = RunningWorker(store: store.store, registry: registry(), configuration: workerConfig())
        let task = try await store.enqueue(NewTask(kind: "add", args: try json(#"{"a": 1, "c": 2}"#), maxAttempts: 5))
        let done = try await waitForState(store, task.id, [.failed])
        #expect(done.attempt == 1)
        #expect(done.lastError == "args do not match AddArgs: missing field 'b'")
        try await worker.stop()
    }

    @Test func retryLaterSendsTheTaskBackToPendingAfterTheDelay() async throws {
        let store = try await TempStore.make()
        defer { store.cleanUp() }
        let registry = registry()
        registry.register("busy") { (_: RawJSON, _) -> Int in throw RetryLater(delay: .seconds(30), message: "rate limited") }
        let worker = RunningWorker(store: store.store, registry: registry, configuration: workerConfig())
        let before = try await store.store.now()
        let task = try await store.enqueue(NewTask(kind: "busy", maxAttempts: 5, retry: .fixed(.milliseconds(10))))
        let done = try await waitForState(store, task.id, [.pending])
        #expect(done.attempt == 1)
        #expect(done.lastError == "rate limited")
        // The handler's delay wins over the task's own 10 ms policy.
        let delay = done.runAt.timeIntervalSince(before)
        #expect(delay > 29 && delay < 32, "run_at is \(delay) s after submission")
        try await worker.stop()
    }

    @Test func failPermanentlyEndsTheTaskAfterOneAttempt() async throws {
        let store = try await TempStore.make()
        defer { store.cleanUp() }
        let registry = registry()
        registry.register("bad") { (_: RawJSON, _) -> Int in throw FailPermanently("no such account") }
        let worker = RunningWorker(store: store.store, registry: registry, configuration: workerConfig())
        let task = try await store.enqueue(NewTask(kind: "bad", maxAttempts: 5))
        let done = try await waitForState(store, task.id, [.failed])
        #expect(done.attempt == 1)
        #expect(done.errors.count == 1)
        #expect(done.lastError == "no such account")
        try await worker.stop()
        #expect(worker.runtime.stats.failed == 1)
    }

    @Test func failingTaskUsesExactlyItsAttempts() async throws {
        let store = try await TempStore.make()
        defer { store.cleanUp() }
        let worker = RunningWorker(store: store.store, registry: registry(), configuration: workerConfig())
        let task = try await store.enqueue(
            NewTask(kind: "fail", args: try json(#"{"message": "disk on fire"}"#), maxAttempts: 3, retry: .fixed(.milliseconds(50))))
        let done = try await waitForState(store, task.id, [.failed])
        #expect(done.attempt == 3)
        #expect(done.errors.map(\.attempt) == [1, 2, 3])
        #expect(done.errors.allSatisfy { $0.message == "disk on fire" })
        try await worker.stop()
        #expect(worker.runtime.stats.failed == 3)
    }

    @Test func kindRetryPolicyAppliesWhenTheTaskHasNone() async throws {
        let store = try await TempStore.make(defaultRetry: .fixed(.seconds(60)))
        defer { store.cleanUp() }
        let registry = registry()
        registry.register("once", retry: RetryPolicy.none) { (_: RawJSON, _) -> Int in throw BuiltinFailure(message: "nope") }
        registry.register("quick", retry: .fixed(.milliseconds(20))) { (_: RawJSON, _) -> Int in
            throw BuiltinFailure(message: "again")
        }
        let worker = RunningWorker(store: store.store, registry: registry, configuration: workerConfig())
        let once = try await store.enqueue(NewTask(kind: "once", maxAttempts: 5))
        // The node's policy would wait 60 s between attempts; the kind's 20 ms does not.
        let quick = try await store.enqueue(NewTask(kind: "quick", maxAttempts: 3))
        let onceDone = try await waitForState(store, once.id, [.failed])
        #expect(onceDone.attempt == 1)
        let quickDone = try await waitForState(store, quick.id, [.failed], timeout: .seconds(3))
        #expect(quickDone.attempt == 3)
        try await worker.stop()
    }

    @Test func timeoutFailsTheAttemptAndCancelsTheHandler() async throws {
        let store = try await TempStore.make()
        defer { store.cleanUp() }
        let stopped = Box(false)
        let registry = registry()
        registry.register("slow", timeout: .milliseconds(200)) { (_: RawJSON, ctx) -> Int in
            do {
                try await Task.sleep(for: .seconds(10))
            } catch {
                stopped.set(ctx.isCancelled)
                throw error
            }
            return 1
        }
        let worker = RunningWorker(store: store.store, registry: registry, configuration: workerConfig())
        let started = ContinuousClock.now
        // The kind's timeout (200 ms) applies, and so does a task's own (0.3 s).
        let kindTimeout = try await store.enqueue(NewTask(kind: "slow", maxAttempts: 1))
        let taskTimeout = try await store.enqueue(
            NewTask(kind: "sleep", args: try json(#"{"seconds": 10}"#), maxAttempts: 1, timeout: 0.3))
        let a = try await waitForState(store, kindTimeout.id, [.failed])
        let b = try await waitForState(store, taskTimeout.id, [.failed])
        #expect(ContinuousClock.now - started < .seconds(3))
        #expect(a.lastError == "timed out after 0.2s")
        #expect(b.lastError == "timed out after 0.3s")
        #expect(stopped.get(), "the handler saw its cancellation")
        try await worker.stop()
    }

    @Test func operatorCancellationIsNoticedAtTheNextHeartbeat() async throws {
        let store = try await TempStore.make()
        defer { store.cleanUp() }
        let exited = Box<ContinuousClock.Instant?>(nil)
        let registry = registry()
        registry.register("watch") { (_: RawJSON, ctx) -> Int in
            defer { exited.set(.now) }
            while !ctx.isCancelled { try await Task.sleep(for: .milliseconds(20)) }
            return 0
        }
        let worker = RunningWorker(
            store: store.store, registry: registry, configuration: workerConfig(lease: .milliseconds(600)))
        let sleeper = try await store.enqueue(NewTask(kind: "sleep", args: try json(#"{"seconds": 10}"#)))
        let watcher = try await store.enqueue(NewTask(kind: "watch"))
        try await waitForState(store, sleeper.id, [.running])
        try await waitForState(store, watcher.id, [.running])
        let cancelledAt = ContinuousClock.now
        _ = try await store.store.taskCancel(sleeper.id)
        _ = try await store.store.taskCancel(watcher.id)
        // Heartbeats every 200 ms: both handlers stop at the next one, long before the
        // sleeper's 10 s (the bound leaves room for a slow machine).
        #expect(await eventually(within: .seconds(5)) { worker.runtime.runningCount == 0 && exited.get() != nil })
        let noticed = try #require(exited.get()) - cancelledAt
        #expect(noticed < .milliseconds(1500), "noticed after \(noticed)")
        #expect(worker.runtime.stats.cancelled == 2)
        try await worker.stop()
        // Not acknowledged: the store's `cancelled` stands.
        #expect(try await store.get(sleeper.id).state == .cancelled)
        #expect(try await store.get(watcher.id).state == .cancelled)
        #expect(worker.runtime.stats.succeeded == 0 && worker.runtime.stats.failed == 0)
    }

    @Test func gracefulDrainReleasesUnfinishedTasksAfterTheGracePeriod() async throws {
        let store = try await TempStore.make()
        defer { store.cleanUp() }
        let worker = RunningWorker(
            store: store.store, registry: registry(), configuration: workerConfig(concurrency: 8, grace: .milliseconds(300)))
        let tasks = try await store.enqueue(
            (0..<4).map { _ in NewTask(kind: "sleep", args: try! json(#"{"seconds": 5}"#)) })
        #expect(try await eventually { try await store.count(.running) == 4 })
        // Running in the runtime itself, not only claimed: a claim still in flight when the
        // worker stops is given back by the dispatcher, not by the drain this test is about.
        #expect(await eventually { worker.runtime.runningCount == 4 })
        let started = ContinuousClock.now
        try await worker.stop()
        let took = ContinuousClock.now - started
        #expect(took >= .milliseconds(300) && took < .seconds(5), "shutdown took \(took)")
        for task in tasks {
            let now = try await store.get(task.id)
            #expect(now.state == .ready)
            #expect(now.attempt == 0)
            #expect(now.errors.isEmpty)
        }
        #expect(try await store.count(.running) == 0)
        #expect(worker.runtime.stats.released == 4)
    }

    @Test func gracefulDrainLetsShortTasksFinish() async throws {
        let store = try await TempStore.make()
        defer { store.cleanUp() }
        let worker = RunningWorker(
            store: store.store, registry: registry(), configuration: workerConfig(grace: .seconds(5)))
        let tasks = try await store.enqueue(
            (0..<3).map { _ in NewTask(kind: "sleep", args: try! json(#"{"seconds": 0.4}"#)) })
        #expect(try await eventually { try await store.count(.running) == 3 })
        // Running in the runtime, not only claimed: a claim still on its way to the runtime
        // when the worker stops is given back to the queue, which is not what this test is about.
        #expect(await eventually { worker.runtime.runningCount == 3 })
        let started = ContinuousClock.now
        try await worker.stop()
        #expect(ContinuousClock.now - started < .seconds(2))
        for task in tasks { #expect(try await store.get(task.id).state == .succeeded) }
        #expect(worker.runtime.stats.released == 0)
    }

    @Test func idleRuntimeWakesForANewTaskWithoutPolling() async throws {
        let store = try await TempStore.make()
        defer { store.cleanUp() }
        let worker = RunningWorker(
            store: store.store, registry: registry(), configuration: workerConfig(),
            dispatcher: .init(fallbackPoll: .seconds(60)))
        // Let the runtime settle into its long-poll.
        try await Task.sleep(for: .milliseconds(300))
        let submitted = ContinuousClock.now
        let task = try await store.enqueue(NewTask(kind: "echo", args: try json(#"{"hi": 1}"#)))
        try await waitForState(store, task.id, [.succeeded], timeout: .seconds(10))
        let latency = ContinuousClock.now - submitted
        print("wake-up: submitted to succeeded in \(latency)")
        // Woken, not polled: the fallback poll is a minute.
        #expect(latency < .seconds(5))
        try await worker.stop()
    }

    @Test func workerClaimsOnlyKindsItServes() async throws {
        let store = try await TempStore.make()
        defer { store.cleanUp() }
        let worker = RunningWorker(
            store: store.store, registry: registry(), configuration: workerConfig(kinds: ["echo", "mystery"]))
        let foreign = try await store.enqueue(NewTask(kind: "mystery"))
        let other = try await store.enqueue(NewTask(kind: "noop"))
        let mine = try await store.enqueue(NewTask(kind: "echo"))
        try await waitForState(store, mine.id, [.succeeded])
        try await Task.sleep(for: .milliseconds(200))
        #expect(try await store.get(foreign.id).state == .ready)
        #expect(try await store.get(other.id).state == .ready)
        try await worker.stop()
    }
}
