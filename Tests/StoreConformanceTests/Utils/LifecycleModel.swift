import BatonCore
import Foundation

/// The model's time: whole microseconds since 1970.
typealias Micros = Int64

enum Time {
    static func ms(_ n: Int64) -> Micros { n * 1000 }
    static func seconds(_ n: Int64) -> Micros { n * 1_000_000 }
    static func micros(_ date: Date) -> Micros { Micros((date.timeIntervalSince1970 * 1e6).rounded()) }
    static func date(_ micros: Micros) -> Date { Date(timeIntervalSince1970: Double(micros) / 1e6) }
    static func duration(_ micros: Micros) -> Duration { .microseconds(micros) }
    /// `+1.5s`, `-1ms`: a span for the trace.
    static func span(_ micros: Micros) -> String {
        let sign = micros < 0 ? "-" : "+"
        let m = abs(micros)
        if m % 1_000_000 == 0 { return "\(sign)\(m / 1_000_000)s" }
        if m % 1000 == 0 { return "\(sign)\(Double(m) / 1e6)s" }
        return "\(sign)\(m)µs"
    }
}

/// A retry policy as the model knows it: the documented delays, computed here (never by
/// `RetryPolicy.delay`), and the `RetryPolicy` a task is submitted with.
enum ModelPolicy: Sendable, Hashable, CustomStringConvertible {
    /// The task names none: the store's (or the rescuer's) default applies.
    case unset
    case none
    case fixed(ms: Int64)
    case exponential(baseMs: Int64, capMs: Int64, jitter: Bool)
    case fibonacci(baseMs: Int64, capMs: Int64)

    var retryPolicy: RetryPolicy? {
        switch self {
        case .unset: nil
        case .none: RetryPolicy.none
        case .fixed(let ms): .fixed(.milliseconds(ms))
        case .exponential(let base, let cap, let jitter): .exponential(base: .milliseconds(base), cap: .milliseconds(cap), jitter: jitter)
        case .fibonacci(let base, let cap): .fibonacci(base: .milliseconds(base), cap: .milliseconds(cap))
        }
    }

    /// The delay after failed attempt `n` (1-based), or `nil` for "never retry". One point,
    /// or for a jittered policy the documented range `[d/2, d]`.
    func delay(afterAttempt n: Int) -> ClosedRange<Micros>? {
        switch self {
        case .unset: preconditionFailure("an unset policy has no delay of its own")
        case .none: return nil
        case .fixed(let ms): return Time.ms(ms)...Time.ms(ms)
        case .exponential(let base, let cap, let jitter):
            var d = base
            for _ in 1..<max(1, n) where d < cap { d *= 2 }
            d = min(d, cap)
            return jitter ? Time.ms(d) / 2...Time.ms(d) : Time.ms(d)...Time.ms(d)
        case .fibonacci(let base, let cap):
            var (a, b): (Int64, Int64) = (1, 1)
            for _ in 1..<max(1, n) where a * base < cap { (a, b) = (b, a + b) }
            let d = min(a * base, cap)
            return Time.ms(d)...Time.ms(d)
        }
    }

    var description: String {
        switch self {
        case .unset: "default"
        case .none: "none"
        case .fixed(let ms): "fixed(\(Time.span(Time.ms(ms)).dropFirst()))"
        case .exponential(let base, let cap, let jitter): "exp(\(base)ms..\(cap)ms\(jitter ? ", jitter" : ""))"
        case .fibonacci(let base, let cap): "fib(\(base)ms..\(cap)ms)"
        }
    }
}

/// One failed attempt in a task's history.
struct ModelError: Sendable, Hashable {
    var attempt: Int
    var at: Micros
    var message: String
}

/// What the model expects of one task.
struct ModelTask: Sendable {
    let id: TaskID
    /// `t0`, `t1`, …: the task's name in traces, in submission order.
    let name: String
    /// Submission order.
    let seq: Int
    let kind: String
    let queue: String
    let priority: Int
    let policy: ModelPolicy
    let createdAt: Micros
    var state: TaskState
    var attempt = 0
    var maxAttempts: Int
    var runAt: Micros
    /// A jittered retry time the store has not been seen to choose yet: any time in here.
    var runAtRange: ClosedRange<Micros>?
    var leaseOwner: String?
    /// The current lease's token (kept by a cancel, so that the worker's heartbeat learns of it).
    var leaseToken: String?
    var leaseExpiresAt: Micros?
    /// Every token a claim issued for this task, oldest first.
    var tokens: [String] = []
    var result: String?
    var lastError: String?
    var errors: [ModelError] = []
    var startedAt: Micros?
    var finishedAt: Micros?

    var isTerminal: Bool { state.isTerminal }
}

/// The task lifecycle as `docs/state-machine.md` describes it, written independently of the
/// stores' code: states, attempts, leases and their tokens, `run_at`, retries and their
/// delays, the error history, claim order.
struct LifecycleModel: Sendable {
    static let leaseExpiredMessage = "lease expired (worker vanished)"

    /// How the store makes due `pending` tasks claimable. SQLite: each claim first promotes
    /// every due `pending` task to `ready` (the documented behaviour). PostgreSQL: the claim
    /// takes due `pending` tasks directly and leaves the others `pending`.
    enum Promotion: Sendable {
        case promoteAllInClaim
        case claimDuePendingDirectly
    }

    var now: Micros
    let promotion: Promotion
    /// The store's policy for failures of tasks that name none.
    let ackDefault: ModelPolicy
    /// The rescuer's policy for tasks that name none.
    let rescueDefault: ModelPolicy

    private(set) var tasks: [TaskID: ModelTask] = [:]
    /// Live ids in submission order.
    private(set) var order: [TaskID] = []
    /// Deleted ids, oldest first.
    private(set) var deleted: [TaskID] = []
    private var names: [TaskID: String] = [:]

    init(now: Micros, promotion: Promotion, ackDefault: ModelPolicy, rescueDefault: ModelPolicy) {
        self.now = now
        self.promotion = promotion
        self.ackDefault = ackDefault
        self.rescueDefault = rescueDefault
    }

    func name(_ id: TaskID) -> String { names[id] ?? "unknown(\(id.description.suffix(4)))" }

    subscript(id: TaskID) -> ModelTask? { tasks[id] }

    // MARK: Submission

    /// Submits tasks with ids chosen by the caller; returns them as the store should.
    mutating func enqueue(_ specs: [(id: TaskID, kind: String, queue: String, spec: TaskSpec)]) -> [ModelTask] {
        var submitted: [ModelTask] = []
        for (id, kind, queue, spec) in specs {
            let seq = names.count
            let runAt = now + Time.ms(spec.delayMs ?? 0)
            let task = ModelTask(
                id: id, name: "t\(seq)", seq: seq, kind: kind, queue: queue, priority: spec.priority, policy: spec.policy,
                createdAt: now, state: runAt > now ? .pending : .ready, maxAttempts: spec.maxAttempts, runAt: runAt)
            tasks[id] = task
            names[id] = task.name
            order.append(id)
            submitted.append(task)
        }
        return submitted
    }

    // MARK: Claims

    /// The tasks a claim takes, in claim order, each with the worker of its share: ready tasks
    /// (and due pending ones) of the queues and kinds, highest priority first, then earliest
    /// `run_at`, then submission order.
    func expectedClaim(_ spec: ClaimSpec, queues: [String], kinds: [String]?, workers: [String]) -> [(id: TaskID, owner: String)] {
        let total = spec.shares.reduce(0, +)
        guard total > 0, !queues.isEmpty else { return [] }
        func claimOrder(_ a: ModelTask, _ b: ModelTask) -> Bool {
            if a.priority != b.priority { return a.priority > b.priority }
            if a.runAt != b.runAt { return a.runAt < b.runAt }
            return a.seq < b.seq
        }
        let eligible = order.compactMap { tasks[$0] }.filter { t in
            queues.contains(t.queue) && (kinds?.isEmpty ?? true || kinds!.contains(t.kind))
                && (t.state == .ready || (t.state == .pending && t.runAt <= now))
        }
        let sorted = eligible.sorted(by: claimOrder)
        var picked: [(TaskID, String)] = []
        var share = 0
        var left = spec.shares.first ?? 0
        for task in sorted.prefix(total) {
            while left == 0 {
                share += 1
                left = spec.shares[share]
            }
            picked.append((task.id, workers[share]))
            left -= 1
        }
        return picked
    }

    /// Applies a claim the store answered with `claimed` (ids, owners and the tokens it issued).
    mutating func applyClaim(_ spec: ClaimSpec, queues: [String], claimed: [(id: TaskID, owner: String, token: String)]) {
        guard spec.shares.reduce(0, +) > 0, !queues.isEmpty else { return }
        if promotion == .promoteAllInClaim {
            for id in order where tasks[id]!.state == .pending && tasks[id]!.runAt <= now {
                tasks[id]!.state = .ready
            }
        }
        for (id, owner, token) in claimed {
            tasks[id]!.state = .running
            tasks[id]!.attempt += 1
            tasks[id]!.leaseOwner = owner
            tasks[id]!.leaseToken = token
            tasks[id]!.tokens.append(token)
            tasks[id]!.leaseExpiresAt = now + Time.ms(spec.leaseMs)
            tasks[id]!.startedAt = now
        }
    }

    /// Every token any claim issued, for telling a fresh token from a reused one.
    var issuedTokens: Set<String> { Set(tasks.values.flatMap(\.tokens)) }

    // MARK: Leases

    mutating func heartbeat(_ lease: LeaseRef, leaseMs: Int64) -> HeartbeatOutcome {
        guard let task = tasks[lease.id] else { return .notFound }
        if task.state == .running && task.leaseToken == lease.token {
            let until = now + Time.ms(leaseMs)
            tasks[lease.id]!.leaseExpiresAt = until
            return .extended(until: Time.date(until))
        }
        if task.state == .cancelled && task.leaseToken == lease.token { return .cancelled }
        return .lost
    }

    /// One ack of a batch, applied after the ones before it (a lease named again in a batch
    /// finds its task already moved on).
    mutating func ack(_ lease: LeaseRef, _ kind: AckKind) -> AckOutcome {
        guard let task = tasks[lease.id] else { return .notFound }
        guard task.state == .running, task.leaseToken == lease.token else { return .staleLease }
        let now = self.now
        switch kind {
        case .complete:
            update(lease.id) { t in
                t.state = .succeeded
                t.result = "{\"n\":\(t.seq)}"
                t.finishedAt = now
                Self.clearLease(&t)
            }
        case .fail:
            failAttempt(lease.id, message: "boom", retryable: true, retryAfter: nil, fallback: ackDefault)
        case .failAfter(let ms):
            failAttempt(lease.id, message: "later", retryable: true, retryAfter: Time.ms(ms), fallback: ackDefault)
        case .failPermanently:
            failAttempt(lease.id, message: "fatal", retryable: false, retryAfter: nil, fallback: ackDefault)
        }
        return .applied(tasks[lease.id]!.state)
    }

    /// Release: back to `ready`, the attempt not counted. Whether it applied.
    mutating func release(_ lease: LeaseRef) -> Bool {
        guard let task = tasks[lease.id], task.state == .running, task.leaseToken == lease.token else { return false }
        update(lease.id) { t in
            t.state = .ready
            t.attempt -= 1
            Self.clearLease(&t)
        }
        return true
    }

    /// Rescues every running task whose lease has run out (`now` past its expiry): a failed
    /// attempt. Returns how many.
    mutating func rescue() -> Int {
        var rescued = 0
        for id in order {
            let t = tasks[id]!
            guard t.state == .running, let expiry = t.leaseExpiresAt, expiry < now else { continue }
            failAttempt(id, message: Self.leaseExpiredMessage, retryable: true, retryAfter: nil, fallback: rescueDefault)
            rescued += 1
        }
        return rescued
    }

    /// A failed attempt: recorded in the history; then `failed` if it may not be retried or no
    /// attempts are left, else `pending` until now plus the delay (retry-after, else the task's
    /// policy, else the default).
    private mutating func failAttempt(_ id: TaskID, message: String, retryable: Bool, retryAfter: Micros?, fallback: ModelPolicy) {
        let now = self.now
        update(id) { t in
            t.errors.append(ModelError(attempt: t.attempt, at: now, message: message))
            t.lastError = message
            Self.clearLease(&t)
            let delay: ClosedRange<Micros>?
            if !retryable || t.attempt >= t.maxAttempts {
                delay = nil
            } else if let retryAfter {
                delay = retryAfter...retryAfter
            } else {
                delay = (t.policy == .unset ? fallback : t.policy).delay(afterAttempt: t.attempt)
            }
            guard let delay else {
                t.state = .failed
                t.finishedAt = now
                return
            }
            t.state = .pending
            t.finishedAt = nil
            if delay.lowerBound == delay.upperBound {
                t.runAt = now + delay.lowerBound
            } else {
                // Stored in whole milliseconds (SQLite), so up to 1 ms either side.
                t.runAtRange = (now + delay.lowerBound - 1000)...(now + delay.upperBound + 1000)
            }
        }
    }

    private static func clearLease(_ t: inout ModelTask) {
        t.leaseOwner = nil
        t.leaseToken = nil
        t.leaseExpiresAt = nil
    }

    // MARK: Operator actions

    enum Refusal: Error, Equatable {
        case notFound
        case conflict
    }

    mutating func cancel(_ id: TaskID) -> Result<ModelTask, Refusal> {
        guard let task = tasks[id] else { return .failure(.notFound) }
        guard !task.isTerminal else { return .failure(.conflict) }
        let now = self.now
        update(id) { t in
            t.state = .cancelled
            t.finishedAt = now
            t.leaseExpiresAt = nil
        }
        return .success(tasks[id]!)
    }

    mutating func retry(_ id: TaskID) -> Result<ModelTask, Refusal> {
        guard let task = tasks[id] else { return .failure(.notFound) }
        guard task.isTerminal else { return .failure(.conflict) }
        let now = self.now
        update(id) { t in
            t.state = .ready
            t.runAt = now
            t.maxAttempts = max(t.maxAttempts, t.attempt + 1)
            t.finishedAt = nil
            t.result = nil
            Self.clearLease(&t)
        }
        return .success(tasks[id]!)
    }

    mutating func delete(_ id: TaskID) -> Result<Void, Refusal> {
        guard let task = tasks[id] else { return .failure(.notFound) }
        guard task.isTerminal else { return .failure(.conflict) }
        tasks[id] = nil
        order.removeAll { $0 == id }
        deleted.append(id)
        return .success(())
    }

    // MARK: Reads

    /// The earliest `run_at` of a `pending` task of these queues.
    func nextDue(queues: [String]) -> Micros? {
        order.compactMap { tasks[$0] }.filter { $0.state == .pending && queues.contains($0.queue) }.map(\.runAt).min()
    }

    /// The earliest time after now at which something changes by itself: a pending task comes due.
    var earliestPendingRunAt: Micros? {
        order.compactMap { tasks[$0] }.filter { $0.state == .pending }.map(\.runAt).min()
    }

    /// Adopts the store's choice of a jittered retry time if the model allows it. Whether it did.
    mutating func resolveRunAt(_ id: TaskID, observed: Micros) -> Bool {
        guard let range = tasks[id]?.runAtRange else { return false }
        guard range.contains(observed) else { return false }
        tasks[id]!.runAt = observed
        tasks[id]!.runAtRange = nil
        return true
    }

    private mutating func update(_ id: TaskID, _ body: (inout ModelTask) -> Void) {
        var task = tasks[id]!
        task.runAtRange = nil
        body(&task)
        tasks[id] = task
    }

    // MARK: Picking

    /// The task a pick names: one of a pool, in submission order; a deleted or never-existing
    /// id for `missing` (and when there are no tasks).
    func resolve(_ pick: TaskPick) -> TaskID {
        let live = order.compactMap { tasks[$0] }
        let pool: [ModelTask]
        switch pick.pool {
        case .any: pool = live
        case .running: pool = live.filter { $0.state == .running }
        case .live: pool = live.filter { !$0.isTerminal }
        case .terminal: pool = live.filter(\.isTerminal)
        case .missing: pool = []
        }
        if !pool.isEmpty { return pool[pick.index % pool.count].id }
        if pick.pool != .missing, !live.isEmpty { return live[pick.index % live.count].id }
        if pick.pool == .missing, !deleted.isEmpty, pick.index % 2 == 0 { return deleted[pick.index / 2 % deleted.count] }
        return Self.neverExisting(pick.index)
    }

    static func neverExisting(_ index: Int) -> TaskID {
        TaskID(uuid: UUID(uuidString: String(format: "00000000-0000-7000-8000-%012x", index & 0xFFFF_FFFF))!)
    }

    /// The token a pick names for task `id`.
    func token(_ pick: TokenPick, for id: TaskID) -> String {
        let own = tasks[id]?.tokens ?? []
        switch pick {
        case .current:
            return tasks[id]?.leaseToken ?? own.last ?? "never-issued"
        case .previous(let i):
            return own.isEmpty ? "never-issued" : own[i % own.count]
        case .otherTask(let i):
            let others = order.filter { $0 != id }.flatMap { tasks[$0]!.tokens }
            return others.isEmpty ? "no-other-token-\(i)" : others[i % others.count]
        case .random(let i):
            return String(format: "%032x", i)
        case .forged(let i):
            // A token in the SQLite store's shape (`<uuid>.<seq>`) naming this task's row with a
            // prefix no claim issued.
            let current = tasks[id]?.leaseToken ?? own.last ?? ""
            let suffix = current.split(separator: ".").last.map(String.init) ?? "1"
            return String(format: "ffffffff-ffff-4fff-bfff-%012x", i & 0xFFFF_FFFF) + "." + suffix
        }
    }
}
