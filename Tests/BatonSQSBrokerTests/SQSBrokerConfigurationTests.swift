import BatonCore
import BatonNode
import BatonSQS
import BatonSQSBroker
import Configuration
import Testing

/// The roles' settings (each key's own case is in `ConfigurationKeysTests`).
@Suite struct SQSBrokerConfigurationTests {
    static func reader(_ values: [String: String]) -> ConfigReader {
        var map: [AbsoluteConfigKey: ConfigValue] = [:]
        for (key, value) in values {
            map[AbsoluteConfigKey(key.split(separator: ".").map(String.init))] = ConfigValue(.string(value), isSecret: false)
        }
        return ConfigReader(providers: [InMemoryProvider(values: map)])
    }

    @Test func noSettingsNoRoles() throws {
        let configuration = try SQSBrokerConfiguration(reader: Self.reader([:]))
        #expect(!configuration.hasNodeRoles && configuration.work == nil)
        #expect(configuration.dispatchSettings == DispatchSettings(window: 100, lease: .seconds(300)))
    }

    @Test func aNodeWithEveryRole() throws {
        let configuration = try SQSBrokerConfiguration(
            reader: Self.reader([
                "sqs.ingest": "https://sqs.eu-west-1.amazonaws.com/123456789012/submit",
                "sqs.dispatch": "default=sqs://work, mail = sqs://mail-work", "sqs.results": "sqs://results",
                "sqs.deadLetter": "sqs://dead",
            ]))
        #expect(configuration.hasNodeRoles)
        #expect(configuration.ingest?.region == "eu-west-1")
        #expect(configuration.dispatch.mapValues(\.queueName) == ["default": "work", "mail": "mail-work"])
        #expect(configuration.deadLetter?.queueName == "dead")
    }

    /// Without `sqs.results` a worker reports over HTTP, and a node's SQS workers must.
    @Test func workAndDispatchWithoutAResultsQueue() throws {
        let worker = try SQSBrokerConfiguration(reader: Self.reader(["sqs.work": "sqs://work"]))
        #expect(worker.work?.queueName == "work" && worker.results == nil)
        let node = try SQSBrokerConfiguration(
            reader: Self.reader(["sqs.dispatch": "default=sqs://work", "sqs.stringKinds": "export, import"]))
        #expect(node.hasNodeRoles && node.results == nil && node.stringKinds == ["export", "import"])
    }

    /// A worker that reports over SQS with its own control queue.
    @Test func aWorkerWithAControlQueue() throws {
        let worker = try SQSBrokerConfiguration(
            reader: Self.reader([
                "sqs.work": "sqs://work", "sqs.results": "sqs://results", "sqs.control": "http://127.0.0.1:5000/123456789012/control",
            ]))
        #expect(worker.control?.queueURL == "http://127.0.0.1:5000/123456789012/control")
    }

    @Test(arguments: [
        (["sqs.stringKinds": "export,bad kind"], "sqs.stringKinds kind"),
        (["sqs.dispatch": "default=sqs://a,default=sqs://b", "sqs.results": "sqs://r"], "twice"),
        (["sqs.dispatch": "bad queue=sqs://a", "sqs.results": "sqs://r"], "may contain only"),
        (["sqs.results": "sqs://has space"], "sqs.results"),
        (["sqs.lease": "0.5"], "sqs.lease"),
        // A control queue only for a worker that reports over SQS.
        (["sqs.control": "sqs://control", "sqs.work": "sqs://work"], "sqs.control (--sqs-control)"),
        (["sqs.control": "sqs://control", "sqs.results": "sqs://results"], "sqs.work"),
        (["sqs.control": "sqs://bad control", "sqs.work": "sqs://w", "sqs.results": "sqs://r"], "sqs.control"),
    ])
    func refusedSettingsSayWhy(_ values: [String: String], _ reason: String) {
        do {
            _ = try SQSBrokerConfiguration(reader: Self.reader(values))
            Issue.record("\(values) was accepted")
        } catch {
            #expect(error.message.contains(reason), "\(error.message)")
        }
    }
}
