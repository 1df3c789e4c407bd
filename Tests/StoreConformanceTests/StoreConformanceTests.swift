import BatonCore
import BatonTesting
import Testing

/// Every backend the suite runs against: SQLite, and PostgreSQL when `BATON_TEST_POSTGRES_URL`
/// is set or in CI (where a missing URL fails each of its runs).
let storeFactories: [any StoreFactory] =
    [SQLiteStoreFactory()] + (TestPostgres.enabled(for: "StoreConformanceTests") ? [PostgresStoreFactory()] : [])

/// The factories whose stores have the scheduling capabilities (`UniqueTaskStore`,
/// `ScheduleStore`, `QueueAdminStore`): every backend (SQLite and PostgreSQL).
let schedulingFactories: [any StoreFactory] = storeFactories

/// The store conformance suite of BatonTesting (`StoreConformance`), one test per check, run
/// against every backend. A check added to the kit gets its test here.
@Suite("TaskStore conformance")
struct StoreConformanceTests {
    // MARK: Enqueue

    @Test(arguments: storeFactories)
    func enqueueStoresEveryFieldAsGiven(_ factory: any StoreFactory) async throws {
        try await StoreConformance.enqueueStoresEveryFieldAsGiven(factory)
    }

    @Test(arguments: storeFactories)
    func enqueueFiresTheReadySignal(_ factory: any StoreFactory) async throws {
        try await StoreConformance.enqueueFiresTheReadySignal(factory)
    }

    @Test(arguments: storeFactories)
    func invalidTaskIsRejectedAndNothingIsWritten(_ factory: any StoreFactory) async throws {
        try await StoreConformance.invalidTaskIsRejectedAndNothingIsWritten(factory)
    }

    @Test(arguments: storeFactories)
    func duplicateIDIsAConflictAndTheBatchIsNotStored(_ factory: any StoreFactory) async throws {
        try await StoreConformance.duplicateIDIsAConflictAndTheBatchIsNotStored(factory)
    }

    @Test(arguments: storeFactories)
    func largeBatchIsStoredInOrder(_ factory: any StoreFactory) async throws {
        try await StoreConformance.largeBatchIsStoredInOrder(factory)
    }

    // MARK: Claims

    @Test(arguments: storeFactories)
    func claimOrderIsPriorityThenRunAtThenSubmission(_ factory: any StoreFactory) async throws {
        try await StoreConformance.claimOrderIsPriorityThenRunAtThenSubmission(factory)
    }

    @Test(arguments: storeFactories)
    func claimRespectsMaxAndSetsTheLease(_ factory: any StoreFactory) async throws {
        try await StoreConformance.claimRespectsMaxAndSetsTheLease(factory)
    }

    @Test(arguments: storeFactories)
    func taskWithLeaseReadsTheCurrentLease(_ factory: any StoreFactory) async throws {
        try await StoreConformance.taskWithLeaseReadsTheCurrentLease(factory)
    }

    @Test(arguments: storeFactories)
    func delayedTaskIsNotClaimedEarlyAndIsClaimedOnceDue(_ factory: any StoreFactory) async throws {
        try await StoreConformance.delayedTaskIsNotClaimedEarlyAndIsClaimedOnceDue(factory)
    }

    @Test(arguments: storeFactories)
    func runAtInTheFutureIsPending(_ factory: any StoreFactory) async throws {
        try await StoreConformance.runAtInTheFutureIsPending(factory)
    }

    @Test(arguments: storeFactories)
    func sharesAreServedInOrderEachUpToItsMax(_ factory: any StoreFactory) async throws {
        try await StoreConformance.sharesAreServedInOrderEachUpToItsMax(factory)
    }

    @Test(arguments: storeFactories)
    func claimFiltersByQueueAndKind(_ factory: any StoreFactory) async throws {
        try await StoreConformance.claimFiltersByQueueAndKind(factory)
    }

    @Test(arguments: storeFactories)
    func taskOfAKindNobodyClaimsStaysReady(_ factory: any StoreFactory) async throws {
        try await StoreConformance.taskOfAKindNobodyClaimsStaysReady(factory)
    }

    @Test(arguments: storeFactories)
    func concurrentBatchClaimsNeverShareATask(_ factory: any StoreFactory) async throws {
        try await StoreConformance.concurrentBatchClaimsNeverShareATask(factory)
    }

    // MARK: Acks, heartbeats, releases

    @Test(arguments: storeFactories)
    func completionIsFencedByTheLeaseToken(_ factory: any StoreFactory) async throws {
        try await StoreConformance.completionIsFencedByTheLeaseToken(factory)
    }

    @Test(arguments: storeFactories)
    func batchOfAcksAppliesEachInOrder(_ factory: any StoreFactory) async throws {
        try await StoreConformance.batchOfAcksAppliesEachInOrder(factory)
    }

    @Test(arguments: storeFactories)
    func reportingAcksSayWhichAttemptTheyEnded(_ factory: any StoreFactory) async throws {
        try await StoreConformance.reportingAcksSayWhichAttemptTheyEnded(factory)
    }

    @Test(arguments: storeFactories)
    func failureRetriesPerPolicyUntilAttemptsAreExhausted(_ factory: any StoreFactory) async throws {
        try await StoreConformance.failureRetriesPerPolicyUntilAttemptsAreExhausted(factory)
    }

    @Test(arguments: storeFactories)
    func notRetryableFailureIsFinal(_ factory: any StoreFactory) async throws {
        try await StoreConformance.notRetryableFailureIsFinal(factory)
    }

    @Test(arguments: storeFactories)
    func textHoldingANULIsKeptOrRefused(_ factory: any StoreFactory) async throws {
        try await StoreConformance.textHoldingANULIsKeptOrRefused(factory)
    }

    @Test(arguments: storeFactories)
    func retryAfterOverridesThePolicy(_ factory: any StoreFactory) async throws {
        try await StoreConformance.retryAfterOverridesThePolicy(factory)
    }

    @Test(arguments: storeFactories)
    func retryDueNowIsClaimableAtOnce(_ factory: any StoreFactory) async throws {
        try await StoreConformance.retryDueNowIsClaimableAtOnce(factory)
    }

    @Test(arguments: storeFactories)
    func heartbeatExtendsThenReportsCancelAndLoss(_ factory: any StoreFactory) async throws {
        try await StoreConformance.heartbeatExtendsThenReportsCancelAndLoss(factory)
    }

    @Test(arguments: storeFactories)
    func leasesHeldAreTheCurrentOnes(_ factory: any StoreFactory) async throws {
        try await StoreConformance.leasesHeldAreTheCurrentOnes(factory)
    }

    @Test(arguments: storeFactories)
    func heartbeatStoresProgressCoalesced(_ factory: any StoreFactory) async throws {
        try await StoreConformance.heartbeatStoresProgressCoalesced(factory)
    }

    @Test(arguments: storeFactories)
    func expiredLeaseIsRescuedAndTheLateCompletionRefused(_ factory: any StoreFactory) async throws {
        try await StoreConformance.expiredLeaseIsRescuedAndTheLateCompletionRefused(factory)
    }

    @Test(arguments: storeFactories)
    func releaseReturnsToReadyWithoutUsingAnAttempt(_ factory: any StoreFactory) async throws {
        try await StoreConformance.releaseReturnsToReadyWithoutUsingAnAttempt(factory)
    }

    // MARK: Maintenance

    @Test(arguments: storeFactories)
    func retentionDeletesOnlyTerminalTasksOlderThanTheCutoff(_ factory: any StoreFactory) async throws {
        try await StoreConformance.retentionDeletesOnlyTerminalTasksOlderThanTheCutoff(factory)
    }

    @Test(arguments: storeFactories)
    func nextDueAtIsTheEarliestPendingTaskOfTheQueues(_ factory: any StoreFactory) async throws {
        try await StoreConformance.nextDueAtIsTheEarliestPendingTaskOfTheQueues(factory)
    }

    @Test(arguments: storeFactories)
    func kindRetryPolicyAppliesToFailuresAndRescues(_ factory: any StoreFactory) async throws {
        try await StoreConformance.kindRetryPolicyAppliesToFailuresAndRescues(factory)
    }

    @Test(arguments: storeFactories)
    func clockIsCurrent(_ factory: any StoreFactory) async throws {
        try await StoreConformance.clockIsCurrent(factory)
    }

    // MARK: Operator calls

    @Test(arguments: storeFactories)
    func cancelStopsPendingReadyAndRunningTasks(_ factory: any StoreFactory) async throws {
        try await StoreConformance.cancelStopsPendingReadyAndRunningTasks(factory)
    }

    @Test(arguments: storeFactories)
    func cancelOfAFinishedTaskIsAConflict(_ factory: any StoreFactory) async throws {
        try await StoreConformance.cancelOfAFinishedTaskIsAConflict(factory)
    }

    @Test(arguments: storeFactories)
    func operatorRetryGivesAFinishedTaskANewAttempt(_ factory: any StoreFactory) async throws {
        try await StoreConformance.operatorRetryGivesAFinishedTaskANewAttempt(factory)
    }

    @Test(arguments: storeFactories)
    func deleteRemovesOnlyFinishedTasks(_ factory: any StoreFactory) async throws {
        try await StoreConformance.deleteRemovesOnlyFinishedTasks(factory)
    }

    @Test(arguments: storeFactories)
    func listPagesNewestFirstWithoutDuplicates(_ factory: any StoreFactory) async throws {
        try await StoreConformance.listPagesNewestFirstWithoutDuplicates(factory)
    }

    @Test(arguments: storeFactories)
    func listFiltersByStateQueueAndKind(_ factory: any StoreFactory) async throws {
        try await StoreConformance.listFiltersByStateQueueAndKind(factory)
    }

    @Test(arguments: storeFactories)
    func listFiltersByTag(_ factory: any StoreFactory) async throws {
        try await StoreConformance.listFiltersByTag(factory)
    }

    @Test(arguments: storeFactories)
    func queueCountsCoverEveryQueueAndState(_ factory: any StoreFactory) async throws {
        try await StoreConformance.queueCountsCoverEveryQueueAndState(factory)
    }

    // MARK: Unique tasks, idempotent submits, schedules, paused queues, delays

    @Test(arguments: schedulingFactories)
    func uniqueKeyIsHeldWhileTheTaskIsActive(_ factory: any StoreFactory) async throws {
        try await StoreConformance.uniqueKeyIsHeldWhileTheTaskIsActive(factory)
    }

    @Test(arguments: schedulingFactories)
    func retryOfAFinishedTaskWhoseKeyIsHeldIsAConflict(_ factory: any StoreFactory) async throws {
        try await StoreConformance.retryOfAFinishedTaskWhoseKeyIsHeldIsAConflict(factory)
    }

    @Test(arguments: schedulingFactories)
    func uniqueWindowCoversFinishedTasksUntilItPasses(_ factory: any StoreFactory) async throws {
        try await StoreConformance.uniqueWindowCoversFinishedTasksUntilItPasses(factory)
    }

    @Test(arguments: schedulingFactories)
    func concurrentUniqueSubmitsFromTwoStoresCreateOneTask(_ factory: any StoreFactory) async throws {
        try await StoreConformance.concurrentUniqueSubmitsFromTwoStoresCreateOneTask(factory)
    }

    @Test(arguments: schedulingFactories)
    func idempotencyKeyAnswersTheFirstTasksAndRefusesADifferentRequest(_ factory: any StoreFactory) async throws {
        try await StoreConformance.idempotencyKeyAnswersTheFirstTasksAndRefusesADifferentRequest(factory)
    }

    @Test(arguments: schedulingFactories)
    func schedulesAreCreatedReplacedPausedAndDeleted(_ factory: any StoreFactory) async throws {
        try await StoreConformance.schedulesAreCreatedReplacedPausedAndDeleted(factory)
    }

    @Test(arguments: schedulingFactories)
    func scheduleFireIsACompareAndSet(_ factory: any StoreFactory) async throws {
        try await StoreConformance.scheduleFireIsACompareAndSet(factory)
    }

    @Test(arguments: schedulingFactories)
    func concurrentFirersFireEachTickExactlyOnce(_ factory: any StoreFactory) async throws {
        try await StoreConformance.concurrentFirersFireEachTickExactlyOnce(factory)
    }

    @Test(arguments: schedulingFactories)
    func pausedQueueIsSkippedByClaimsButAcceptsSubmits(_ factory: any StoreFactory) async throws {
        try await StoreConformance.pausedQueueIsSkippedByClaimsButAcceptsSubmits(factory)
    }

    @Test(arguments: storeFactories)
    func waitingDispatcherClaimsADelayedTaskWhenItBecomesDue(_ factory: any StoreFactory) async throws {
        try await StoreConformance.waitingDispatcherClaimsADelayedTaskWhenItBecomesDue(factory)
    }
}

/// The suite as another store runs it: every check of `StoreConformance.checks`, as arguments
/// of one parameterized test (here on SQLite). Checks the entry point, and runs a check added
/// to the kit before it has its own test above.
@Suite("TaskStore conformance through StoreConformance.checks")
struct StoreConformanceChecksTests {
    @Test(arguments: StoreConformance.checks)
    func sqlitePassesEveryCheck(_ check: StoreConformance.Check) async throws {
        try await check.run(SQLiteStoreFactory())
    }

    @Test func checksAreNamedOnceEach() {
        let names = StoreConformance.checks.map(\.name)
        #expect(Set(names).count == names.count)
    }
}
