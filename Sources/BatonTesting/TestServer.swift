import Foundation
import Testing

/// A server the tests need, named by an environment variable that a `scripts/with-*.sh`
/// script exports: without it a test is skipped locally with a printed reason, and fails under
/// `CI=true`, where a missing server is a failure, never a skip.
public enum TestServer {
    /// The value of `variable` for `test`, or `nil` when it is unset or empty: then in CI the
    /// issue is recorded (the test fails), and locally the skip is printed. A test that gets
    /// `nil` returns.
    public static func url(
        _ variable: String, server: String, script: String, for test: String, sourceLocation: SourceLocation = #_sourceLocation
    ) -> String? {
        let environment = ProcessInfo.processInfo.environment
        if let url = environment[variable], !url.isEmpty { return url }
        if environment["CI"] == "true" {
            Issue.record("\(variable) is not set in CI; \(test) needs \(server)", sourceLocation: sourceLocation)
        } else {
            print("\(test): skipped, \(variable) not set (run under \(script))")
        }
        return nil
    }

    /// The SQS endpoint of the tests, moto (`BATON_TEST_SQS_ENDPOINT`, `scripts/with-moto.sh`).
    public static func sqsEndpoint(for test: String = #function, sourceLocation: SourceLocation = #_sourceLocation) -> String? {
        url(
            "BATON_TEST_SQS_ENDPOINT", server: "an SQS endpoint (moto)", script: "scripts/with-moto.sh", for: test,
            sourceLocation: sourceLocation)
    }

    /// The Redis server of the tests (`BATON_TEST_REDIS_URL`, `scripts/with-redis.sh`).
    public static func redisURL(for test: String = #function, sourceLocation: SourceLocation = #_sourceLocation) -> String? {
        url("BATON_TEST_REDIS_URL", server: "Redis", script: "scripts/with-redis.sh", for: test, sourceLocation: sourceLocation)
    }

    /// The RabbitMQ server of the tests (`BATON_TEST_AMQP_URL`, `scripts/with-rabbitmq.sh`).
    public static func amqpURL(for test: String = #function, sourceLocation: SourceLocation = #_sourceLocation) -> String? {
        url("BATON_TEST_AMQP_URL", server: "RabbitMQ", script: "scripts/with-rabbitmq.sh", for: test, sourceLocation: sourceLocation)
    }
}
