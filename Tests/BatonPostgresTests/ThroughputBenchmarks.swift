import BatonCore
import Foundation
import Testing

@testable import BatonPostgres

/// Throughput on the local PostgreSQL; opt-in (`BATON_PG_BENCH=1`), as it takes a while:
///
///     BATON_PG_BENCH=1 scripts/with-postgres.sh swift test --filter ThroughputBenchmarks
@Suite("PostgreSQL throughput", .serialized, .enabled(if: ProcessInfo.processInfo.environment["BATON_PG_BENCH"] == "1"))
struct ThroughputBenchmarks {
    static let count = Int(ProcessInfo.processInfo.environment["BATON_PG_BENCH_TASKS"] ?? "") ?? 100_000

    /// Enqueues `count` no-op tasks in batches of 1,000; returns tasks per second.
    static func enqueueAll(_ store: PostgresTaskStore) async throws -> Double {
        let started = ContinuousClock.now
        for _ in 0..<(count / 1000) {
            try await store.enqueue((0..<1000).map { _ in NewTask(kind: "noop") })
        }
        return rate(count, since: started)
    }

    static func rate(_ n: Int, since start: ContinuousClock.Instant) -> Double {
        Double(n) / (ContinuousClock.now - start).seconds
    }

    @Test func rawClaimAndAckInBatchesOf1000() async throws {
        guard let configuration = try TestDatabase.configuration(poolSize: 8) else { return }
        try await TestDatabase.withStore(configuration) { store in
            let enqueueRate = try await Self.enqueueAll(store)
            let started = ContinuousClock.now
            var done = 0
            while true {
                let batch = try await store.claim(max: 1000)
                if batch.isEmpty { break }
                let outcomes = try await store.taskAckMany(
                    TaskAckParams(acks: batch.map { .complete(TaskCompletion(lease: $0.lease, result: .null)) }))
                done += outcomes.filter { $0 == .applied(.succeeded) }.count
            }
            let drainRate = Self.rate(done, since: started)
            #expect(done == Self.count)
            print("BENCH postgres enqueue: \(Int(enqueueRate)) tasks/s (batches of 1,000, \(Self.count) tasks)")
            print("BENCH postgres raw claim+ack, batch 1,000, one loop: \(Int(drainRate)) tasks/s")
        }
    }

    @Test func drainThroughDispatcherAndCompleter() async throws {
        guard let configuration = try TestDatabase.configuration(poolSize: 8) else { return }
        try await TestDatabase.withStore(configuration) { store in
            _ = try await Self.enqueueAll(store)
            let dispatcher = TaskDispatcher(store: store)
            let completer = TaskCompleter(store: store)
            let workers = 16
            let started = ContinuousClock.now
            let done = try await withThrowingTaskGroup(of: Int.self) { group in
                for w in 0..<workers {
                    group.addTask {
                        var mine = 0
                        while true {
                            let batch = try await dispatcher.claim(
                                ClaimRequest(worker: "w\(w)", queues: [Defaults.queue], max: 250, wait: .milliseconds(300)))
                            if batch.isEmpty { return mine }
                            for task in batch {
                                completer.ackDetached(.complete(TaskCompletion(lease: task.lease, result: .null)))
                            }
                            mine += batch.count
                        }
                    }
                }
                var total = 0
                for try await n in group { total += n }
                return total
            }
            await completer.flush()
            let elapsed = ContinuousClock.now - started - .milliseconds(300)
            let succeeded = try await store.queueCounts().first?.count(.succeeded) ?? 0
            #expect(done == Self.count && succeeded == Self.count)
            print(
                "BENCH postgres drain via TaskDispatcher + TaskCompleter (\(workers) workers x 250): "
                    + "\(Int(Double(done) / elapsed.seconds)) tasks/s; stats \(store.stats)")
        }
    }
}
