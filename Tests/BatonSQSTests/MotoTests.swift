import BatonSQS
import Foundation
import Testing

/// The client against a real SQS implementation: moto's server, started by
/// `scripts/with-moto.sh`, which exports `BATON_TEST_SQS_ENDPOINT`. Without it each test
/// prints why it is skipped, and under `CI=true` fails. Each test uses queues of its own,
/// kept shallow (moto slows down with depth).
@Suite("SQS client against moto", .serialized)
struct MotoTests {
    static let endpoint: URL? = TestSupport.environment["BATON_TEST_SQS_ENDPOINT"].flatMap { $0.isEmpty ? nil : URL(string: $0) }
    static let credentials = StaticCredentialProvider(accessKeyID: "testing", secretAccessKey: "testing")

    /// A client for moto, or `nil` (skip, or an issue in CI).
    static func client(_ test: String = #function, sourceLocation: SourceLocation = #_sourceLocation) throws -> SQSClient? {
        guard let endpoint else {
            TestSupport.unavailable(
                test, "BATON_TEST_SQS_ENDPOINT is not set (run under scripts/with-moto.sh)", sourceLocation: sourceLocation)
            return nil
        }
        return try SQSClient(
            configuration: SQSClientConfiguration(region: "us-east-1", endpoint: endpoint, requestTimeout: .seconds(15)),
            credentials: credentials, environment: [:])
    }

    static func queueName(_ prefix: String) -> String {
        "baton-\(prefix)-" + UUID().uuidString.prefix(8).lowercased()
    }

    @Test func createQueueGetQueueURLAndAttributes() async throws {
        guard let sqs = try Self.client() else { return }
        let name = Self.queueName("create")
        let created = try await sqs.createQueue(.init(queueName: name, attributes: ["VisibilityTimeout": "45", "DelaySeconds": "0"]))
        #expect(created.queueURL.hasSuffix("/\(name)"))
        let found = try await sqs.getQueueURL(.init(queueName: name))
        #expect(found.queueURL == created.queueURL)
        // Creating it again with the same attributes gives the same URL.
        #expect(try await sqs.createQueue(.init(queueName: name, attributes: ["VisibilityTimeout": "45"])).queueURL == created.queueURL)

        let attributes = try await sqs.getQueueAttributes(.init(queueURL: created.queueURL)).attributes
        #expect(attributes["VisibilityTimeout"] == "45")
        #expect(attributes["QueueArn"]?.hasSuffix(":\(name)") == true)
        #expect(attributes["ApproximateNumberOfMessages"] == "0")
        let some = try await sqs.getQueueAttributes(.init(queueURL: created.queueURL, attributeNames: ["VisibilityTimeout"])).attributes
        #expect(some == ["VisibilityTimeout": "45"])
    }

    @Test func sendReceiveDeleteRoundTrip() async throws {
        guard let sqs = try Self.client() else { return }
        let queue = try await sqs.createQueue(.init(queueName: Self.queueName("round"))).queueURL
        let body = #"{"kind":"email.send","args":{"to":"ünïcødé@example.com"}}"#
        let sent = try await sqs.sendMessage(
            .init(queueURL: queue, messageBody: body, messageAttributes: ["kind": .string("email.send"), "attempt": .number("1")]))
        #expect(!sent.messageID.isEmpty)

        let received = try await sqs.receiveMessage(
            .init(
                queueURL: queue, maxNumberOfMessages: 10, waitTimeSeconds: 2, messageSystemAttributeNames: ["ApproximateReceiveCount"],
                messageAttributeNames: ["All"]))
        let message = try #require(received.messages.first)
        #expect(received.messages.count == 1)
        #expect(message.messageID == sent.messageID)
        #expect(message.body == body)
        #expect(message.approximateReceiveCount == 1)
        #expect(message.messageAttributes["kind"] == .string("email.send"))
        #expect(message.messageAttributes["attempt"]?.stringValue == "1")

        try await sqs.deleteMessage(.init(queueURL: queue, receiptHandle: message.receiptHandle))
        let attributes = try await sqs.getQueueAttributes(
            .init(queueURL: queue, attributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])
        ).attributes
        #expect(attributes["ApproximateNumberOfMessages"] == "0")
        #expect(attributes["ApproximateNumberOfMessagesNotVisible"] == "0")
        #expect(try await sqs.receiveMessage(.init(queueURL: queue, waitTimeSeconds: 0)).messages.isEmpty)
    }

    @Test func batchSendAndDeleteTenAtATime() async throws {
        guard let sqs = try Self.client() else { return }
        let queue = try await sqs.createQueue(.init(queueName: Self.queueName("batch"))).queueURL
        let entries = (0..<SQSClient.maxBatchEntries).map { SQS.SendMessageBatchEntry(id: "e\($0)", messageBody: "message \($0)") }
        let sent = try await sqs.sendMessageBatch(.init(queueURL: queue, entries: entries))
        #expect(sent.failed.isEmpty)
        #expect(Set(sent.successful.map(\.id)) == Set(entries.map(\.id)))

        var messages: [SQS.Message] = []
        for _ in 0..<10 where messages.count < entries.count {
            messages += try await sqs.receiveMessage(.init(queueURL: queue, maxNumberOfMessages: 10, waitTimeSeconds: 1)).messages
        }
        #expect(Set(messages.map(\.body)) == Set(entries.map(\.messageBody)))

        let deleted = try await sqs.deleteMessageBatch(
            .init(
                queueURL: queue, entries: messages.enumerated().map { .init(id: "d\($0.offset)", receiptHandle: $0.element.receiptHandle) })
        )
        #expect(deleted.failed.isEmpty)
        #expect(deleted.successful.count == entries.count)
        let left = try await sqs.getQueueAttributes(.init(queueURL: queue, attributeNames: ["ApproximateNumberOfMessages"])).attributes
        #expect(left["ApproximateNumberOfMessages"] == "0")
    }

    @Test func longPollReturnsWhenAMessageArrives() async throws {
        guard let sqs = try Self.client() else { return }
        let queue = try await sqs.createQueue(.init(queueName: Self.queueName("poll"))).queueURL
        let clock = ContinuousClock()
        let start = clock.now
        async let polled = sqs.receiveMessage(.init(queueURL: queue, waitTimeSeconds: 15))
        try await Task.sleep(for: .seconds(1))
        _ = try await sqs.sendMessage(.init(queueURL: queue, messageBody: "wake up"))
        let result = try await polled
        let elapsed = clock.now - start
        #expect(result.messages.map(\.body) == ["wake up"])
        #expect(elapsed < .seconds(10), "the long poll answered when the message arrived, not after its 15 s (took \(elapsed))")
        #expect(elapsed >= .seconds(1), "it did wait for the message (took \(elapsed))")
    }

    @Test func visibilityChangesMakeAMessageRedeliverable() async throws {
        guard let sqs = try Self.client() else { return }
        let queue = try await sqs.createQueue(.init(queueName: Self.queueName("vis"), attributes: ["VisibilityTimeout": "60"])).queueURL
        _ = try await sqs.sendMessage(.init(queueURL: queue, messageBody: "lease me"))
        func receive() async throws -> SQS.Message? {
            try await sqs.receiveMessage(
                .init(queueURL: queue, waitTimeSeconds: 0, messageSystemAttributeNames: ["ApproximateReceiveCount"])
            ).messages.first
        }

        let first = try #require(try await receive())
        #expect(first.approximateReceiveCount == 1)
        #expect(try await receive() == nil, "hidden for its 60 s visibility timeout")

        try await sqs.changeMessageVisibility(.init(queueURL: queue, receiptHandle: first.receiptHandle, visibilityTimeout: 0))
        let second = try #require(try await receive(), "visible again at once")
        #expect(second.messageID == first.messageID)
        #expect(second.approximateReceiveCount == 2)

        let batch = try await sqs.changeMessageVisibilityBatch(
            .init(queueURL: queue, entries: [.init(id: "one", receiptHandle: second.receiptHandle, visibilityTimeout: 0)]))
        #expect(batch.successful == ["one"])
        #expect(batch.failed.isEmpty)
        let third = try #require(try await receive())
        #expect(third.approximateReceiveCount == 3)

        // A receive's own VisibilityTimeout: 1 s, then it is back.
        try await sqs.changeMessageVisibility(.init(queueURL: queue, receiptHandle: third.receiptHandle, visibilityTimeout: 1))
        #expect(try await receive() == nil)
        try await Task.sleep(for: .milliseconds(1500))
        let fourth = try #require(try await receive())
        #expect(fourth.approximateReceiveCount == 4)
        try await sqs.deleteMessage(.init(queueURL: queue, receiptHandle: fourth.receiptHandle))
    }

    @Test func aMissingQueueSaysWhichQueue() async throws {
        guard let sqs = try Self.client() else { return }
        let name = Self.queueName("missing")
        do {
            _ = try await sqs.getQueueURL(.init(queueName: name))
            Issue.record("GetQueueUrl found a queue that was never created")
        } catch let error as SQSError {
            #expect(error.kind == .queueDoesNotExist)
            #expect(error.code == "QueueDoesNotExist")
            #expect(error.description.contains("SQS queue \(name) does not exist"), "\(error)")
            #expect(error.attempts == 1, "not retried")
        }
        let url = try #require(Self.endpoint).absoluteString + "/123456789012/\(name)"
        do {
            _ = try await sqs.sendMessage(.init(queueURL: url, messageBody: "x"))
            Issue.record("SendMessage to a missing queue succeeded")
        } catch let error as SQSError {
            #expect(error.kind == .queueDoesNotExist)
            #expect(error.description.contains(url))
        }
    }

    @Test func queueAddressesResolve() async throws {
        guard let sqs = try Self.client(), let endpoint = Self.endpoint else { return }
        let name = Self.queueName("address")
        let created = try await sqs.createQueue(.init(queueName: name)).queueURL

        // sqs://NAME: endpoint from the settings, URL from GetQueueUrl.
        let short = try SQSQueueAddress("sqs://\(name)")
        let viaName = try SQSClient(
            queue: short, configuration: SQSClientConfiguration(endpoint: endpoint), credentials: Self.credentials, environment: [:])
        #expect(try await viaName.queueURL(for: short) == created)

        // The queue's URL: endpoint taken from it, no lookup.
        let full = try SQSQueueAddress(created)
        #expect(full.queueName == name)
        let viaURL = try SQSClient(queue: full, credentials: Self.credentials, environment: [:])
        #expect(viaURL.endpoint.absoluteString == endpoint.absoluteString)
        let url = try await viaURL.queueURL(for: full)
        _ = try await viaURL.sendMessage(.init(queueURL: url, messageBody: "by address"))
        #expect(try await viaName.receiveMessage(.init(queueURL: url, waitTimeSeconds: 1)).messages.map(\.body) == ["by address"])

        // A name that no queue has.
        let missing = try SQSQueueAddress("sqs://\(Self.queueName("nowhere"))")
        await #expect(throws: SQSError.self) { try await viaName.queueURL(for: missing) }
    }
}
