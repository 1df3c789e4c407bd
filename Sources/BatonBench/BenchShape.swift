import BatonCore
import Foundation

/// How the backlog's tasks are linked (`baton bench --chains N | --chords N`): plain tasks, or
/// workflows whose dependents wait for their parents, released as the parents complete.
public enum BenchShape: Sendable, Equatable {
    case plain
    /// Chains of this many tasks: each waits for the one before.
    case chains(Int)
    /// Chords of this many tasks: all but one are members; the last (the body) waits for them all.
    case chords(Int)

    /// Tasks per workflow submission: 1,000 (a hundred chains of 10) for chains, one chord for chords.
    func tasksPerSubmission(_ total: Int) -> Int {
        switch self {
        case .plain: min(1000, total)
        case .chains(let n): max(n, 1000 / n * n)
        case .chords(let n): n
        }
    }

    /// The body of `POST /v1/workflows` for `count` tasks of this shape, each of `kind` with `args`.
    func workflowRequest(count: Int, kind: String, queue: String, args: RawJSON) throws -> JSONValue {
        let argsValue = try args.parsed()
        let task = JSONValue.object([
            "kind": .string(kind), "queue": .string(queue), "max_attempts": .int(1), "args": argsValue,
        ])
        switch self {
        case .plain:
            return .object(["group": .array(Array(repeating: task, count: count))])
        case .chains(let n):
            let chain = JSONValue.object(["chain": .array(Array(repeating: task, count: n))])
            return .object(["group": .array(Array(repeating: chain, count: count / n))])
        case .chords(let n):
            return .object(["chord": .object(["header": .array(Array(repeating: task, count: n - 1)), "body": task])])
        }
    }

    var name: String {
        switch self {
        case .plain: "plain"
        case .chains(let n): "chains of \(n)"
        case .chords(let n): "chords of \(n)"
        }
    }

    /// Per chord, the time from the commit of its last member's completion to its body's
    /// claim, in ms, both by the store's clock (`finished_at`, `started_at`).
    static func fanInLatencies(_ tasks: [TaskRecord]) -> [Double] {
        var byWorkflow: [TaskID: (lastMember: Date?, bodyStart: Date?)] = [:]
        for task in tasks {
            guard let workflow = task.workflowID else { continue }
            var entry = byWorkflow[workflow] ?? (nil, nil)
            if task.parentCount != nil {
                entry.bodyStart = task.startedAt
            } else if let done = task.finishedAt {
                entry.lastMember = max(entry.lastMember ?? done, done)
            }
            byWorkflow[workflow] = entry
        }
        return byWorkflow.values.compactMap { entry in
            guard let last = entry.lastMember, let start = entry.bodyStart else { return nil }
            return start.timeIntervalSince(last) * 1000
        }
    }
}
