import BatonCore
import Foundation

/// Where an AMQP 0-9-1 server (RabbitMQ) is and how to talk to it, from a URL of the form
/// RabbitMQ's clients (and Machinery's `Broker` setting) take:
///
///     amqp://[USER[:PASSWORD]@]HOST[:PORT][/VHOST]
///     amqps://…   (TLS)
///
/// The port defaults to 5672 (5671 with TLS), the user and password to `guest`, the virtual
/// host to `/` (a URL's path is the virtual host's name, percent-encoded: `/%2F` is `/`, and
/// `amqp://host/` names `/` as Machinery's examples do). ``description`` shows the URL with
/// the password replaced by `***`.
public struct AMQPConfiguration: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var username: String
    public var password: String
    public var virtualHost: String
    /// TLS (`amqps://`), verified against the system's trust store, or `caFile` when set.
    public var tls: Bool
    public var caFile: String?
    public var connectTimeout: Duration
    /// How long a method waits for the server's answer.
    public var operationTimeout: Duration
    /// The heartbeat asked for (the server's, if lower, wins; 0 turns heartbeats off).
    public var heartbeat: Duration

    public init(
        host: String, port: Int? = nil, username: String = "guest", password: String = "guest", virtualHost: String = "/",
        tls: Bool = false, caFile: String? = nil, connectTimeout: Duration = .seconds(5), operationTimeout: Duration = .seconds(10),
        heartbeat: Duration = .seconds(30)
    ) {
        self.host = host
        self.port = port ?? (tls ? 5671 : 5672)
        self.username = username
        self.password = password
        self.virtualHost = virtualHost
        self.tls = tls
        self.caFile = caFile
        self.connectTimeout = connectTimeout
        self.operationTimeout = operationTimeout
        self.heartbeat = heartbeat
    }

    /// Reads an `amqp://` or `amqps://` URL; the error names what is wrong, never the password.
    public init(url text: String) throws(AMQPError) {
        guard let url = URLComponents(string: text), let scheme = url.scheme?.lowercased() else {
            throw AMQPError(
                .invalidArgument, "'\(ConnectionFailureText.redactedURL(text))' is not a URL (amqp://USER:PASSWORD@HOST:PORT/VHOST)")
        }
        guard scheme == "amqp" || scheme == "amqps" else {
            throw AMQPError(.invalidArgument, "an AMQP URL starts with amqp:// or amqps:// (TLS), got '\(scheme)://'")
        }
        guard let host = url.host, !host.isEmpty else {
            throw AMQPError(.invalidArgument, "'\(ConnectionFailureText.redactedURL(text))' names no host")
        }
        if let port = url.port, !(1...65535).contains(port) {
            throw AMQPError(.invalidArgument, "port \(port) is out of range")
        }
        var virtualHost = "/"
        let path = url.percentEncodedPath
        if path.count > 1 {
            guard let name = String(path.dropFirst()).removingPercentEncoding, !name.contains("/") || path.dropFirst().contains("%") else {
                throw AMQPError(.invalidArgument, "the path of an AMQP URL is one virtual host (write / as %2F), got '\(path)'")
            }
            virtualHost = name
        }
        self.init(
            host: host.hasPrefix("[") ? String(host.dropFirst().dropLast()) : host, port: url.port,
            username: url.user.map { $0.removingPercentEncoding ?? $0 } ?? "guest",
            password: url.password.map { $0.removingPercentEncoding ?? $0 } ?? "guest", virtualHost: virtualHost, tls: scheme == "amqps")
    }

    /// `host:port`, as messages name the server.
    public var address: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    public var description: String {
        let vhost =
            virtualHost == "/"
            ? "" : "/" + (virtualHost.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(["/"])) ?? virtualHost)
        return (tls ? "amqps://" : "amqp://") + "\(username):***@" + address + vhost
    }
}
