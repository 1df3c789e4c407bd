import BatonCore
import Hummingbird

/// A bearer token and the role it grants. Its description never shows the token.
public struct AuthToken: Sendable, Hashable, CustomStringConvertible {
    public var role: Role
    public var token: String

    public init(role: Role, token: String) {
        self.role = role
        self.token = token
    }

    /// Parses `role:token` (e.g. `producer:abc`).
    public init(parsing text: String) throws(BatonError) {
        let parts = text.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
        guard parts.count == 2, let role = Role(rawValue: parts[0].lowercased()) else {
            throw .invalidArgument("an auth token must be 'role:token' with role producer, worker or admin")
        }
        guard !parts[1].isEmpty else { throw .invalidArgument("an auth token of role \(role.rawValue) is empty") }
        self.init(role: role, token: parts[1])
    }

    /// Parses a comma-separated list of `role:token` pairs.
    public static func parseList(_ text: String) throws(BatonError) -> [AuthToken] {
        var tokens: [AuthToken] = []
        for item in text.split(separator: ",") where !item.trimmingCharacters(in: .whitespaces).isEmpty {
            tokens.append(try AuthToken(parsing: String(item)))
        }
        return tokens
    }

    public var description: String { "\(role.rawValue):<redacted>" }
}

/// The tokens a node accepts, as the authenticator compares them.
struct TokenTable: Sendable {
    let entries: [(role: Role, bytes: [UInt8])]

    init(_ tokens: [AuthToken]) {
        entries = tokens.map { ($0.role, Array($0.token.utf8)) }
    }
}

/// Checks `Authorization: Bearer TOKEN` against the configured tokens. With no tokens
/// configured every request is allowed (a loopback node, or `--insecure`).
///
/// The tokens are read per request from a live setting: after a reload, a new token is
/// accepted and a removed one refused from the next request.
struct Authenticator: Sendable {
    private let table: LiveSetting<TokenTable>

    init(tokens: [AuthToken]) {
        self.table = LiveSetting(TokenTable(tokens))
    }

    init(table: LiveSetting<TokenTable>) {
        self.table = table
    }

    var isEnabled: Bool { !table.value.entries.isEmpty }

    /// The caller's role; `nil` when auth is disabled. Throws 401 for a missing or unknown token.
    func role(of request: Request) throws -> Role? {
        let tokens = table.value.entries
        guard !tokens.isEmpty else { return nil }
        guard let header = request.headers[.authorization] else { throw Self.unauthorized("a bearer token is required") }
        let prefix = "bearer "
        guard header.count > prefix.count, header.prefix(prefix.count).lowercased() == prefix else {
            throw Self.unauthorized("the Authorization header must be 'Bearer TOKEN'")
        }
        let presented = Array(header.dropFirst(prefix.count).trimmingCharacters(in: .whitespaces).utf8)
        guard let role = Self.match(presented, tokens) else { throw Self.unauthorized("the bearer token is not valid") }
        return role
    }

    /// Checks the caller may use an endpoint requiring `access`: 401 without a valid token, 403 when its role may not.
    func authorize(_ request: Request, _ access: Access) throws {
        guard access != .public else { return }
        guard let role = try role(of: request) else { return }
        guard role.may(access) else { throw Self.forbidden(role: role, access: access) }
    }

    /// As ``authorize(_:_:)`` for a token carried in the path of a drop-in route
    /// (docs/compat.md): 401 when it is no token of the node, 403 when its role may not.
    func authorize(pathToken: String, _ access: Access) throws {
        let tokens = table.value.entries
        guard access != .public, !tokens.isEmpty else { return }
        guard let role = Self.match(Array(pathToken.utf8), tokens) else {
            throw Self.unauthorized("the token in the path is not valid")
        }
        guard role.may(access) else { throw Self.forbidden(role: role, access: access) }
    }

    /// Compares against every token, each in time independent of where the bytes differ.
    private static func match(_ presented: [UInt8], _ tokens: [(role: Role, bytes: [UInt8])]) -> Role? {
        var found: Role?
        for (role, bytes) in tokens {
            if Self.constantTimeEqual(presented, bytes) && found == nil { found = role }
        }
        return found
    }

    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var diff = UInt64(a.count ^ b.count)
        let n = max(a.count, b.count)
        guard n > 0 else { return diff == 0 }
        for i in 0..<n {
            let x = a.isEmpty ? 0 : a[i % a.count]
            let y = b.isEmpty ? 0 : b[i % b.count]
            diff |= UInt64(x ^ y)
        }
        return diff == 0
    }

    static func unauthorized(_ message: String) -> APIError {
        var headers = HTTPFields()
        headers[.wwwAuthenticate] = #"Bearer realm="baton""#
        return APIError(status: .unauthorized, code: BatonError.Code.unauthorized.description, message: message, headers: headers)
    }

    static func forbidden(role: Role, access: Access) -> APIError {
        APIError(
            status: .forbidden, code: BatonError.Code.forbidden.description,
            message: "a \(role.rawValue) token may not do this (requires \(access))")
    }
}
