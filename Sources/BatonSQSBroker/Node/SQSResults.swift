import BatonCore
import BatonNode
import BatonSQS
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// The results role (freundallein/sqs-scheduler's resulter): long-polls the results queue and applies each
/// message (``SQSWire/resultsMessage(_:)``) to the store:
///
/// - a result or error is a fenced completion or failure, through the node's completer: a
///   stale lease token (the task was rescued, or its result applied already) is refused and
///   logged; either way the message is deleted once the store answered;
/// - a heartbeat extends its leases (a worker that reaches only SQS keeps its tasks this way);
///   when it names a control queue (`reply_to`), the leases it did not extend (cancelled,
///   rescued, finished, unknown) are sent there in one stop message, so that the worker stops
///   their handlers, or drops them before they start when the heartbeat was the worker's
///   check of the tasks it just received (`check`: answered even when nothing is to stop). A
///   stop that cannot be sent is logged: the next heartbeat asks again;
/// - an announcement records its worker in the node's registry (`GET /v1/workers`, transport
///   `sqs`), with its kinds' retry policies.
///
/// An unreadable message goes to the dead-letter queue with the reason. A store that cannot
/// be reached leaves the message for another try after its visibility timeout.
public final class SQSResults: Service, Sendable {
    public struct Stats: Sendable, Hashable {
        public var received = 0
        /// Acks the store applied.
        public var applied = 0
        /// Acks refused: the lease token was not the task's current one, or the task is gone.
        public var refused = 0
        /// Heartbeat messages applied.
        public var heartbeats = 0
        /// Announce messages recorded.
        public var announcements = 0
        /// Stop messages sent to workers' control queues that named leases to stop.
        public var stops = 0
        /// Workers' checks of the tasks they received answered (with leases to stop or none).
        public var checks = 0
        public var rejected = 0
        public init() {}
    }

    public let queue: SQSQueue
    /// Long polls run at once.
    static let pollers = 2
    let api: NodeAPI
    let inFlight: DispatchWindow?
    let deadLetters: DeadLetters
    let visibilityTimeout: Int
    let logger: Logger
    private let state = Mutex(Stats())

    public init(
        api: NodeAPI, queue: SQSQueue, deadLetter: SQSQueue?, inFlight: DispatchWindow?, visibilityTimeout: Int = 60,
        logger: Logger = Logger(label: "baton.sqs.results")
    ) {
        self.api = api
        self.queue = queue
        self.inFlight = inFlight
        self.deadLetters = DeadLetters(queue: deadLetter, logger: logger)
        self.visibilityTimeout = visibilityTimeout
        self.logger = logger
    }

    public var stats: Stats { state.withLock { $0 } }

    public func run() async throws {
        let ran = await queue.consume(role: "results", pollers: Self.pollers, visibilityTimeout: visibilityTimeout, logger: logger) {
            await self.handle($0)
        }
        guard ran else { return }
        let s = stats
        logger.info(
            "SQS results stopped",
            metadata: ["applied": "\(s.applied)", "refused": "\(s.refused)", "heartbeats": "\(s.heartbeats)", "rejected": "\(s.rejected)"])
    }

    /// Applies one receive's messages: all their acks in one call to the completer, each
    /// heartbeat message in one store call; deletes what was applied.
    package func handle(_ messages: [SQS.Message]) async {
        guard !messages.isEmpty else { return }
        state.withLock { $0.received += messages.count }
        var acks: [(SQS.Message, [TaskAck])] = []
        var beats: [(SQS.Message, [LeaseRef], Duration?, String?, String?)] = []
        var extended: [(SQS.Message, TaskCompletion, [NewTask])] = []
        var done: [SQS.Message] = []
        for message in messages {
            do {
                switch try SQSWire.resultsMessage(message.body) {
                case .acks(let list): acks.append((message, list))
                case .completeWithFollowUps(let completion, let followUps): extended.append((message, completion, followUps))
                case .heartbeat(let leases, let lease, let replyTo, let check): beats.append((message, leases, lease, replyTo, check))
                case .announce(let announcement):
                    _ = try api.registerWorker(announcement, transport: "sqs")
                    state.withLock { $0.announcements += 1 }
                    done.append(message)
                }
            } catch {
                state.withLock { $0.rejected += 1 }
                await deadLetters.reject(message, from: queue, reason: error.message, role: "results")
            }
        }
        if !acks.isEmpty { done += await apply(acks) }
        for (message, completion, followUps) in extended {
            if await apply(completion, followUps, from: message) { done.append(message) }
        }
        for (message, leases, lease, replyTo, check) in beats {
            if await heartbeat(leases, lease: lease, replyTo: replyTo, check: check) { done.append(message) }
        }
        await queue.delete(done, logger: logger)
    }

    /// Applies a completion with its follow-up tasks (one transaction on the store). Returns
    /// whether the message is done with: applied, or refused by its lease. A message whose
    /// follow-ups are invalid goes to the dead-letter queue; one the store could not take now
    /// stays for another try.
    private func apply(_ completion: TaskCompletion, _ followUps: [NewTask], from message: SQS.Message) async -> Bool {
        let id = completion.lease.id
        do {
            _ = try await api.complete(
                id, CompleteBody(leaseToken: completion.lease.token, result: completion.result, followUps: followUps))
            state.withLock { $0.applied += 1 }
        } catch let error as BatonError where error.code == .staleLease || error.code == .notFound || error.code == .conflict {
            state.withLock { $0.refused += 1 }
            logger.info(
                "result with follow-ups refused: the lease is no longer the task's; message deleted",
                metadata: ["task_id": "\(id)", "error": "\(error.message)"])
        } catch let error as BatonError where error.code == .invalidArgument || error.code == .tooLarge {
            state.withLock { $0.rejected += 1 }
            await deadLetters.reject(message, from: queue, reason: error.message, role: "results")
            return false
        } catch {
            logger.warning(
                "could not apply a result with follow-ups from SQS; it will be tried again",
                metadata: ["task_id": "\(id)", "error": "\(error)"])
            return false
        }
        inFlight?.remove([id])
        return true
    }

    private func apply(_ items: [(SQS.Message, [TaskAck])]) async -> [SQS.Message] {
        let all = items.flatMap { $0.1 }
        let outcomes: [AckOutcome]
        do {
            outcomes = try await api.ack(all)
        } catch let error as BatonError where error.code == .tooLarge || error.code == .invalidArgument {
            // One message's result is refused (too large): apply them one message at a time.
            guard items.count > 1 else {
                state.withLock { $0.rejected += 1 }
                // Moved to the dead-letter queue (and deleted here), or left for the redrive policy.
                await deadLetters.reject(items[0].0, from: queue, reason: error.message, role: "results")
                return []
            }
            var done: [SQS.Message] = []
            for item in items { done += await apply([item]) }
            return done
        } catch {
            logger.warning(
                "could not apply results from SQS; they will be tried again", metadata: ["count": "\(all.count)", "error": "\(error)"])
            return []
        }
        var refused: [(TaskAck, AckOutcome)] = []
        for (ack, outcome) in zip(all, outcomes) {
            if case .applied = outcome { continue }
            refused.append((ack, outcome))
        }
        state.withLock { s in
            s.applied += all.count - refused.count
            s.refused += refused.count
        }
        for (ack, outcome) in refused.prefix(20) {
            logger.info(
                "result refused: the lease is no longer the task's (rescued, or its result applied already); message deleted",
                metadata: ["task_id": "\(ack.lease.id)", "outcome": "\(outcome)"])
        }
        inFlight?.remove(all.map(\.lease.id))
        return items.map { $0.0 }
    }

    private func heartbeat(_ leases: [LeaseRef], lease: Duration?, replyTo: String?, check: String?) async -> Bool {
        guard !leases.isEmpty else { return true }
        do {
            let body = HeartbeatManyBody(
                worker: nil, leases: leases.map { HeartbeatItem($0, progress: nil) },
                leaseMS: lease?.inMilliseconds)
            let response = try await api.heartbeatMany(body)
            state.withLock { $0.heartbeats += 1 }
            var extended: [TaskID] = []
            var stops: [SQSWire.Stop] = []
            for (ref, item) in zip(leases, response.results) {
                let outcome = item.outcome
                if case .extended = outcome { extended.append(item.id) } else { stops.append(.init(lease: ref, outcome: outcome)) }
            }
            inFlight?.extend(extended, by: lease ?? api.configuration.defaultLease)
            // Cancelled, rescued or deleted: no longer counted against the window.
            inFlight?.remove(stops.map(\.lease.id))
            // A check (the worker's heartbeat before its handlers start) is answered even when
            // every lease was extended: the worker waits for the answer to run them.
            if let replyTo, !stops.isEmpty || check != nil { await sendStops(stops, to: replyTo, check: check) }
            return true
        } catch let error as BatonError where error.code == .invalidArgument {
            logger.warning("heartbeat from SQS refused", metadata: ["error": "\(error)"])
            return true
        } catch {
            logger.warning("could not apply a heartbeat from SQS; it will be tried again", metadata: ["error": "\(error)"])
            return false
        }
    }

    /// Sends one stop message to a worker's control queue; a failure is logged (the worker's
    /// next heartbeat names the leases again). The queue must be on the results queue's
    /// endpoint (or in its AWS region): the node sends nowhere else.
    private func sendStops(_ stops: [SQSWire.Stop], to replyTo: String, check: String?) async {
        let metadata: Logger.Metadata = ["control_queue": "\(replyTo)", "tasks": "\(stops.count)"]
        guard Self.sameService(replyTo, as: queue.client) else {
            logger.warning(
                "a heartbeat's reply_to is not on the results queue's SQS endpoint; no stop message sent", metadata: metadata)
            return
        }
        do {
            _ = try await queue.client.sendMessage(.init(queueURL: replyTo, messageBody: SQSWire.stopMessage(stops, check: check)))
            state.withLock { s in
                if !stops.isEmpty { s.stops += 1 }
                if check != nil { s.checks += 1 }
            }
            logger.debug("told a worker to stop tasks", metadata: metadata)
        } catch {
            var failed = metadata
            failed["error"] = "\(error)"
            logger.warning("could not send a stop message to a worker's control queue; its next heartbeat asks again", metadata: failed)
        }
    }

    /// Whether the queue URL `text` is served by `client`: the same endpoint, or an AWS queue
    /// URL of its region.
    package static func sameService(_ text: String, as client: SQSClient) -> Bool {
        guard let address = try? SQSQueueAddress(text), address.queueURL != nil else { return false }
        if address.endpoint.map(origin) == origin(client.endpoint) { return true }
        // An AWS queue URL in another form (the legacy REGION.queue.amazonaws.com) of the region.
        guard let region = address.region else { return false }
        return region == client.region && origin(client.endpoint) == origin(SQSClient.awsEndpoint(region: region))
    }

    /// `scheme://host:port` of a URL, lower-cased, the port made explicit.
    private static func origin(_ url: URL) -> String {
        let scheme = url.scheme?.lowercased() ?? ""
        let port = url.port ?? (scheme == "https" ? 443 : 80)
        return "\(scheme)://\(url.host?.lowercased() ?? ""):\(port)"
    }
}
