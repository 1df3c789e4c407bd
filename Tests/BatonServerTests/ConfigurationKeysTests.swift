import BatonAMQPBroker
import BatonCore
import BatonNode
import BatonPostgres
import BatonRedisBroker
import BatonSQLite
import BatonSQS
import BatonSQSBroker
import BatonServer
import BatonTesting
import BatonWorker
import Configuration
import Foundation
import SystemPackage
import Testing

/// Every component's settings keys, set through the YAML file and through their `BATON_*`
/// variables, as the CLI composes the providers, and the documented table (docs/cli.md) against
/// the keys the components read. (What a running node and worker do with the reloadable ones
/// is observed by `EndToEnd.ConfigReloadTests`.)
@Suite struct ConfigurationKeysTests {
    /// What each component made of one reader.
    struct Components {
        var node: NodeConfiguration
        var server: ServerConfiguration
        var worker: WorkerConfiguration
        var httpKind: HTTPKindConfiguration
        var sqlite: SQLiteStoreConfiguration
        var postgres: PostgresStoreConfiguration
        var sqs: SQSBrokerConfiguration
        var redis: RedisBrokerConfiguration
        var amqp: AMQPBrokerConfiguration

        init(_ reader: ConfigReader) throws {
            node = try NodeConfiguration(reader: reader)
            server = try ServerConfiguration(reader: reader)
            worker = try WorkerConfiguration(reader: reader)
            httpKind = try HTTPKindConfiguration(reader: reader)
            sqlite = try SQLiteStoreConfiguration(path: "baton.db", reader: reader)
            postgres = try PostgresStoreConfiguration(url: "postgres://baton@db/baton", reader: reader)
            sqs = try SQSBrokerConfiguration(reader: reader)
            redis = try RedisBrokerConfiguration(reader: reader)
            amqp = try AMQPBrokerConfiguration(reader: reader)
        }
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var key: String
        var value: String
        var holds: @Sendable (Components) -> Bool
        var testDescription: String { "\(key)=\(value)" }
    }

    /// One case per key of every component, each with a value other than its default.
    static let cases: [Case] = [
        Case(key: "node.fallbackPoll", value: "0.25") { $0.node.dispatcher.fallbackPoll == .milliseconds(250) },
        Case(key: "node.retention", value: "60") { $0.node.retention == .seconds(60) },
        Case(key: "node.rescueInterval", value: "0.5") { $0.node.rescueInterval == .milliseconds(500) },
        Case(key: "node.cleanInterval", value: "2") { $0.node.cleanInterval == .seconds(2) },
        Case(key: "node.countsInterval", value: "0.5") { $0.node.countsInterval == .milliseconds(500) },
        Case(key: "node.eventWindow", value: "30") { $0.node.eventWindow == .seconds(30) },
        Case(key: "node.metrics", value: "false") { !$0.node.metrics },
        Case(key: "retry.policy", value: "none") { $0.node.defaultRetry == .none && $0.sqlite.defaultRetry == .none },
        Case(key: "retry.backoff", value: "7") {
            $0.node.defaultRetry == .exponential(base: .seconds(7), cap: Defaults.retryCap, jitter: true)
                && $0.postgres.defaultRetry == $0.node.defaultRetry
        },
        Case(key: "retry.cap", value: "90") {
            $0.node.defaultRetry == .exponential(base: Defaults.retryBase, cap: .seconds(90), jitter: true)
        },
        Case(key: "http.host", value: "localhost") { $0.server.host == "localhost" },
        Case(key: "http.port", value: "9191") { $0.server.port == 9191 },
        Case(key: "auth.tokens", value: "admin:a1,worker:w1") {
            $0.server.tokens == [AuthToken(role: .admin, token: "a1"), AuthToken(role: .worker, token: "w1")]
        },
        Case(key: "insecure", value: "true") { $0.server.insecure },
        Case(key: "limits.maxArgsBytes", value: "4096") { $0.server.maxArgsBytes == 4096 && $0.server.limits.maxArgsBytes == 4096 },
        Case(key: "limits.maxBodyBytes", value: "8192") { $0.server.maxBodyBytes == 8192 },
        Case(key: "limits.maxBatch", value: "7") { $0.server.limits.maxBatch == 7 },
        Case(key: "limits.maxWait", value: "3") { $0.server.limits.maxWait == .seconds(3) },
        Case(key: "limits.defaultLease", value: "12") { $0.server.limits.defaultLease == .seconds(12) },
        Case(key: "tls.cert", value: "/tmp/cert.pem") { _ in true },  // with tls.key: see `tlsGoesInPairs`
        Case(key: "tls.key", value: "/tmp/key.pem") { _ in true },
        Case(key: "compat.jobs", value: "false") { !$0.server.compat.jobs && $0.server.compat.taskq },
        Case(key: "compat.taskq", value: "off") { !$0.server.compat.taskq && $0.server.compat.jobs },
        Case(key: "compat.prefix", value: "/compat/{token}") {
            $0.server.compat.prefix == "/compat/{token}" && $0.server.compat.tokenInPath
        },
        Case(key: "worker.concurrency", value: "3") { $0.worker.concurrency == 3 },
        Case(key: "worker.queues", value: "mail,default") { $0.worker.queues == ["mail", "default"] },
        Case(key: "worker.kinds", value: "echo,noop") { $0.worker.kinds == ["echo", "noop"] },
        Case(key: "worker.id", value: "w-7") { $0.worker.id == "w-7" },
        Case(key: "worker.lease", value: "9") { $0.worker.lease == .seconds(9) && $0.worker.heartbeatInterval == .seconds(3) },
        Case(key: "worker.shutdownGrace", value: "4") { $0.worker.shutdownGrace == .seconds(4) },
        Case(key: "worker.faults", value: "email.send=0.5,0.1") {
            $0.worker.faults == FaultInjection(overall: 0.1, perKind: ["email.send": 0.5])
        },
        Case(key: "httpKind.allowlist", value: "localhost,10.0.0.0/8") { $0.httpKind.allowlist == ["localhost", "10.0.0.0/8"] },
        Case(key: "httpKind.maxResponseBytes", value: "1000") { $0.httpKind.maxResponseBytes == 1000 },
        Case(key: "httpKind.timeout", value: "2") { $0.httpKind.defaultTimeout == .seconds(2) },
        Case(key: "httpKind.maxRedirects", value: "0") { $0.httpKind.maxRedirects == 0 },
        Case(key: "sqlite.synchronous", value: "full") { $0.sqlite.synchronous == .full },
        Case(key: "sqlite.busyTimeout", value: "0.75") { $0.sqlite.busyTimeout == .milliseconds(750) },
        Case(key: "postgres.callTimeout", value: "2.5") { $0.postgres.callTimeout == .milliseconds(2500) },
        Case(key: "postgres.poolSize", value: "3") { $0.postgres.poolSize == 3 },
        Case(key: "sqs.endpoint", value: "http://127.0.0.1:5000") { $0.sqs.endpoint?.absoluteString == "http://127.0.0.1:5000" },
        Case(key: "sqs.region", value: "eu-west-1") { $0.sqs.region == "eu-west-1" },
        Case(key: "sqs.ingest", value: "sqs://baton-submit") { $0.sqs.ingest?.queueName == "baton-submit" },
        Case(key: "sqs.deadLetter", value: "http://127.0.0.1:5000/123456789012/dlq") {
            $0.sqs.deadLetter?.queueURL == "http://127.0.0.1:5000/123456789012/dlq"
        },
        Case(key: "sqs.dispatch", value: "default=sqs://work,mail=sqs://mail-work") {
            $0.sqs.dispatch.mapValues(\.queueName) == ["default": "work", "mail": "mail-work"]
        },
        Case(key: "sqs.results", value: "sqs://baton-results") { $0.sqs.results?.queueName == "baton-results" },
        Case(key: "sqs.window", value: "7") { $0.sqs.dispatchSettings.window == 7 },
        Case(key: "sqs.lease", value: "45") { $0.sqs.dispatchSettings.lease == .seconds(45) },
        Case(key: "sqs.work", value: "sqs://baton-work") { $0.sqs.work?.queueName == "baton-work" },
        Case(key: "sqs.control", value: "sqs://baton-control") { $0.sqs.control?.queueName == "baton-control" },
        Case(key: "sqs.stringKinds", value: "export,import") { $0.sqs.stringKinds == ["export", "import"] },
        Case(key: "sqs.createQueues", value: "true") { $0.sqs.createQueues },
        Case(key: "redis.url", value: "redis://:pw@cache.example:6380/2") {
            $0.redis.redis?.host == "cache.example" && $0.redis.redis?.port == 6380 && $0.redis.redis?.database == 2
                && $0.redis.redis?.password == "pw"
        },
        Case(key: "redis.ingest", value: "machinery_tasks, other") { $0.redis.ingest == ["machinery_tasks", "other"] },
        Case(key: "redis.delayed", value: "delayed_tasks") { $0.redis.delayed == "delayed_tasks" },
        Case(key: "redis.deadLetter", value: "dead") { $0.redis.deadLetter == "dead" },
        Case(key: "redis.visibility", value: "5") { $0.redis.visibility == .seconds(5) },
        Case(key: "redis.results", value: "true") { $0.redis.results && $0.redis.hasNodeRoles },
        Case(key: "redis.resultsExpireIn", value: "86400") { $0.redis.resultsExpireIn == .seconds(86400) },
        Case(key: "redis.caFile", value: "/etc/ssl/certs/ca-certificates.crt") {
            $0.redis.redis?.caFile == "/etc/ssl/certs/ca-certificates.crt"
        },
        Case(key: "redis.dispatch", value: "default=baton:work, mail=mail-work") {
            $0.redis.dispatch.map { "\($0.queue)=\($0.key)" } == ["default=baton:work", "mail=mail-work"] && $0.redis.hasNodeRoles
        },
        Case(key: "redis.machineryDispatch", value: "go=machinery_tasks") {
            $0.redis.machineryDispatch.map { "\($0.queue)=\($0.key)" } == ["go=machinery_tasks"] && $0.redis.hasNodeRoles
        },
        Case(key: "redis.window", value: "7") { $0.redis.dispatchSettings.window == 7 },
        Case(key: "redis.lease", value: "45") { $0.redis.dispatchSettings.lease == .seconds(45) },
        Case(key: "redis.work", value: "baton:work") { $0.redis.work == "baton:work" && !$0.redis.hasNodeRoles },
        Case(key: "amqp.url", value: "amqps://app:pw@mq.example/prod") {
            $0.amqp.amqp?.host == "mq.example" && $0.amqp.amqp?.port == 5671 && $0.amqp.amqp?.tls == true
                && $0.amqp.amqp?.password == "pw" && $0.amqp.amqp?.virtualHost == "prod"
        },
        Case(key: "amqp.ingest", value: "machinery_tasks, other") {
            $0.amqp.ingest == ["machinery_tasks", "other"] && $0.amqp.hasNodeRoles
        },
        Case(key: "amqp.caFile", value: "/etc/ssl/certs/ca-certificates.crt") {
            $0.amqp.amqp?.caFile == "/etc/ssl/certs/ca-certificates.crt"
        },
        Case(key: "amqp.dispatch", value: "default=baton.work, mail=mail.work") {
            $0.amqp.dispatch.map { "\($0.queue)=\($0.amqpQueue)" } == ["default=baton.work", "mail=mail.work"] && $0.amqp.hasNodeRoles
        },
        Case(key: "amqp.window", value: "7") { $0.amqp.dispatchSettings.window == 7 },
        Case(key: "amqp.lease", value: "45") { $0.amqp.dispatchSettings.lease == .seconds(45) },
        Case(key: "amqp.work", value: "baton.work") { $0.amqp.work == "baton.work" && !$0.amqp.hasNodeRoles },
        Case(key: "amqp.results", value: "true") { $0.amqp.results && $0.amqp.hasNodeRoles },
        Case(key: "amqp.resultsExpireIn", value: "86400") { $0.amqp.resultsExpireIn == .seconds(86400) },
        Case(key: "amqp.machineryDispatch", value: "default=machinery_work, mail=mail_work") {
            $0.amqp.machineryDispatch.map { "\($0.queue)=\($0.amqpQueue)" } == ["default=machinery_work", "mail=mail_work"]
                && $0.amqp.hasNodeRoles
        },
        Case(key: "amqp.machineryStates", value: "states.here") { $0.amqp.machineryStates == "states.here" },
        Case(key: "amqp.machineryBackend", value: "redis") { $0.amqp.machineryBackend == "redis" },
        Case(key: "amqp.exchange", value: "tasks") { $0.amqp.exchange == "tasks" },
        Case(key: "amqp.exchangeType", value: "topic") { $0.amqp.exchangeType == "topic" },
        Case(key: "amqp.bindingKey", value: "work") { $0.amqp.bindingKey == "work" },
        Case(key: "amqp.prefetch", value: "5") { $0.amqp.prefetch == 5 },
        Case(key: "amqp.deadLetter", value: "dead") { $0.amqp.deadLetter == "dead" },
    ]

    /// The CLI's own keys (`SettingsKeys.cli` in the `baton` target), which no component reads.
    static let cliKeys: Set<String> = [
        "store", "log.level", "log.format", "server", "token", "caFile", "files.root", "config.reloadInterval", "tracing.endpoint",
        "metrics.port", "metrics.host",
    ]

    /// Every key the components read.
    static let componentKeys: Set<String> = Set(
        NodeConfiguration.configKeys + NodeConfiguration.startupKeys + ServerConfiguration.configKeys + WorkerConfiguration.configKeys
            + HTTPKindConfiguration.configKeys + SQLiteStoreConfiguration.configKeys + PostgresStoreConfiguration.configKeys
            + SQSBrokerConfiguration.configKeys + RedisBrokerConfiguration.configKeys + AMQPBrokerConfiguration.configKeys)

    /// `limits.maxBatch` → `BATON_LIMITS_MAX_BATCH`.
    static func variable(_ key: String) -> String { SettingsKeyText.environmentVariable(key) }

    /// A reader as the CLI composes it, over a settings file and environment variables.
    static func reader(yaml: String? = nil, environment: [String: String] = [:]) async throws -> ConfigReader {
        var providers: [any ConfigProvider] = [
            KeyMappingProvider(upstream: EnvironmentVariablesProvider(environmentVariables: environment)) { $0.prepending(["baton"]) }
        ]
        if let yaml {
            let dir = try TempDir()
            let file = dir.path("baton.yaml")
            try yaml.write(toFile: file, atomically: true, encoding: .utf8)
            providers.append(try await FileProvider<YAMLSnapshot>(filePath: FilePath(file)))
        }
        return ConfigReader(providers: providers)
    }

    /// The key as a nested YAML mapping.
    static func yaml(_ key: String, _ value: String) -> String { SettingsKeyText.yaml(key, value) }

    /// The keys whose roles need the server's URL set too.
    static let needRedisURL: Set = [
        "redis.ingest", "redis.delayed", "redis.results", "redis.dispatch", "redis.machineryDispatch", "redis.work",
    ]
    static let needAMQPURL: Set = ["amqp.ingest", "amqp.dispatch", "amqp.work", "amqp.results", "amqp.machineryDispatch"]

    @Test(arguments: cases) func keyThroughYAML(_ c: Case) async throws {
        let components = try Components(try await Self.reader(yaml: Self.yaml(c.key, c.value) + Self.companion(c.key)))
        #expect(c.holds(components))
        #expect(!c.holds(try Components(try await Self.reader())) || c.key.hasPrefix("tls."), "the default differs")
    }

    @Test(arguments: cases) func keyThroughEnvironment(_ c: Case) async throws {
        var environment = [Self.variable(c.key): c.value]
        if c.key == "sqs.dispatch" || c.key == "sqs.work" || c.key == "sqs.control" {
            environment["BATON_SQS_RESULTS"] = "sqs://baton-results"
        }
        if c.key == "sqs.control" { environment["BATON_SQS_WORK"] = "sqs://baton-work" }
        if Self.needRedisURL.contains(c.key) {
            environment["BATON_REDIS_URL"] = "redis://127.0.0.1"
        }
        if c.key == "redis.caFile" { environment["BATON_REDIS_URL"] = "rediss://cache.example" }
        if Self.needAMQPURL.contains(c.key) {
            environment["BATON_AMQP_URL"] = "amqp://127.0.0.1"
        }
        if c.key == "amqp.caFile" { environment["BATON_AMQP_URL"] = "amqps://mq.example" }
        if c.key.hasPrefix("tls.") { environment = ["BATON_TLS_CERT": "/tmp/cert.pem", "BATON_TLS_KEY": "/tmp/key.pem"] }
        let components = try Components(try await Self.reader(environment: environment))
        #expect(c.holds(components))
    }

    /// Keys that only go with another (TLS files in pairs).
    static func companion(_ key: String) -> String {
        switch key {
        case "tls.cert": yaml("tls.key", "/tmp/key.pem").replacingOccurrences(of: "tls:\n", with: "")
        case "tls.key": yaml("tls.cert", "/tmp/cert.pem").replacingOccurrences(of: "tls:\n", with: "")
        // Dispatching and working over SQS need the results queue.
        case "sqs.dispatch", "sqs.work": yaml("sqs.results", "sqs://baton-results").replacingOccurrences(of: "sqs:\n", with: "")
        // A worker's control queue goes with its work and results queues.
        case "sqs.control":
            (yaml("sqs.results", "sqs://baton-results") + yaml("sqs.work", "sqs://baton-work")).replacingOccurrences(of: "sqs:\n", with: "")
        // Taking submissions from Redis needs the server.
        case let key where needRedisURL.contains(key):
            yaml("redis.url", "redis://127.0.0.1").replacingOccurrences(of: "redis:\n", with: "")
        // A CA file is for a TLS server.
        case "redis.caFile": yaml("redis.url", "rediss://cache.example").replacingOccurrences(of: "redis:\n", with: "")
        case let key where needAMQPURL.contains(key):
            yaml("amqp.url", "amqp://127.0.0.1").replacingOccurrences(of: "amqp:\n", with: "")
        case "amqp.caFile": yaml("amqp.url", "amqps://mq.example").replacingOccurrences(of: "amqp:\n", with: "")
        default: ""
        }
    }

    /// The AMQP queues a node reads from and writes to are distinct; an empty exchange is none.
    @Test func amqpQueuesAreDistinct() async throws {
        for (environment, message) in [
            (["BATON_AMQP_INGEST": "a", "BATON_AMQP_DEAD_LETTER": "a"], "amqp.deadLetter (a) is also a queue"),
            (["BATON_AMQP_INGEST": "a,a"], "amqp.ingest names the queue a twice"),
        ] {
            do {
                _ = try Components(try await Self.reader(environment: environment.merging(["BATON_AMQP_URL": "amqp://h"]) { $1 }))
                Issue.record("accepted: \(environment)")
            } catch let error as BatonError {
                #expect(error.message.contains(message), "\(error.message)")
            }
        }
        let none = try Components(try await Self.reader(yaml: "amqp:\n  exchange: ''\n"))
        #expect(none.amqp.exchange == "")
    }

    /// The Redis keys a node reads from and writes to are distinct.
    @Test func redisKeysAreDistinct() async throws {
        for (environment, message) in [
            (["BATON_REDIS_INGEST": "a,b", "BATON_REDIS_DELAYED": "b"], "redis.delayed (b) is also in redis.ingest"),
            (["BATON_REDIS_INGEST": "a", "BATON_REDIS_DEAD_LETTER": "a"], "redis.deadLetter (a) is also a source"),
            (["BATON_REDIS_INGEST": "a,a"], "redis.ingest names the list a twice"),
            (
                ["BATON_REDIS_INGEST": "machinery_tasks", "BATON_REDIS_MACHINERY_DISPATCH": "go=machinery_tasks"],
                "redis.machineryDispatch sends queue go to machinery_tasks, which is already a source"
            ),
            (
                ["BATON_REDIS_DISPATCH": "default=w", "BATON_REDIS_MACHINERY_DISPATCH": "default=m"],
                "redis.machineryDispatch sends queue default, which redis.dispatch or redis.machineryDispatch already sends"
            ),
        ] {
            do {
                _ = try Components(try await Self.reader(environment: environment.merging(["BATON_REDIS_URL": "redis://h"]) { $1 }))
                Issue.record("accepted: \(environment)")
            } catch let error as BatonError {
                #expect(error.message.contains(message), "\(error.message)")
            }
        }
    }

    @Test func tlsGoesInPairs() async throws {
        let both = try Components(try await Self.reader(yaml: "tls:\n  cert: /c.pem\n  key: /k.pem\n"))
        #expect(both.server.tls == .init(certificatePath: "/c.pem", privateKeyPath: "/k.pem"))
        await #expect(throws: BatonError.self) { try Components(try await Self.reader(yaml: "tls:\n  cert: /c.pem\n")) }
    }

    /// The environment wins over the file.
    @Test func environmentWinsOverTheFile() async throws {
        let reader = try await Self.reader(yaml: "limits:\n  maxBatch: 5\n", environment: ["BATON_LIMITS_MAX_BATCH": "9"])
        #expect(try Components(reader).server.maxBatch == 9)
    }

    /// A bad value is refused with its key, whichever provider holds it.
    @Test(arguments: [
        ("limits.maxBatch", "0"), ("node.retention", "-1"), ("worker.concurrency", "many"), ("retry.policy", "sometimes"),
        ("sqlite.synchronous", "off"), ("postgres.poolSize", "0"), ("http.port", "70000"), ("auth.tokens", "root:x"),
        ("limits.defaultLease", "0"), ("insecure", "maybe"), ("httpKind.timeout", "500"),
        ("node.countsInterval", "0.001"), ("node.eventWindow", "0.5"), ("worker.faults", "1.5"), ("sqs.window", "0"),
        ("sqs.ingest", "ftp://queue"), ("sqs.dispatch", "default"), ("sqs.endpoint", "nowhere"), ("compat.jobs", "maybe"),
        ("redis.url", "http://cache"), ("redis.ingest", "a b"), ("redis.delayed", "d"), ("redis.visibility", "0"),
        ("redis.results", "maybe"), ("redis.results", "true"), ("redis.resultsExpireIn", "0"), ("redis.dispatch", "default"),
        ("redis.dispatch", "default=a b"), ("redis.machineryDispatch", "default"), ("redis.machineryDispatch", "default=a b"),
        ("redis.work", "w"), ("redis.window", "0"), ("redis.lease", "0"),
        ("redis.caFile", "/etc/hostname"),
        ("amqp.url", "redis://mq"), ("amqp.ingest", "a"), ("amqp.exchangeType", "round-robin"), ("amqp.prefetch", "0"),
        ("amqp.bindingKey", String(repeating: "k", count: 256)), ("amqp.dispatch", "default"), ("amqp.work", "w"), ("amqp.window", "0"),
        ("amqp.lease", "0"), ("amqp.caFile", "/etc/hostname"), ("amqp.results", "maybe"), ("amqp.results", "true"),
        ("amqp.resultsExpireIn", "0"), ("amqp.resultsExpireIn", "2147484"), ("amqp.machineryDispatch", "default"),
        ("amqp.machineryDispatch", "default=machinery_work"), ("amqp.machineryStates", String(repeating: "s", count: 256)),
        ("amqp.machineryBackend", "sqs"),
        ("compat.prefix", "compat"), ("compat.prefix", "/v1/compat"), ("compat.prefix", "/a/{token}/{token}"), ("compat.prefix", "/a b"),
    ])
    func badValueNamesItsKey(_ key: String, _ value: String) async throws {
        for reader in [try await Self.reader(yaml: Self.yaml(key, value)), try await Self.reader(environment: [Self.variable(key): value])]
        {
            do {
                _ = try Components(reader)
                Issue.record("\(key)=\(value) was accepted")
            } catch let error as BatonError {
                #expect(error.message.contains(key.split(separator: ".").first!), "\(error.message)")
            }
        }
    }

    /// Every case is a key a component reads, and every key a component reads has a case.
    @Test func theTableCoversEveryComponentKey() {
        #expect(Set(Self.cases.map(\.key)) == Self.componentKeys)
    }

    /// docs/cli.md's settings table lists exactly the keys read (by the components and the
    /// CLI), each with its `BATON_*` variable, and marks the reloadable ones.
    @Test func docsTableIsCompleteAndTrue() throws {
        let docs = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("docs/cli.md")
        let text = try String(contentsOf: docs, encoding: .utf8)
        let table = text.components(separatedBy: "| YAML key |")[1].components(separatedBy: "\n\n")[0]
        var documented: Set<String> = []
        var reloadable: Set<String> = []
        for row in table.split(separator: "\n").dropFirst(2) {
            let cells = row.split(separator: "|", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            guard cells.count >= 6 else { continue }
            let keys = cells[1].components(separatedBy: "`").enumerated().filter { $0.offset % 2 == 1 }.map(\.element)
                .filter { !$0.hasSuffix(":") }
            for key in keys {
                documented.insert(key)
                #expect(cells[2].contains(Self.variable(key)), "\(key): its variable \(Self.variable(key)) is documented")
                if cells[5] == "yes" { reloadable.insert(key) }
            }
        }
        #expect(documented == Self.componentKeys.union(Self.cliKeys))
        let expectedReloadable = Set(NodeConfiguration.configKeys + ["log.level"]).union(ServerConfiguration.reloadableKeys)
            .union(WorkerConfiguration.reloadableKeys)
        #expect(reloadable == expectedReloadable)
    }
}
