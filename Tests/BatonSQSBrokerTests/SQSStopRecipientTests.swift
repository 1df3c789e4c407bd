import BatonSQS
import BatonSQSBroker
import Foundation
import Testing

/// Where a node sends the stop messages a heartbeat's `reply_to` asks for: only to a queue its
/// results queue's client serves (no SQS needed).
@Suite struct SQSStopRecipientTests {
    static func client(endpoint: String? = nil, region: String? = nil) throws -> SQSClient {
        try SQSClient(
            configuration: SQSClientConfiguration(region: region, endpoint: endpoint.map { URL(string: $0)! }),
            credentials: StaticCredentialProvider(accessKeyID: "testing", secretAccessKey: "testing"), environment: [:])
    }

    @Test func aLocalEndpointServesOnlyItsOwnQueues() throws {
        let local = try Self.client(endpoint: "http://127.0.0.1:5000")
        #expect(SQSResults.sameService("http://127.0.0.1:5000/123456789012/control", as: local))
        #expect(SQSResults.sameService("HTTP://127.0.0.1:5000/123456789012/control", as: local))
        #expect(!SQSResults.sameService("http://127.0.0.1:5001/123456789012/control", as: local))
        #expect(!SQSResults.sameService("http://169.254.169.254:5000/123456789012/control", as: local))
        #expect(!SQSResults.sameService("https://127.0.0.1:5000/123456789012/control", as: local))
        #expect(!SQSResults.sameService("sqs://control", as: local))
        #expect(!SQSResults.sameService("not a url", as: local))
    }

    @Test func anAWSRegionServesItsQueuesInEitherForm() throws {
        let aws = try Self.client(region: "eu-west-1")
        #expect(SQSResults.sameService("https://sqs.eu-west-1.amazonaws.com/123456789012/control", as: aws))
        #expect(SQSResults.sameService("https://eu-west-1.queue.amazonaws.com/123456789012/control", as: aws))
        #expect(!SQSResults.sameService("https://sqs.us-east-1.amazonaws.com/123456789012/control", as: aws))
        #expect(!SQSResults.sameService("https://example.com/123456789012/control", as: aws))
    }
}
