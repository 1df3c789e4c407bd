import AsyncHTTPClient
import Foundation
import Logging

/// The settings of an ``SQSClient``, each with a default.
public struct SQSClientConfiguration: Sendable {
    /// The region; `nil`: the queue URL's (an AWS URL), else `AWS_REGION`,
    /// `AWS_DEFAULT_REGION` or the profile's `region` (``AWSRegion``), else `us-east-1` when
    /// an endpoint is set (local servers accept any region).
    public var region: String?
    /// The endpoint, e.g. `http://127.0.0.1:5000` for a local server; `nil`: the queue URL's,
    /// else `https://sqs.REGION.amazonaws.com`.
    public var endpoint: URL?
    /// Time limit of one request, besides a long poll's own wait (a `ReceiveMessage` with
    /// `WaitTimeSeconds: 20` has 20 s more).
    public var requestTimeout: Duration
    /// Requests made for one call before giving up on throttling, 5xx answers and connection
    /// failures (1 = no retries).
    public var maxAttempts: Int
    /// The first retry waits up to this long; each next one up to twice as long (full jitter).
    public var retryBaseDelay: Duration
    /// The longest wait between two attempts.
    public var retryMaxDelay: Duration

    public static let defaultRequestTimeout: Duration = .seconds(10)
    public static let defaultMaxAttempts = 4
    public static let defaultRetryBaseDelay: Duration = .milliseconds(100)
    public static let defaultRetryMaxDelay: Duration = .seconds(5)

    public init(
        region: String? = nil, endpoint: URL? = nil, requestTimeout: Duration = defaultRequestTimeout,
        maxAttempts: Int = defaultMaxAttempts,
        retryBaseDelay: Duration = defaultRetryBaseDelay, retryMaxDelay: Duration = defaultRetryMaxDelay
    ) {
        self.region = region
        self.endpoint = endpoint
        self.requestTimeout = requestTimeout
        self.maxAttempts = maxAttempts
        self.retryBaseDelay = retryBaseDelay
        self.retryMaxDelay = retryMaxDelay
    }
}

/// An Amazon SQS client over AsyncHTTPClient, without an AWS SDK: the AWS JSON 1.0 protocol
/// (`POST /`, `Content-Type: application/x-amz-json-1.0`, `X-Amz-Target:
/// AmazonSQS.<Operation>`), signed with SigV4 for the service `sqs`.
///
/// ```swift
/// let address = try SQSQueueAddress("sqs://orders")
/// let sqs = try SQSClient(queue: address)                  // region and credentials from the environment
/// let queueURL = try await sqs.queueURL(for: address)     // GetQueueUrl
/// _ = try await sqs.sendMessage(.init(queueURL: queueURL, messageBody: "hello"))
/// let received = try await sqs.receiveMessage(.init(queueURL: queueURL, maxNumberOfMessages: 10, waitTimeSeconds: 20))
/// ```
///
/// Throttling (`ThrottlingException`, `RequestThrottled`, HTTP 429), 5xx answers and failed
/// connections are retried with exponential backoff and full jitter, up to
/// ``SQSClientConfiguration/maxAttempts`` requests; every failure is an ``SQSError``.
/// Delivery is at least once: a retried `SendMessage` whose first answer was lost may store
/// the message twice.
public struct SQSClient: Sendable {
    /// The most entries one batch call takes.
    public static let maxBatchEntries = 10
    /// The longest long-poll wait SQS allows.
    public static let maxWaitTimeSeconds = 20

    public let region: String
    /// `scheme://host[:port]`; requests go to its `/`.
    public let endpoint: URL
    public let configuration: SQSClientConfiguration
    public let credentials: any AWSCredentialProvider
    let httpClient: HTTPClient
    let logger: Logger
    /// The clock that requests are signed with.
    let now: @Sendable () -> Date

    /// The process-wide HTTP client (never shut down) that SQS clients and the credential
    /// sources use by default. A connection that cannot be made fails at once rather than
    /// being retried until the request's deadline (`HTTPClient.shared`'s way), so that the
    /// client's own retries, with backoff, handle it; one that does not open in 5 s has failed.
    public static let sharedHTTPClient: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.timeout.connect = .seconds(5)
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }()

    /// A client for `configuration`'s region and endpoint (or those the environment gives),
    /// signing with `credentials` (by default the standard chain over `environment`).
    public init(
        configuration: SQSClientConfiguration = SQSClientConfiguration(), credentials: (any AWSCredentialProvider)? = nil,
        environment: [String: String] = ProcessInfo.processInfo.environment, httpClient: HTTPClient = SQSClient.sharedHTTPClient,
        logger: Logger = Logger(label: "baton.sqs"), now: @escaping @Sendable () -> Date = { Date() }
    ) throws {
        let region: String
        if let configured = configuration.region ?? AWSRegion.resolve(environment: environment) {
            region = configured
        } else if configuration.endpoint != nil {
            region = "us-east-1"
        } else {
            throw SQSError(
                kind: .service, code: "NoRegion",
                message:
                    "no AWS region: set AWS_REGION (or AWS_DEFAULT_REGION, or region in the profile of ~/.aws/config) or use a queue URL",
                operation: "configure")
        }
        guard AWSRegion.isValid(region) else {
            throw SQSError(
                kind: .service, code: "InvalidRegion", message: "\"\(region)\" is not an AWS region name", operation: "configure")
        }
        let endpoint = try configuration.endpoint.map(Self.validatedEndpoint) ?? Self.awsEndpoint(region: region)
        self.region = region
        self.endpoint = endpoint
        self.configuration = configuration
        self.credentials = credentials ?? AWSCredentialChain.standard(environment: environment, httpClient: httpClient, logger: logger)
        self.httpClient = httpClient
        self.logger = logger
        self.now = now
    }

    /// A client for the queue `address` names: the endpoint and region of its URL override
    /// `configuration`'s; for `sqs://QUEUE` they come from `configuration` or the environment.
    public init(
        queue address: SQSQueueAddress, configuration: SQSClientConfiguration = SQSClientConfiguration(),
        credentials: (any AWSCredentialProvider)? = nil, environment: [String: String] = ProcessInfo.processInfo.environment,
        httpClient: HTTPClient = SQSClient.sharedHTTPClient, logger: Logger = Logger(label: "baton.sqs")
    ) throws {
        var configuration = configuration
        if let endpoint = address.endpoint { configuration.endpoint = endpoint }
        if let region = address.region { configuration.region = region }
        try self.init(
            configuration: configuration, credentials: credentials, environment: environment, httpClient: httpClient, logger: logger)
    }

    /// AWS's SQS endpoint of `region`: `https://sqs.REGION.amazonaws.com` (`.com.cn` in China).
    public static func awsEndpoint(region: String) -> URL {
        let suffix = region.hasPrefix("cn-") ? "amazonaws.com.cn" : "amazonaws.com"
        return URL(string: "https://sqs.\(region).\(suffix)")!
    }

    static func validatedEndpoint(_ url: URL) throws -> URL {
        guard let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https", let host = url.host, !host.isEmpty else {
            throw SQSError(
                kind: .service, code: "InvalidEndpoint", message: "the endpoint \(url) is not an http(s) URL with a host",
                operation: "configure")
        }
        return url
    }

    /// The URL of the queue `address` names: its own for a queue URL, else `GetQueueUrl`'s
    /// answer for its name (an ``SQSError`` of kind `queueDoesNotExist` when there is none).
    public func queueURL(for address: SQSQueueAddress) async throws -> String {
        if let url = address.queueURL { return url }
        return try await getQueueURL(SQS.GetQueueURLRequest(queueName: address.queueName)).queueURL
    }
}
