import BatonCore
import BatonNode
import Configuration

/// Settings of the scheduler node's HTTP server. Every field has a named default.
///
/// Keys read by ``init(reader:)`` (each also a `BATON_*` variable, see docs/cli.md); those
/// marked **reloads** change on a running server through ``ServerLiveSettings/apply(_:)``:
/// - `http.host` (`BATON_HTTP_HOST`): address to bind (default 127.0.0.1)
/// - `http.port` (`BATON_HTTP_PORT`): 0...65535, 0 takes a free port (default 8080)
/// - `auth.tokens` (`BATON_AUTH_TOKENS`, secret): comma list of `role:token`, roles producer,
///   worker, admin, metrics (default none: no authentication); **reloads**: a new token is accepted
///   and a removed one refused from the next request
/// - `insecure` (`BATON_INSECURE`): serve without tokens on a non-loopback address
/// - `limits.maxArgsBytes` (`BATON_LIMITS_MAX_ARGS_BYTES`): 2...2^30 (default 1 MiB); **reloads**
/// - `limits.maxBodyBytes` (`BATON_LIMITS_MAX_BODY_BYTES`): 1024...2^31 (default 16 MiB); **reloads**
/// - `limits.maxBatch` (`BATON_LIMITS_MAX_BATCH`): 1...1,000,000 (default 10,000); **reloads**
/// - `limits.maxWait` (`BATON_LIMITS_MAX_WAIT`): seconds (default 60); **reloads**
/// - `limits.defaultLease` (`BATON_LIMITS_DEFAULT_LEASE`): seconds, 0.05 up to the max lease
///   (default 30); **reloads**
/// - `tls.cert`, `tls.key` (`BATON_TLS_CERT`, `BATON_TLS_KEY`): PEM files, both or neither
/// - `compat.jobs`, `compat.taskq`, `compat.prefix`: the drop-in APIs of earlier systems
///   (``DropInConfiguration``, docs/compat.md)
public struct ServerConfiguration: Sendable, Hashable {
    public static let defaultHost = "127.0.0.1"
    public static let defaultPort = 8080
    public static let defaultMaxBodyBytes = 16 << 20
    public static let defaultMaxArgsBytes = NodeAPILimits.defaultMaxArgsBytes
    public static let defaultMaxBatch = NodeAPILimits.defaultMaxBatch
    public static let defaultMaxWait = NodeAPILimits.defaultMaxWait
    public static let defaultDefaultLease = NodeAPILimits.defaultDefaultLease
    /// Longest a worker may ask for a lease (`lease_ms`).
    public static let defaultMaxLease = NodeAPILimits.defaultMaxLease

    /// Address to bind; `127.0.0.1` keeps the node on loopback.
    public var host: String
    /// Port to bind; `0` picks a free port (see `makeApplication(onServerRunning:)`).
    public var port: Int
    /// Largest request body accepted; larger bodies get 413 before any decoding.
    public var maxBodyBytes: Int
    /// Largest `args` (and `result`) of one task, in bytes of compact JSON.
    public var maxArgsBytes: Int
    /// Most tasks in one `POST /v1/tasks` batch.
    public var maxBatch: Int
    /// Cap on every long-poll: `wait_ms` of a claim and `timeout` of a wait.
    public var maxWait: Duration
    /// Lease of a claim that names no `lease_ms`.
    public var defaultLease: Duration
    public var maxLease: Duration
    /// Deepest JSON nesting accepted in a request body.
    public var maxJSONDepth: Int
    /// Bearer tokens and their roles. Empty: no authentication (only sensible on loopback).
    public var tokens: [AuthToken]
    /// PEM certificate chain and private key: serve HTTPS when both are set.
    public var tls: TLSFiles?
    /// Serve without tokens on a non-loopback address (``validateExposure()``).
    public var insecure = false
    /// The drop-in APIs of earlier systems this node serves (docs/compat.md).
    public var compat = DropInConfiguration()

    public struct TLSFiles: Sendable, Hashable {
        public var certificatePath: String
        public var privateKeyPath: String
        public init(certificatePath: String, privateKeyPath: String) {
            self.certificatePath = certificatePath
            self.privateKeyPath = privateKeyPath
        }
    }

    public init(
        host: String = ServerConfiguration.defaultHost,
        port: Int = ServerConfiguration.defaultPort,
        maxBodyBytes: Int = ServerConfiguration.defaultMaxBodyBytes,
        maxArgsBytes: Int = ServerConfiguration.defaultMaxArgsBytes,
        maxBatch: Int = ServerConfiguration.defaultMaxBatch,
        maxWait: Duration = ServerConfiguration.defaultMaxWait,
        defaultLease: Duration = ServerConfiguration.defaultDefaultLease,
        maxLease: Duration = ServerConfiguration.defaultMaxLease,
        maxJSONDepth: Int = Limits.defaultMaxJSONDepth,
        tokens: [AuthToken] = [],
        tls: TLSFiles? = nil
    ) {
        self.maxJSONDepth = maxJSONDepth
        self.tokens = tokens
        self.tls = tls
        self.host = host
        self.port = port
        self.maxBodyBytes = maxBodyBytes
        self.maxArgsBytes = maxArgsBytes
        self.maxBatch = maxBatch
        self.maxWait = maxWait
        self.defaultLease = defaultLease
        self.maxLease = maxLease
    }

    /// The limits the node API enforces, from these settings.
    public var limits: NodeAPILimits {
        NodeAPILimits(maxArgsBytes: maxArgsBytes, maxBatch: maxBatch, maxWait: maxWait, defaultLease: defaultLease, maxLease: maxLease)
    }

    /// Checks that every value is usable; the first problem is reported, naming the setting.
    public func validate() throws(BatonError) {
        guard !host.isEmpty else { throw .invalidArgument("server host must not be empty") }
        guard (0...65535).contains(port) else { throw .invalidArgument("server port must be between 0 and 65535, got \(port)") }
        guard maxBodyBytes >= 1024 else { throw .invalidArgument("max body bytes must be at least 1024, got \(maxBodyBytes)") }
        guard maxArgsBytes >= 2 else { throw .invalidArgument("max args bytes must be at least 2, got \(maxArgsBytes)") }
        guard maxBatch >= 1 else { throw .invalidArgument("max batch must be at least 1, got \(maxBatch)") }
        guard maxJSONDepth >= 2 else { throw .invalidArgument("max JSON depth must be at least 2, got \(maxJSONDepth)") }
        guard maxWait >= .zero else { throw .invalidArgument("max wait must not be negative") }
        guard defaultLease > .zero, defaultLease <= maxLease else {
            throw .invalidArgument("default lease must be positive and at most the max lease")
        }
        try compat.validate()
    }
}

extension ServerConfiguration {
    /// The settings keys ``init(reader:)`` reads.
    public static let configKeys = [
        "http.host", "http.port", "auth.tokens", "insecure", "limits.maxArgsBytes", "limits.maxBodyBytes", "limits.maxBatch",
        "limits.maxWait", "limits.defaultLease", "tls.cert", "tls.key", "compat.jobs", "compat.taskq", "compat.prefix",
    ]
    /// Those of ``configKeys`` a running server applies without a restart.
    public static let reloadableKeys: Set<String> = [
        "auth.tokens", "limits.maxArgsBytes", "limits.maxBodyBytes", "limits.maxBatch", "limits.maxWait", "limits.defaultLease",
    ]
    /// Keys whose values are secret: never logged.
    public static let secretKeys: Set<String> = ["auth.tokens"]

    /// The configuration from the settings, validated (``validate()`` and
    /// ``validateExposure()``); throws `invalidArgument` naming the key of a bad value.
    public init(reader: ConfigReader) throws(BatonError) {
        self.init()
        host = reader.text("http.host") ?? Self.defaultHost
        port = try reader.int("http.port", default: Self.defaultPort, range: 0...65535)
        do throws(BatonError) {
            tokens = try AuthToken.parseList(reader.text("auth.tokens", isSecret: true) ?? "")
        } catch {
            throw .invalidArgument("auth.tokens: \(error.message)")
        }
        insecure = try reader.flag("insecure")
        maxArgsBytes = try reader.int("limits.maxArgsBytes", default: Self.defaultMaxArgsBytes, range: 2...(1 << 30))
        maxBodyBytes = try reader.int("limits.maxBodyBytes", default: Self.defaultMaxBodyBytes, range: 1024...(1 << 31))
        maxBatch = try reader.int("limits.maxBatch", default: Self.defaultMaxBatch, range: 1...1_000_000)
        maxWait = try reader.seconds("limits.maxWait", default: Self.defaultMaxWait)
        defaultLease = try reader.seconds("limits.defaultLease", default: Self.defaultDefaultLease, minimum: 0.05)
        compat = DropInConfiguration(
            jobs: try reader.flag("compat.jobs", default: true), taskq: try reader.flag("compat.taskq", default: true),
            prefix: reader.text("compat.prefix") ?? "")
        switch (reader.text("tls.cert"), reader.text("tls.key")) {
        case (nil, nil): tls = nil
        case (let cert?, let key?): tls = TLSFiles(certificatePath: cert, privateKeyPath: key)
        default: throw .invalidArgument("tls.cert and tls.key (--tls-cert, --tls-key) go together")
        }
        try validate()
        try validateExposure()
    }

    /// Whether `host` is a loopback address.
    public var isLoopback: Bool {
        ["127.0.0.1", "::1", "localhost"].contains(host) || host.hasPrefix("127.")
    }

    /// A node on a non-loopback address without tokens refuses to start (and a reload that
    /// removes the last token is refused) unless `insecure` is set.
    public func validateExposure() throws(BatonError) {
        if !isLoopback && tokens.isEmpty && !insecure {
            throw .invalidArgument(
                "refusing to serve on \(host) without tokens: set auth.tokens (BATON_AUTH_TOKENS=role:token,...) or pass --insecure")
        }
    }
}

/// The settings of a running server that a reload changes, each read per request: the tokens
/// (a removed token is refused from the next request), the node API's limits and the body limit.
public final class ServerLiveSettings: Sendable {
    let tokens: LiveSetting<TokenTable>
    let limits: LiveSetting<NodeAPILimits>
    let maxBodyBytes: LiveSetting<Int>

    public init(_ configuration: ServerConfiguration) {
        tokens = LiveSetting(TokenTable(configuration.tokens))
        limits = LiveSetting(configuration.limits)
        maxBodyBytes = LiveSetting(configuration.maxBodyBytes)
    }

    /// Applies the reloadable settings of `configuration` (``ServerConfiguration/reloadableKeys``);
    /// the others (address, TLS) need a restart. Validate `configuration` first.
    public func apply(_ configuration: ServerConfiguration) {
        tokens.set(TokenTable(configuration.tokens))
        limits.set(configuration.limits)
        maxBodyBytes.set(configuration.maxBodyBytes)
    }

    /// The limits in force now.
    public var currentLimits: NodeAPILimits { limits.value }
}
