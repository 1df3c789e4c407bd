import Foundation

/// Gives the credentials to sign a request with. ``AWSCredentialChain`` is the standard one
/// (the sources AWS's own tools read, in their order, cached and refreshed);
/// ``StaticCredentialProvider`` hands out fixed keys.
public protocol AWSCredentialProvider: Sendable {
    /// Credentials valid now; throws ``AWSCredentialsError`` when there are none.
    func credentials() async throws -> AWSCredentials
}

/// One place credentials may be found: the environment, the shared files, a container's
/// endpoint, the instance metadata service. ``AWSCredentialChain`` asks them in order.
public protocol AWSCredentialSource: Sendable {
    /// A short name for messages, e.g. `environment`.
    var name: String { get }
    /// Where this source looked, for the message that says none had credentials, e.g.
    /// `the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)`.
    var summary: String { get }
    /// The credentials, or `nil` when this source is not configured (the chain goes on to
    /// the next). Throws when it is configured but cannot give credentials (the chain stops:
    /// AWS's tools do not silently fall through to other keys).
    func load() async throws -> AWSCredentials?
}

/// Fixed credentials, e.g. from a secret store, or the dummy keys of a local server.
public struct StaticCredentialProvider: AWSCredentialProvider, AWSCredentialSource {
    public var fixed: AWSCredentials

    public init(_ credentials: AWSCredentials) {
        self.fixed = credentials
    }

    public init(accessKeyID: String, secretAccessKey: String, sessionToken: String? = nil) {
        self.fixed = AWSCredentials(
            accessKeyID: accessKeyID, secretAccessKey: secretAccessKey, sessionToken: sessionToken, source: "static")
    }

    public var name: String { "static" }
    public var summary: String { "static credentials" }
    public func credentials() async throws -> AWSCredentials { fixed }
    public func load() async throws -> AWSCredentials? { fixed }
}

extension AWSCredentialProvider where Self == StaticCredentialProvider {
    /// Fixed credentials: `.static(accessKeyID: "test", secretAccessKey: "test")`.
    public static func `static`(accessKeyID: String, secretAccessKey: String, sessionToken: String? = nil) -> StaticCredentialProvider {
        StaticCredentialProvider(accessKeyID: accessKeyID, secretAccessKey: secretAccessKey, sessionToken: sessionToken)
    }
}

/// Credentials from the environment: `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and, for
/// temporary credentials, `AWS_SESSION_TOKEN`. Not configured when neither key variable is
/// set; an error when only one is.
public struct EnvironmentCredentialSource: AWSCredentialSource {
    public var environment: [String: String]

    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.environment = environment
    }

    public var name: String { "environment" }
    public var summary: String { "the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)" }

    public func load() async throws -> AWSCredentials? {
        let id = environment.nonEmpty("AWS_ACCESS_KEY_ID")
        let secret = environment.nonEmpty("AWS_SECRET_ACCESS_KEY")
        switch (id, secret) {
        case (nil, nil):
            return nil
        case (.some(let id), .some(let secret)):
            return AWSCredentials(
                accessKeyID: id, secretAccessKey: secret, sessionToken: environment.nonEmpty("AWS_SESSION_TOKEN"), source: name)
        case (.some, nil):
            throw AWSCredentialsError(source: name, message: "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not")
        case (nil, .some):
            throw AWSCredentialsError(source: name, message: "AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not")
        }
    }
}
