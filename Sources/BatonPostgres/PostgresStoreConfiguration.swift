import BatonCore
import Configuration
import Foundation

/// How to reach a PostgreSQL store, and how the store behaves.
///
/// Built from a URL: `postgres://user:password@host:port/database?sslmode=disable&schema=baton`
/// (`postgresql://` too), which the `store` setting holds. Keys read by ``init(url:reader:)``
/// (each also a `BATON_*` variable, see docs/cli.md); none reloads:
/// - `postgres.callTimeout` (`BATON_POSTGRES_CALL_TIMEOUT`): seconds, at least 0.1 (default 5)
/// - `postgres.poolSize` (`BATON_POSTGRES_POOL_SIZE`): connections of each query pool, 1...1000 (default 10)
/// - `retry.policy`, `retry.backoff`, `retry.cap`: the default retry policy (``RetryPolicy/init(reader:)``)
public struct PostgresStoreConfiguration: Sendable {
    /// Transport security towards the server (libpq's `sslmode` names).
    public enum SSLMode: String, Sendable, Hashable, CaseIterable {
        case disable
        /// TLS when the server offers it, plain otherwise.
        case prefer
        /// TLS or no connection.
        case require
    }

    public static let defaultPort = 5432
    public static let defaultSchema = "public"
    public static let defaultCallTimeout: Duration = .seconds(5)
    public static let defaultConnectTimeout: Duration = .seconds(5)
    public static let defaultPoolSize = 10

    public var host: String
    public var port: Int
    public var username: String
    /// Never logged.
    public var password: String?
    public var database: String
    public var sslMode: SSLMode
    /// The schema holding Baton's tables; created by the first migration if missing.
    /// Letters, digits and underscores only.
    public var schema: String
    /// Deadline of every store call. While the database is unreachable the client queues
    /// requests; a call that has not finished by then throws `unavailable`.
    public var callTimeout: Duration
    /// Deadline of establishing one connection.
    public var connectTimeout: Duration
    /// The policy for failures of tasks that name none (lease rescue names its own).
    public var defaultRetry: RetryPolicy
    /// Most connections of each of the two query pools, the hot statements' (claims,
    /// completions, plain enqueues, next due times) and everything else's; the listener and
    /// the leader elector each hold one more. Idle connections close after a minute.
    public var poolSize: Int
    /// The session advisory lock whose holder is the leader. `nil`: derived from the schema,
    /// so that stores of different schemas in one database elect leaders independently.
    public var leaderLockKey: Int64?
    /// Reported to the server as `application_name` by every connection of the store.
    public var applicationName: String
    /// A testing aid, off in production: when set, the sessions of both query pools search the
    /// store's schema before `pg_catalog` (`search_path` = `"<schema>", pg_catalog`), so that a
    /// function `"<schema>".now()` created by a test replaces the built-in `now()` in every
    /// statement the store runs. The test then moves the store's clock by hand (leases expire,
    /// backoffs come due) without waiting. Create the function before the store runs its first
    /// statement: the hot pool's sessions keep the `now()` they resolved when they prepared
    /// their statements. Unset (the default), the sessions are set up exactly as without it:
    /// production pays nothing.
    public var schemaClock = false

    public init(
        host: String, port: Int = Self.defaultPort, username: String, password: String? = nil, database: String,
        sslMode: SSLMode = .disable, schema: String = Self.defaultSchema, callTimeout: Duration = Self.defaultCallTimeout,
        connectTimeout: Duration = Self.defaultConnectTimeout, defaultRetry: RetryPolicy = .default,
        poolSize: Int = Self.defaultPoolSize, leaderLockKey: Int64? = nil, applicationName: String = "baton"
    ) {
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.database = database
        self.sslMode = sslMode
        self.schema = schema
        self.callTimeout = callTimeout
        self.connectTimeout = connectTimeout
        self.defaultRetry = defaultRetry
        self.poolSize = poolSize
        self.leaderLockKey = leaderLockKey
        self.applicationName = applicationName
    }

    /// Parses `postgres://user:password@host:port/database?sslmode=…&schema=…`.
    ///
    /// Throws `invalidArgument` naming what is wrong with the URL (without echoing the password).
    public init(url: String, schema: String? = nil) throws(BatonError) {
        guard let components = URLComponents(string: url) else {
            throw .invalidArgument("the PostgreSQL URL is not a valid URL (expected postgres://user:password@host:port/database)")
        }
        guard let scheme = components.scheme?.lowercased(), scheme == "postgres" || scheme == "postgresql" else {
            throw .invalidArgument("the PostgreSQL URL must start with postgres:// or postgresql://")
        }
        guard let host = components.host, !host.isEmpty else {
            throw .invalidArgument("the PostgreSQL URL names no host")
        }
        guard let user = components.user?.removingPercentEncoding, !user.isEmpty else {
            throw .invalidArgument("the PostgreSQL URL names no user (postgres://user:password@host/database)")
        }
        let port = components.port ?? Self.defaultPort
        guard (1...65535).contains(port) else { throw .invalidArgument("the PostgreSQL URL's port \(port) is out of range") }
        var path = components.path
        if path.hasPrefix("/") { path.removeFirst() }
        let database = path.removingPercentEncoding ?? path
        guard !database.isEmpty, !database.contains("/") else {
            throw .invalidArgument("the PostgreSQL URL names no database (postgres://user:password@host/database)")
        }
        self.init(host: host, port: port, username: user, password: components.password?.removingPercentEncoding, database: database)
        for item in components.queryItems ?? [] {
            let value = item.value ?? ""
            switch item.name {
            case "sslmode":
                switch value {
                case "disable", "allow": sslMode = .disable
                case "prefer": sslMode = .prefer
                case "require", "verify-ca", "verify-full": sslMode = .require
                default:
                    throw .invalidArgument("unknown sslmode '\(value)' in the PostgreSQL URL (expected disable, prefer or require)")
                }
            case "schema", "search_path":
                self.schema = value
            case "connect_timeout":
                guard let seconds = Double(value), seconds > 0, seconds.isFinite else {
                    throw .invalidArgument("connect_timeout in the PostgreSQL URL must be a positive number of seconds")
                }
                connectTimeout = .seconds(seconds)
            case "application_name":
                applicationName = value
            default:
                throw .invalidArgument("unknown parameter '\(item.name)' in the PostgreSQL URL")
            }
        }
        if let schema { self.schema = schema }
        try validate()
    }

    /// The settings keys ``init(url:reader:)`` reads.
    public static let configKeys = ["postgres.callTimeout", "postgres.poolSize"] + RetryPolicy.configKeys

    /// The store at `url`, configured from the settings; throws `invalidArgument` naming what
    /// is wrong (never the password).
    public init(url: String, reader: ConfigReader) throws(BatonError) {
        try self.init(url: url)
        defaultRetry = try RetryPolicy(reader: reader)
        callTimeout = try reader.seconds("postgres.callTimeout", default: callTimeout, minimum: 0.1)
        poolSize = try reader.int("postgres.poolSize", default: poolSize, range: 1...1000)
        try validate()
    }

    /// Checks every field; the first problem found is reported, naming the field.
    public func validate() throws(BatonError) {
        try Self.validateSchema(schema)
        guard callTimeout > .zero else { throw .invalidArgument("call timeout must be positive") }
        guard connectTimeout > .zero else { throw .invalidArgument("connect timeout must be positive") }
        guard (1...1000).contains(poolSize) else { throw .invalidArgument("pool size must be between 1 and 1000, got \(poolSize)") }
    }

    /// Schema names are interpolated into SQL (quoted), so only a safe alphabet is accepted.
    public static func validateSchema(_ schema: String) throws(BatonError) {
        guard !schema.isEmpty, schema.utf8.count <= 48 else {
            throw .invalidArgument("schema must be 1 to 48 characters long")
        }
        for byte in schema.utf8 {
            let ok = (byte >= 0x30 && byte <= 0x39) || (byte >= 0x61 && byte <= 0x7A) || byte == UInt8(ascii: "_")
            if !ok { throw .invalidArgument("schema '\(schema)' may contain only lowercase letters, digits and _") }
        }
        if let first = schema.utf8.first, first >= 0x30 && first <= 0x39 {
            throw .invalidArgument("schema '\(schema)' must not start with a digit")
        }
    }

    /// The advisory lock key of the leader election: the configured one, or one derived from
    /// the schema name.
    public var effectiveLeaderLockKey: Int64 {
        leaderLockKey ?? Self.lockKey("baton.leader.\(schema)")
    }

    /// The advisory lock key that serialises migrations of this schema.
    var migrationLockKey: Int64 { Self.lockKey("baton.migrate.\(schema)") }

    /// The advisory lock key that serialises appends to the event log of this schema, so
    /// that its ids grow in commit order.
    var eventLockKey: Int64 { Self.lockKey("baton.events.\(schema)") }

    /// FNV-1a over the text: stable across processes and versions (unlike `hashValue`).
    static func lockKey(_ text: String) -> Int64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        return Int64(bitPattern: hash)
    }

    /// The URL without the password, for logs and messages.
    public var redactedDescription: String {
        "postgres://\(username)@\(host):\(port)/\(database) (schema \(schema))"
    }
}
