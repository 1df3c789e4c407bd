import AsyncHTTPClient
import Foundation

/// Credentials from a container's credential endpoint (ECS tasks, EKS Pod Identity, and
/// anything that mimics them):
///
/// - `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI`: a path on `http://169.254.170.2`; else
/// - `AWS_CONTAINER_CREDENTIALS_FULL_URI`: a whole URL: `https` to any host, `http` only to
///   a loopback address or the container endpoints `169.254.170.2`, `169.254.170.23` and
///   `fd00:ec2::23` (as AWS's SDKs allow);
/// - the `Authorization` header: the contents of `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE`,
///   else `AWS_CONTAINER_AUTHORIZATION_TOKEN`, when either is set.
///
/// The answer is JSON with `AccessKeyId`, `SecretAccessKey`, `Token` and `Expiration`. Not
/// configured when neither URI variable is set.
public struct ContainerCredentialSource: AWSCredentialSource {
    /// The host of `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI`.
    public static let relativeURIHost = "http://169.254.170.2"

    public var environment: [String: String]
    public var httpClient: HTTPClient
    /// Time limit of one request to the endpoint.
    public var timeout: Duration
    /// Requests made before giving up (a container endpoint may be briefly unavailable).
    public var attempts: Int

    public init(
        environment: [String: String] = ProcessInfo.processInfo.environment, httpClient: HTTPClient = SQSClient.sharedHTTPClient,
        timeout: Duration = .seconds(2), attempts: Int = 3
    ) {
        self.environment = environment
        self.httpClient = httpClient
        self.timeout = timeout
        self.attempts = max(1, attempts)
    }

    public var name: String { "container credentials" }
    public var summary: String {
        "container credentials (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI, AWS_CONTAINER_CREDENTIALS_FULL_URI)"
    }

    /// The endpoint's URL, or `nil` when neither variable is set.
    public func endpointURL() throws -> String? {
        if let relative = environment.nonEmpty("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") {
            return Self.relativeURIHost + (relative.hasPrefix("/") ? relative : "/" + relative)
        }
        guard let full = environment.nonEmpty("AWS_CONTAINER_CREDENTIALS_FULL_URI") else { return nil }
        guard let url = URL(string: full), let scheme = url.scheme?.lowercased(), let host = url.host(percentEncoded: false) else {
            throw AWSCredentialsError(source: name, message: "AWS_CONTAINER_CREDENTIALS_FULL_URI is not a URL")
        }
        switch scheme {
        case "https":
            return full
        case "http" where Self.isAllowedHTTPHost(host):
            return full
        case "http":
            throw AWSCredentialsError(
                source: name,
                message:
                    "AWS_CONTAINER_CREDENTIALS_FULL_URI uses http to \(host); http is allowed only to a loopback address or a container endpoint"
            )
        default:
            throw AWSCredentialsError(source: name, message: "AWS_CONTAINER_CREDENTIALS_FULL_URI has the scheme \(scheme), not http(s)")
        }
    }

    static func isAllowedHTTPHost(_ host: String) -> Bool {
        let bare = host.trimmingCharacters(in: CharacterSet(charactersIn: "[]")).lowercased()
        if bare == "localhost" || bare == "::1" || bare.hasPrefix("127.") { return true }
        return ["169.254.170.2", "169.254.170.23", "fd00:ec2::23"].contains(bare)
    }

    /// The `Authorization` header's value, or `nil`.
    func authorization() throws -> String? {
        var token: String?
        if let file = environment.nonEmpty("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE") {
            guard let data = FileManager.default.contents(atPath: file) else {
                throw AWSCredentialsError(source: name, message: "cannot read AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE \(file)")
            }
            token = String(decoding: data, as: UTF8.self).trimmed
        } else {
            token = environment.nonEmpty("AWS_CONTAINER_AUTHORIZATION_TOKEN")
        }
        if let token, token.contains(where: { $0 == "\r" || $0 == "\n" }) {
            throw AWSCredentialsError(source: name, message: "the container authorization token holds a line break")
        }
        return token
    }

    public func load() async throws -> AWSCredentials? {
        guard let url = try endpointURL() else { return nil }
        var headers = [("Accept", "application/json")]
        if let authorization = try authorization() { headers.append(("Authorization", authorization)) }
        let http = MetadataHTTP(httpClient: httpClient, timeout: timeout)
        var lastProblem = ""
        for attempt in 1...attempts {
            do {
                let answer = try await http.send(.GET, url, headers: headers)
                if answer.status == 200 {
                    return try TemporaryCredentialsJSON.credentials(from: answer.body, source: name)
                }
                lastProblem = "HTTP \(answer.status)"
                // A refusal will not change on a retry.
                if (400..<500).contains(answer.status) && answer.status != 429 { break }
            } catch let error as AWSCredentialsError {
                throw error
            } catch {
                lastProblem = "\(error)"
            }
            if attempt < attempts { try await Task.sleep(for: .milliseconds(100 * attempt)) }
        }
        throw AWSCredentialsError(source: name, message: "the endpoint \(url) gave no credentials: \(lastProblem)")
    }
}
