import AsyncHTTPClient
import BatonSQS
import BatonTesting
import Foundation
import HTTPTypes
import Hummingbird
import Synchronization
import Testing

/// The client's protocol, retries and error messages against a stand-in SQS on 127.0.0.1
/// that answers what each test scripts (what a real server can't be made to do on demand).
@Suite("SQS client behaviour")
struct ClientBehaviourTests {
    static let credentials = StaticCredentialProvider(
        AWSCredentials(accessKeyID: "AKIDSTANDIN", secretAccessKey: "NEVER-IN-MESSAGES", sessionToken: "TOKEN-NEVER-SHOWN", source: "test"))

    struct Seen: Sendable {
        var target: String
        var contentType: String
        var authorization: String
        var token: String
        var body: String
    }

    /// A stand-in whose `n`-th request (from 1) gets `answer(n)`.
    static func standIn(_ seen: Recorder<Seen>, answer: @escaping @Sendable (Int) -> Response) -> Router<BasicRequestContext> {
        let router = Router()
        router.post("/") { request, _ -> Response in
            let body = try await request.body.collect(upTo: 1 << 20)
            seen.record(
                Seen(
                    target: request.headers[HTTPField.Name("X-Amz-Target")!] ?? "", contentType: request.headers[.contentType] ?? "",
                    authorization: request.headers[.authorization] ?? "",
                    token: request.headers[HTTPField.Name("X-Amz-Security-Token")!] ?? "", body: String(buffer: body)))
            return answer(seen.count)
        }
        return router
    }

    static func answer(_ status: HTTPResponse.Status, _ json: String, headers: HTTPFields = [:]) -> Response {
        var fields = headers
        fields[.contentType] = "application/x-amz-json-1.0"
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(string: json)))
    }

    static func client(port: Int, maxAttempts: Int = 4) throws -> SQSClient {
        try SQSClient(
            configuration: SQSClientConfiguration(
                region: "us-east-1", endpoint: URL(string: "http://127.0.0.1:\(port)"), requestTimeout: .seconds(5),
                maxAttempts: maxAttempts,
                retryBaseDelay: .milliseconds(10), retryMaxDelay: .milliseconds(50)),
            credentials: credentials, environment: [:])
    }

    @Test("JSON 1.0 over POST /, signed for sqs, throttling retried")
    func protocolAndThrottlingRetry() async throws {
        let seen = Recorder<Seen>()
        let router = Self.standIn(seen) { n in
            switch n {
            case 1: Self.answer(.badRequest, #"{"__type":"com.amazonaws.sqs#ThrottlingException","message":"Rate exceeded"}"#)
            case 2: Self.answer(.tooManyRequests, #"{"__type":"RequestThrottled","message":"slow down"}"#)
            default:
                Self.answer(
                    .ok, #"{"MessageId":"m-1","MD5OfMessageBody":"5d41402abc4b2a76b9719d911017c592"}"#)
            }
        }
        try await withStandInServer(router) { port in
            let client = try Self.client(port: port)
            let result = try await client.sendMessage(.init(queueURL: "http://127.0.0.1:\(port)/123/q", messageBody: "hello"))
            #expect(result.messageID == "m-1")
            #expect(seen.count == 3)
            let last = try #require(seen.all.last)
            #expect(last.target == "AmazonSQS.SendMessage")
            #expect(last.contentType == "application/x-amz-json-1.0")
            #expect(last.authorization.hasPrefix("AWS4-HMAC-SHA256 Credential=AKIDSTANDIN/"))
            #expect(last.authorization.contains("/us-east-1/sqs/aws4_request"))
            #expect(last.authorization.contains("SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;x-amz-target"))
            #expect(last.token == "TOKEN-NEVER-SHOWN")
            let body = try JSONSerialization.jsonObject(with: Data(last.body.utf8)) as? [String: String]
            #expect(body == ["QueueUrl": "http://127.0.0.1:\(port)/123/q", "MessageBody": "hello"])
        }
    }

    @Test("5xx is retried a bounded number of times")
    func serverErrorsAreBounded() async throws {
        let seen = Recorder<Seen>()
        let router = Self.standIn(seen) { _ in Self.answer(.serviceUnavailable, #"{"__type":"ServiceUnavailable","message":"try later"}"#) }
        try await withStandInServer(router) { port in
            let client = try Self.client(port: port, maxAttempts: 3)
            do {
                _ = try await client.getQueueAttributes(.init(queueURL: "http://127.0.0.1:\(port)/123/q"))
                Issue.record("a 503 answer succeeded")
            } catch let error as SQSError {
                #expect(error.kind == .serverError)
                #expect(error.attempts == 3)
                #expect(error.code == "ServiceUnavailable")
                #expect(error.description.contains("after 3 attempts"))
            }
            #expect(seen.count == 3)
        }
    }

    @Test("a connection that fails is retried, then reported")
    func connectionErrors() async throws {
        // A port nothing listens on: take a stand-in's port after it stopped.
        let port = try await withStandInServer(Router()) { $0 }
        let client = try Self.client(port: port, maxAttempts: 2)
        do {
            _ = try await client.getQueueURL(.init(queueName: "q"))
            Issue.record("a closed port answered")
        } catch let error as SQSError {
            #expect(error.kind == .transport)
            #expect(error.attempts == 2)
            #expect(error.description.contains("got no answer after 2 attempts"))
        }
    }

    @Test("refused credentials name the key id, never the secret; not retried")
    func refusedCredentials() async throws {
        let seen = Recorder<Seen>()
        let router = Self.standIn(seen) { _ in
            Self.answer(
                .forbidden,
                #"{"__type":"com.amazon.coral.service#InvalidClientTokenId","message":"The security token included in the request is invalid."}"#
            )
        }
        try await withStandInServer(router) { port in
            do {
                _ = try await Self.client(port: port).getQueueURL(.init(queueName: "orders"))
                Issue.record("refused credentials succeeded")
            } catch let error as SQSError {
                #expect(error.kind == .credentialsRefused)
                #expect(error.code == "InvalidClientTokenId")
                #expect(error.accessKeyID == "AKIDSTANDIN")
                let text = error.description
                #expect(text.contains("AWS refused the access key id AKIDSTANDIN"), "\(text)")
                #expect(text.contains("(from test)"))
                #expect(!text.contains("NEVER-IN-MESSAGES") && !text.contains("TOKEN-NEVER-SHOWN"))
                #expect(!String(reflecting: error).contains("NEVER-IN-MESSAGES"))
            }
            #expect(seen.count == 1)
        }
    }

    @Test("a missing queue says which; the query protocol's code is understood too")
    func missingQueue() async throws {
        let seen = Recorder<Seen>()
        let router = Self.standIn(seen) { n in
            n == 1
                ? Self.answer(
                    .badRequest, #"{"__type":"com.amazonaws.sqs#QueueDoesNotExist","message":"The specified queue does not exist."}"#)
                : Self.answer(
                    .badRequest, #"{"message":"gone"}"#,
                    headers: [HTTPField.Name("x-amzn-query-error")!: "AWS.SimpleQueueService.NonExistentQueue;Sender"])
        }
        try await withStandInServer(router) { port in
            let client = try Self.client(port: port)
            do {
                _ = try await client.getQueueURL(.init(queueName: "orders"))
                Issue.record("a missing queue was found")
            } catch let error as SQSError {
                #expect(error.kind == .queueDoesNotExist)
                #expect(error.description.hasPrefix("SQS queue orders does not exist"), "\(error)")
            }
            do {
                try await client.deleteMessage(.init(queueURL: "http://127.0.0.1:\(port)/123/gone", receiptHandle: "r"))
                Issue.record("a missing queue was found")
            } catch let error as SQSError {
                #expect(error.kind == .queueDoesNotExist)
                #expect(error.description.contains("http://127.0.0.1:\(port)/123/gone does not exist"), "\(error)")
            }
        }
    }

    @Test("another error keeps AWS's code and message; a wrong MD5 is caught")
    func otherErrors() async throws {
        let seen = Recorder<Seen>()
        let router = Self.standIn(seen) { n in
            n == 1
                ? Self.answer(
                    .badRequest,
                    #"{"__type":"com.amazonaws.sqs#InvalidParameterValue","message":"Value 99 for MaxNumberOfMessages is invalid"}"#)
                : Self.answer(.ok, #"{"MessageId":"m","MD5OfMessageBody":"00000000000000000000000000000000"}"#)
        }
        try await withStandInServer(router) { port in
            let client = try Self.client(port: port)
            let queue = "http://127.0.0.1:\(port)/123/q"
            do {
                _ = try await client.receiveMessage(.init(queueURL: queue, maxNumberOfMessages: 99))
                Issue.record("an invalid request succeeded")
            } catch let error as SQSError {
                #expect(error.kind == .service)
                #expect(error.code == "InvalidParameterValue")
                #expect(error.operation == "ReceiveMessage")
                #expect(error.description.contains("Value 99 for MaxNumberOfMessages is invalid"))
            }
            do {
                _ = try await client.sendMessage(.init(queueURL: queue, messageBody: "hello"))
                Issue.record("a wrong MD5 was accepted")
            } catch let error as SQSError {
                #expect(error.kind == .invalidResponse)
                #expect(error.code == "MD5Mismatch")
            }
            #expect(seen.count == 2, "neither is retried")
        }
    }

    @Test("no credentials is a clear error, before any request")
    func noCredentials() async throws {
        let directory = try TemporaryDirectory()
        let client = try SQSClient(
            configuration: SQSClientConfiguration(region: "us-east-1", endpoint: URL(string: "http://127.0.0.1:9")),
            environment: TestSupport.isolatedEnvironment(home: directory.path))
        do {
            _ = try await client.getQueueURL(.init(queueName: "q"))
            Issue.record("a call without credentials succeeded")
        } catch let error as SQSError {
            #expect(error.kind == .noCredentials)
            #expect(error.description.contains("no AWS credentials found"))
        }
    }

    @Test("region and endpoint: the URL's, the settings', the environment's")
    func regionAndEndpoint() throws {
        let aws = try SQSClient(
            queue: try SQSQueueAddress("https://sqs.eu-west-1.amazonaws.com/123456789012/orders"),
            configuration: SQSClientConfiguration(region: "us-east-1"), credentials: Self.credentials, environment: [:])
        #expect(aws.region == "eu-west-1")
        #expect(aws.endpoint == URL(string: "https://sqs.eu-west-1.amazonaws.com"))

        let named = try SQSClient(
            queue: try SQSQueueAddress("sqs://orders"), credentials: Self.credentials, environment: ["AWS_REGION": "ap-northeast-1"])
        #expect(named.region == "ap-northeast-1")
        #expect(named.endpoint == URL(string: "https://sqs.ap-northeast-1.amazonaws.com"))

        let local = try SQSClient(
            queue: try SQSQueueAddress("http://127.0.0.1:5000/123456789012/orders"), credentials: Self.credentials, environment: [:])
        #expect(local.region == "us-east-1")
        #expect(local.endpoint == URL(string: "http://127.0.0.1:5000"))

        let directory = try TemporaryDirectory()
        #expect(throws: SQSError.self) {
            try SQSClient(
                queue: try SQSQueueAddress("sqs://orders"), credentials: Self.credentials,
                environment: TestSupport.isolatedEnvironment(home: directory.path))
        }
    }
}
