import BatonSQS
import BatonSQSBroker
import BatonTesting
import Foundation
import Logging
import Synchronization
import Testing

/// moto's server for the broker tests: `scripts/with-moto.sh` exports `BATON_TEST_SQS_ENDPOINT`.
/// Without it a test prints why it is skipped, and under `CI=true` fails.
enum Moto {
    static let environment = ProcessInfo.processInfo.environment
    static let endpoint: URL? = environment["BATON_TEST_SQS_ENDPOINT"].flatMap { $0.isEmpty ? nil : URL(string: $0) }
    static let credentials = StaticCredentialProvider(accessKeyID: "testing", secretAccessKey: "testing")

    /// The client settings for moto, or `nil` (skipped, or an issue under `CI=true`).
    static func configuration(_ test: String = #function, sourceLocation: SourceLocation = #_sourceLocation) -> SQSClientConfiguration? {
        guard let endpoint = TestServer.sqsEndpoint(for: test, sourceLocation: sourceLocation).flatMap(URL.init(string:)) else {
            return nil
        }
        return SQSClientConfiguration(region: "us-east-1", endpoint: endpoint, requestTimeout: .seconds(15))
    }

    static func client(_ configuration: SQSClientConfiguration) throws -> SQSClient {
        try SQSClient(configuration: configuration, credentials: credentials, environment: [:])
    }

    /// A fresh queue of its own (moto slows down with depth: each test keeps its queues shallow).
    static func createQueue(_ prefix: String, _ configuration: SQSClientConfiguration, visibility: Int = 30, fifo: Bool = false)
        async throws -> SQSQueue
    {
        let client = try client(configuration)
        let name = "baton-\(prefix)-" + UUID().uuidString.prefix(8).lowercased() + (fifo ? ".fifo" : "")
        var attributes = ["VisibilityTimeout": "\(visibility)"]
        if fifo { attributes["FifoQueue"] = "true" }
        _ = try await client.createQueue(.init(queueName: name, attributes: attributes))
        return SQSQueue(address: try SQSQueueAddress(queueName: name), client: client)
    }

    /// Messages waiting plus in flight.
    static func depth(_ queue: SQSQueue) async throws -> Int {
        let attributes = try await queue.client.getQueueAttributes(
            .init(
                queueURL: try await queue.queueURL(),
                attributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])
        ).attributes
        return (Int(attributes["ApproximateNumberOfMessages"] ?? "0") ?? 0)
            + (Int(attributes["ApproximateNumberOfMessagesNotVisible"] ?? "0") ?? 0)
    }

    /// Sends bodies ten per call, a few calls at once.
    static func send(_ bodies: [String], to queue: SQSQueue) async throws {
        let url = try await queue.queueURL()
        let chunks = stride(from: 0, to: bodies.count, by: 10).map { Array(bodies[$0..<min($0 + 10, bodies.count)]) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (n, chunk) in chunks.enumerated() {
                if n >= 4 { _ = try await group.next() }
                group.addTask {
                    let entries = chunk.enumerated().map { SQS.SendMessageBatchEntry(id: "e\($0.offset)", messageBody: $0.element) }
                    let result = try await queue.client.sendMessageBatch(.init(queueURL: url, entries: entries))
                    #expect(result.failed.isEmpty)
                }
            }
            try await group.waitForAll()
        }
    }

    /// Receives and deletes everything in `queue` until it stays empty for a poll.
    static func drain(_ queue: SQSQueue, attributes: Bool = true) async throws -> [SQS.Message] {
        let url = try await queue.queueURL()
        var all: [SQS.Message] = []
        while true {
            let got = try await queue.client.receiveMessage(
                .init(queueURL: url, maxNumberOfMessages: 10, waitTimeSeconds: 1, messageAttributeNames: attributes ? ["All"] : nil)
            ).messages
            if got.isEmpty { return all }
            all += got
            _ = try await queue.client.deleteMessageBatch(
                .init(queueURL: url, entries: got.enumerated().map { .init(id: "d\($0.offset)", receiptHandle: $0.element.receiptHandle) }))
        }
    }
}

/// A log handler that keeps every line, for tests that check what was logged.
final class CapturedLogs: Sendable {
    let lines = Mutex<[String]>([])

    func logger(_ label: String = "baton.test.sqs") -> Logger {
        var logger = Logger(label: label) { _ in Handler(sink: self) }
        logger.logLevel = .info
        return logger
    }

    var all: [String] { lines.withLock { $0 } }

    struct Handler: LogHandler {
        let sink: CapturedLogs
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .info

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let merged = metadata.merging(event.metadata ?? [:]) { $1 }
            let text = merged.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
            sink.lines.withLock { $0.append("\(event.level) \(event.message) \(text)") }
        }
    }
}
