import BatonCore
import Foundation

/// Where a Redis server is and how to talk to it, from a URL of the form Redis's own tools
/// take:
///
///     redis://[[USER]:PASSWORD@]HOST[:PORT][/DATABASE]
///     rediss://…   (TLS)
///
/// The port defaults to 6379, the database to 0, the user to `default` (Redis's ACL user of a
/// bare `requirepass`). A user or password with reserved characters is percent-encoded in the
/// URL. ``description`` shows the URL with the password replaced by `***`.
public struct RedisConfiguration: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var username: String?
    public var password: String?
    public var database: Int
    /// TLS (`rediss://`), verified against the system's trust store, or `caFile` when set.
    public var tls: Bool
    public var caFile: String?
    public var connectTimeout: Duration
    /// How long a command waits for its reply (a blocking command's own timeout comes on top).
    public var commandTimeout: Duration

    public init(
        host: String, port: Int = 6379, username: String? = nil, password: String? = nil, database: Int = 0, tls: Bool = false,
        caFile: String? = nil, connectTimeout: Duration = .seconds(5), commandTimeout: Duration = .seconds(5)
    ) {
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.database = database
        self.tls = tls
        self.caFile = caFile
        self.connectTimeout = connectTimeout
        self.commandTimeout = commandTimeout
    }

    /// Reads a `redis://` or `rediss://` URL; the error names what is wrong, never the password.
    public init(url text: String) throws(RedisError) {
        guard let url = URLComponents(string: text), let scheme = url.scheme?.lowercased() else {
            throw RedisError(.invalidArgument, "'\(ConnectionFailureText.redactedURL(text))' is not a URL (redis://HOST:PORT/DATABASE)")
        }
        guard scheme == "redis" || scheme == "rediss" else {
            throw RedisError(.invalidArgument, "a Redis URL starts with redis:// or rediss:// (TLS), got '\(scheme)://'")
        }
        guard let host = url.host, !host.isEmpty else {
            throw RedisError(.invalidArgument, "'\(ConnectionFailureText.redactedURL(text))' names no host")
        }
        var database = 0
        let path = url.path.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        if !path.isEmpty {
            guard let number = Int(path), number >= 0 else {
                throw RedisError(.invalidArgument, "the path of a Redis URL is a database number, got '/\(path)'")
            }
            database = number
        }
        if let port = url.port, !(1...65535).contains(port) {
            throw RedisError(.invalidArgument, "port \(port) is out of range")
        }
        self.init(
            host: host.hasPrefix("[") ? String(host.dropFirst().dropLast()) : host, port: url.port ?? 6379,
            username: url.user.flatMap { $0.isEmpty ? nil : $0 }, password: url.password, database: database,
            tls: scheme == "rediss")
    }

    /// `host:port`, as messages name the server.
    public var address: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    public var description: String {
        var text = tls ? "rediss://" : "redis://"
        if username != nil || password != nil { text += "\(username ?? "")\(password == nil ? "" : ":***")@" }
        return text + address + (database == 0 ? "" : "/\(database)")
    }
}
