import BatonCore
import BatonNode
import BatonSQS
import Configuration
import Foundation
import Logging

/// Where a node and a worker meet SQS: which roles run, on which queues (docs/brokers.md).
///
/// Keys read by ``init(reader:)`` (each also a `BATON_*` variable, see docs/cli.md); all are
/// read at startup (a change needs a restart):
/// - `sqs.endpoint` (`BATON_SQS_ENDPOINT`): the SQS endpoint, e.g. `http://127.0.0.1:5000` for a
///   local server (default: AWS's for the region, or a queue URL's own)
/// - `sqs.region` (`BATON_SQS_REGION`): the AWS region (default: `AWS_REGION`, `AWS_DEFAULT_REGION`,
///   the profile's, or an AWS queue URL's)
/// - `sqs.ingest` (`BATON_SQS_INGEST`): the submissions queue a node consumes (the ingest role)
/// - `sqs.deadLetter` (`BATON_SQS_DEAD_LETTER`): where the ingest and results roles move a
///   message they cannot read, with the reason (default: none, the message stays for the
///   queue's own redrive policy)
/// - `sqs.dispatch` (`BATON_SQS_DISPATCH`): Baton queues whose ready tasks a node sends to SQS
///   work queues, a comma list of `QUEUE=ADDRESS`, e.g. `default=sqs://baton-work` (the
///   dispatch role; workers report on `sqs.results` or over HTTP)
/// - `sqs.results` (`BATON_SQS_RESULTS`): the results queue: a node applies what workers send
///   there (the results role); a worker sends there (unset on a worker: it reports to the
///   node over HTTP, `server`)
/// - `sqs.window` (`BATON_SQS_WINDOW`): most tasks of one Baton queue in flight on SQS at once,
///   1...10000 (default 100)
/// - `sqs.lease` (`BATON_SQS_LEASE`): seconds a dispatched task's lease lasts before its worker's
///   first heartbeat, at least 1 (default 300): the time a message may wait in the work queue
/// - `sqs.work` (`BATON_SQS_WORK`): the work queue a `baton worker` consumes; with
///   `sqs.results` it sends its results there, without it to the node over HTTP
/// - `sqs.control` (`BATON_SQS_CONTROL`): a worker's own control queue, where the node answers
///   its heartbeats with the tasks it must stop (cancelled, rescued, finished); only with
///   `sqs.results` (a worker that reports over HTTP learns that from its heartbeats)
/// - `sqs.stringKinds` (`BATON_SQS_STRING_KINDS`): kinds sent exactly as
///   freundallein/sqs-scheduler's Go worker reads them, a comma list: their arguments must be a
///   flat JSON object of strings (refused on submit otherwise), and their work messages'
///   `params` are a map of strings
/// - `sqs.createQueues` (`BATON_SQS_CREATE_QUEUES`): create the queues this process uses when
///   they do not exist (`CreateQueue`; a `.fifo` name makes a FIFO queue), at startup and
///   again when SQS says one is gone (default false: they must exist)
///
/// Queues are named in any form ``SQSQueueAddress`` accepts.
public struct SQSBrokerConfiguration: Sendable {
    public var endpoint: URL?
    public var region: String?
    /// The submissions queue (ingest role).
    public var ingest: SQSQueueAddress?
    /// Where unreadable messages go; `nil`: they stay for the queue's redrive policy.
    public var deadLetter: SQSQueueAddress?
    /// Baton queue → SQS work queue (dispatch role).
    public var dispatch: [String: SQSQueueAddress]
    /// The results queue (results role on a node; where a worker sends; `nil` on a worker: it
    /// reports over HTTP).
    public var results: SQSQueueAddress?
    /// The dispatch role's window and lease (`sqs.window`, `sqs.lease`).
    public var dispatchSettings: DispatchSettings
    /// The work queue a worker consumes.
    public var work: SQSQueueAddress?
    /// The worker's control queue (with `results`): where the node answers its heartbeats.
    public var control: SQSQueueAddress?
    /// Kinds whose arguments must be a flat object of strings (freundallein/sqs-scheduler's types).
    public var stringKinds: Set<String>
    /// Whether a missing queue is created (`CreateQueue`) rather than waited for.
    public var createQueues: Bool

    public init(
        endpoint: URL? = nil, region: String? = nil, ingest: SQSQueueAddress? = nil, deadLetter: SQSQueueAddress? = nil,
        dispatch: [String: SQSQueueAddress] = [:], results: SQSQueueAddress? = nil,
        dispatchSettings: DispatchSettings = DispatchSettings(), work: SQSQueueAddress? = nil, control: SQSQueueAddress? = nil,
        stringKinds: Set<String> = [],
        createQueues: Bool = false
    ) {
        self.createQueues = createQueues
        self.control = control
        self.stringKinds = stringKinds
        self.endpoint = endpoint
        self.region = region
        self.ingest = ingest
        self.deadLetter = deadLetter
        self.dispatch = dispatch
        self.results = results
        self.dispatchSettings = dispatchSettings
        self.work = work
    }

    /// The settings keys ``init(reader:)`` reads; none reloads.
    public static let configKeys = [
        "sqs.endpoint", "sqs.region", "sqs.ingest", "sqs.deadLetter", "sqs.dispatch", "sqs.results", "sqs.window", "sqs.lease",
        "sqs.work", "sqs.control", "sqs.stringKinds", "sqs.createQueues",
    ]

    /// The configuration from the settings; throws `invalidArgument` naming the key of a bad value.
    public init(reader: ConfigReader) throws(BatonError) {
        self.init()
        if let text = reader.text("sqs.endpoint") {
            guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
                url.host?.isEmpty == false
            else {
                throw .invalidArgument("sqs.endpoint must be an http(s) URL such as http://127.0.0.1:5000, got '\(text)'")
            }
            endpoint = url
        }
        region = reader.text("sqs.region")
        ingest = try Self.address(reader, "sqs.ingest")
        deadLetter = try Self.address(reader, "sqs.deadLetter")
        results = try Self.address(reader, "sqs.results")
        work = try Self.address(reader, "sqs.work")
        control = try Self.address(reader, "sqs.control")
        for (queue, address) in try reader.queueMap("sqs.dispatch", example: "default=sqs://baton-work") {
            dispatch[queue] = try Self.parse(address, key: "sqs.dispatch")
        }
        for kind in reader.list("sqs.stringKinds") ?? [] {
            let name = kind.trimmingCharacters(in: .whitespaces)
            do {
                try NewTask.validateName(name, field: "sqs.stringKinds kind", maxLength: Limits.maxKindLength)
            } catch {
                throw .invalidArgument(error.message)
            }
            stringKinds.insert(name)
        }
        dispatchSettings = try DispatchSettings(reader: reader, prefix: "sqs")
        createQueues = try reader.flag("sqs.createQueues")
        try validate()
    }

    /// Checks that the roles have what they need.
    public func validate() throws(BatonError) {
        try dispatchSettings.validate(prefix: "sqs")
        if control != nil && (work == nil || results == nil) {
            throw .invalidArgument(
                "sqs.control (--sqs-control) is the control queue of a worker that takes its tasks from sqs.work (--sqs-work) and "
                    + "reports to sqs.results (--sqs-results); set both (a worker that reports over HTTP, --server, learns of "
                    + "cancels from its heartbeats)")
        }
    }

    /// Whether a node runs any SQS role.
    public var hasNodeRoles: Bool { ingest != nil || !dispatch.isEmpty || results != nil }

    /// The SQS client settings of these keys.
    public var clientConfiguration: SQSClientConfiguration {
        SQSClientConfiguration(region: region, endpoint: endpoint)
    }

    /// The queue at `address` as these settings use it: a client of ``clientConfiguration``
    /// (a queue URL's endpoint and region win), created when missing if ``createQueues``.
    public func queue(
        _ address: SQSQueueAddress, credentials: (any AWSCredentialProvider)? = nil, logger: Logger
    ) throws -> SQSQueue {
        try SQSQueue(address, configuration: clientConfiguration, credentials: credentials, creates: createQueues, logger: logger)
    }

    private static func address(_ reader: ConfigReader, _ key: String) throws(BatonError) -> SQSQueueAddress? {
        guard let text = reader.text(key) else { return nil }
        return try parse(text, key: key)
    }

    private static func parse(_ text: String, key: String) throws(BatonError) -> SQSQueueAddress {
        do {
            return try SQSQueueAddress(text)
        } catch let error as SQSQueueAddress.ParseError {
            throw .invalidArgument("\(key): \(error.description)")
        } catch {
            throw .invalidArgument("\(key): \(error)")
        }
    }
}
