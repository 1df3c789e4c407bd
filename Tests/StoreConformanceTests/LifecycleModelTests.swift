import BatonCore
import BatonSQLite
import BatonTesting
import Foundation
import PropertyBased
import Synchronization
import Testing

@testable import BatonPostgres

/// A model-based test of the task lifecycle on both real stores: generated sequences of
/// submits, claims, heartbeats, acks (with current, stale, foreign and made-up lease tokens),
/// releases, cancels, operator retries, deletes, clock moves and lease rescues run against a
/// store and `LifecycleModel` (written from `docs/state-machine.md`) side by side; after every
/// step the two must agree on each call's outcome and on every task. Time is the store's clock,
/// moved by hand: a `ManualClock` for SQLite, a `now()` of the test's schema for PostgreSQL.
///
/// A disagreement is reported with the sequence shrunk (the prefix that fails, then chunks and
/// single commands removed) and the trace of its run.
@Suite("Lifecycle model")
struct LifecycleModelTests {
    /// Sequences per store and their lengths: at least 100 × 100 = 10,000 steps per store.
    static let sequences = 100
    static let length = 100...120
    static let minimumSteps = 10_000

    @Test("SQLite agrees with the lifecycle model")
    func sqlite() async throws {
        let root = try TempDir(prefix: "baton-lifecycle")
        defer { root.remove() }
        try await check("SQLite", CommandRunner(promotion: .promoteAllInClaim), lanes: 2) { _ in
            { runID in
                // A database of its own per run, its clock standing still until the run moves it.
                let clock = ManualClock(microsecondsSince1970: CommandRunner.start)
                let path = root.path("run-\(runID).db")
                let store = try await SQLiteTaskStore.open(
                    SQLiteStoreConfiguration(path: path, defaultRetry: CommandRunner.ackDefault.retryPolicy!, clock: .manual(clock)))
                return RunEnvironment(
                    store: store, setClock: { clock.set(microsecondsSince1970: $0) },
                    finish: {
                        try? store.close()
                        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
                    })
            }
        }
    }

    @Test("PostgreSQL agrees with the lifecycle model", .enabled(if: TestPostgres.enabled(for: "LifecycleModelTests (PostgreSQL)")))
    func postgres() async throws {
        guard let url = TestPostgres.url(for: "LifecycleModelTests (PostgreSQL)") else { return }
        let stores = Mutex<[(PostgresTaskStore, Task<Void, any Error>)]>([])
        do {
            // Four stores, each on a schema (and a clock) of its own, run sequences at once:
            // each step waits for a few round trips, which overlap.
            try await check(
                "PostgreSQL", CommandRunner(promotion: .claimDuePendingDirectly), lanes: 4
            ) { _ in
                let (store, running) = try await Self.startPostgres(url: url)
                stores.withLock { $0.append((store, running)) }
                let quoted = "\"\(store.configuration.schema)\""
                return { _ in
                    RunEnvironment(
                        store: store,
                        setClock: { time in
                            _ = try await store.queryForTesting("UPDATE \(quoted).baton_test_clock SET t = \(Self.timestamp(time))")
                        },
                        // Runs share the lane's schema one after the other: each run's queues are
                        // its own, and its tasks go when it ends.
                        finish: { _ = try? await store.queryForTesting("DELETE FROM \(quoted).tasks") })
                }
            }
        } catch {
            Issue.record(error)
        }
        for (store, running) in stores.withLock({ $0 }) {
            try? await store.dropSchema()
            store.shutdown()
            _ = await running.result
        }
    }

    /// A migrated store on a fresh schema whose `now()` is the test's: a table holding the time,
    /// and a function `now()` in the schema reading it. The store's sessions search the schema
    /// before pg_catalog (`schemaClock`), so it replaces the built-in in every statement the
    /// store runs, the prepared hot ones included; it is created before the store runs any.
    private static func startPostgres(url: String) async throws -> (PostgresTaskStore, Task<Void, any Error>) {
        let schema = TestPostgres.freshSchema(prefix: "baton_model_")
        var configuration = try PostgresStoreConfiguration(url: url, schema: schema)
        configuration.poolSize = 2
        configuration.applicationName = "baton-test-\(schema)"
        configuration.defaultRetry = CommandRunner.ackDefault.retryPolicy!
        configuration.schemaClock = true
        let store = PostgresTaskStore(configuration: configuration, logger: TestPostgres.logger)
        let running = Task { try await store.run() }
        try await store.migrate()
        let quoted = "\"\(schema)\""
        for statement in [
            "CREATE TABLE \(quoted).baton_test_clock (t timestamptz NOT NULL)",
            "INSERT INTO \(quoted).baton_test_clock VALUES (\(timestamp(CommandRunner.start)))",
            "CREATE FUNCTION \(quoted).now() RETURNS timestamptz LANGUAGE sql STABLE AS $$ SELECT t FROM \(quoted).baton_test_clock $$",
        ] {
            _ = try await store.queryForTesting(statement)
        }
        return (store, running)
    }

    /// An exact `timestamptz` literal for a time in microseconds since 1970.
    static func timestamp(_ micros: Micros) -> String {
        "'epoch'::timestamptz + \(micros) * interval '1 microsecond'"
    }

    /// Runs the property check: `sequences` generated sequences, split over `lanes` that run at
    /// once, each lane's runs one after another on the environments its factory makes (a fresh
    /// store per run, or a store of the lane's own cleared between runs). A failure is shrunk
    /// and reported with its trace.
    private func check(
        _ store: String, _ runner: CommandRunner, lanes: Int,
        lane makeLane: @escaping @Sendable (Int) async throws -> @Sendable (Int) async throws -> RunEnvironment
    ) async throws {
        let hints = ShrinkHints()
        let totals = Totals()
        let started = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for lane in 0..<lanes {
                let environment = try await makeLane(lane)
                let count = Self.sequences / lanes + (lane < Self.sequences % lanes ? 1 : 0)
                group.addTask {
                    await propertyCheck(count: count, input: CommandGenerator.programs(length: Self.length, hints: hints)) { program in
                        let runID = totals.state.withLock { t -> Int in
                            t.runs += 1
                            return t.runs
                        }
                        let outcome = await runner.run(program.commands, runID: runID, environment: try await environment(runID))
                        totals.state.withLock {
                            $0.steps += outcome.steps
                            $0.coverage.merge(outcome.coverage, uniquingKeysWith: +)
                        }
                        if let failure = outcome.failure {
                            let first = totals.state.withLock { t -> Bool in
                                defer { t.failed = true }
                                return !t.failed
                            }
                            hints.record(program.commands, failedAt: failure.step)
                            // The first failure is printed too: the property check reports the
                            // failing input, and the issue's own text does not reach the log.
                            if first { print("LifecycleModelTests (\(store)) failed, run \(runID): \(failure.report)") }
                            Issue.record("\(store): \(failure.report)")
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        let (runs, steps, failed, coverage) = totals.state.withLock { $0 }
        print(
            "LifecycleModelTests (\(store)): \(steps) steps in \(runs) sequences, \(started.duration(to: .now)); outcomes: "
                + coverage.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        if !failed {
            #expect(steps >= Self.minimumSteps, "\(store): only \(steps) steps ran")
        }
    }
}

/// What the runs of one check did, across its lanes.
private final class Totals: Sendable {
    let state = Mutex((runs: 0, steps: 0, failed: false, coverage: [String: Int]()))
}
