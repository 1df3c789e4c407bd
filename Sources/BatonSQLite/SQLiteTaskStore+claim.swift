import BatonCore
import Foundation
import GRDB

extension SQLiteTaskStore {
    /// The hot path: one write transaction that promotes due `pending` tasks, then claims for
    /// every share with one `UPDATE … FROM … RETURNING` statement over the ready index.
    public func taskClaim(_ p: TaskClaimParams) async throws -> [ClaimedTask] {
        let shares = p.shares.filter { $0.max > 0 }
        let queues = Array(Set(p.queues)).sorted()
        let kinds = Array(Set(p.kinds ?? [])).sorted()
        guard !shares.isEmpty, !queues.isEmpty else { return [] }
        let total = shares.reduce(0) { $0 + $1.max }
        let sql = SQL.claim(shareCount: shares.count, queueCount: queues.count, kindCount: kinds.count)
        let leaseMillis = max(1, Millis.of(p.lease))

        let (promoted, claimed) = try await write("claiming tasks") { db -> (Bool, [ClaimedTask]) in
            let now = Millis.now(self.clock)
            let promote = try db.cachedStatement(sql: SQL.promoteDue)
            try promote.execute(arguments: [now])
            let promoted = db.changesCount > 0

            var arguments: [(any DatabaseValueConvertible)?] = [LeaseToken.prefix(), now + leaseMillis, now]
            if shares.count == 1 {
                arguments.append(shares[0].worker)
            } else {
                var cumulative = 0
                for share in shares {
                    cumulative += share.max
                    arguments.append(cumulative)
                    arguments.append(share.worker)
                }
            }
            for queue in queues {
                arguments.append(queue)
                arguments.append(queue)
                for kind in kinds { arguments.append(kind) }
                arguments.append(total)
            }
            arguments.append(total)
            let claim = try db.cachedStatement(sql: sql)
            var claimed: [(seq: Int64, task: ClaimedTask)] = []
            let rows = try Row.fetchCursor(claim, arguments: StatementArguments(arguments))
            while let row = try rows.next() {
                let seq: Int64 = row[0]
                guard let token: String = row[11] else { throw BatonError(.internal, "claimed task has no lease token") }
                claimed.append((seq, ClaimedTask(task: try TaskRecord(row: row), leaseToken: token)))
            }
            claimed.sort { a, b in
                if a.task.task.priority != b.task.task.priority { return a.task.task.priority > b.task.task.priority }
                if a.task.task.runAt != b.task.task.runAt { return a.task.task.runAt < b.task.task.runAt }
                return a.seq < b.seq
            }
            return (promoted, claimed.map(\.task))
        }
        count {
            $0.promoteStatements += 1
            $0.claimStatements += 1
            $0.claimTransactions += 1
        }
        // Tasks made ready for other claimers (other queues or kinds) wake them.
        if promoted { readySignal.notify() }

        return claimed
    }
}
