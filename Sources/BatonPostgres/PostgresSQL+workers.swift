/// The statements of the cluster's worker directory (migration 012), qualified with the
/// store's schema.
extension PostgresSQL {
    var workersTable: String { qualifier + "workers" }

    /// Upserts one node's batch, in the order of the workers' ids (two nodes writing the same
    /// workers lock their rows in the same order). Binds: ids, descriptions, first and last
    /// seen (seconds since 1970).
    var workersRecord: String {
        """
        INSERT INTO \(workersTable) AS w (worker, info, first_seen, last_seen) \
        SELECT u.id, u.info, to_timestamp(u.f), to_timestamp(u.l) \
        FROM unnest($1::text[], $2::text[], $3::float8[], $4::float8[]) AS u(id, info, f, l) ORDER BY u.id \
        ON CONFLICT (worker) DO UPDATE SET \
        info = CASE WHEN EXCLUDED.last_seen >= w.last_seen THEN EXCLUDED.info ELSE w.info END, \
        first_seen = LEAST(w.first_seen, EXCLUDED.first_seen), \
        last_seen = GREATEST(w.last_seen, EXCLUDED.last_seen)
        """
    }

    /// Binds: seconds not seen.
    var workersPrune: String {
        "DELETE FROM \(workersTable) WHERE last_seen < now() - $1 * interval '1 second'"
    }

    /// Binds: since (seconds since 1970).
    var workersSeen: String {
        """
        SELECT info, extract(epoch FROM first_seen)::float8, extract(epoch FROM last_seen)::float8 \
        FROM \(workersTable) WHERE last_seen >= to_timestamp($1) ORDER BY worker
        """
    }
}
