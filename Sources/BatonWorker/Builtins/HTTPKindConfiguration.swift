import BatonCore
import Configuration

/// Settings of the built-in `http` kind.
///
/// Keys read by ``init(reader:)`` — `httpKind.*`, not `http.*`, which is the node's listener;
/// none reloads (the kind is registered with them at start):
/// - `httpKind.allowlist` (`BATON_HTTP_KIND_ALLOWLIST`): comma list of hosts and networks (default empty)
/// - `httpKind.maxResponseBytes` (`BATON_HTTP_KIND_MAX_RESPONSE_BYTES`): 1...64 MiB (default 1 MiB)
/// - `httpKind.timeout` (`BATON_HTTP_KIND_TIMEOUT`): seconds, more than 0, at most 300 (default 30)
/// - `httpKind.maxRedirects` (`BATON_HTTP_KIND_MAX_REDIRECTS`): 0...20 (default 5)
public struct HTTPKindConfiguration: Sendable, Hashable {
    /// Host names and networks the kind may reach although they are not public:
    /// `"localhost"`, `"api.internal"`, `"127.0.0.1/32"`, `"10.0.0.0/8"`, `"::1/128"`.
    /// Empty (the default): public addresses only. See ``AddressPolicy``.
    public var allowlist: [String]
    /// The largest response body a task may ask for; a task's `max_response_bytes` is capped
    /// at it, and is it by default.
    public var maxResponseBytes: Int
    /// A request's time limit when the task names none (`timeout`); at most ``maxTimeout``.
    public var defaultTimeout: Duration
    /// Redirects followed (each checked like the first URL) before the task fails.
    public var maxRedirects: Int

    public static let defaultMaxResponseBytes = 1 << 20
    public static let defaultTimeout: Duration = .seconds(30)
    public static let maxTimeout: Duration = .seconds(300)
    public static let defaultMaxRedirects = 5

    public init(
        allowlist: [String] = [], maxResponseBytes: Int = HTTPKindConfiguration.defaultMaxResponseBytes,
        defaultTimeout: Duration = HTTPKindConfiguration.defaultTimeout,
        maxRedirects: Int = HTTPKindConfiguration.defaultMaxRedirects
    ) {
        self.allowlist = allowlist
        self.maxResponseBytes = maxResponseBytes
        self.defaultTimeout = defaultTimeout
        self.maxRedirects = maxRedirects
    }

    /// The settings keys ``init(reader:)`` reads.
    public static let configKeys = ["httpKind.allowlist", "httpKind.maxResponseBytes", "httpKind.timeout", "httpKind.maxRedirects"]

    /// The configuration from the settings, validated; throws `invalidArgument` naming the
    /// key of a bad value.
    public init(reader: ConfigReader) throws(BatonError) {
        self.init(allowlist: reader.list("httpKind.allowlist") ?? [])
        maxResponseBytes = try reader.int("httpKind.maxResponseBytes", default: maxResponseBytes, range: 1...(64 << 20))
        defaultTimeout = try reader.seconds("httpKind.timeout", default: defaultTimeout, minimum: 0.001)
        maxRedirects = try reader.int("httpKind.maxRedirects", default: maxRedirects, range: 0...20)
        do throws(HTTPKindConfigurationError) { try validate() } catch { throw .invalidArgument("httpKind: \(error.message)") }
    }

    /// Throws if an allowlist entry is neither a host name nor a network, or a limit is out
    /// of range. A kind registered with an invalid configuration fails every task permanently
    /// with this error, so check it at start-up.
    public func validate() throws(HTTPKindConfigurationError) {
        do {
            _ = try AddressPolicy(allowlist: allowlist)
        } catch {
            throw HTTPKindConfigurationError(message: error.description)
        }
        guard maxResponseBytes > 0 else {
            throw HTTPKindConfigurationError(message: "http maxResponseBytes must be positive, got \(maxResponseBytes)")
        }
        guard defaultTimeout > .zero, defaultTimeout <= Self.maxTimeout else {
            throw HTTPKindConfigurationError(message: "http timeout must be more than 0 and at most 300 seconds")
        }
        guard maxRedirects >= 0 else {
            throw HTTPKindConfigurationError(message: "http maxRedirects must not be negative, got \(maxRedirects)")
        }
    }
}

public struct HTTPKindConfigurationError: Error, Sendable, Hashable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}
