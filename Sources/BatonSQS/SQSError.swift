import Foundation

/// An SQS call that failed: what kind of failure, AWS's error code and message, the
/// operation, and the queue.
///
/// Its `description` is a sentence meant for an operator:
/// - a missing queue (`QueueDoesNotExist`, `AWS.SimpleQueueService.NonExistentQueue`) says
///   which queue does not exist;
/// - refused credentials (`InvalidClientTokenId`, `SignatureDoesNotMatch`,
///   `UnrecognizedClientException`, `AccessDenied…`, `ExpiredToken`, HTTP 403) say so and name
///   the access key id (never the secret) and where the key came from;
/// - anything else keeps AWS's code and message.
public struct SQSError: Error, Sendable, CustomStringConvertible {
    /// The kind of failure: an opaque code with static members, compared with `==`.
    public struct Kind: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case queueDoesNotExist, credentialsRefused, noCredentials, throttled, serverError, transport, invalidResponse, service
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// The queue (or its URL) does not exist.
        public static let queueDoesNotExist = Kind(.queueDoesNotExist)
        /// AWS refused the credentials: unknown key, wrong secret, expired token, no permission.
        public static let credentialsRefused = Kind(.credentialsRefused)
        /// No credentials could be found or fetched (``AWSCredentialsError`` in the message).
        public static let noCredentials = Kind(.noCredentials)
        /// Throttled (`ThrottlingException`, `RequestThrottled`, HTTP 429) on every attempt.
        public static let throttled = Kind(.throttled)
        /// HTTP 5xx on every attempt.
        public static let serverError = Kind(.serverError)
        /// No answer: the connection failed or timed out, on every attempt.
        public static let transport = Kind(.transport)
        /// An answer that is not what the protocol promises (undecodable JSON, a wrong MD5).
        public static let invalidResponse = Kind(.invalidResponse)
        /// Any other error AWS answered with (its code and message are kept).
        public static let service = Kind(.service)

        public var description: String { base.rawValue }
    }

    public var kind: Kind
    /// AWS's error code (`QueueDoesNotExist`, `InvalidParameterValue`, …), or Baton's own for
    /// failures with no answer (`Transport`, `NoCredentials`, `InvalidResponse`).
    public var code: String
    public var message: String
    /// The operation, e.g. `SendMessage`.
    public var operation: String
    /// The queue's URL or name, when the call had one.
    public var queue: String?
    /// The HTTP status of the answer, when there was one.
    public var statusCode: Int?
    /// The access key id the request was signed with (for refused credentials).
    public var accessKeyID: String?
    /// Where that key came from (``AWSCredentials/source``).
    public var credentialsSource: String?
    /// Requests made, retries included.
    public var attempts: Int

    public init(
        kind: Kind, code: String, message: String, operation: String, queue: String? = nil, statusCode: Int? = nil,
        accessKeyID: String? = nil, credentialsSource: String? = nil, attempts: Int = 1
    ) {
        self.kind = kind
        self.code = code
        self.message = message
        self.operation = operation
        self.queue = queue
        self.statusCode = statusCode
        self.accessKeyID = accessKeyID
        self.credentialsSource = credentialsSource
        self.attempts = attempts
    }

    public var description: String {
        let status = statusCode.map { ", HTTP \($0)" } ?? ""
        let tries = attempts > 1 ? " after \(attempts) attempts" : ""
        let queuePart = queue.map { " on queue \($0)" } ?? ""
        let detail = message.isEmpty ? "" : ": \(message)"
        switch kind {
        case .queueDoesNotExist:
            return "SQS queue \(queue ?? "(unnamed)") does not exist (\(operation): \(code)\(status))\(detail)"
        case .credentialsRefused:
            let key = accessKeyID.map { "the access key id \($0)" } ?? "the credentials"
            let source = credentialsSource.map { " (from \($0))" } ?? ""
            return "AWS refused \(key)\(source) for SQS \(operation)\(queuePart) (\(code)\(status))\(detail)"
        case .noCredentials:
            return "SQS \(operation)\(queuePart): no AWS credentials\(detail)"
        case .transport:
            return "SQS \(operation)\(queuePart) got no answer\(tries)\(detail)"
        default:
            return "SQS \(operation)\(queuePart) failed\(tries): \(code)\(status)\(detail)"
        }
    }

    // MARK: Classification

    /// Codes meaning the queue does not exist (the JSON protocol's and the query protocol's).
    static let missingQueueCodes: Set<String> = ["QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue", "NonExistentQueue"]
    /// Codes meaning the credentials were refused.
    static let refusedCredentialCodes: Set<String> = [
        "InvalidClientTokenId", "SignatureDoesNotMatch", "UnrecognizedClientException", "IncompleteSignature", "InvalidSecurity",
        "ExpiredToken", "ExpiredTokenException", "MissingAuthenticationToken", "MissingAuthenticationTokenException",
        "InvalidAccessKeyId", "AuthFailure", "NotAuthorized", "RequestExpired",
    ]
    /// Codes meaning "slow down".
    static let throttlingCodes: Set<String> = [
        "ThrottlingException", "Throttling", "RequestThrottled", "RequestThrottledException", "TooManyRequestsException",
        "ProvisionedThroughputExceededException", "SlowDown", "RequestLimitExceeded", "KmsThrottled",
    ]

    /// The kind of an error answer.
    static func kind(code: String, status: Int) -> Kind {
        if missingQueueCodes.contains(code) { return .queueDoesNotExist }
        if refusedCredentialCodes.contains(code) || code.hasPrefix("AccessDenied") { return .credentialsRefused }
        if throttlingCodes.contains(code) || status == 429 { return .throttled }
        if status == 403 { return .credentialsRefused }
        if status >= 500 { return .serverError }
        return .service
    }

    /// Whether another attempt may succeed.
    var isRetryable: Bool {
        kind == .throttled || kind == .serverError || kind == .transport
    }
}
