import BatonCore
import Foundation
import Synchronization

/// Fault injection: the real store, except that while `down` every call fails with
/// `unavailable`, as SQLite does when the database stays locked past its busy timeout.
final class OutageStore: NodeStore {
    let base: any NodeStore
    private let isDown = Atomic<Bool>(false)
    private let refusingAcks = Atomic<Bool>(false)

    init(_ base: any NodeStore) { self.base = base }

    func setDown(_ down: Bool) { isDown.store(down, ordering: .relaxed) }
    /// Only acks fail (as when the completer's writes time out while claims and heartbeats,
    /// on other connections, get through).
    func setRefusingAcks(_ refusing: Bool) { refusingAcks.store(refusing, ordering: .relaxed) }

    private func checkAck() throws {
        try check()
        if refusingAcks.load(ordering: .relaxed) { throw BatonError.unavailable("ack write timed out") }
    }

    private func check() throws {
        if isDown.load(ordering: .relaxed) { throw BatonError.unavailable("database is locked") }
    }

    var readySignal: ReadySignal { base.readySignal }
    func now() async throws -> Date {
        try check()
        return try await base.now()
    }
    func taskEnqueueMany(_ p: TaskEnqueueParams) async throws -> [TaskRecord] {
        try check()
        return try await base.taskEnqueueMany(p)
    }
    func taskParents(_ p: TaskParentsParams) async throws -> ParentPage {
        try check()
        return try await base.taskParents(p)
    }
    func workflowGet(_ id: TaskID) async throws -> WorkflowRecord? {
        try check()
        return try await base.workflowGet(id)
    }
    func workflowCancel(_ id: TaskID) async throws -> WorkflowRecord {
        try check()
        return try await base.workflowCancel(id)
    }
    func taskClaim(_ p: TaskClaimParams) async throws -> [ClaimedTask] {
        try check()
        return try await base.taskClaim(p)
    }
    func taskHeartbeatMany(_ p: TaskHeartbeatParams) async throws -> [HeartbeatOutcome] {
        try check()
        return try await base.taskHeartbeatMany(p)
    }
    func taskAckMany(_ p: TaskAckParams) async throws -> [AckOutcome] {
        try checkAck()
        return try await base.taskAckMany(p)
    }
    func taskAckManyReporting(_ p: TaskAckParams) async throws -> [AckReport] {
        try checkAck()
        return try await base.taskAckManyReporting(p)
    }
    func taskReleaseMany(_ p: TaskReleaseParams) async throws -> Int {
        try check()
        return try await base.taskReleaseMany(p)
    }
    func taskCancel(_ id: TaskID) async throws -> TaskRecord {
        try check()
        return try await base.taskCancel(id)
    }
    func taskRetry(_ id: TaskID) async throws -> TaskRecord {
        try check()
        return try await base.taskRetry(id)
    }
    func taskDelete(_ id: TaskID) async throws {
        try check()
        try await base.taskDelete(id)
    }
    func taskGet(_ id: TaskID) async throws -> TaskRecord? {
        try check()
        return try await base.taskGet(id)
    }
    func taskLeasesHeld(_ leases: [LeaseRef]) async throws -> Set<LeaseRef> {
        try check()
        return try await base.taskLeasesHeld(leases)
    }
    func taskGetWithLease(_ id: TaskID) async throws -> TaskWithLease? {
        try check()
        return try await base.taskGetWithLease(id)
    }
    func taskList(_ p: TaskListParams) async throws -> TaskPage {
        try check()
        return try await base.taskList(p)
    }
    func queueCounts() async throws -> [QueueCounts] {
        try check()
        return try await base.queueCounts()
    }
    func leaseRescueMany(_ p: LeaseRescueParams) async throws -> [RescuedLease] {
        try check()
        return try await base.leaseRescueMany(p)
    }
    func taskDeleteFinished(_ p: TaskDeleteFinishedParams) async throws -> Int {
        try check()
        return try await base.taskDeleteFinished(p)
    }
    func taskNextDueAt(queues: [String]) async throws -> Date? {
        try check()
        return try await base.taskNextDueAt(queues: queues)
    }

    // Schedules, paused queues, unique submits.
    func scheduleUpsert(_ p: ScheduleUpsertParams) async throws -> ScheduleRecord {
        try check()
        return try await base.scheduleUpsert(p)
    }
    func scheduleGet(_ name: String) async throws -> ScheduleRecord? {
        try check()
        return try await base.scheduleGet(name)
    }
    func scheduleList() async throws -> [ScheduleRecord] {
        try check()
        return try await base.scheduleList()
    }
    func scheduleDelete(_ name: String) async throws {
        try check()
        try await base.scheduleDelete(name)
    }
    func scheduleSetPaused(_ name: String, paused: Bool) async throws -> ScheduleRecord {
        try check()
        return try await base.scheduleSetPaused(name, paused: paused)
    }
    func scheduleFire(_ p: ScheduleFireParams) async throws -> Bool {
        try check()
        return try await base.scheduleFire(p)
    }
    func queuePause(_ name: String) async throws {
        try check()
        try await base.queuePause(name)
    }
    func queueResume(_ name: String) async throws {
        try check()
        try await base.queueResume(name)
    }
    func queuePausedList() async throws -> [String] {
        try check()
        return try await base.queuePausedList()
    }
    func taskEnqueueManyOutcome(_ p: TaskEnqueueParams) async throws -> TaskEnqueueOutcome {
        try check()
        return try await base.taskEnqueueManyOutcome(p)
    }
}
