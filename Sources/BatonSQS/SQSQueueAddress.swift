import Foundation

/// The one way Baton names an SQS queue. Three forms:
///
/// | form | example | endpoint | region |
/// |---|---|---|---|
/// | an AWS queue URL | `https://sqs.eu-west-1.amazonaws.com/123456789012/orders` | `https://sqs.eu-west-1.amazonaws.com` | from the host (`eu-west-1`) |
/// | any other http(s) queue URL (a local server such as moto or ElasticMQ) | `http://127.0.0.1:5000/123456789012/orders` | `http://127.0.0.1:5000` | the settings or the environment |
/// | a queue name | `sqs://orders` | the settings, else AWS's for the region | the settings or the environment |
///
/// A queue URL is `SCHEME://HOST[:PORT]/ACCOUNT/QUEUE`: exactly two path segments, the
/// account and the queue's name. The AWS hosts recognised are `sqs.REGION.amazonaws.com`
/// (and `.amazonaws.com.cn`), the legacy `REGION.queue.amazonaws.com`, and
/// `queue.amazonaws.com` (`us-east-1`); they must use `https`. The short form `sqs://QUEUE`
/// has no port, path, query or user; its URL is looked up with `GetQueueUrl`
/// (``SQSClient/queueURL(for:)``). A queue name is 1 to 80 letters, digits, `-` and `_`,
/// with `.fifo` at the end for a FIFO queue (within the 80).
///
/// Anything else is refused with a ``ParseError`` that says what was wrong and lists the
/// three forms.
public struct SQSQueueAddress: Sendable, Hashable, CustomStringConvertible {
    /// The queue's name, e.g. `orders`.
    public let queueName: String
    /// The queue's URL, or `nil` for `sqs://QUEUE` (it is looked up).
    public let queueURL: String?
    /// `scheme://host[:port]` of a queue URL, or `nil` for `sqs://QUEUE`.
    public let endpoint: URL?
    /// The region of an AWS queue URL (from its host), else `nil`.
    public let region: String?
    /// The account of a queue URL, else `nil`.
    public let accountID: String?

    /// The accepted forms, for messages.
    public static let forms =
        "https://sqs.REGION.amazonaws.com/ACCOUNT/QUEUE, http(s)://HOST[:PORT]/ACCOUNT/QUEUE (a local server such as moto), or sqs://QUEUE"

    /// Why a text is not a queue address.
    public struct ParseError: Error, Sendable, Hashable, CustomStringConvertible {
        /// The text that was refused (without any user or password it held).
        public let input: String
        public let reason: String

        public var description: String {
            "\"\(input)\" does not name an SQS queue: \(reason). Use \(SQSQueueAddress.forms)"
        }
    }

    /// The address `sqs://name` of a queue name.
    public init(queueName: String) throws {
        guard Self.isValidQueueName(queueName) else {
            throw ParseError(input: "sqs://\(queueName)", reason: Self.queueNameRule)
        }
        self.queueName = queueName
        self.queueURL = nil
        self.endpoint = nil
        self.region = nil
        self.accountID = nil
    }

    /// Parses one of the three forms.
    public init(_ text: String) throws {
        let input = text.trimmed
        func fail(_ reason: String, shown: String? = nil) -> ParseError {
            ParseError(input: shown ?? input, reason: reason)
        }
        guard let components = URLComponents(string: input), let rawScheme = components.scheme else {
            throw fail("it is not a URL")
        }
        if components.user != nil || components.password != nil {
            var safe = components
            safe.user = nil
            safe.password = nil
            throw fail(
                "it holds a user or password; credentials come from the environment, never from the queue's address", shown: safe.string)
        }
        let scheme = rawScheme.lowercased()
        switch scheme {
        case "sqs":
            guard let name = components.host, !name.isEmpty else { throw fail("sqs:// needs a queue name, as in sqs://orders") }
            guard components.port == nil, components.path.isEmpty || components.path == "/", components.query == nil,
                components.fragment == nil
            else {
                throw fail("sqs://QUEUE takes a queue name only (no port, path or query)")
            }
            // URLComponents lower-cases nothing, but take the name as written.
            guard Self.isValidQueueName(name) else { throw fail(Self.queueNameRule) }
            self.queueName = name
            self.queueURL = nil
            self.endpoint = nil
            self.region = nil
            self.accountID = nil

        case "http", "https":
            guard let host = components.host, !host.isEmpty else { throw fail("the URL has no host") }
            guard components.query == nil, components.fragment == nil else { throw fail("a queue URL has no query or fragment") }
            let segments = components.path.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
            guard segments.count == 2, let account = segments.first, let name = segments.last, !account.isEmpty, !name.isEmpty else {
                throw fail("a queue URL's path is /ACCOUNT/QUEUE")
            }
            guard Self.isValidQueueName(String(name)) else { throw fail(Self.queueNameRule) }
            let region = Self.awsRegion(host: host.lowercased())
            if region != nil, scheme != "https" { throw fail("an AWS queue URL uses https") }
            if let region, !AWSRegion.isValid(region) { throw fail("\(region) is not a region name") }
            var base = URLComponents()
            base.scheme = scheme
            base.host = host
            base.port = components.port
            guard let endpoint = base.url else { throw fail("the URL's host is not valid") }
            self.queueName = String(name)
            self.queueURL = base.string! + "/\(account)/\(name)"
            self.endpoint = endpoint
            self.region = region
            self.accountID = String(account)

        default:
            throw fail("the scheme \(rawScheme) is none of https, http and sqs")
        }
    }

    /// The address as text: the queue URL, or `sqs://QUEUE`.
    public var description: String { queueURL ?? "sqs://\(queueName)" }

    /// The region an AWS SQS host names, or `nil` for another host.
    static func awsRegion(host: String) -> String? {
        if host == "queue.amazonaws.com" { return "us-east-1" }
        for suffix in [".amazonaws.com", ".amazonaws.com.cn"] where host.hasSuffix(suffix) {
            let labels = host.dropLast(suffix.count).split(separator: ".", omittingEmptySubsequences: false)
            if labels.count == 2, labels[0] == "sqs" { return String(labels[1]) }
            if labels.count == 2, labels[1] == "queue" { return String(labels[0]) }
        }
        return nil
    }

    static let queueNameRule = "a queue name is 1 to 80 letters, digits, - and _, with .fifo at the end for a FIFO queue"

    /// Whether `name` is a valid SQS queue name.
    public static func isValidQueueName(_ name: String) -> Bool {
        guard !name.isEmpty, name.count <= 80 else { return false }
        let base = name.hasSuffix(".fifo") ? String(name.dropLast(5)) : name
        guard !base.isEmpty else { return false }
        return base.unicodeScalars.allSatisfy { scalar in
            switch scalar {
            case "a"..."z", "A"..."Z", "0"..."9", "-", "_": return true
            default: return false
            }
        }
    }
}
