/// A benchmark's own failure. Errors of the store (`BatonError`) and of the HTTP client pass
/// through as they are.
public struct BenchError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Hashable {
        /// A setting out of range or a store URL that does not parse (the CLI's usage error).
        case invalidSettings
        /// A node answered a request with an unexpected HTTP status.
        case unreachable
        /// The run itself failed: a child exited early or printed no URL, tasks did not finish
        /// in time, a claim found no task.
        case failed
    }

    public let kind: Kind
    public let message: String
    public var description: String { message }

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }
}
