import BatonCore
import Foundation
import PostgresNIO

/// The cluster's worker directory (``WorkerDirectory``, migration 012): what `GET /v1/workers`
/// lists on every node. One small table, one row per worker, written by each node every few
/// seconds in one statement.
extension PostgresTaskStore: WorkerDirectory {
    public func workersRecord(_ p: WorkersRecordParams) async throws {
        guard !p.workers.isEmpty else { return }
        let encoder = BatonJSON.encoder()
        var binds = PostgresBindings()
        binds.append(p.workers.map(\.worker))
        binds.append(try p.workers.map { String(decoding: try encoder.encode($0), as: UTF8.self) })
        binds.append(p.workers.map(\.firstSeen.timeIntervalSince1970))
        binds.append(p.workers.map(\.lastSeen.timeIntervalSince1970))
        let record = PostgresQuery(unsafeSQL: sql.workersRecord, binds: binds)
        let prune = PostgresQuery(unsafeSQL: sql.workersPrune, binds: Self.bindings { $0.append(p.keep.seconds) })
        try await call("recording \(p.workers.count) workers") { [client] in
            _ = try await client.query(record).collect()
            _ = try await client.query(prune).collect()
        }
    }

    public func workersSeen(since: Date) async throws -> [WorkerInfo] {
        let query = PostgresQuery(unsafeSQL: sql.workersSeen, binds: Self.bindings { $0.append(since.timeIntervalSince1970) })
        let decoder = BatonJSON.decoder()
        return try await call("listing workers") { [client] in
            var workers: [WorkerInfo] = []
            for row in try await client.query(query).collect() {
                let r = row.makeRandomAccess()
                let (info, first, last) = (try r[0].decode(String.self), try r[1].decode(Double.self), try r[2].decode(Double.self))
                // A description this Baton cannot read (written by a newer one) is passed over.
                guard var worker = try? decoder.decode(WorkerInfo.self, from: Data(info.utf8)) else { continue }
                worker.firstSeen = Date(timeIntervalSince1970: first)
                worker.lastSeen = Date(timeIntervalSince1970: last)
                workers.append(worker)
            }
            return workers
        }
    }
}
