import BatonCore
import BatonSQLite
import BatonTesting
import Foundation
import Testing

@testable import BatonWorker

@Suite(.serialized) struct BatchingTests {
    /// The hot-path requirement: 1,000 ready tasks drained by one node with 50 slots use at
    /// most 100 claim statements and at most 100 completion transactions.
    @Test func drainingAThousandTasksWithFiftySlotsClaimsAndAcksInBatches() async throws {
        let store = try await TempStore.make()
        defer { store.cleanUp() }
        let registry = HandlerRegistry()
        BuiltinKinds.register(into: registry, fileRoot: nil)
        let tasks = try await store.enqueue((0..<1000).map { _ in NewTask(kind: "noop") })
        #expect(tasks.count == 1000)
        let before = store.store.stats

        let started = ContinuousClock.now
        let worker = RunningWorker(store: store.store, registry: registry, configuration: workerConfig(concurrency: 50))
        let drained = try await eventually(within: .seconds(15)) { try await store.count(.succeeded) == 1000 }
        let elapsed = ContinuousClock.now - started
        try await worker.stop()
        #expect(drained)

        let after = store.store.stats
        let claims = after.claimStatements - before.claimStatements
        let acks = after.ackTransactions - before.ackTransactions
        let stats = worker.runtime.stats
        print(
            "batching: 1000 noop tasks, 50 slots: \(claims) claim statements, \(acks) ack transactions, "
                + "\(stats.claimRequests) runtime claims, \(elapsed)")
        #expect(stats.claimed == 1000)
        #expect(stats.succeeded == 1000)
        #expect(claims <= 100)
        #expect(acks <= 100)
        #expect(try await store.count(.running) == 0)
        #expect(try await store.count(.ready) == 0)
    }
}
