import BatonCore
import BatonNode
import BatonSQS
import Logging
import ServiceLifecycle

/// The SQS roles a node runs, built from its ``SQSBrokerConfiguration``: the ingest when
/// `sqs.ingest` is set, a dispatch per `sqs.dispatch` mapping, the results role when
/// `sqs.results` is set. Each is a ServiceLifecycle `Service`; put them in the node's group
/// after the completer and dispatcher (they stop first).
public struct SQSBroker: Sendable {
    public let ingest: SQSIngest?
    public let dispatches: [SQSDispatch]
    public let results: SQSResults?
    public let inFlight: DispatchWindow

    /// The roles of `configuration` over `api`'s node; throws when a queue address or the
    /// client settings (region, endpoint, credentials) are refused.
    public init(
        configuration: SQSBrokerConfiguration, api: NodeAPI, credentials: (any AWSCredentialProvider)? = nil, logger: Logger
    ) throws {
        func queue(_ address: SQSQueueAddress) throws -> SQSQueue {
            try configuration.queue(address, credentials: credentials, logger: logger)
        }
        let deadLetter = try configuration.deadLetter.map(queue)
        let inFlight = DispatchWindow()
        self.inFlight = inFlight
        ingest = try configuration.ingest.map { address in
            SQSIngest(api: api, queue: try queue(address), deadLetter: deadLetter, logger: logger)
        }
        dispatches = try configuration.dispatch.sorted { $0.key < $1.key }.map { name, address in
            SQSDispatch(
                node: api.node, queueName: name, queue: try queue(address), inFlight: inFlight,
                window: configuration.dispatchSettings.window,
                lease: configuration.dispatchSettings.lease, stringKinds: configuration.stringKinds, logger: logger)
        }
        if !dispatches.isEmpty {
            // A task leaves the window however its attempt ends on this node.
            inFlight.follow(api.node.events)
        }
        results = try configuration.results.map { address in
            SQSResults(api: api, queue: try queue(address), deadLetter: deadLetter, inFlight: inFlight, logger: logger)
        }
    }

    /// The roles as services: results first (so that it stops last and applies what the
    /// workers still send), then the dispatches, then the ingest.
    public var services: [any Service] {
        var services: [any Service] = []
        if let results { services.append(results) }
        services += dispatches
        if let ingest { services.append(ingest) }
        return services
    }
}
