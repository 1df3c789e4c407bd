import BatonCore
import BatonTesting
import Foundation
import Testing

extension EndToEnd {
    /// A scenario with every kind of secret set — bearer tokens of each role, a TLS key, AWS
    /// credentials in the environment, a Redis password (refused by the test server, which
    /// has none: the node's Redis ingest logs the refusal again and again), a RabbitMQ user and
    /// password (refused likewise), a wrong token
    /// tried — with the most verbose logs, and not one of them in any process's output.
    @Suite(.serialized) struct SecretsCanaryTests {
        @Test func noSecretAppearsInAnyProcesssOutput() async throws {
            let dir = try TempDir()
            let cert = dir.path("cert.pem")
            let key = dir.path("key.pem")
            try TestCertificate.make(certificate: cert, key: key)
            let keyBody = try String(contentsOfFile: key, encoding: .utf8).split(separator: "\n")
                .filter { !$0.hasPrefix("-----") }.prefix(3).map(String.init)
            let canary = String(UInt64.random(in: 1 << 40..<1 << 50), radix: 36)
            let secrets = [
                "admin-\(canary)", "worker-\(canary)", "producer-\(canary)", "wrong-\(canary)", "aws-secret-\(canary)",
                "aws-session-\(canary)", "redis-\(canary)", "amqp-\(canary)",
            ]
            var environment = [
                "BATON_AUTH_TOKENS": "admin:admin-\(canary),worker:worker-\(canary),producer:producer-\(canary)",
                "AWS_ACCESS_KEY_ID": "AKIATESTCANARY", "AWS_SECRET_ACCESS_KEY": "aws-secret-\(canary)",
                "AWS_SESSION_TOKEN": "aws-session-\(canary)", "AWS_REGION": "us-east-1",
            ]
            if let redis = TestServer.redisURL().flatMap(URLComponents.init(string:)), let host = redis.host, let port = redis.port {
                environment["BATON_REDIS_URL"] = "redis://:redis-\(canary)@\(host):\(port)"
                environment["BATON_REDIS_INGEST"] = "baton-test:canary"
                environment["BATON_REDIS_RESULTS"] = "true"
            }
            if let amqp = TestServer.amqpURL().flatMap(URLComponents.init(string:)), let host = amqp.host, let port = amqp.port {
                environment["BATON_AMQP_URL"] = "amqp://baton:amqp-\(canary)@\(host):\(port)/"
                environment["BATON_AMQP_INGEST"] = "baton-test.canary"
            }
            let node = try BatonProcess(
                ["serve", "--db", dir.path("baton.db"), "--port", "0", "--tls-cert", cert, "--tls-key", key, "--log-level", "trace"],
                environment: environment)
            defer { Task { await node.stop() } }
            let url = try await node.url()
            #expect(url.hasPrefix("https://"))
            let worker = try BatonProcess(
                ["worker", "--server", url, "--ca-file", cert, "--token", "worker-\(canary)", "--log-level", "trace"],
                environment: environment)
            defer { Task { await worker.stop() } }

            var outputs: [(String, String)] = []
            let submitted = try await baton(
                [
                    "submit", "echo", "--args", #"{"n":1}"#, "--server", url, "--ca-file", cert, "--token", "producer-\(canary)",
                    "--wait", "--log-level", "trace",
                ], environment: environment)
            #expect(submitted.status == 0, "\(submitted.stderr)")
            #expect(submitted.stdout.hasPrefix("succeeded"))
            outputs.append(("submit", submitted.stdout + submitted.stderr))
            let refused = try await baton(
                ["list", "--server", url, "--ca-file", cert, "--token", "wrong-\(canary)", "--log-level", "trace"],
                environment: environment)
            #expect(refused.status != 0)
            #expect(refused.stderr.contains("token is not valid"), "\(refused.stderr)")
            outputs.append(("list with a wrong token", refused.stdout + refused.stderr))
            let failing = try await baton(
                [
                    "submit", "fail", "--max-attempts", "1", "--server", url, "--ca-file", cert, "--token", "producer-\(canary)",
                    "--wait", "--log-level", "trace",
                ], environment: environment)
            outputs.append(("submit of a failing task", failing.stdout + failing.stderr))

            await worker.stop()
            await node.stop()
            outputs.append(("node", node.stdout + node.stderr))
            outputs.append(("worker", worker.stdout + worker.stderr))
            #expect(node.stderr.count > 200, "the node logged next to nothing; the check would prove little")
            if environment["BATON_REDIS_URL"] != nil {
                #expect(node.stderr.contains("Redis ingest"), "the Redis ingest ran and logged")
            }
            if environment["BATON_AMQP_URL"] != nil {
                #expect(node.stderr.contains("AMQP ingest"), "the AMQP ingest ran and logged")
            }
            for (who, text) in outputs {
                for secret in secrets + keyBody {
                    #expect(!text.contains(secret), "\(who) printed a secret (\(secret.prefix(12))…)")
                }
            }
        }
    }
}
