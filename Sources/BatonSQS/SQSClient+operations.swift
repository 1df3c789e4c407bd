import Crypto
import Foundation

extension SQSClient {
    /// Sends one message; checks the answer's MD5 of the body.
    public func sendMessage(_ request: SQS.SendMessageRequest) async throws -> SQS.SendMessageResult {
        var request = request
        if Self.isFIFO(request.queueURL) {
            request.messageGroupID = request.messageGroupID ?? UUID().uuidString
            request.messageDeduplicationID = request.messageDeduplicationID ?? UUID().uuidString
        }
        let result: SQS.SendMessageResult = try await call("SendMessage", request, queue: request.queueURL)
        try checkMD5(result.md5OfMessageBody, of: request.messageBody, operation: "SendMessage", queue: request.queueURL)
        return result
    }

    /// Sends up to 10 messages in one call. Entries can fail one by one: see `failed`.
    public func sendMessageBatch(_ request: SQS.SendMessageBatchRequest) async throws -> SQS.SendMessageBatchResult {
        var request = request
        if Self.isFIFO(request.queueURL) {
            for i in request.entries.indices {
                request.entries[i].messageGroupID = request.entries[i].messageGroupID ?? UUID().uuidString
                request.entries[i].messageDeduplicationID = request.entries[i].messageDeduplicationID ?? UUID().uuidString
            }
        }
        let result: SQS.SendMessageBatchResult = try await call("SendMessageBatch", request, queue: request.queueURL)
        let bodies = Dictionary(request.entries.map { ($0.id, $0.messageBody) }, uniquingKeysWith: { first, _ in first })
        for entry in result.successful {
            if let body = bodies[entry.id] {
                try checkMD5(entry.md5OfMessageBody, of: body, operation: "SendMessageBatch", queue: request.queueURL)
            }
        }
        return result
    }

    /// Receives up to `maxNumberOfMessages` messages, waiting up to `waitTimeSeconds` for the
    /// first (long polling); the request's time limit is that wait plus
    /// ``SQSClientConfiguration/requestTimeout``. Checks each body's MD5.
    public func receiveMessage(_ request: SQS.ReceiveMessageRequest) async throws -> SQS.ReceiveMessageResult {
        let wait = Duration.seconds(max(0, request.waitTimeSeconds ?? 0))
        let result: SQS.ReceiveMessageResult = try await call("ReceiveMessage", request, queue: request.queueURL, extraTime: wait)
        for message in result.messages {
            try checkMD5(message.md5OfBody, of: message.body, operation: "ReceiveMessage", queue: request.queueURL)
        }
        return result
    }

    /// Deletes a received message (by its receipt handle).
    public func deleteMessage(_ request: SQS.DeleteMessageRequest) async throws {
        let _: SQS.Empty = try await call("DeleteMessage", request, queue: request.queueURL)
    }

    /// Deletes up to 10 received messages in one call. Entries can fail one by one.
    public func deleteMessageBatch(_ request: SQS.DeleteMessageBatchRequest) async throws -> SQS.BatchResult {
        try await call("DeleteMessageBatch", request, queue: request.queueURL)
    }

    /// Sets how long until a received message is visible again (0: at once, for another
    /// receiver); extends a lease, or gives a message back.
    public func changeMessageVisibility(_ request: SQS.ChangeMessageVisibilityRequest) async throws {
        let _: SQS.Empty = try await call("ChangeMessageVisibility", request, queue: request.queueURL)
    }

    /// ``changeMessageVisibility(_:)`` for up to 10 messages in one call.
    public func changeMessageVisibilityBatch(_ request: SQS.ChangeMessageVisibilityBatchRequest) async throws -> SQS.BatchResult {
        try await call("ChangeMessageVisibilityBatch", request, queue: request.queueURL)
    }

    /// The URL of a queue by name.
    public func getQueueURL(_ request: SQS.GetQueueURLRequest) async throws -> SQS.QueueURLResult {
        try await call("GetQueueUrl", request, queue: request.queueName)
    }

    /// Creates a queue, or returns the URL of the existing queue of that name when its
    /// attributes are the same (AWS refuses different ones with `QueueNameExists`).
    public func createQueue(_ request: SQS.CreateQueueRequest) async throws -> SQS.QueueURLResult {
        try await call("CreateQueue", request, queue: request.queueName)
    }

    /// A queue's attributes (`All` by default), e.g. `ApproximateNumberOfMessages`.
    public func getQueueAttributes(_ request: SQS.GetQueueAttributesRequest) async throws -> SQS.GetQueueAttributesResult {
        try await call("GetQueueAttributes", request, queue: request.queueURL)
    }

    /// Whether the queue at `url` is a FIFO queue (its name ends in `.fifo`). Every message sent
    /// to one needs a message group id and, unless the queue deduplicates by content, a
    /// deduplication id: ``sendMessage(_:)`` and ``sendMessageBatch(_:)`` give a message that
    /// has none its own group (Baton orders tasks in the store; one group for all would let a
    /// single consumer at a time receive them) and a fresh deduplication id, made once per call,
    /// so that the client's own retries of a call are not delivered twice.
    public static func isFIFO(_ url: String) -> Bool {
        url.split(separator: "/").last?.hasSuffix(".fifo") == true
    }

    /// Throws when SQS gave an MD5 of `body` that is not its MD5 (a message corrupted on the
    /// way). No MD5 given: nothing to check.
    func checkMD5(_ md5: String?, of body: String, operation: String, queue: String) throws {
        guard let md5 else { return }
        let actual = SigV4Signer.hex(Insecure.MD5.hash(data: Data(body.utf8)))
        guard md5.lowercased() == actual else {
            throw SQSError(
                kind: .invalidResponse, code: "MD5Mismatch",
                message: "the MD5 of the message body is \(actual), SQS answered \(md5): the message was altered on the way",
                operation: operation, queue: queue)
        }
    }
}
