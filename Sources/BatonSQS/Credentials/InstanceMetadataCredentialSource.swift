import AsyncHTTPClient
import Foundation

/// Credentials of the EC2 instance's role, from the instance metadata service, IMDSv2 only:
///
/// 1. `PUT /latest/api/token` with `X-aws-ec2-metadata-token-ttl-seconds` gives a session
///    token;
/// 2. `GET /latest/meta-data/iam/security-credentials/` with that token as
///    `X-aws-ec2-metadata-token` names the role;
/// 3. `GET /latest/meta-data/iam/security-credentials/ROLE` gives its credentials as JSON
///    (`Code`, `AccessKeyId`, `SecretAccessKey`, `Token`, `Expiration`).
///
/// The endpoint is `http://169.254.169.254`, or `AWS_EC2_METADATA_SERVICE_ENDPOINT`;
/// `AWS_EC2_METADATA_DISABLED=true` turns the source off. Not configured (the chain ends with
/// "no credentials") when the service cannot be reached (not on EC2) or the instance has no
/// role; an error when it answers the token request with a refusal or sends nonsense.
public struct InstanceMetadataCredentialSource: AWSCredentialSource {
    public static let defaultEndpoint = "http://169.254.169.254"
    /// Lifetime asked for the session token, in seconds (six hours, AWS's maximum).
    public static let tokenTTLSeconds = 21600

    public var environment: [String: String]
    public var httpClient: HTTPClient
    /// Time limit of each request (the service answers in milliseconds where it exists).
    public var timeout: Duration

    public init(
        environment: [String: String] = ProcessInfo.processInfo.environment, httpClient: HTTPClient = SQSClient.sharedHTTPClient,
        timeout: Duration = .seconds(1)
    ) {
        self.environment = environment
        self.httpClient = httpClient
        self.timeout = timeout
    }

    public var isDisabled: Bool {
        environment["AWS_EC2_METADATA_DISABLED"]?.trimmed.lowercased() == "true"
    }

    /// The service's base URL, without a trailing `/`.
    public var endpoint: String {
        var value = environment.nonEmpty("AWS_EC2_METADATA_SERVICE_ENDPOINT") ?? Self.defaultEndpoint
        while value.hasSuffix("/") { value.removeLast() }
        return value
    }

    public var name: String { "instance metadata" }
    public var summary: String {
        isDisabled
            ? "the EC2 instance metadata service (disabled by AWS_EC2_METADATA_DISABLED)"
            : "the EC2 instance metadata service at \(endpoint)"
    }

    public func load() async throws -> AWSCredentials? {
        guard !isDisabled else { return nil }
        let http = MetadataHTTP(httpClient: httpClient, timeout: timeout)
        let base = endpoint

        let tokenAnswer: MetadataHTTP.Answer
        do {
            tokenAnswer = try await http.send(
                .PUT, base + "/latest/api/token", headers: [("X-aws-ec2-metadata-token-ttl-seconds", String(Self.tokenTTLSeconds))])
        } catch {
            return nil  // No metadata service here: not on EC2.
        }
        guard tokenAnswer.status == 200, !tokenAnswer.body.trimmed.isEmpty else {
            throw AWSCredentialsError(
                source: name, message: "the IMDSv2 token request (PUT /latest/api/token) answered HTTP \(tokenAnswer.status)")
        }
        let token = tokenAnswer.body.trimmed
        let tokenHeader = [("X-aws-ec2-metadata-token", token)]

        let rolePath = base + "/latest/meta-data/iam/security-credentials/"
        let roleAnswer = try await fetch(http, rolePath, headers: tokenHeader)
        if roleAnswer.status == 404 { return nil }  // The instance has no role.
        guard roleAnswer.status == 200 else {
            throw AWSCredentialsError(
                source: name, message: "GET /latest/meta-data/iam/security-credentials/ answered HTTP \(roleAnswer.status)")
        }
        guard let role = roleAnswer.body.split(whereSeparator: \.isNewline).map({ String($0).trimmed }).first(where: { !$0.isEmpty }) else {
            return nil
        }
        guard
            let encodedRole = role.addingPercentEncoding(
                withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "/")))
        else {
            throw AWSCredentialsError(source: name, message: "the role name is not valid")
        }
        let credentialsAnswer = try await fetch(http, rolePath + encodedRole, headers: tokenHeader)
        guard credentialsAnswer.status == 200 else {
            throw AWSCredentialsError(
                source: name, message: "the credentials of the role \"\(role)\" answered HTTP \(credentialsAnswer.status)")
        }
        return try TemporaryCredentialsJSON.credentials(from: credentialsAnswer.body, source: "instance metadata (role \"\(role)\")")
    }

    private func fetch(_ http: MetadataHTTP, _ url: String, headers: [(String, String)]) async throws -> MetadataHTTP.Answer {
        do {
            return try await http.send(.GET, url, headers: headers)
        } catch {
            throw AWSCredentialsError(source: name, message: "the metadata service stopped answering: \(error)")
        }
    }
}
