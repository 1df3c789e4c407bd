import BatonCore
import Foundation
import Testing

/// The one suite every `TaskStore` must pass, written against the protocol only, as a function
/// per check that takes the ``StoreFactory`` of the store under test. The checks of
/// ``schedulingChecks`` need the scheduling capabilities too (`UniqueTaskStore`,
/// `ScheduleStore`, `QueueAdminStore`: a `NodeStore`).
///
/// A store implementation runs the whole suite with one parameterized test:
///
/// ```swift
/// @Test(arguments: StoreConformance.checks)
/// func conformance(_ check: StoreConformance.Check) async throws {
///     try await check.run(MyStoreFactory())
/// }
/// ```
///
/// Each check must be called from within a test: it reports through `#expect` and `#require`.
public enum StoreConformance {
    // MARK: Enqueue

    /// A submitted task is stored with every field as given (arguments byte for byte), and the defaults where it names none.
    public static func enqueueStoresEveryFieldAsGiven(_ factory: any StoreFactory) async throws {
        try await factory.withStore { store in
            let id = TaskID.generate()
            let before = try await store.now()
            let records = try await store.enqueue(
                NewTask(
                    kind: "email.send", args: RawJSON(trusted: #"{"to": "a@b.c", "n":[1, 2]}"#), queue: "mail", priority: 7,
                    maxAttempts: 4, timeout: 2.5, retry: .fixed(.seconds(3)), uniqueKey: "welcome-42", tags: ["x", "y"], id: id),
                NewTask(kind: "noop"))
            #expect(records.count == 2)
            let stored = try await store.require(id)
            #expect(stored == records[0])
            #expect(stored.kind == "email.send")
            #expect(stored.queue == "mail")
            #expect(stored.args.text == #"{"to": "a@b.c", "n":[1, 2]}"#, "arguments are carried as given, never re-encoded")
            #expect(stored.priority == 7)
            #expect(stored.state == .ready)
            #expect(stored.attempt == 0)
            #expect(stored.maxAttempts == 4)
            #expect(stored.timeout == 2.5)
            #expect(stored.retry == .fixed(.seconds(3)))
            #expect(stored.uniqueKey == "welcome-42")
            #expect(stored.tags == ["x", "y"])
            #expect(stored.errors.isEmpty)
            #expect(stored.result == nil && stored.leaseOwner == nil && stored.finishedAt == nil)
            #expect(gap(stored.createdAt, before) < 1)
            let generated = try await store.require(records[1].id)
            #expect(generated.queue == Defaults.queue && generated.priority == Defaults.priority)
            #expect(generated.maxAttempts == Defaults.maxAttempts && generated.retry == nil && generated.tags.isEmpty)
        }
    }

    /// A submit fires the store's `readySignal`.
    public static func enqueueFiresTheReadySignal(_ factory: any StoreFactory) async throws {
        try await factory.withStore { store in
            let seen = store.readySignal.generation
            try await store.enqueue(NewTask(kind: "k"))
            #expect(store.readySignal.generation != seen)
        }
    }

    /// An invalid task fails its whole batch with `invalidArgument`; nothing is written.
    public static func invalidTaskIsRejectedAndNothingIsWritten(_ factory: any StoreFactory) async throws {
        try await factory.withStore { store in
            await expectError(.invalidArgument) { try await store.enqueue(NewTask(kind: "k", priority: 11)) }
            await expectError(.invalidArgument) {
                try await store.enqueue(NewTask(kind: "a"), NewTask(kind: "bad kind!"), NewTask(kind: "c"))
            }
            let all = try await store.all()
            #expect(all.isEmpty)
        }
    }

    /// A task ID that exists, or repeats within the batch, fails the batch with `conflict`; nothing of it is stored.
    public static func duplicateIDIsAConflictAndTheBatchIsNotStored(_ factory: any StoreFactory) async throws {
        try await factory.withStore { store in
            let id = TaskID.generate()
            try await store.enqueue(NewTask(kind: "first", id: id))
            await expectError(.conflict) {
                try await store.enqueue(NewTask(kind: "a"), NewTask(kind: "b", id: id), NewTask(kind: "c"))
            }
            let other = TaskID.generate()
            await expectError(.conflict) {
                try await store.enqueue(NewTask(kind: "a", id: other), NewTask(kind: "b", id: other))
            }
            let all = try await store.all()
            #expect(all.map(\.kind) == ["first"])
            #expect(try await store.taskGet(other) == nil)
        }
    }

    /// A batch of 1,234 tasks is stored, and claimed, in submission order.
    public static func largeBatchIsStoredInOrder(_ factory: any StoreFactory) async throws {
        try await factory.withStore { store in
            let tasks = (0..<1234).map { NewTask(kind: "k", args: RawJSON(trusted: "{\"i\":\($0)}")) }
            let records = try await store.enqueue(tasks)
            #expect(records.count == 1234)
            let claimed = try await store.claim(max: 2000)
            #expect(claimed.map(\.task.args.text) == tasks.map(\.args.text))
            #expect(Set(claimed.map(\.task.id)) == Set(records.map(\.id)))
        }
    }
}
