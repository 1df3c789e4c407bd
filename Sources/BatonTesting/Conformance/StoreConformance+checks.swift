import BatonCore
import Testing

extension StoreConformance {
    /// One check of the suite, by name: `run(_:)` runs it against the stores of a factory.
    /// As a test argument it shows as its name.
    public struct Check: Sendable, CustomTestStringConvertible {
        /// The name of the check's function.
        public let name: String
        private let body: @Sendable (any StoreFactory) async throws -> Void

        public init(_ name: String, _ body: @escaping @Sendable (any StoreFactory) async throws -> Void) {
            self.name = name
            self.body = body
        }

        /// Runs the check with stores from `factory`.
        public func run(_ factory: any StoreFactory) async throws { try await body(factory) }

        public var testDescription: String { name }
    }

    /// Every check: ``taskStoreChecks`` and ``schedulingChecks``.
    public static var checks: [Check] { taskStoreChecks + schedulingChecks }

    /// The checks a `TaskStore` must pass.
    public static let taskStoreChecks: [Check] = [
        Check("enqueueStoresEveryFieldAsGiven", enqueueStoresEveryFieldAsGiven),
        Check("enqueueFiresTheReadySignal", enqueueFiresTheReadySignal),
        Check("invalidTaskIsRejectedAndNothingIsWritten", invalidTaskIsRejectedAndNothingIsWritten),
        Check("duplicateIDIsAConflictAndTheBatchIsNotStored", duplicateIDIsAConflictAndTheBatchIsNotStored),
        Check("largeBatchIsStoredInOrder", largeBatchIsStoredInOrder),
        Check("claimOrderIsPriorityThenRunAtThenSubmission", claimOrderIsPriorityThenRunAtThenSubmission),
        Check("claimRespectsMaxAndSetsTheLease", claimRespectsMaxAndSetsTheLease),
        Check("taskWithLeaseReadsTheCurrentLease", taskWithLeaseReadsTheCurrentLease),
        Check("delayedTaskIsNotClaimedEarlyAndIsClaimedOnceDue", delayedTaskIsNotClaimedEarlyAndIsClaimedOnceDue),
        Check("runAtInTheFutureIsPending", runAtInTheFutureIsPending),
        Check("sharesAreServedInOrderEachUpToItsMax", sharesAreServedInOrderEachUpToItsMax),
        Check("claimFiltersByQueueAndKind", claimFiltersByQueueAndKind),
        Check("taskOfAKindNobodyClaimsStaysReady", taskOfAKindNobodyClaimsStaysReady),
        Check("concurrentBatchClaimsNeverShareATask", concurrentBatchClaimsNeverShareATask),
        Check("completionIsFencedByTheLeaseToken", completionIsFencedByTheLeaseToken),
        Check("batchOfAcksAppliesEachInOrder", batchOfAcksAppliesEachInOrder),
        Check("reportingAcksSayWhichAttemptTheyEnded", reportingAcksSayWhichAttemptTheyEnded),
        Check("failureRetriesPerPolicyUntilAttemptsAreExhausted", failureRetriesPerPolicyUntilAttemptsAreExhausted),
        Check("notRetryableFailureIsFinal", notRetryableFailureIsFinal),
        Check("retryAfterOverridesThePolicy", retryAfterOverridesThePolicy),
        Check("retryDueNowIsClaimableAtOnce", retryDueNowIsClaimableAtOnce),
        Check("heartbeatExtendsThenReportsCancelAndLoss", heartbeatExtendsThenReportsCancelAndLoss),
        Check("heartbeatStoresProgressCoalesced", heartbeatStoresProgressCoalesced),
        Check("expiredLeaseIsRescuedAndTheLateCompletionRefused", expiredLeaseIsRescuedAndTheLateCompletionRefused),
        Check("releaseReturnsToReadyWithoutUsingAnAttempt", releaseReturnsToReadyWithoutUsingAnAttempt),
        Check("retentionDeletesOnlyTerminalTasksOlderThanTheCutoff", retentionDeletesOnlyTerminalTasksOlderThanTheCutoff),
        Check("nextDueAtIsTheEarliestPendingTaskOfTheQueues", nextDueAtIsTheEarliestPendingTaskOfTheQueues),
        Check("kindRetryPolicyAppliesToFailuresAndRescues", kindRetryPolicyAppliesToFailuresAndRescues),
        Check("clockIsCurrent", clockIsCurrent),
        Check("cancelStopsPendingReadyAndRunningTasks", cancelStopsPendingReadyAndRunningTasks),
        Check("cancelOfAFinishedTaskIsAConflict", cancelOfAFinishedTaskIsAConflict),
        Check("operatorRetryGivesAFinishedTaskANewAttempt", operatorRetryGivesAFinishedTaskANewAttempt),
        Check("deleteRemovesOnlyFinishedTasks", deleteRemovesOnlyFinishedTasks),
        Check("listPagesNewestFirstWithoutDuplicates", listPagesNewestFirstWithoutDuplicates),
        Check("listFiltersByStateQueueAndKind", listFiltersByStateQueueAndKind),
        Check("listFiltersByTag", listFiltersByTag),
        Check("queueCountsCoverEveryQueueAndState", queueCountsCoverEveryQueueAndState),
        Check("waitingDispatcherClaimsADelayedTaskWhenItBecomesDue", waitingDispatcherClaimsADelayedTaskWhenItBecomesDue),
        Check("dependentIsReleasedWhenItsLastParentSucceeds", dependentIsReleasedWhenItsLastParentSucceeds),
        Check("retriedOrStaleAttemptsReleaseNothing", retriedOrStaleAttemptsReleaseNothing),
        Check("policyTableDecidesEachEdge", policyTableDecidesEachEdge),
        Check("cancelCascadesAndOperatorRetryReopensOnce", cancelCascadesAndOperatorRetryReopensOnce),
        Check("dependentOfAFinishedParentSettlesAtOnce", dependentOfAFinishedParentSettlesAtOnce),
        Check("concurrentLastParentsReleaseEachDependentOnce", concurrentLastParentsReleaseEachDependentOnce),
        Check("workflowIsReadAndCancelled", workflowIsReadAndCancelled),
        Check("cancelCascadesThroughALongChain", cancelCascadesThroughALongChain),
        Check("dependentAddedWhileItsParentCompletesIsReleasedOnce", dependentAddedWhileItsParentCompletesIsReleasedOnce),
    ]

    /// The checks of unique tasks, idempotent submits, schedules and paused queues: they need a
    /// store that is also a `UniqueTaskStore`, a `ScheduleStore` and a `QueueAdminStore` (a
    /// `NodeStore`).
    public static let schedulingChecks: [Check] = [
        Check("uniqueKeyIsHeldWhileTheTaskIsActive", uniqueKeyIsHeldWhileTheTaskIsActive),
        Check("retryOfAFinishedTaskWhoseKeyIsHeldIsAConflict", retryOfAFinishedTaskWhoseKeyIsHeldIsAConflict),
        Check("uniqueWindowCoversFinishedTasksUntilItPasses", uniqueWindowCoversFinishedTasksUntilItPasses),
        Check("concurrentUniqueSubmitsFromTwoStoresCreateOneTask", concurrentUniqueSubmitsFromTwoStoresCreateOneTask),
        Check(
            "idempotencyKeyAnswersTheFirstTasksAndRefusesADifferentRequest", idempotencyKeyAnswersTheFirstTasksAndRefusesADifferentRequest),
        Check("schedulesAreCreatedReplacedPausedAndDeleted", schedulesAreCreatedReplacedPausedAndDeleted),
        Check("scheduleFireIsACompareAndSet", scheduleFireIsACompareAndSet),
        Check("concurrentFirersFireEachTickExactlyOnce", concurrentFirersFireEachTickExactlyOnce),
        Check("pausedQueueIsSkippedByClaimsButAcceptsSubmits", pausedQueueIsSkippedByClaimsButAcceptsSubmits),
    ]
}
