import Foundation

/// An AWS access key: its id, its secret, and for temporary credentials a session token and
/// an expiration.
///
/// The secret and the token never appear in `description`, `debugDescription`, `dump` or a
/// mirror: they print as `<redacted>`, so logging credentials or an error that holds them
/// leaks nothing. The key id is not a secret (AWS prints it in its own error messages) and
/// is shown, so that a refused key can be named.
public struct AWSCredentials: Sendable, Hashable {
    public var accessKeyID: String
    public var secretAccessKey: String
    /// The session token of temporary credentials (STS, a container's role, an instance's
    /// role), sent as `X-Amz-Security-Token`.
    public var sessionToken: String?
    /// When temporary credentials stop working; `nil` for long-term keys.
    public var expiration: Date?
    /// Where they came from, e.g. `environment`, `profile "ci" in /home/me/.aws/credentials`,
    /// `container credentials`, `instance metadata (role "worker")`.
    public var source: String

    public init(
        accessKeyID: String, secretAccessKey: String, sessionToken: String? = nil, expiration: Date? = nil, source: String = "static"
    ) {
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
        self.expiration = expiration
        self.source = source
    }

    /// Whether these credentials expire within `window` after `now` (or have expired).
    public func expires(within window: Duration, after now: Date) -> Bool {
        guard let expiration else { return false }
        return expiration.timeIntervalSince(now) <= window.timeInterval
    }
}

extension AWSCredentials: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    static let redacted = "<redacted>"

    public var description: String {
        var parts = ["accessKeyID: \(accessKeyID)", "secretAccessKey: \(Self.redacted)"]
        parts.append("sessionToken: \(sessionToken == nil ? "none" : Self.redacted)")
        if let expiration { parts.append("expiration: \(expiration.ISO8601Format())") }
        parts.append("source: \(source)")
        return "AWSCredentials(\(parts.joined(separator: ", ")))"
    }

    public var debugDescription: String { description }

    /// A mirror without the secret or the token, for `dump` and the debugger.
    public var customMirror: Mirror {
        Mirror(
            self,
            children: [
                "accessKeyID": accessKeyID as Any,
                "secretAccessKey": Self.redacted as Any,
                "sessionToken": (sessionToken == nil ? "none" : Self.redacted) as Any,
                "expiration": expiration as Any,
                "source": source as Any,
            ], displayStyle: .struct)
    }
}

/// Why no credentials could be had: a source that is configured but failed (a half-set
/// environment, a missing named profile, a container or metadata endpoint that refused or
/// answered nonsense), or no source at all. Never holds a secret.
public struct AWSCredentialsError: Error, Sendable, CustomStringConvertible {
    /// The source that failed, e.g. `environment`; `credential chain` when none had any.
    public var source: String
    public var message: String

    public init(source: String, message: String) {
        self.source = source
        self.message = message
    }

    public var description: String { "AWS credentials (\(source)): \(message)" }
}
