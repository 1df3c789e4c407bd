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

/// Checks `Authorization: Bearer TOKEN` against the configured tokens. With no tokens
/// configured every request is allowed (a loopback node, or `--insecure`).
struct Authenticator: Sendable {
    private let tokens: [(role: Role, bytes: [UInt8])]

    init(tokens: [AuthToken]) {
        self.tokens = tokens.map { ($0.role, Array($0.token.utf8)) }
    }

    var isEnabled: Bool { !tokens.isEmpty }

    /// The caller's role; `nil` when auth is disabled. Throws 401 for a missing or unknown token.
    func role(of request: Request) throws -> Role? {
        guard isEnabled else { return nil }
        guard let header = request.headers[.authorization] else { throw Self.unauthorized("a bearer token is required") }
        let prefix = "bearer "
        guard header.count > prefix.count, header.prefix(prefix.count).lowercased() == prefix else {
            throw Self.unauthorized("the Authorization header must be 'Bearer TOKEN'")
        }
        let presented = Array(header.dropFirst(prefix.count).trimmingCharacters(in: .whitespaces).utf8)
        guard let role = match(presented) else { throw Self.unauthorized("the bearer token is not valid") }
        return role
    }

    /// Checks the caller may use an endpoint requiring `access`: 401 without a valid token, 403 when its role may not.
    func authorize(_ request: Request, _ access: Access) throws {
        guard isEnabled, access != .public else { return }
        guard let role = try role(of: request) else { return }
        guard role.may(access) else { throw Self.forbidden(role: role, access: access) }
    }

    /// Compares against every token, each in time independent of where the bytes differ.
    private func match(_ presented: [UInt8]) -> Role? {
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
