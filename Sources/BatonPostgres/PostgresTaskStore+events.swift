import BatonCore
import Foundation
import PostgresNIO

/// The cluster's event log (``ClusterEventLog``, migration 007): what `GET /v1/events` streams
/// on every node.
///
/// Each append is one transaction that first takes a transaction advisory lock of the schema,
/// so appends commit one after another and their identity ids grow in commit order: a reader
/// that read up to an id never finds a lower id committed later. The lock is cheap because a
/// node appends at most one batch per publish interval (``ClusterEventFeed`` in BatonNode).
/// The commit notifies `baton_events`; the store's listener fires ``eventSignal`` on every node.
extension PostgresTaskStore: ClusterEventLog {
    public func eventAppend(_ p: EventAppendParams) async throws {
        guard let node = p.records.first?.node else { return }
        let sql = self.sql
        let logger = self.logger
        let lockKey = configuration.eventLockKey
        var binds = PostgresBindings()
        binds.append(node)
        binds.append(p.records.map(\.type))
        binds.append(p.records.map { $0.queue ?? "" })
        binds.append(p.records.map { $0.kind ?? "" })
        binds.append(p.records.map { $0.task?.description ?? "" })
        binds.append(p.records.map { $0.workflow?.description ?? "" })
        binds.append(p.records.map(\.data))
        let insert = PostgresQuery(unsafeSQL: sql.eventAppend, binds: binds)
        try await call("appending \(p.records.count) events") { [client] in
            try await client.withTransaction(logger: logger) { connection -> Void in
                _ = try await connection.query("SELECT pg_advisory_xact_lock(\(lockKey))", logger: logger)
                _ = try await connection.query(insert, logger: logger)
                _ = try await connection.query(PostgresQuery(unsafeSQL: sql.eventNotifyRows), logger: logger)
            }
        }
        // This node's readers need not wait for the notification's round trip.
        eventSignal.notify()
    }

    public func eventRead(_ p: EventReadParams) async throws -> ClusterEventPage {
        let query = PostgresQuery(
            unsafeSQL: sql.eventRead,
            binds: Self.bindings { b in
                b.append(p.after)
                b.append(max(1, p.limit))
            })
        return try await call("reading events") { [client] in
            let rows = try await client.query(query).collect()
            var records: [ClusterEventRecord] = []
            var pruned: Int64 = 0
            for row in rows {
                let r = row.makeRandomAccess()
                pruned = try r[0].decode(Int64.self)
                guard let id = try r[1].decode(Int64?.self) else { continue }
                records.append(
                    ClusterEventRecord(
                        id: id, node: try r[2].decode(String.self), type: try r[3].decode(String.self), data: try r[4].decode(String.self)))
            }
            return ClusterEventPage(records: records, gap: p.after < pruned)
        }
    }

    public func eventLastID() async throws -> Int64 {
        let text = sql.eventLastID
        return try await call("reading the last event id") { [client] in
            try await client.query(PostgresQuery(unsafeSQL: text)).collect().first?.decode(Int64.self) ?? 0
        }
    }

    public func eventReaderRenew(_ p: EventReaderRenewParams) async throws {
        let query = PostgresQuery(
            unsafeSQL: sql.eventReaderRenew,
            binds: Self.bindings { b in
                b.append(p.node)
                b.append(p.ttl.seconds)
                b.append(p.announce)
            })
        _ = try await call("registering an event reader") { [client] in try await client.query(query).collect().count }
        if p.announce { eventReaderSignal.notify() }
    }

    public func eventReadersActive() async throws -> Bool {
        let text = sql.eventReadersActive
        return try await call("looking for event readers") { [client] in
            try await client.query(PostgresQuery(unsafeSQL: text)).collect().first?.decode(Bool.self) ?? false
        }
    }

    public func eventPrune(_ p: EventPruneParams) async throws -> Int {
        let prune = PostgresQuery(
            unsafeSQL: sql.eventPrune,
            binds: Self.bindings { b in
                b.append(p.olderThan.seconds)
                b.append(Self.eventPruneBatch)
            })
        let readers = PostgresQuery(unsafeSQL: sql.eventReadersPrune)
        return try await call("pruning events") { [client] in
            var total = 0
            while true {
                let deleted = try await client.query(prune).collect().first?.decode(Int.self) ?? 0
                total += deleted
                if deleted < Self.eventPruneBatch { break }
            }
            _ = try await client.query(readers).collect()
            return total
        }
    }

    /// The most events one pruning statement deletes.
    static let eventPruneBatch = 50_000
}
