import BatonCore
import Foundation
import Synchronization

/// A handler registered under a kind, with the kind's retry policy and timeout.
public struct HandlerRegistration: Sendable {
    public let kind: String
    /// Used when a task names no retry policy of its own; `nil`: the node's global policy.
    public let retry: RetryPolicy?
    /// Per-attempt limit when a task names no timeout of its own.
    public let timeout: Duration?
    /// The handler on raw JSON: arguments in, result out.
    public let run: @Sendable (RawJSON, TaskContext) async throws -> RawJSON
}

/// Handlers keyed by a stable kind string (never a Swift type name), with typed, Codable
/// arguments and results.
///
/// ```swift
/// struct AddArgs: Codable { var a: Int; var b: Int }
/// registry.register("add") { (args: AddArgs, ctx) in args.a + args.b }
/// ```
///
/// Arguments that do not decode into the handler's type fail the attempt permanently
/// ("args do not match AddArgs: …"): retrying cannot fix them.
public final class HandlerRegistry: Sendable {
    private let handlers = Mutex<[String: HandlerRegistration]>([:])

    public init() {}

    /// Registers a typed handler for `kind`, replacing any earlier one.
    public func register<Args: Decodable & Sendable, Result: Encodable & Sendable>(
        _ kind: String, retry: RetryPolicy? = nil, timeout: Duration? = nil,
        _ handler: @escaping @Sendable (Args, TaskContext) async throws -> Result
    ) {
        registerRaw(kind, retry: retry, timeout: timeout) { raw, context in
            let args: Args
            do {
                args = try Self.decode(Args.self, from: raw)
            } catch {
                throw FailPermanently("args do not match \(Args.self): \(describeDecodingError(error))")
            }
            let result = try await handler(args, context)
            do {
                return try Self.encode(result)
            } catch {
                throw FailPermanently("the result could not be encoded as JSON: \(error)")
            }
        }
    }

    /// Registers a handler that takes and returns JSON as is.
    public func registerRaw(
        _ kind: String, retry: RetryPolicy? = nil, timeout: Duration? = nil,
        _ handler: @escaping @Sendable (RawJSON, TaskContext) async throws -> RawJSON
    ) {
        let registration = HandlerRegistration(kind: kind, retry: retry, timeout: timeout, run: handler)
        handlers.withLock { $0[kind] = registration }
    }

    /// Registers a handler type under its `kind`, with its retry policy and timeout.
    public func register<Handler: TaskHandler>(_ handler: Handler) {
        register(Handler.kind, retry: Handler.retry, timeout: Handler.timeout) { (args: Handler.Args, context) in
            try await handler.run(args, context: context)
        }
    }

    /// The registered kinds, sorted.
    public var kinds: [String] { handlers.withLock { $0.keys.sorted() } }

    public func registration(for kind: String) -> HandlerRegistration? {
        handlers.withLock { $0[kind] }
    }

    static func decode<T: Decodable>(_ type: T.Type, from raw: RawJSON) throws -> T {
        if let same = raw as? T { return same }
        return try BatonJSON.decoder().decode(T.self, from: Data(raw.text.utf8))
    }

    static func encode<T: Encodable>(_ value: T) throws -> RawJSON {
        if let raw = value as? RawJSON { return raw }
        let data = try BatonJSON.encoder().encode(value)
        return RawJSON(trusted: String(decoding: data, as: UTF8.self))
    }
}

/// A handler as a type, keyed by a stable kind string.
///
/// ```swift
/// struct SendEmail: TaskHandler {
///     static let kind = "email.send"
///     func run(_ args: Email, context: TaskContext) async throws -> Receipt { … }
/// }
/// registry.register(SendEmail())
/// ```
public protocol TaskHandler: Sendable {
    associatedtype Args: Codable & Sendable
    associatedtype Output: Codable & Sendable
    static var kind: String { get }
    /// The kind's retry policy; `nil` (the default): the node's global policy.
    static var retry: RetryPolicy? { get }
    /// The kind's per-attempt timeout; `nil` (the default): none unless the task names one.
    static var timeout: Duration? { get }
    func run(_ args: Args, context: TaskContext) async throws -> Output
}

extension TaskHandler {
    public static var retry: RetryPolicy? { nil }
    public static var timeout: Duration? { nil }
}

/// A short, readable account of why JSON did not decode into a type.
func describeDecodingError(_ error: any Error) -> String {
    func path(_ codingPath: [any CodingKey]) -> String {
        var text = codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
        if text.hasPrefix(".") { text.removeFirst() }
        return text
    }
    guard let error = error as? DecodingError else { return "\(error)" }
    switch error {
    case .keyNotFound(let key, let context):
        let at = path(context.codingPath)
        return "missing field '\(key.stringValue)'" + (at.isEmpty ? "" : " in '\(at)'")
    case .typeMismatch(let type, let context):
        let at = path(context.codingPath)
        return (at.isEmpty ? "the value" : "field '\(at)'") + " is not \(typeName(type))"
    case .valueNotFound(let type, let context):
        let at = path(context.codingPath)
        return (at.isEmpty ? "the value" : "field '\(at)'") + " is null, expected \(typeName(type))"
    case .dataCorrupted(let context):
        let at = path(context.codingPath)
        return (at.isEmpty ? "" : "field '\(at)': ") + context.debugDescription
    @unknown default:
        return "\(error)"
    }
}

private func typeName(_ type: Any.Type) -> String {
    switch type {
    case is String.Type: "a string"
    case is Bool.Type: "a boolean"
    case is Int.Type, is Int64.Type, is Int32.Type, is UInt.Type: "an integer"
    case is Double.Type, is Float.Type: "a number"
    default: "\(type)"
    }
}
