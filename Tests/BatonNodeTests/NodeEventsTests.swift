import BatonCore
import BatonNode
import BatonTesting
import Foundation
import Synchronization
import Testing

@Suite struct NodeEventsTests {
    static func event(_ n: Int) -> NodeEvent { .scheduleFired(schedule: "s\(n)", tasks: n) }

    @Test func subscribersReceiveInOrderWhatTheirFilterAccepts() async throws {
        let events = NodeEvents()
        let all = events.subscribe()
        let even = events.subscribe { event in
            if case .scheduleFired(_, let n) = event { return n % 2 == 0 }
            return false
        }
        events.emit((0..<10).map(Self.event))
        events.emit(.rescued(count: 3))
        var seen: [NodeEvent] = []
        for await event in all {
            seen.append(event)
            if seen.count == 11 { break }
        }
        #expect(seen == (0..<10).map(Self.event) + [.rescued(count: 3)])
        var evens: [NodeEvent] = []
        for await event in even {
            evens.append(event)
            if evens.count == 5 { break }
        }
        #expect(evens == [0, 2, 4, 6, 8].map(Self.event))
        #expect(all.dropped == 0 && events.dropped == 0)
    }

    /// A subscriber that does not read never holds the emitter up: beyond its buffer, events
    /// are dropped and counted, and what it reads later is the oldest it kept.
    @Test func aSlowSubscriberDropsAndCountsInsteadOfBlocking() async throws {
        let events = NodeEvents()
        let slow = events.subscribe(bufferSize: 100)
        let started = ContinuousClock.now
        for n in 0..<10_000 { events.emit(Self.event(n)) }
        #expect(ContinuousClock.now - started < .seconds(5))
        #expect(slow.dropped == 9_900)
        #expect(events.dropped == 9_900)
        var first: NodeEvent?
        for await event in slow {
            first = event
            break
        }
        #expect(first == Self.event(0))
    }

    @Test func cancelEndsTheStreamAndUnsubscribes() async throws {
        let events = NodeEvents()
        let subscription = events.subscribe()
        let reader = Task { () -> Int in
            var count = 0
            for await _ in subscription { count += 1 }
            return count
        }
        events.emit(Self.event(1))
        try await Task.sleep(for: .milliseconds(50))
        subscription.cancel()
        #expect(await reader.value == 1)
        events.emit(Self.event(2))
        #expect(subscription.dropped == 0)
    }

    @Test func listenersAreCalledSynchronouslyUntilCancelled() {
        let events = NodeEvents()
        let seen = Counter()
        let listener = events.listen { batch in seen.add(batch.count) }
        events.emit((0..<3).map(Self.event))
        #expect(seen.value == 3)
        listener.cancel()
        events.emit(Self.event(4))
        #expect(seen.value == 3)
    }

    /// The long-poll waiters' listener does not make the stream observed: emitters keep their
    /// fast path until a wait is in progress, and a wait is woken by its task's terminal event.
    @Test func waitersRaiseDemandOnlyWhileWaiting() async {
        let events = NodeEvents()
        let waiters = TaskWaiters(events: events)
        #expect(!events.isObserved)
        let id = TaskID.generate()
        let woken = await waiters.withSignal(for: id) { signal -> Bool in
            #expect(events.isObserved)
            let generation = signal.generation
            events.emit(.transitioned(TaskTransition(id: TaskID.generate(), from: .running, to: .succeeded)))
            #expect(signal.generation == generation, "another task's event woke the wait")
            events.emit(.transitioned(TaskTransition(id: id, from: .running, to: .pending)))
            #expect(signal.generation == generation, "a retry is not the end of the task")
            events.emit(.transitioned(TaskTransition(id: id, from: .running, to: .succeeded)))
            return signal.generation != generation
        }
        #expect(woken)
        #expect(!events.isObserved)
        withExtendedLifetime(waiters) {}
    }

    /// While the stream is observed, each ack the completer writes is a `transitioned` event
    /// that says which attempt of which task it ended and how long it ran; unobserved, the
    /// completer takes the plain store path and emits nothing.
    @Test func completerReportsTheAttemptsItsAcksEnded() async throws {
        try await SQLiteStoreFactory().withStore { store in
            let events = NodeEvents()
            let completer = TaskCompleter(store: store, events: events)
            try await store.enqueue(NewTask(kind: "mail", queue: "q", maxAttempts: 1), NewTask(kind: "report", queue: "q"))
            let claimed = try await store.claim(max: 2, queues: ["q"])
            try #require(claimed.count == 2)
            let started = ContinuousClock.now
            try await Task.sleep(for: .milliseconds(40))

            let subscription = events.subscribe()
            let outcomes = try await completer.write(now: [
                .fail(TaskFailure(lease: claimed[0].lease, message: "no")),
                .complete(TaskCompletion(lease: claimed[1].lease, result: .null)),
            ])
            let elapsed = ContinuousClock.now - started
            #expect(outcomes == [.applied(.failed), .applied(.succeeded)])
            var seen: [TaskTransition] = []
            for await event in subscription {
                if case .transitioned(let t) = event { seen.append(t) }
                if seen.count == 2 { break }
            }
            for (transition, task) in zip(seen, claimed.map(\.task)) {
                #expect(transition.id == task.id && transition.from == .running)
                #expect(transition.attempt == 1 && transition.queue == "q" && transition.kind == task.kind)
                let run = try #require(transition.run)
                #expect(run >= .milliseconds(30) && run <= elapsed + .milliseconds(100), "\(run)")
            }
            #expect(seen.map(\.to) == [.failed, .succeeded])

            subscription.cancel()
            #expect(!events.isObserved)
            try await store.enqueue(NewTask(kind: "mail", queue: "q"))
            let third = try await store.claim(queues: ["q"])
            #expect(
                try await completer.write(now: [.complete(TaskCompletion(lease: third[0].lease, result: .null))]) == [.applied(.succeeded)])
        }
    }
}

final class Counter: Sendable {
    private let count = Mutex(0)
    func add(_ n: Int) { count.withLock { $0 += n } }
    var value: Int { count.withLock { $0 } }
}
