/// The one error type crossing module boundaries: an opaque code plus a message.
///
/// The server maps codes to HTTP statuses and JSON-RPC error codes; the CLI maps them to
/// exit codes. Messages are meant for people and never contain secrets.
public struct BatonError: Error, Sendable, Hashable, CustomStringConvertible {
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        fileprivate enum Base: String, Sendable, Hashable, CaseIterable {
            case invalidArgument = "invalid_argument"
            case notFound = "not_found"
            case conflict = "conflict"
            case staleLease = "stale_lease"
            case tooLarge = "too_large"
            case unavailable = "unavailable"
            case storeIncompatible = "store_incompatible"
            case unauthorized = "unauthorized"
            case forbidden = "forbidden"
            case idempotencyMismatch = "idempotency_mismatch"
            case `internal` = "internal"
        }
        fileprivate let base: Base
        public var description: String { base.rawValue }

        public static let invalidArgument = Code(base: .invalidArgument)
        public static let notFound = Code(base: .notFound)
        /// The task is not in a state that allows the operation.
        public static let conflict = Code(base: .conflict)
        /// A lease token that is not (or no longer) the task's current one.
        public static let staleLease = Code(base: .staleLease)
        public static let tooLarge = Code(base: .tooLarge)
        /// The store or server cannot be reached right now; retrying may succeed.
        public static let unavailable = Code(base: .unavailable)
        /// The database file is not Baton's, is damaged, or is from a newer Baton.
        public static let storeIncompatible = Code(base: .storeIncompatible)
        public static let unauthorized = Code(base: .unauthorized)
        public static let forbidden = Code(base: .forbidden)
        /// An idempotency key reused with a different request.
        public static let idempotencyMismatch = Code(base: .idempotencyMismatch)
        public static let `internal` = Code(base: .internal)

        /// Parses the wire form (`"not_found"`), e.g. from a server's error body.
        public init?(wire: String) {
            guard let base = Base(rawValue: wire) else { return nil }
            self.base = base
        }
        fileprivate init(base: Base) { self.base = base }

        /// Every code, in declaration order.
        public static var allCases: [Code] { Base.allCases.map(Code.init(base:)) }
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }

    public static func invalidArgument(_ message: String) -> BatonError { .init(.invalidArgument, message) }
    public static func notFound(_ message: String) -> BatonError { .init(.notFound, message) }
    public static func conflict(_ message: String) -> BatonError { .init(.conflict, message) }
    public static func staleLease(_ message: String) -> BatonError { .init(.staleLease, message) }
    public static func unavailable(_ message: String) -> BatonError { .init(.unavailable, message) }
    public static func taskNotFound(_ id: TaskID) -> BatonError { .notFound("task \(id) not found") }
}
