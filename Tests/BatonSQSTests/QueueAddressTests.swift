import BatonSQS
import Foundation
import Testing

@Suite("SQS queue addresses")
struct QueueAddressTests {
    @Test func awsQueueURL() throws {
        let address = try SQSQueueAddress("https://sqs.eu-west-1.amazonaws.com/123456789012/orders")
        #expect(address.queueName == "orders")
        #expect(address.queueURL == "https://sqs.eu-west-1.amazonaws.com/123456789012/orders")
        #expect(address.endpoint == URL(string: "https://sqs.eu-west-1.amazonaws.com"))
        #expect(address.region == "eu-west-1")
        #expect(address.accountID == "123456789012")
        #expect(address.description == "https://sqs.eu-west-1.amazonaws.com/123456789012/orders")

        #expect(try SQSQueueAddress("https://sqs.cn-north-1.amazonaws.com.cn/123456789012/q").region == "cn-north-1")
        #expect(try SQSQueueAddress("https://us-west-2.queue.amazonaws.com/123456789012/q").region == "us-west-2")
        #expect(try SQSQueueAddress("https://queue.amazonaws.com/123456789012/q").region == "us-east-1")
        #expect(try SQSQueueAddress("https://sqs.us-east-1.amazonaws.com/123456789012/jobs.fifo").queueName == "jobs.fifo")
    }

    @Test func localQueueURL() throws {
        let address = try SQSQueueAddress("http://127.0.0.1:5000/123456789012/orders")
        #expect(address.queueName == "orders")
        #expect(address.endpoint == URL(string: "http://127.0.0.1:5000"))
        #expect(address.region == nil)
        #expect(address.queueURL == "http://127.0.0.1:5000/123456789012/orders")
        #expect(try SQSQueueAddress("http://localhost:9324/000000000000/q_1").endpoint == URL(string: "http://localhost:9324"))
    }

    @Test func shortForm() throws {
        let address = try SQSQueueAddress("sqs://orders")
        #expect(address.queueName == "orders")
        #expect(address.queueURL == nil)
        #expect(address.endpoint == nil)
        #expect(address.region == nil)
        #expect(address.description == "sqs://orders")
        #expect(try SQSQueueAddress("sqs://Orders_2.fifo").queueName == "Orders_2.fifo")
        #expect(try SQSQueueAddress(queueName: "jobs").description == "sqs://jobs")
    }

    @Test(
        "refused with a reason",
        arguments: [
            ("orders", "not a URL"),
            ("ftp://host/123/q", "scheme ftp"),
            ("sqs://", "needs a queue name"),
            ("sqs://orders/extra", "queue name only"),
            ("sqs://orders:80", "queue name only"),
            ("sqs://bad.name", "queue name"),
            ("sqs://" + String(repeating: "a", count: 81), "1 to 80"),
            ("https://sqs.us-east-1.amazonaws.com/orders", "/ACCOUNT/QUEUE"),
            ("https://sqs.us-east-1.amazonaws.com/1/2/3", "/ACCOUNT/QUEUE"),
            ("http://sqs.us-east-1.amazonaws.com/123456789012/orders", "uses https"),
            ("http://127.0.0.1:5000/123/q?x=1", "no query"),
            ("https://user:pw@example.com/123/q", "user or password"),
        ])
    func refused(_ input: String, _ reason: String) {
        do {
            let address = try SQSQueueAddress(input)
            Issue.record("\(input) was accepted as \(address)")
        } catch let error as SQSQueueAddress.ParseError {
            #expect(error.description.contains(reason), "\(error)")
            #expect(error.description.contains("sqs://QUEUE"), "the message lists the accepted forms")
            #expect(!error.description.contains("pw@"), "a password is never echoed")
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }
}
