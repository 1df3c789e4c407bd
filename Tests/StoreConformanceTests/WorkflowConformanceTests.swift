import BatonCore
import BatonTesting
import Testing

/// The workflow checks of the conformance kit (`StoreConformance+workflows`), on every backend.
@Suite("TaskStore conformance: workflows", .serialized)
struct WorkflowConformanceTests {
    @Test(arguments: storeFactories)
    func dependentIsReleasedWhenItsLastParentSucceeds(_ factory: any StoreFactory) async throws {
        try await StoreConformance.dependentIsReleasedWhenItsLastParentSucceeds(factory)
    }

    @Test(arguments: storeFactories)
    func retriedOrStaleAttemptsReleaseNothing(_ factory: any StoreFactory) async throws {
        try await StoreConformance.retriedOrStaleAttemptsReleaseNothing(factory)
    }

    @Test(arguments: storeFactories, [true, false])
    func aBatchOfCompletionsSettlesAsOneAtATime(_ factory: any StoreFactory, oneBatch: Bool) async throws {
        try await StoreConformance.aBatchOfCompletionsSettlesAsOneAtATime(factory, oneBatch: oneBatch)
    }

    @Test(arguments: storeFactories)
    func policyTableDecidesEachEdge(_ factory: any StoreFactory) async throws {
        try await StoreConformance.policyTableDecidesEachEdge(factory)
    }

    @Test(arguments: storeFactories)
    func cancelCascadesAndOperatorRetryReopensOnce(_ factory: any StoreFactory) async throws {
        try await StoreConformance.cancelCascadesAndOperatorRetryReopensOnce(factory)
    }

    @Test(arguments: storeFactories, [true, false])
    func operatorRetryOfASucceededParentCountsItAgainOnce(_ factory: any StoreFactory, oneBatch: Bool) async throws {
        try await StoreConformance.operatorRetryOfASucceededParentCountsItAgainOnce(factory, oneBatch: oneBatch)
    }

    @Test(arguments: storeFactories)
    func parentsOfTheSameBatchCountTheirDependents(_ factory: any StoreFactory) async throws {
        try await StoreConformance.parentsOfTheSameBatchCountTheirDependents(factory)
    }

    @Test(arguments: storeFactories)
    func dependentOfAFinishedParentSettlesAtOnce(_ factory: any StoreFactory) async throws {
        try await StoreConformance.dependentOfAFinishedParentSettlesAtOnce(factory)
    }

    @Test(arguments: storeFactories)
    func concurrentLastParentsReleaseEachDependentOnce(_ factory: any StoreFactory) async throws {
        try await StoreConformance.concurrentLastParentsReleaseEachDependentOnce(factory)
    }

    @Test(arguments: storeFactories)
    func workflowIsReadAndCancelled(_ factory: any StoreFactory) async throws {
        try await StoreConformance.workflowIsReadAndCancelled(factory)
    }

    @Test(arguments: storeFactories)
    func cancelCascadesThroughALongChain(_ factory: any StoreFactory) async throws {
        try await StoreConformance.cancelCascadesThroughALongChain(factory)
    }

    @Test(arguments: storeFactories)
    func dependentAddedWhileItsParentCompletesIsReleasedOnce(_ factory: any StoreFactory) async throws {
        try await StoreConformance.dependentAddedWhileItsParentCompletesIsReleasedOnce(factory)
    }
}
