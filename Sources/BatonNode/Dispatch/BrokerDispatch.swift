import BatonCore
import Foundation
import Logging
import ServiceLifecycle

/// What a broker does for a ``BrokerDispatch``: carries claimed tasks' work messages
/// (``WorkMessage``) to the workers that read its work queue.
public protocol WorkSender: Sendable {
    /// The broker's name in claims (`lease_owner` is `NAME:QUEUE`): `sqs`, `redis`.
    var broker: String { get }
    /// Where the work goes, for logs (`sqs://baton-work`, `redis list baton:work`).
    var address: String { get }
    /// Gets ready to send (connects, declares what must exist); a failure is logged and tried
    /// again, waiting up to 5 s, until the node stops.
    func prepare() async throws
    /// Sends the tasks' work messages: which were not taken (they go back to `ready`, no
    /// attempt used) and which never can be (they fail for good, with the reason).
    func send(_ claimed: [ClaimedTask]) async -> WorkSendOutcome
}

/// What became of a ``WorkSender/send(_:)``: every task not named here was sent.
public struct WorkSendOutcome: Sendable {
    /// Not taken by the broker this time (unreachable, refused): released to `ready`.
    public var unsent: [ClaimedTask]
    /// Tasks no worker of this broker can take (too large, arguments it cannot carry), with why.
    public var refused: [(task: ClaimedTask, reason: String)]

    public init(unsent: [ClaimedTask] = [], refused: [(task: ClaimedTask, reason: String)] = []) {
        self.unsent = unsent
        self.refused = refused
    }
}

/// The dispatch role of a broker: sends ready tasks of one Baton queue to a work queue of the
/// broker, keeping at most `window` of them in flight (``DispatchWindow``), so that priorities
/// and cancellation keep their meaning: what waits in the store can still be reordered or
/// cancelled.
///
/// Tasks are claimed through the node's dispatcher (a lease of `lease`, owner `BROKER:QUEUE`),
/// by priority, and handed to the ``WorkSender``. A task the broker did not take is released
/// back to `ready` (no attempt used); one it never can take fails for good with the reason. A
/// message lost on the way (or taken by a worker that died) is sent again once its lease ran
/// out: the lease rescuer returns the task to `ready` and it is claimed again (with a new lease
/// token, so a late result of the lost one is refused). Delayed and backing-off tasks wait in
/// the store, never in the broker.
///
/// While the window is full, the dispatch asks the store which of the tasks it sent are still
/// running under the lease it sent them with (``TaskStore/taskLeasesHeld(_:)``, one read): a
/// result applied by another node frees the window then, instead of at the lease's end. The
/// checks follow ``checkIntervals``: every 20 ms while they find tasks that ended elsewhere
/// (several nodes whose workers report to any of them), less and less often while they find
/// none (one node, or long tasks), down to every 2 s.
public final class BrokerDispatch: Service, Sendable {
    public let queueName: String
    public let sender: any WorkSender
    let node: NodeServices
    /// The tasks sent and not yet heard back about, shared by the dispatches of one broker.
    public let inFlight: DispatchWindow
    let window: Int
    let lease: Duration
    let logger: Logger

    /// The longest a claim waits for ready tasks before the loop looks around again.
    static let claimWait: Duration = .seconds(5)
    /// Most tasks claimed at once.
    static let claimMax = 100
    /// How often a full window is checked against the store: soon after a check that freed
    /// some of it, then twice as long after each that did not, up to the upper bound.
    public static let checkIntervals: ClosedRange<Duration> = .milliseconds(20)...(.seconds(2))

    public init(
        node: NodeServices, queueName: String, sender: any WorkSender, inFlight: DispatchWindow, window: Int, lease: Duration,
        logger: Logger
    ) {
        self.node = node
        self.queueName = queueName
        self.sender = sender
        self.inFlight = inFlight
        self.window = window
        self.lease = lease
        self.logger = logger
    }

    /// The name claims are made under (a task's `lease_owner` while its broker carries it).
    public var workerName: String { "\(sender.broker):\(queueName)" }

    /// One dispatch per Baton queue and its sender, sharing one window that follows the node's
    /// events (a broker's `dispatch` setting).
    public static func roles(
        node: NodeServices, senders: [(queue: String, sender: any WorkSender)], settings: DispatchSettings, logger: Logger
    ) -> [BrokerDispatch] {
        guard !senders.isEmpty else { return [] }
        let inFlight = DispatchWindow()
        inFlight.follow(node.events)
        return senders.map {
            BrokerDispatch(
                node: node, queueName: $0.queue, sender: $0.sender, inFlight: inFlight, window: settings.window, lease: settings.lease,
                logger: logger)
        }
    }

    public func run() async throws {
        var pause = GrowingPause()
        while true {
            do {
                try await cancelWhenGracefulShutdown { try await self.sender.prepare() }
                break
            } catch {
                if Task.isShuttingDownGracefully || Task.isCancelled || error is CancellationError { return }
                logger.warning(
                    "the broker is not reachable for dispatch; trying again",
                    metadata: ["broker": "\(sender.broker)", "to": "\(sender.address)", "error": "\(error)"])
                try? await Task.sleep(for: pause.next())
            }
        }
        logger.info(
            "dispatch started",
            metadata: ["broker": "\(sender.broker)", "queue": "\(queueName)", "to": "\(sender.address)", "window": "\(window)"])
        var backoff = GrowingPause()
        var checks = GrowingPause(from: Self.checkIntervals.lowerBound, upTo: Self.checkIntervals.upperBound)
        var nextCheck = ContinuousClock.now + Self.checkIntervals.lowerBound
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            let generation = inFlight.changed.generation
            let free = window - inFlight.count(queue: queueName)
            if free <= 0, ContinuousClock.now >= nextCheck {
                let ended = await releaseEndedElsewhere()
                if ended > 0 { checks.reset() }
                nextCheck = ContinuousClock.now + checks.next()
                if ended > 0 { continue }
            }
            if free <= 0 {
                // Full: wait for results, the next check, or the earliest lease to run out.
                let now = ContinuousClock.now
                let expiry = inFlight.nextExpiry(queue: queueName).map { max(.milliseconds(10), $0 - now) } ?? .seconds(1)
                let wait = min(expiry, max(.milliseconds(1), nextCheck - now), .seconds(1))
                await inFlight.changed.wait(after: generation, timeout: wait)
                continue
            }
            let claimed: [ClaimedTask]
            do {
                let request = ClaimRequest(
                    worker: workerName, queues: [queueName], max: min(free, Self.claimMax), wait: Self.claimWait, lease: lease)
                claimed = try await cancelWhenGracefulShutdown { try await self.node.dispatcher.claim(request) }
            } catch {
                if Task.isShuttingDownGracefully || Task.isCancelled { break }
                logger.warning(
                    "claim for dispatch failed; retrying",
                    metadata: ["broker": "\(sender.broker)", "queue": "\(queueName)", "error": "\(error)"])
                try? await Task.sleep(for: backoff.next())
                continue
            }
            guard !claimed.isEmpty else { continue }
            inFlight.add(claimed.map(\.lease), queue: queueName, for: lease)
            if await send(claimed) {
                backoff.reset()
            } else {
                try? await Task.sleep(for: backoff.next())
            }
        }
        logger.info("dispatch stopped", metadata: ["broker": "\(sender.broker)", "queue": "\(queueName)"])
    }

    /// Takes out of the window the tasks sent (at least the shortest check interval ago) whose
    /// leases the store no longer holds (their attempts ended through another node). Returns
    /// how many.
    func releaseEndedElsewhere() async -> Int {
        let sent = inFlight.leases(queue: queueName, sentBefore: ContinuousClock.now - Self.checkIntervals.lowerBound, max: window)
        guard !sent.isEmpty else { return 0 }
        do {
            let held = try await node.store.taskLeasesHeld(sent)
            let ended = sent.filter { !held.contains($0) }
            inFlight.remove(leases: ended)
            if !ended.isEmpty {
                logger.debug(
                    "tasks ended through another node left the window", metadata: ["queue": "\(queueName)", "count": "\(ended.count)"])
            }
            return ended.count
        } catch {
            logger.warning(
                "could not check the dispatch window against the store",
                metadata: ["broker": "\(sender.broker)", "queue": "\(queueName)", "error": "\(error)"])
            return 0
        }
    }

    /// Sends the claimed tasks through the broker; fails for good those it can never take and
    /// releases those it did not take. Returns `false` when some were not taken.
    func send(_ claimed: [ClaimedTask]) async -> Bool {
        let outcome = await sender.send(claimed)
        if !outcome.refused.isEmpty {
            let acks = outcome.refused.map { TaskAck.fail(TaskFailure(lease: $0.task.lease, message: $0.reason, retryable: false)) }
            logger.error(
                "tasks the broker cannot carry failed",
                metadata: ["broker": "\(sender.broker)", "count": "\(acks.count)", "reason": "\(outcome.refused[0].reason)"])
            _ = try? await node.completer.ackMany(acks)
            inFlight.remove(outcome.refused.map(\.task.task.id))
        }
        guard !outcome.unsent.isEmpty else { return true }
        do {
            _ = try await node.store.taskReleaseMany(TaskReleaseParams(leases: outcome.unsent.map(\.lease)))
        } catch {
            logger.warning(
                "could not release tasks the broker did not take; they return when their leases run out",
                metadata: ["broker": "\(sender.broker)", "count": "\(outcome.unsent.count)", "error": "\(error)"])
        }
        inFlight.remove(outcome.unsent.map(\.task.id))
        return false
    }
}
