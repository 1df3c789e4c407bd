import BatonCore
import BatonSQS
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// One SQS queue a role uses: its address, a client for it, and its URL once looked up
/// (`GetQueueUrl` for `sqs://NAME`, retried with backoff while SQS cannot be reached), or
/// created (`CreateQueue`) when ``creates`` is set (`sqs.createQueues`).
public final class SQSQueue: Sendable {
    public let address: SQSQueueAddress
    public let client: SQSClient
    /// Whether the queue is created when it does not exist (at its first use, and again after
    /// SQS said it is gone), rather than waited for.
    public let creates: Bool
    private let url = Mutex<String?>(nil)

    public init(address: SQSQueueAddress, client: SQSClient, creates: Bool = false) {
        self.address = address
        self.client = client
        self.creates = creates
    }

    /// A queue with a client of its own built from `configuration` (a queue URL's endpoint and
    /// region win over the configuration's).
    public convenience init(
        _ address: SQSQueueAddress, configuration: SQSClientConfiguration, credentials: (any AWSCredentialProvider)? = nil,
        creates: Bool = false, logger: Logger
    ) throws {
        self.init(
            address: address, client: try SQSClient(queue: address, configuration: configuration, credentials: credentials, logger: logger),
            creates: creates)
    }

    /// The queue's URL (looked up, or the queue created, once).
    public func queueURL() async throws -> String {
        if let known = url.withLock({ $0 }) { return known }
        let found = creates ? try await create() : try await client.queueURL(for: address)
        url.withLock { $0 = found }
        return found
    }

    /// Creates the queue unless it exists (`CreateQueue` with no attributes but `FifoQueue`
    /// answers an existing queue's URL) and answers its URL. `CreateQueue` works in the
    /// credentials' own account: a queue named by the URL of another account's queue is
    /// refused, naming both URLs, rather than used in place of the one configured.
    private func create() async throws -> String {
        let fifo = address.queueName.hasSuffix(".fifo")
        let created = try await client.createQueue(.init(queueName: address.queueName, attributes: fifo ? ["FifoQueue": "true"] : nil))
        if let configured = address.queueURL, URL(string: configured)?.path != URL(string: created.queueURL)?.path {
            throw BatonError.invalidArgument(
                "sqs.createQueues: CreateQueue answered \(created.queueURL) for the queue \(configured); queues are created in the "
                    + "credentials' own account, so a queue of another account must exist already (drop --sqs-create-queues)")
        }
        return address.queueURL ?? created.queueURL
    }

    /// Forgets the URL, so that the next call looks it up again (after a queue was recreated),
    /// or creates the queue again.
    public func forgetURL() {
        guard address.queueURL == nil || creates else { return }
        url.withLock { $0 = nil }
    }

    /// Forgets the URL when `error` says that the queue does not exist (see ``forgetURL()``).
    func noteFailure(_ error: any Error) {
        if let sqs = error as? SQSError, sqs.kind == .queueDoesNotExist { forgetURL() }
    }

    /// The queue's URL, retried with backoff until it is found or the task is cancelled; each
    /// failure is logged.
    func queueURLWaiting(logger: Logger, role: String) async throws -> String {
        var pause = GrowingPause(from: .milliseconds(200), upTo: .seconds(10))
        while true {
            do {
                return try await queueURL()
            } catch {
                if Task.isCancelled { throw CancellationError() }
                logger.warning(
                    "SQS queue not reachable; retrying", metadata: ["role": "\(role)", "queue": "\(address)", "error": "\(error)"])
                try await Task.sleep(for: pause.next())
            }
        }
    }

    /// Long-polls the queue with `pollers` receives at once (while one batch is being handled,
    /// the next ones are on their way) until graceful shutdown or cancellation, handing each
    /// receive's messages to `handle`; a failed receive is logged and retried with backoff
    /// (0.1 s, doubling up to 10 s). Returns `false` when the shutdown came before the queue's
    /// URL was found.
    func consume(
        role: String, pollers: Int, visibilityTimeout: Int, systemAttributes: [String]? = nil, logger: Logger,
        _ handle: @escaping @Sendable ([SQS.Message]) async -> Void
    ) async -> Bool {
        let queueURL: String
        do {
            queueURL = try await cancelWhenGracefulShutdown { try await self.queueURLWaiting(logger: logger, role: role) }
        } catch {
            return false
        }
        logger.info("SQS \(role) started", metadata: ["queue": "\(address)"])
        let request = SQS.ReceiveMessageRequest(
            queueURL: queueURL, maxNumberOfMessages: SQSClient.maxBatchEntries, waitTimeSeconds: SQSClient.maxWaitTimeSeconds,
            visibilityTimeout: visibilityTimeout, messageSystemAttributeNames: systemAttributes)
        await withDiscardingTaskGroup { group in
            for _ in 0..<pollers {
                group.addTask {
                    var backoff = GrowingPause(upTo: .seconds(10))
                    while !Task.isShuttingDownGracefully && !Task.isCancelled {
                        let messages: [SQS.Message]
                        do {
                            messages = try await cancelWhenGracefulShutdown { try await self.client.receiveMessage(request).messages }
                            backoff.reset()
                        } catch {
                            if Task.isShuttingDownGracefully || Task.isCancelled { break }
                            logger.warning("SQS receive failed; retrying", metadata: ["queue": "\(self.address)", "error": "\(error)"])
                            self.noteFailure(error)
                            // A queue gone (an SQS endpoint that lost its queues) is made again, at the same URL.
                            if self.creates { _ = try? await self.queueURL() }
                            try? await Task.sleep(for: backoff.next())
                            continue
                        }
                        await handle(messages)
                    }
                }
            }
        }
        return true
    }

    /// Deletes received messages, ten at a time; failures are logged (the messages come back
    /// after their visibility timeout and are handled again, idempotently).
    func delete(_ messages: [SQS.Message], logger: Logger) async {
        guard !messages.isEmpty, let queueURL = try? await queueURL() else { return }
        for start in stride(from: 0, to: messages.count, by: SQSClient.maxBatchEntries) {
            let chunk = messages[start..<min(start + SQSClient.maxBatchEntries, messages.count)]
            let entries = chunk.enumerated().map {
                SQS.DeleteMessageBatchEntry(id: "m\($0.offset)", receiptHandle: $0.element.receiptHandle)
            }
            do {
                let result = try await client.deleteMessageBatch(.init(queueURL: queueURL, entries: entries))
                for failure in result.failed {
                    logger.warning(
                        "could not delete an SQS message; it will be handled again",
                        metadata: ["queue": "\(address)", "code": "\(failure.code)", "error": "\(failure.message ?? "")"])
                }
            } catch {
                logger.warning(
                    "could not delete SQS messages; they will be handled again",
                    metadata: ["queue": "\(address)", "count": "\(chunk.count)", "error": "\(error)"])
            }
        }
    }
}

/// Where a role moves a message it cannot read: a dead-letter queue, with the reason as a
/// message attribute (`baton-reason`) and in the log; without one, the message is left in its
/// queue for SQS's redrive policy (it comes back after its visibility timeout).
struct DeadLetters: Sendable {
    let queue: SQSQueue?
    let logger: Logger

    /// Moves `message` (received from `source`) to the dead-letter queue and deletes it from
    /// `source`; logs the reason either way. Returns whether the message left `source`.
    @discardableResult
    func reject(_ message: SQS.Message, from source: SQSQueue, reason: String, role: String) async -> Bool {
        let metadata: Logger.Metadata = [
            "role": "\(role)", "queue": "\(source.address)", "message_id": "\(message.messageID)", "reason": "\(reason)",
            "bytes": "\(message.body.utf8.count)",
        ]
        guard let queue else {
            logger.error("refused an SQS message; left for the queue's redrive policy (no sqs.deadLetter)", metadata: metadata)
            return false
        }
        do {
            let url = try await queue.queueURL()
            // The body is kept whole; the reason goes as attributes while they fit beside it.
            let fits = message.body.utf8.count + 2048 <= SQSWire.maxMessageBytes
            let attributes: [String: SQS.MessageAttributeValue]? =
                !fits
                ? nil
                : [
                    "baton-reason": .string(String(reason.prefix(1000))), "baton-source": .string(source.address.description),
                    "baton-message-id": .string(message.messageID),
                ]
            _ = try await queue.client.sendMessage(.init(queueURL: url, messageBody: message.body, messageAttributes: attributes))
        } catch {
            var failed = metadata
            failed["error"] = "\(error)"
            logger.error("refused an SQS message but could not move it to the dead-letter queue; it stays", metadata: failed)
            return false
        }
        logger.error(
            "refused an SQS message; moved it to the dead-letter queue",
            metadata: metadata.merging(["dead_letter": "\(queue.address)"]) { $1 })
        await source.delete([message], logger: logger)
        return true
    }
}
