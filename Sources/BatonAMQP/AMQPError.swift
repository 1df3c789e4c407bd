/// What went wrong talking to an AMQP server, in words that name the server but never its
/// password.
public struct AMQPError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Kind: String, Sendable, Hashable {
        /// The URL, a setting or an argument is not valid.
        case invalidArgument
        /// The server could not be reached (refused, unresolvable, no answer in time).
        case connect
        /// The server refused the credentials or the virtual host (403 ACCESS_REFUSED, 530 NOT_ALLOWED at open).
        case auth
        /// The server closed the channel or the connection with a reply code (404 NOT_FOUND,
        /// 406 PRECONDITION_FAILED, …): ``AMQPError/replyCode``.
        case server
        /// The server's bytes break the protocol.
        case `protocol`
        /// No reply within the operation's time limit; the connection was closed.
        case timeout
        /// The connection is closed.
        case closed
    }

    public var kind: Kind
    public var message: String
    /// The server's reply code, when it closed the channel or the connection.
    public var replyCode: UInt16?

    public init(_ kind: Kind, _ message: String, replyCode: UInt16? = nil) {
        self.kind = kind
        self.message = message
        self.replyCode = replyCode
    }

    public var description: String { message }
}
