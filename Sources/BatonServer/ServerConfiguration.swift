import BatonCore
import BatonNode

/// Settings of the scheduler node's HTTP server. Every field has a named default.
///
/// Keys (as the CLI reads them): `server.host`, `server.port`, `server.max_body_bytes`,
/// `server.max_args_bytes`, `server.max_batch`, `server.max_wait`, `server.default_lease`;
/// `auth.tokens`, `tls.cert`, `tls.key`.
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
    }
}
