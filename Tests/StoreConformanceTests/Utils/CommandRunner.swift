import BatonCore
import Foundation

/// A store for one run of a sequence, with the means to move its clock.
struct RunEnvironment: Sendable {
    var store: any TaskStore
    /// Sets the store's clock to this time (microseconds since 1970).
    var setClock: @Sendable (Micros) async throws -> Void
    /// Closes the store, or clears a shared one of this run's tasks.
    var finish: @Sendable () async -> Void
}

/// Where a run found the store and the model disagreeing.
struct RunFailure: Sendable {
    /// The index of the failing command.
    var step: Int
    var message: String
    /// What each step did, resolved (task names, tokens), up to the failure.
    var trace: [String]

    var report: String {
        "store and model disagree at step \(step): \(message)\n\ntrace of the run:\n" + trace.joined(separator: "\n")
    }
}

/// Runs command sequences against a real store and `LifecycleModel` side by side, and checks
/// after every step that they agree: each call's outcome, then every task of the run as
/// `taskList` returns it and the tasks the step touched as `taskGet` returns them.
struct CommandRunner: Sendable {
    /// Where every run's clock starts (2031-02-27, at an odd millisecond).
    static let start: Micros = 1_930_000_000_123_000
    /// The store's `defaultRetry`: what failures of tasks that name no policy use.
    static let ackDefault = ModelPolicy.fixed(ms: 5000)
    /// The rescuer's default policy.
    static let rescueDefault = ModelPolicy.fixed(ms: 7000)

    var promotion: LifecycleModel.Promotion

    /// What a run did: steps, the first disagreement, and how often each kind of outcome came up.
    struct Outcome: Sendable {
        var steps: Int
        var failure: RunFailure?
        var coverage: [String: Int]
    }

    /// Runs `commands` on a fresh model; returns how many steps ran and the first disagreement.
    func run(_ commands: [Command], runID: Int, environment: RunEnvironment) async -> Outcome {
        var run = Run(
            store: environment.store, setClock: environment.setClock, runID: runID,
            model: LifecycleModel(
                now: Self.start, promotion: promotion, ackDefault: Self.ackDefault,
                rescueDefault: Self.rescueDefault))
        do {
            try await run.begin()
        } catch {
            await environment.finish()
            return Outcome(steps: 0, failure: RunFailure(step: -1, message: "setting up the run: \(error)", trace: []), coverage: [:])
        }
        for (index, command) in commands.enumerated() {
            do {
                try await run.step(command, index: index)
                try await run.checkAll()
            } catch {
                await environment.finish()
                let message = (error as? Mismatch)?.message ?? "the store threw \(error)"
                return Outcome(
                    steps: index + 1, failure: RunFailure(step: index, message: message, trace: run.trace), coverage: run.coverage)
            }
        }
        await environment.finish()
        return Outcome(steps: commands.count, failure: nil, coverage: run.coverage)
    }
}

/// A disagreement between the store and the model.
struct Mismatch: Error {
    var message: String
    init(_ message: String) { self.message = message }
}

/// One run: the store, the model, and the names this run gives queues and kinds.
private struct Run {
    let store: any TaskStore
    let setClock: @Sendable (Micros) async throws -> Void
    var model: LifecycleModel
    let queues: [String]
    let kinds: [String]
    var trace: [String] = []
    /// How often each kind of outcome came up.
    var coverage: [String: Int] = [:]
    /// Tasks the current step touched, read back with `taskGet` after it.
    var touched: [TaskID] = []

    init(store: any TaskStore, setClock: @escaping @Sendable (Micros) async throws -> Void, runID: Int, model: LifecycleModel) {
        self.store = store
        self.setClock = setClock
        self.model = model
        queues = ["lm\(runID).q0", "lm\(runID).q1"]
        kinds = ["k0", "k1"]
    }

    mutating func begin() async throws {
        try await moveClock(to: model.now)
    }

    // MARK: Steps

    mutating func step(_ command: Command, index: Int) async throws {
        touched = []
        trace.append("\(index). [\(Time.span(model.now - CommandRunner.start).dropFirst())] \(command)")
        switch command {
        case .enqueue(let specs): try await enqueue(specs)
        case .claim(let spec): try await claim(spec)
        case .heartbeat(let picks, let leaseMs): try await heartbeat(picks, leaseMs: leaseMs)
        case .ack(let acks): try await ack(acks)
        case .release(let picks): try await release(picks)
        case .cancel(let pick): try await cancel(pick)
        case .retry(let pick): try await retry(pick)
        case .delete(let pick): try await delete(pick)
        case .advance(let advance): try await self.advance(advance)
        case .expire(let pick):
            let id = model.resolve(pick)
            if let task = model[id], task.state == .running, let expiry = task.leaseExpiresAt, expiry + 1000 > model.now {
                note("clock to \(model.name(id))'s lease expiry +1ms")
                try await moveClock(to: expiry + 1000)
            }
            try await rescue()
        case .rescue: try await rescue()
        case .nextDue(let picked): try await nextDue(picked)
        }
    }

    private mutating func note(_ line: String) { trace.append("     " + line) }

    private mutating func count(_ event: String, _ n: Int = 1) { coverage[event, default: 0] += n }

    private mutating func enqueue(_ specs: [TaskSpec]) async throws {
        let ids = specs.map { _ in TaskID.generate() }
        let tasks = zip(ids, specs).map { id, spec in
            NewTask(
                kind: kinds[spec.kind], queue: queues[spec.queue], priority: spec.priority,
                delay: spec.delayMs.map { Double($0) / 1000 }, maxAttempts: spec.maxAttempts, retry: spec.policy.retryPolicy, id: id)
        }
        let stored = try await store.taskEnqueueMany(TaskEnqueueParams(tasks: tasks))
        let expected = model.enqueue(zip(ids, specs).map { ($0, kinds[$1.kind], queues[$1.queue], $1) })
        note("submitted " + expected.map { "\($0.name) (\($0.state))" }.joined(separator: ", "))
        guard stored.map(\.id) == ids else { throw Mismatch("enqueue returned ids \(stored.map(\.id)), expected \(ids)") }
        for record in stored { try compare(record, "enqueue's answer") }
        touched = ids
        count(expected.contains { $0.state == .pending } ? "enqueue delayed" : "enqueue ready")
    }

    private mutating func claim(_ spec: ClaimSpec) async throws {
        let queues = spec.queues.map { self.queues[$0] }
        let kinds = spec.kinds.map { $0.map { self.kinds[$0] } }
        let workers = spec.shares.indices.map { "w\($0)" }
        let expected = model.expectedClaim(spec, queues: queues, kinds: kinds, workers: workers)
        let claimed = try await store.taskClaim(
            TaskClaimParams(
                shares: zip(workers, spec.shares).map { ClaimShare(worker: $0, max: $1) }, queues: queues, kinds: kinds,
                lease: .milliseconds(spec.leaseMs)))
        let got = claimed.map { "\(model.name($0.task.id))→\($0.task.leaseOwner ?? "nil")" }
        note("claimed [\(got.joined(separator: ", "))]")
        let want = expected.map { "\(model.name($0.id))→\($0.owner)" }
        guard got == want else {
            throw Mismatch(
                "claim took [\(got.joined(separator: ", "))], the model expects [\(want.joined(separator: ", "))]\n"
                    + "claimable tasks (state, priority, run_at, submission order):\n" + describeClaimable(queues: queues, kinds: kinds))
        }
        let issued = model.issuedTokens
        let tokens = claimed.map(\.leaseToken)
        guard Set(tokens).count == tokens.count, tokens.allSatisfy({ !$0.isEmpty && !issued.contains($0) }) else {
            throw Mismatch("claim issued tokens \(tokens) that are empty, repeated or issued before")
        }
        model.applyClaim(spec, queues: queues, claimed: zip(expected, tokens).map { ($0.id, $0.owner, $1) })
        for c in claimed { try compare(c.task, "claim's answer") }
        touched = expected.map(\.id)
        count(claimed.isEmpty ? "claim: none" : claimed.count == 1 ? "claim: one" : "claim: several")
        if Set(claimed.map(\.task.leaseOwner)).count > 1 { count("claim: split between shares") }
    }

    private func describeClaimable(queues: [String], kinds: [String]?) -> String {
        model.order.compactMap { model[$0] }.filter { t in
            queues.contains(t.queue) && (kinds?.isEmpty ?? true || kinds!.contains(t.kind)) && (t.state == .ready || t.state == .pending)
        }.map { t in
            "  \(t.name) \(t.state) p\(t.priority) run_at \(Time.span(t.runAt - CommandRunner.start).dropFirst())"
                + (t.state == .pending && t.runAt <= model.now ? " (due)" : "") + " seq \(t.seq)"
        }.joined(separator: "\n")
    }

    private func lease(_ pick: LeasePick) -> LeaseRef {
        let id = model.resolve(pick.task)
        return LeaseRef(id: id, token: model.token(pick.token, for: id))
    }

    /// `t3/current` or `t3/stale`: a lease for the trace.
    private func describe(_ lease: LeaseRef) -> String {
        guard let task = model[lease.id] else { return "\(model.name(lease.id))/-" }
        if lease.token == task.leaseToken { return "\(task.name)/current" }
        if let i = task.tokens.firstIndex(of: lease.token) { return "\(task.name)/old#\(i)" }
        if let owner = model.order.first(where: { model[$0]!.tokens.contains(lease.token) }) {
            return "\(task.name)/token-of-\(model.name(owner))"
        }
        return "\(task.name)/made-up"
    }

    private mutating func heartbeat(_ picks: [LeasePick], leaseMs: Int64) async throws {
        let leases = picks.map(lease)
        let described = leases.map(describe)
        let outcomes = try await store.taskHeartbeatMany(TaskHeartbeatParams(leases: leases, lease: .milliseconds(leaseMs)))
        let expected = leases.map { model.heartbeat($0, leaseMs: leaseMs) }
        note("heartbeat \(described) → \(outcomes.map(describe))")
        guard outcomes.count == expected.count else { throw Mismatch("heartbeat answered \(outcomes.count) outcomes for \(leases.count)") }
        for (got, want) in zip(outcomes, expected) where !same(got, want) {
            throw Mismatch("heartbeat answered \(outcomes.map(describe)), the model expects \(expected.map(describe))")
        }
        touched = leases.map(\.id)
        for outcome in outcomes { count("heartbeat: " + describe(outcome).prefix { $0 != "(" }) }
    }

    private func describe(_ outcome: HeartbeatOutcome) -> String {
        switch outcome {
        case .extended(let until): "extended(\(Time.span(Time.micros(until) - CommandRunner.start).dropFirst()))"
        case .cancelled: "cancelled"
        case .lost: "lost"
        case .notFound: "notFound"
        }
    }

    private func same(_ a: HeartbeatOutcome, _ b: HeartbeatOutcome) -> Bool {
        switch (a, b) {
        case (.extended(let x), .extended(let y)): Time.micros(x) == Time.micros(y)
        default: a == b
        }
    }

    private mutating func ack(_ specs: [AckSpec]) async throws {
        var acks: [TaskAck] = []
        var leases: [LeaseRef] = []
        for spec in specs {
            let lease = lease(spec.lease)
            leases.append(lease)
            switch spec.kind {
            case .complete:
                let result = RawJSON(trusted: "{\"n\":\(model[lease.id]?.seq ?? -1)}")
                acks.append(.complete(TaskCompletion(lease: lease, result: result)))
            case .fail:
                acks.append(.fail(TaskFailure(lease: lease, message: "boom")))
            case .failAfter(let ms):
                acks.append(.fail(TaskFailure(lease: lease, message: "later", retryAfter: .milliseconds(ms))))
            case .failPermanently:
                acks.append(.fail(TaskFailure(lease: lease, message: "fatal", retryable: false)))
            }
        }
        let described = zip(specs, leases).map { "\($0.kind) \(describe($1))" }
        let outcomes = try await store.taskAckMany(TaskAckParams(acks: acks))
        let expected = zip(leases, specs).map { lease, spec in model.ack(lease, spec.kind) }
        note("ack \(described) → \(outcomes)")
        guard outcomes == expected else { throw Mismatch("ack answered \(outcomes), the model expects \(expected)") }
        touched = leases.map(\.id)
        for (spec, outcome) in zip(specs, outcomes) {
            let kind = "\(spec.kind)".prefix { $0 != "(" }
            count("ack \(kind): \(outcome)")
        }
    }

    private mutating func release(_ picks: [LeasePick]) async throws {
        let leases = picks.map(lease)
        let described = leases.map(describe)
        let released = try await store.taskReleaseMany(TaskReleaseParams(leases: leases))
        let expected = leases.filter { model.release($0) }.count
        note("release \(described) → \(released)")
        guard released == expected else { throw Mismatch("release released \(released), the model expects \(expected)") }
        touched = leases.map(\.id)
        count("release: applied", released)
        count("release: refused", leases.count - released)
    }

    /// Runs an operator action and compares its answer: the record, or the error's code.
    private mutating func operatorAction(
        _ what: String, _ id: TaskID, model expected: LifecycleModel.Refusal?, _ call: () async throws -> TaskRecord?
    ) async throws {
        let name = model.name(id)
        touched = [id]
        do {
            let record = try await call()
            note("\(what) \(name) → ok")
            count("\(what): ok")
            if let expected { throw Mismatch("\(what) \(name) succeeded; the model expects \(expected)") }
            if let record { try compare(record, "\(what)'s answer") }
        } catch let error as BatonError {
            note("\(what) \(name) → \(error.code)")
            count("\(what): \(error.code)")
            let code: BatonError.Code? =
                switch expected {
                case .notFound: .notFound
                case .conflict: .conflict
                case nil: nil
                }
            guard error.code == code else {
                throw Mismatch(
                    "\(what) \(name) threw \(error.code) (\(error.message)); the model expects \(code.map { "\($0)" } ?? "success")")
            }
        }
    }

    private mutating func cancel(_ pick: TaskPick) async throws {
        let id = model.resolve(pick)
        let expected = model.cancel(id)
        try await operatorAction("cancel", id, model: refusal(expected)) { [store] in try await store.taskCancel(id) }
    }

    private mutating func retry(_ pick: TaskPick) async throws {
        let id = model.resolve(pick)
        let expected = model.retry(id)
        try await operatorAction("retry", id, model: refusal(expected)) { [store] in try await store.taskRetry(id) }
    }

    private mutating func delete(_ pick: TaskPick) async throws {
        let id = model.resolve(pick)
        let expected = model.delete(id)
        try await operatorAction("delete", id, model: refusal(expected)) { [store] in
            try await store.taskDelete(id)
            return nil
        }
    }

    private func refusal<T>(_ result: Result<T, LifecycleModel.Refusal>) -> LifecycleModel.Refusal? {
        if case .failure(let refusal) = result { return refusal }
        return nil
    }

    private mutating func advance(_ advance: Advance) async throws {
        let target: Micros?
        switch advance {
        case .by(let ms): target = model.now + Time.ms(ms)
        case .toNextDue(let offset): target = model.earliestPendingRunAt.map { $0 + Time.ms(offset) }
        case .toLeaseExpiry(let pick, let offset):
            let id = model.resolve(pick)
            target = model[id]?.leaseExpiresAt.map { $0 + Time.ms(offset) }
            if target != nil { note("lease of \(model.name(id))") }
        }
        guard let target, target > model.now else {
            note("no-op")
            return
        }
        count("clock: moved")
        try await moveClock(to: target)
    }

    private mutating func moveClock(to time: Micros) async throws {
        model.now = time
        try await setClock(time)
        let storeNow = Time.micros(try await store.now())
        guard storeNow == time else {
            throw Mismatch("the store's clock reads \(Time.span(storeNow - time)) off the time it was set to")
        }
    }

    private mutating func rescue() async throws {
        let rescued = try await store.leaseRescueMany(LeaseRescueParams(defaultRetry: CommandRunner.rescueDefault.retryPolicy!)).count
        let expected = model.rescue()
        note("rescued \(rescued)")
        count("rescue: tasks", expected)
        guard rescued == expected else { throw Mismatch("lease rescue rescued \(rescued), the model expects \(expected)") }
    }

    private mutating func nextDue(_ picked: [Int]) async throws {
        let queues = picked.map { self.queues[$0] }
        let due = try await store.taskNextDueAt(queues: queues).map(Time.micros)
        let expected = model.nextDue(queues: queues)
        note("next due \(due.map { Time.span($0 - CommandRunner.start) } ?? "none")")
        count(due == nil ? "next due: none" : "next due: a time")
        guard due == expected else {
            throw Mismatch(
                "next due time is \(due.map { Time.span($0 - CommandRunner.start) } ?? "none"), the model expects "
                    + "\(expected.map { Time.span($0 - CommandRunner.start) } ?? "none")")
        }
    }

    // MARK: Checks

    /// Every task of the run as the store lists it, and the touched tasks as `taskGet` reads them.
    mutating func checkAll() async throws {
        let listed = try await store.taskList(TaskListParams(limit: TaskListParams.maxLimit)).tasks.filter { queues.contains($0.queue) }
        let listedIDs = Set(listed.map(\.id))
        let modelIDs = Set(model.order)
        guard listedIDs == modelIDs else {
            let extra = listedIDs.subtracting(modelIDs).map(model.name)
            let missing = modelIDs.subtracting(listedIDs).map(model.name)
            throw Mismatch("the store lists tasks \(extra) the model does not have, and lacks \(missing)")
        }
        for record in listed { try compare(record, "taskList") }
        for id in touched.prefix(2) {
            let record = try await store.taskGet(id)
            switch (record, model[id]) {
            case (nil, nil): continue
            case (let record?, _?): try compare(record, "taskGet")
            case (_?, nil): throw Mismatch("taskGet finds \(model.name(id)), which the model deleted")
            case (nil, _?): throw Mismatch("taskGet does not find \(model.name(id))")
            }
        }
    }

    /// Compares a record the store returned with the model's task, field by field.
    mutating func compare(_ record: TaskRecord, _ source: String) throws {
        guard let task = model[record.id] else { throw Mismatch("\(source): the store returned task \(record.id), unknown to the model") }
        let runAt = Time.micros(record.runAt)
        if task.runAtRange != nil {
            count("retry time within the jitter range")
        }
        if task.runAtRange != nil, !model.resolveRunAt(record.id, observed: runAt) {
            throw Mismatch(
                "\(source): \(task.name) run_at \(Time.span(runAt - model.now)) from now is outside the jitter range "
                    + "\(Time.span(task.runAtRange!.lowerBound - model.now))…\(Time.span(task.runAtRange!.upperBound - model.now))")
        }
        let expected = model[record.id]!
        var diffs: [String] = []
        func check<T: Equatable>(_ field: String, _ got: T, _ want: T) {
            if got != want { diffs.append("\(field): store \(got), model \(want)") }
        }
        func time(_ field: String, _ got: Date?, _ want: Micros?) {
            let g = got.map(Time.micros)
            if g != want {
                diffs.append(
                    "\(field): store \(g.map { Time.span($0 - CommandRunner.start) } ?? "nil"), "
                        + "model \(want.map { Time.span($0 - CommandRunner.start) } ?? "nil")")
            }
        }
        check("kind", record.kind, expected.kind)
        check("queue", record.queue, expected.queue)
        check("priority", record.priority, expected.priority)
        check("state", record.state, expected.state)
        check("attempt", record.attempt, expected.attempt)
        check("max_attempts", record.maxAttempts, expected.maxAttempts)
        time("run_at", record.runAt, expected.runAt)
        check("lease_owner", record.leaseOwner, expected.leaseOwner)
        time("lease_expires_at", record.leaseExpiresAt, expected.leaseExpiresAt)
        check("retry", record.retry, expected.policy.retryPolicy)
        check("result", record.result?.text, expected.result)
        check("last_error", record.lastError, expected.lastError)
        let errors = record.errors.map { ModelError(attempt: $0.attempt, at: Time.micros($0.at), message: $0.message) }
        // The history is JSON, whose times are whole milliseconds (rounded).
        let expectedErrors = expected.errors.map { ModelError(attempt: $0.attempt, at: ($0.at + 500) / 1000 * 1000, message: $0.message) }
        if errors != expectedErrors {
            func show(_ list: [ModelError]) -> String {
                "[" + list.map { "#\($0.attempt) \($0.message) at \(Time.span($0.at - CommandRunner.start))" }.joined(separator: ", ") + "]"
            }
            diffs.append("errors: store \(show(errors)), model \(show(expectedErrors))")
        }
        time("created_at", record.createdAt, expected.createdAt)
        time("started_at", record.startedAt, expected.startedAt)
        time("finished_at", record.finishedAt, expected.finishedAt)
        if !diffs.isEmpty {
            throw Mismatch("\(source): \(expected.name) differs:\n  " + diffs.joined(separator: "\n  "))
        }
    }
}
