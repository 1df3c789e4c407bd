import Foundation

/// The requests and results of the SQS operations, as the AWS JSON 1.0 protocol carries them
/// (field names as in AWS's API reference: `QueueUrl`, `MessageBody`, …). Optional fields
/// left `nil` are not sent, and AWS's defaults apply.
public enum SQS {}

extension SQS {
    /// A message attribute: `String`, `Number` or `Binary` (and custom `Type.label` forms).
    public struct MessageAttributeValue: Codable, Sendable, Hashable {
        public var dataType: String
        public var stringValue: String?
        public var binaryValue: Data?

        public init(dataType: String, stringValue: String? = nil, binaryValue: Data? = nil) {
            self.dataType = dataType
            self.stringValue = stringValue
            self.binaryValue = binaryValue
        }

        public static func string(_ value: String) -> Self { Self(dataType: "String", stringValue: value) }
        public static func number(_ value: String) -> Self { Self(dataType: "Number", stringValue: value) }
        public static func binary(_ value: Data) -> Self { Self(dataType: "Binary", binaryValue: value) }

        enum CodingKeys: String, CodingKey {
            case dataType = "DataType"
            case stringValue = "StringValue"
            case binaryValue = "BinaryValue"
        }
    }

    // MARK: SendMessage

    public struct SendMessageRequest: Encodable, Sendable {
        public var queueURL: String
        public var messageBody: String
        /// 0 to 900 seconds before the message can be received.
        public var delaySeconds: Int?
        public var messageAttributes: [String: MessageAttributeValue]?
        /// FIFO queues only.
        public var messageDeduplicationID: String?
        /// FIFO queues only.
        public var messageGroupID: String?

        public init(
            queueURL: String, messageBody: String, delaySeconds: Int? = nil, messageAttributes: [String: MessageAttributeValue]? = nil,
            messageDeduplicationID: String? = nil, messageGroupID: String? = nil
        ) {
            self.queueURL = queueURL
            self.messageBody = messageBody
            self.delaySeconds = delaySeconds
            self.messageAttributes = messageAttributes
            self.messageDeduplicationID = messageDeduplicationID
            self.messageGroupID = messageGroupID
        }

        enum CodingKeys: String, CodingKey {
            case queueURL = "QueueUrl"
            case messageBody = "MessageBody"
            case delaySeconds = "DelaySeconds"
            case messageAttributes = "MessageAttributes"
            case messageDeduplicationID = "MessageDeduplicationId"
            case messageGroupID = "MessageGroupId"
        }
    }

    public struct SendMessageResult: Decodable, Sendable, Hashable {
        public var messageID: String
        public var md5OfMessageBody: String?
        public var md5OfMessageAttributes: String?
        /// FIFO queues only.
        public var sequenceNumber: String?

        enum CodingKeys: String, CodingKey {
            case messageID = "MessageId"
            case md5OfMessageBody = "MD5OfMessageBody"
            case md5OfMessageAttributes = "MD5OfMessageAttributes"
            case sequenceNumber = "SequenceNumber"
        }
    }

    // MARK: SendMessageBatch

    public struct SendMessageBatchEntry: Encodable, Sendable {
        /// Unique within the batch; the result names entries by it.
        public var id: String
        public var messageBody: String
        public var delaySeconds: Int?
        public var messageAttributes: [String: MessageAttributeValue]?
        public var messageDeduplicationID: String?
        public var messageGroupID: String?

        public init(
            id: String, messageBody: String, delaySeconds: Int? = nil, messageAttributes: [String: MessageAttributeValue]? = nil,
            messageDeduplicationID: String? = nil, messageGroupID: String? = nil
        ) {
            self.id = id
            self.messageBody = messageBody
            self.delaySeconds = delaySeconds
            self.messageAttributes = messageAttributes
            self.messageDeduplicationID = messageDeduplicationID
            self.messageGroupID = messageGroupID
        }

        enum CodingKeys: String, CodingKey {
            case id = "Id"
            case messageBody = "MessageBody"
            case delaySeconds = "DelaySeconds"
            case messageAttributes = "MessageAttributes"
            case messageDeduplicationID = "MessageDeduplicationId"
            case messageGroupID = "MessageGroupId"
        }
    }

    /// Up to 10 entries (``SQSClient/maxBatchEntries``).
    public struct SendMessageBatchRequest: Encodable, Sendable {
        public var queueURL: String
        public var entries: [SendMessageBatchEntry]

        public init(queueURL: String, entries: [SendMessageBatchEntry]) {
            self.queueURL = queueURL
            self.entries = entries
        }

        enum CodingKeys: String, CodingKey {
            case queueURL = "QueueUrl"
            case entries = "Entries"
        }
    }

    public struct SendMessageBatchResultEntry: Decodable, Sendable, Hashable {
        public var id: String
        public var messageID: String
        public var md5OfMessageBody: String?
        public var md5OfMessageAttributes: String?
        public var sequenceNumber: String?

        enum CodingKeys: String, CodingKey {
            case id = "Id"
            case messageID = "MessageId"
            case md5OfMessageBody = "MD5OfMessageBody"
            case md5OfMessageAttributes = "MD5OfMessageAttributes"
            case sequenceNumber = "SequenceNumber"
        }
    }

    /// An entry of a batch that failed, by itself (the others may have succeeded).
    public struct BatchResultErrorEntry: Decodable, Sendable, Hashable {
        public var id: String
        /// Whether the request was at fault (retrying the same entry will fail again).
        public var senderFault: Bool
        public var code: String
        public var message: String?

        enum CodingKeys: String, CodingKey {
            case id = "Id"
            case senderFault = "SenderFault"
            case code = "Code"
            case message = "Message"
        }
    }

    public struct SendMessageBatchResult: Decodable, Sendable, Hashable {
        public var successful: [SendMessageBatchResultEntry]
        public var failed: [BatchResultErrorEntry]

        enum CodingKeys: String, CodingKey {
            case successful = "Successful"
            case failed = "Failed"
        }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            successful = try container.decodeIfPresent([SendMessageBatchResultEntry].self, forKey: .successful) ?? []
            failed = try container.decodeIfPresent([BatchResultErrorEntry].self, forKey: .failed) ?? []
        }
    }

    // MARK: ReceiveMessage

    public struct ReceiveMessageRequest: Encodable, Sendable {
        public var queueURL: String
        /// 1 to 10 (AWS's default is 1).
        public var maxNumberOfMessages: Int?
        /// Long polling: 0 to 20 seconds to wait for a message to arrive. The call answers as
        /// soon as one does.
        public var waitTimeSeconds: Int?
        /// Seconds the received messages stay hidden from other receivers (0 to 43200).
        public var visibilityTimeout: Int?
        /// System attributes to return, e.g. `ApproximateReceiveCount`, `SentTimestamp`, `All`.
        public var messageSystemAttributeNames: [String]?
        /// The older name of ``messageSystemAttributeNames`` (both are accepted).
        public var attributeNames: [String]?
        /// Message attributes to return (`All`, names, or `prefix.*`).
        public var messageAttributeNames: [String]?
        /// FIFO queues only: retries of a receive with the same id get the same messages.
        public var receiveRequestAttemptID: String?

        public init(
            queueURL: String, maxNumberOfMessages: Int? = nil, waitTimeSeconds: Int? = nil, visibilityTimeout: Int? = nil,
            messageSystemAttributeNames: [String]? = nil, attributeNames: [String]? = nil, messageAttributeNames: [String]? = nil,
            receiveRequestAttemptID: String? = nil
        ) {
            self.queueURL = queueURL
            self.maxNumberOfMessages = maxNumberOfMessages
            self.waitTimeSeconds = waitTimeSeconds
            self.visibilityTimeout = visibilityTimeout
            self.messageSystemAttributeNames = messageSystemAttributeNames
            self.attributeNames = attributeNames
            self.messageAttributeNames = messageAttributeNames
            self.receiveRequestAttemptID = receiveRequestAttemptID
        }

        enum CodingKeys: String, CodingKey {
            case queueURL = "QueueUrl"
            case maxNumberOfMessages = "MaxNumberOfMessages"
            case waitTimeSeconds = "WaitTimeSeconds"
            case visibilityTimeout = "VisibilityTimeout"
            case messageSystemAttributeNames = "MessageSystemAttributeNames"
            case attributeNames = "AttributeNames"
            case messageAttributeNames = "MessageAttributeNames"
            case receiveRequestAttemptID = "ReceiveRequestAttemptId"
        }
    }

    public struct Message: Decodable, Sendable, Hashable {
        public var messageID: String
        /// What deletes the message or changes its visibility (this receipt only).
        public var receiptHandle: String
        public var body: String
        public var md5OfBody: String?
        /// The system attributes asked for (`ApproximateReceiveCount`, `SentTimestamp`, …).
        public var attributes: [String: String]
        public var messageAttributes: [String: MessageAttributeValue]
        public var md5OfMessageAttributes: String?

        /// How many times the message has been received, this time included (when asked for
        /// with `ApproximateReceiveCount`).
        public var approximateReceiveCount: Int? { attributes["ApproximateReceiveCount"].flatMap { Int($0) } }

        enum CodingKeys: String, CodingKey {
            case messageID = "MessageId"
            case receiptHandle = "ReceiptHandle"
            case body = "Body"
            case md5OfBody = "MD5OfBody"
            case attributes = "Attributes"
            case messageAttributes = "MessageAttributes"
            case md5OfMessageAttributes = "MD5OfMessageAttributes"
        }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            messageID = try container.decode(String.self, forKey: .messageID)
            receiptHandle = try container.decode(String.self, forKey: .receiptHandle)
            body = try container.decodeIfPresent(String.self, forKey: .body) ?? ""
            md5OfBody = try container.decodeIfPresent(String.self, forKey: .md5OfBody)
            attributes = try container.decodeIfPresent([String: String].self, forKey: .attributes) ?? [:]
            messageAttributes = try container.decodeIfPresent([String: MessageAttributeValue].self, forKey: .messageAttributes) ?? [:]
            md5OfMessageAttributes = try container.decodeIfPresent(String.self, forKey: .md5OfMessageAttributes)
        }
    }

    public struct ReceiveMessageResult: Decodable, Sendable, Hashable {
        /// The messages received; empty when the wait ended with none.
        public var messages: [Message]

        enum CodingKeys: String, CodingKey {
            case messages = "Messages"
        }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            messages = try container.decodeIfPresent([Message].self, forKey: .messages) ?? []
        }
    }

    // MARK: DeleteMessage, ChangeMessageVisibility

    public struct DeleteMessageRequest: Encodable, Sendable {
        public var queueURL: String
        public var receiptHandle: String

        public init(queueURL: String, receiptHandle: String) {
            self.queueURL = queueURL
            self.receiptHandle = receiptHandle
        }

        enum CodingKeys: String, CodingKey {
            case queueURL = "QueueUrl"
            case receiptHandle = "ReceiptHandle"
        }
    }

    public struct DeleteMessageBatchEntry: Encodable, Sendable {
        public var id: String
        public var receiptHandle: String

        public init(id: String, receiptHandle: String) {
            self.id = id
            self.receiptHandle = receiptHandle
        }

        enum CodingKeys: String, CodingKey {
            case id = "Id"
            case receiptHandle = "ReceiptHandle"
        }
    }

    public struct DeleteMessageBatchRequest: Encodable, Sendable {
        public var queueURL: String
        public var entries: [DeleteMessageBatchEntry]

        public init(queueURL: String, entries: [DeleteMessageBatchEntry]) {
            self.queueURL = queueURL
            self.entries = entries
        }

        enum CodingKeys: String, CodingKey {
            case queueURL = "QueueUrl"
            case entries = "Entries"
        }
    }

    public struct ChangeMessageVisibilityRequest: Encodable, Sendable {
        public var queueURL: String
        public var receiptHandle: String
        /// Seconds from now until the message is visible again (0: at once).
        public var visibilityTimeout: Int

        public init(queueURL: String, receiptHandle: String, visibilityTimeout: Int) {
            self.queueURL = queueURL
            self.receiptHandle = receiptHandle
            self.visibilityTimeout = visibilityTimeout
        }

        enum CodingKeys: String, CodingKey {
            case queueURL = "QueueUrl"
            case receiptHandle = "ReceiptHandle"
            case visibilityTimeout = "VisibilityTimeout"
        }
    }

    public struct ChangeMessageVisibilityBatchEntry: Encodable, Sendable {
        public var id: String
        public var receiptHandle: String
        public var visibilityTimeout: Int

        public init(id: String, receiptHandle: String, visibilityTimeout: Int) {
            self.id = id
            self.receiptHandle = receiptHandle
            self.visibilityTimeout = visibilityTimeout
        }

        enum CodingKeys: String, CodingKey {
            case id = "Id"
            case receiptHandle = "ReceiptHandle"
            case visibilityTimeout = "VisibilityTimeout"
        }
    }

    public struct ChangeMessageVisibilityBatchRequest: Encodable, Sendable {
        public var queueURL: String
        public var entries: [ChangeMessageVisibilityBatchEntry]

        public init(queueURL: String, entries: [ChangeMessageVisibilityBatchEntry]) {
            self.queueURL = queueURL
            self.entries = entries
        }

        enum CodingKeys: String, CodingKey {
            case queueURL = "QueueUrl"
            case entries = "Entries"
        }
    }

    /// The answer of `DeleteMessageBatch` and `ChangeMessageVisibilityBatch`: the ids that
    /// succeeded and the entries that failed.
    public struct BatchResult: Decodable, Sendable, Hashable {
        public var successful: [String]
        public var failed: [BatchResultErrorEntry]

        struct Entry: Decodable {
            var id: String
            enum CodingKeys: String, CodingKey { case id = "Id" }
        }

        enum CodingKeys: String, CodingKey {
            case successful = "Successful"
            case failed = "Failed"
        }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            successful = (try container.decodeIfPresent([Entry].self, forKey: .successful) ?? []).map(\.id)
            failed = try container.decodeIfPresent([BatchResultErrorEntry].self, forKey: .failed) ?? []
        }
    }

    // MARK: Queues

    public struct GetQueueURLRequest: Encodable, Sendable {
        public var queueName: String
        public var queueOwnerAWSAccountID: String?

        public init(queueName: String, queueOwnerAWSAccountID: String? = nil) {
            self.queueName = queueName
            self.queueOwnerAWSAccountID = queueOwnerAWSAccountID
        }

        enum CodingKeys: String, CodingKey {
            case queueName = "QueueName"
            case queueOwnerAWSAccountID = "QueueOwnerAWSAccountId"
        }
    }

    public struct QueueURLResult: Decodable, Sendable, Hashable {
        public var queueURL: String

        enum CodingKeys: String, CodingKey {
            case queueURL = "QueueUrl"
        }
    }

    public struct CreateQueueRequest: Encodable, Sendable {
        public var queueName: String
        /// E.g. `VisibilityTimeout`, `MessageRetentionPeriod`, `ReceiveMessageWaitTimeSeconds`,
        /// `FifoQueue`, `RedrivePolicy` (all values are strings).
        public var attributes: [String: String]?
        public var tags: [String: String]?

        public init(queueName: String, attributes: [String: String]? = nil, tags: [String: String]? = nil) {
            self.queueName = queueName
            self.attributes = attributes
            self.tags = tags
        }

        enum CodingKeys: String, CodingKey {
            case queueName = "QueueName"
            case attributes = "Attributes"
            case tags = "tags"
        }
    }

    public struct GetQueueAttributesRequest: Encodable, Sendable {
        public var queueURL: String
        /// E.g. `All`, `ApproximateNumberOfMessages`, `VisibilityTimeout`, `QueueArn`.
        public var attributeNames: [String]

        public init(queueURL: String, attributeNames: [String] = ["All"]) {
            self.queueURL = queueURL
            self.attributeNames = attributeNames
        }

        enum CodingKeys: String, CodingKey {
            case queueURL = "QueueUrl"
            case attributeNames = "AttributeNames"
        }
    }

    public struct GetQueueAttributesResult: Decodable, Sendable, Hashable {
        public var attributes: [String: String]

        enum CodingKeys: String, CodingKey {
            case attributes = "Attributes"
        }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            attributes = try container.decodeIfPresent([String: String].self, forKey: .attributes) ?? [:]
        }
    }

    /// The empty answer of `DeleteMessage` and `ChangeMessageVisibility`.
    struct Empty: Decodable {}
}
