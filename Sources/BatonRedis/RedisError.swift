/// What went wrong talking to Redis, in words that name the server but never its password.
public struct RedisError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Kind: String, Sendable, Hashable {
        /// The URL or a setting is not valid.
        case invalidArgument
        /// The server could not be reached (refused, unresolvable, no answer in time).
        case connect
        /// The server refused the credentials (`WRONGPASS`, `NOAUTH`).
        case auth
        /// The server answered the command with an error reply (`WRONGTYPE …`, `ERR …`).
        case server
        /// The server's bytes are not RESP2, or break a limit (``RESPParser``).
        case `protocol`
        /// No reply within the command's time limit; the connection was closed, since a later
        /// reply could no longer be matched to its command.
        case timeout
        /// The connection is closed.
        case closed
    }

    public var kind: Kind
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    /// The error reply's code, its first word: `WRONGTYPE`, `ERR`, `NOGROUP`, `BUSYGROUP`.
    public var code: String? {
        kind == .server ? message.split(separator: " ", maxSplits: 1).first.map(String.init) : nil
    }

    public var description: String { message }
}
