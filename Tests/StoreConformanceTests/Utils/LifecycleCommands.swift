import BatonCore
import Foundation
import PropertyBased
import Synchronization
import Testing

/// Which tasks a pick chooses among (in submission order); an empty pool falls back to every task.
enum Pool: Sendable, Hashable {
    case any
    case running
    case live
    case terminal
    /// A deleted task, or an id no task ever had.
    case missing
}

/// A task named by position, resolved against the model when the command runs, so that a
/// sequence stays meaningful when the shrinker removes commands before it.
struct TaskPick: Sendable, Hashable, CustomStringConvertible {
    var pool: Pool
    var index: Int
    var description: String { "\(pool)#\(index)" }
}

/// Which lease token to present for a task.
enum TokenPick: Sendable, Hashable, CustomStringConvertible {
    /// The task's current token (or its last one when it has none).
    case current
    /// One of the task's earlier tokens.
    case previous(Int)
    /// A token issued to another task.
    case otherTask(Int)
    /// A token no claim issued.
    case random(Int)
    /// The SQLite store's token shape with this task's row but a prefix no claim issued.
    case forged(Int)

    var description: String {
        switch self {
        case .current: "current"
        case .previous(let i): "previous#\(i)"
        case .otherTask(let i): "other#\(i)"
        case .random(let i): "random#\(i)"
        case .forged(let i): "forged#\(i)"
        }
    }
}

struct LeasePick: Sendable, Hashable, CustomStringConvertible {
    var task: TaskPick
    var token: TokenPick
    var description: String { "\(task)/\(token)" }
}

struct TaskSpec: Sendable, Hashable, CustomStringConvertible {
    var queue: Int
    var kind: Int
    var priority: Int
    /// Milliseconds from submission; `nil`: none.
    var delayMs: Int64?
    var maxAttempts: Int
    var policy: ModelPolicy

    var description: String {
        "q\(queue)/k\(kind) p\(priority) max\(maxAttempts) \(policy)" + (delayMs.map { " delay \($0)ms" } ?? "")
    }
}

struct ClaimSpec: Sendable, Hashable, CustomStringConvertible {
    /// Each share's maximum (workers `w0`, `w1`, …).
    var shares: [Int]
    var queues: [Int]
    var kinds: [Int]?
    var leaseMs: Int64

    var description: String {
        "shares \(shares) queues \(queues.map { "q\($0)" })" + (kinds.map { " kinds \($0.map { "k\($0)" })" } ?? "") + " lease \(leaseMs)ms"
    }
}

enum AckKind: Sendable, Hashable, CustomStringConvertible {
    case complete
    /// Retryable, by policy.
    case fail
    /// Retryable, "retry later after" this many milliseconds.
    case failAfter(ms: Int64)
    case failPermanently

    var description: String {
        switch self {
        case .complete: "complete"
        case .fail: "fail"
        case .failAfter(let ms): "fail(retry after \(ms)ms)"
        case .failPermanently: "fail(permanently)"
        }
    }
}

struct AckSpec: Sendable, Hashable, CustomStringConvertible {
    var lease: LeasePick
    var kind: AckKind
    var description: String { "\(kind) \(lease)" }
}

enum Advance: Sendable, Hashable, CustomStringConvertible {
    case by(ms: Int64)
    /// To the earliest pending `run_at`, plus an offset (nothing if that is not in the future).
    case toNextDue(offsetMs: Int64)
    /// To a running task's lease expiry, plus an offset (nothing if that is not in the future).
    case toLeaseExpiry(TaskPick, offsetMs: Int64)

    var description: String {
        switch self {
        case .by(let ms): "by \(ms)ms"
        case .toNextDue(let offset): "to next due \(offset >= 0 ? "+" : "")\(offset)ms"
        case .toLeaseExpiry(let pick, let offset): "to lease expiry of \(pick) \(offset >= 0 ? "+" : "")\(offset)ms"
        }
    }
}

/// One step of a generated sequence.
enum Command: Sendable, Hashable, CustomStringConvertible {
    case enqueue([TaskSpec])
    case claim(ClaimSpec)
    case heartbeat([LeasePick], leaseMs: Int64)
    case ack([AckSpec])
    case release([LeasePick])
    case cancel(TaskPick)
    case retry(TaskPick)
    case delete(TaskPick)
    case advance(Advance)
    /// Moves the clock just past a running task's lease expiry, then runs the lease rescue.
    case expire(TaskPick)
    /// The lease rescue, without moving the clock.
    case rescue
    case nextDue([Int])

    var description: String {
        switch self {
        case .enqueue(let specs): "enqueue \(specs)"
        case .claim(let spec): "claim \(spec)"
        case .heartbeat(let leases, let ms): "heartbeat \(leases) lease \(ms)ms"
        case .ack(let acks): "ack \(acks)"
        case .release(let leases): "release \(leases)"
        case .cancel(let pick): "cancel \(pick)"
        case .retry(let pick): "retry \(pick)"
        case .delete(let pick): "delete \(pick)"
        case .advance(let advance): "advance \(advance)"
        case .expire(let pick): "expire \(pick)"
        case .rescue: "rescue"
        case .nextDue(let queues): "nextDue \(queues.map { "q\($0)" })"
        }
    }

    /// Simpler forms of this command, for the shrinker: fewer tasks, acks, leases or shares.
    var simplifications: [Command] {
        func fewer<T>(_ items: [T], _ make: ([T]) -> Command) -> [Command] {
            items.count <= 1 ? [] : items.indices.map { i in make([items[i]]) }
        }
        switch self {
        case .enqueue(let specs): return fewer(specs) { .enqueue($0) }
        case .ack(let acks): return fewer(acks) { .ack($0) }
        case .release(let leases): return fewer(leases) { .release($0) }
        case .heartbeat(let leases, let ms): return fewer(leases) { .heartbeat($0, leaseMs: ms) }
        case .claim(var spec) where spec.shares.count > 1:
            spec.shares = [spec.shares.reduce(0, +)]
            return [.claim(spec)]
        default: return []
        }
    }
}

/// A generated sequence: what the property check passes, shrinks and prints.
struct Program: Sendable, Hashable, CustomTestStringConvertible {
    var commands: [Command]

    var testDescription: String {
        "\(commands.count) commands:\n"
            + commands.enumerated().map { "  \($0.offset). \($0.element)" }.joined(separator: "\n")
    }
}

// MARK: Generation

/// Draws commands with weights chosen so that sequences reach every transition often: tasks
/// with few attempts and deterministic retry policies (and some jittered ones), claims of
/// several tasks, acks and heartbeats mostly with the right token but also with stale, foreign
/// and made-up ones, and clock moves onto the boundaries (exactly at a lease's expiry or a
/// retry's due time, a millisecond either side).
enum CommandGenerator {
    static let policies: [(Double, ModelPolicy)] = [
        (3, .unset), (2, .none), (3, .fixed(ms: 0)), (2, .fixed(ms: 2000)), (1, .fixed(ms: 3_600_000)),
        (2, .exponential(baseMs: 1000, capMs: 8000, jitter: false)), (2, .fibonacci(baseMs: 500, capMs: 4000)),
        (1, .exponential(baseMs: 2000, capMs: 60_000, jitter: true)),
    ]

    static func pick<T, R: RandomNumberGenerator>(_ weighted: [(Double, T)], _ rng: inout R) -> T {
        let total = weighted.reduce(0) { $0 + $1.0 }
        var x = Double.random(in: 0..<total, using: &rng)
        for (weight, value) in weighted {
            if x < weight { return value }
            x -= weight
        }
        return weighted.last!.1
    }

    static func chance<R: RandomNumberGenerator>(_ p: Double, _ rng: inout R) -> Bool { Double.random(in: 0..<1, using: &rng) < p }

    static func index<R: RandomNumberGenerator>(_ rng: inout R) -> Int { Int.random(in: 0..<64, using: &rng) }

    static func taskPick<R: RandomNumberGenerator>(_ preferred: Pool, _ rng: inout R) -> TaskPick {
        let pool = pick([(14, preferred), (4, .any), (1, .missing)], &rng)
        return TaskPick(pool: pool, index: index(&rng))
    }

    static func tokenPick<R: RandomNumberGenerator>(_ rng: inout R) -> TokenPick {
        let i = index(&rng)
        return pick([(28, .current), (3, .previous(i)), (2, .otherTask(i)), (1, .random(i)), (2, .forged(i))], &rng)
    }

    static func leasePick<R: RandomNumberGenerator>(_ rng: inout R) -> LeasePick {
        LeasePick(task: taskPick(.running, &rng), token: tokenPick(&rng))
    }

    static func taskSpec<R: RandomNumberGenerator>(_ rng: inout R) -> TaskSpec {
        TaskSpec(
            queue: chance(0.7, &rng) ? 0 : 1, kind: chance(0.6, &rng) ? 0 : 1,
            priority: pick([(3, 5), (2, 1), (2, 10), (1, 7)], &rng),
            delayMs: pick([(10, nil), (2, 0), (2, 1000), (1, 2500), (1, 10_000), (1, 1)], &rng),
            maxAttempts: pick([(3, 1), (4, 2), (3, 3), (1, 5)], &rng), policy: pick(policies, &rng))
    }

    static func command<R: RandomNumberGenerator>(_ rng: inout R) -> Command {
        let kind = pick(
            [
                (13, 0), (17, 1), (7, 2), (22, 3), (4, 4), (5, 5), (6, 6), (2, 7), (12, 8), (6, 9), (2, 10), (2, 11),
            ], &rng)
        switch kind {
        case 0:
            return .enqueue((0..<pick([(6, 1), (2, 2), (2, 3)], &rng)).map { _ in taskSpec(&rng) })
        case 1:
            let shares =
                chance(0.8, &rng)
                ? [Int.random(in: 1...3, using: &rng)] : [Int.random(in: 1...2, using: &rng), Int.random(in: 1...2, using: &rng)]
            let queues = pick([(2, [0]), (1, [1]), (3, [0, 1])], &rng)
            let kinds: [Int]? = pick([(7, nil), (1, [0]), (1, [1]), (1, [0, 1])], &rng)
            return .claim(
                ClaimSpec(shares: shares, queues: queues, kinds: kinds, leaseMs: pick([(3, 5000), (2, 30_000), (1, 2500)], &rng)))
        case 2:
            let leases = (0..<pick([(4, 1), (1, 2)], &rng)).map { _ in leasePick(&rng) }
            return .heartbeat(leases, leaseMs: pick([(2, 10_000), (1, 60_000), (1, 1000)], &rng))
        case 3:
            let acks = (0..<pick([(7, 1), (2, 2), (1, 3)], &rng)).map { _ in
                AckSpec(
                    lease: leasePick(&rng),
                    kind: pick(
                        [
                            (8, .complete), (6, .fail), (1, .failAfter(ms: 0)), (1, .failAfter(ms: 1500)), (1, .failAfter(ms: 20_000)),
                            (2, .failPermanently),
                        ], &rng))
            }
            return .ack(acks)
        case 4:
            return .release((0..<pick([(3, 1), (1, 2)], &rng)).map { _ in leasePick(&rng) })
        case 5:
            return .cancel(taskPick(.live, &rng))
        case 6:
            return .retry(taskPick(.terminal, &rng))
        case 7:
            return .delete(taskPick(.terminal, &rng))
        case 8:
            let offset = pick([(1, Int64(-1)), (2, 0), (2, 1), (1, 700)], &rng)
            return .advance(
                pick(
                    [
                        (3, .by(ms: pick([(1, 1), (1, 500), (2, 1000), (2, 3000), (1, 10_000), (1, 61_000), (1, 3_601_000)], &rng))),
                        (3, .toNextDue(offsetMs: offset)), (2, .toLeaseExpiry(taskPick(.running, &rng), offsetMs: offset)),
                    ], &rng))
        case 9:
            return .expire(taskPick(.running, &rng))
        case 10:
            return .rescue
        default:
            return .nextDue(pick([(1, [0]), (1, [1]), (1, [0, 1])], &rng))
        }
    }

    /// Sequences of `length` commands, shrunk by `shrinkCandidates`.
    static func programs(length: ClosedRange<Int>, hints: ShrinkHints) -> Generator<Program, AnySequence<[Command]>> {
        Generator(
            run: { rng in
                let n = Int.random(in: length, using: &rng)
                return (0..<n).map { _ in command(&rng) }
            },
            shrink: { commands in shrinkCandidates(commands, failingPrefix: hints.failingPrefix(of: commands)) }
        ).map { Program(commands: $0) }
    }

    /// Smaller sequences to try, most shrunk first: the prefix that ended with the failure (when
    /// the last run of this sequence said where it failed), then the sequence without a chunk
    /// of halves, quarters, … down to single commands, then single commands simplified.
    static func shrinkCandidates(_ commands: [Command], failingPrefix: Int?) -> AnySequence<[Command]> {
        let n = commands.count
        let prefix: [[Command]] = failingPrefix.flatMap { $0 < n ? [Array(commands.prefix($0))] : nil } ?? []
        let sizes = sequence(first: max(1, n / 2)) { $0 > 1 ? $0 / 2 : nil }
        let removals = sizes.lazy.flatMap { size in
            stride(from: 0, to: n, by: size).lazy.map { start in
                Array(commands[..<start]) + Array(commands[min(n, start + size)...])
            }
        }
        let simplified = commands.indices.lazy.flatMap { i in
            commands[i].simplifications.lazy.map { simpler in
                var copy = commands
                copy[i] = simpler
                return copy
            }
        }
        return AnySequence([AnySequence(prefix), AnySequence(removals), AnySequence(simplified)].joined())
    }
}

/// Where the last failing run of each sequence failed, so the shrinker can cut the rest first.
final class ShrinkHints: Sendable {
    private let prefixes = Mutex<[[Command]: Int]>([:])

    func record(_ commands: [Command], failedAt step: Int) {
        prefixes.withLock { $0[commands] = step + 1 }
    }

    func failingPrefix(of commands: [Command]) -> Int? {
        prefixes.withLock { $0[commands] }
    }
}
