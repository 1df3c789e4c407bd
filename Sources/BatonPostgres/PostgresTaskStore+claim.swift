import BatonCore
import Foundation
import PostgresNIO

extension PostgresTaskStore {
    /// The hot path: one `UPDATE … FROM (… FOR UPDATE SKIP LOCKED) … RETURNING` statement that
    /// claims for every share. Due `pending` tasks are claimed by the same statement (its second
    /// branch over the pending index): that is how a delayed task becomes claimable the moment
    /// its `run_at` passes, on every node, with no promoter pass in between.
    public func taskClaim(_ p: TaskClaimParams) async throws -> [ClaimedTask] {
        let shares = p.shares.filter { $0.max > 0 }
        let queues = Array(Set(p.queues)).sorted()
        let kinds = Array(Set(p.kinds ?? [])).sorted()
        guard !shares.isEmpty, !queues.isEmpty else { return [] }
        let total = shares.reduce(0) { $0 + $1.max }
        var cumulative: [Int64] = []
        var running: Int64 = 0
        for share in shares {
            running += Int64(share.max)
            cumulative.append(running)
        }
        var binds = PostgresBindings(capacity: 6)
        binds.append(queues)
        binds.append(kinds)
        binds.append(total)
        binds.append(max(0.001, TimeBounds.seconds(p.lease.seconds)))
        binds.append(shares.map(\.worker))
        binds.append(cumulative)
        let statement = ClaimStatement(bindings: binds)
        let claimed = try await call("claiming tasks") { [hotClient] () -> [ClaimedTask] in
            let rows = try await hotClient.rows(statement)
            var claimed: [(seq: Int64, task: ClaimedTask)] = []
            claimed.reserveCapacity(rows.count)
            for row in rows {
                let row = row.makeRandomAccess()
                guard let token = try row.leaseToken() else { throw BatonError(.internal, "claimed task has no lease token") }
                claimed.append((try row.seq(), ClaimedTask(task: try TaskRecord(postgres: row), leaseToken: token)))
            }
            claimed.sort { a, b in
                if a.task.task.priority != b.task.task.priority { return a.task.task.priority > b.task.task.priority }
                if a.task.task.runAt != b.task.task.runAt { return a.task.task.runAt < b.task.task.runAt }
                return a.seq < b.seq
            }
            return claimed.map(\.task)
        }
        count { $0.claimStatements += 1 }
        return claimed
    }
}
