import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// The small HTTP exchanges of the credential endpoints (a container's, the instance
/// metadata service): one request with a deadline, the status and body back.
struct MetadataHTTP: Sendable {
    var httpClient: HTTPClient
    var timeout: Duration

    struct Answer {
        var status: Int
        var body: String
    }

    /// Largest body read from a credential endpoint.
    static let maxBody = 64 * 1024

    func send(_ method: HTTPMethod, _ url: String, headers: [(String, String)] = []) async throws -> Answer {
        var request = HTTPClientRequest(url: url)
        request.method = method
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        let millis = Int64(timeout.timeInterval * 1000)
        let response = try await httpClient.execute(request, timeout: .milliseconds(max(1, millis)))
        let body = try await response.body.collect(upTo: Self.maxBody)
        return Answer(status: Int(response.status.code), body: String(buffer: body))
    }
}

/// The JSON that container endpoints and the instance metadata service answer with.
struct TemporaryCredentialsJSON: Decodable {
    var accessKeyID: String?
    var secretAccessKey: String?
    var token: String?
    var expiration: String?
    /// `Success` from the instance metadata service.
    var code: String?
    var message: String?

    enum CodingKeys: String, CodingKey {
        case accessKeyID = "AccessKeyId"
        case secretAccessKey = "SecretAccessKey"
        case token = "Token"
        case expiration = "Expiration"
        case code = "Code"
        case message = "Message"
    }

    /// The credentials the JSON holds, or an error naming what is missing (never a value).
    static func credentials(from body: String, source: String) throws -> AWSCredentials {
        let decoded: TemporaryCredentialsJSON
        do {
            decoded = try JSONDecoder().decode(TemporaryCredentialsJSON.self, from: Data(body.utf8))
        } catch {
            throw AWSCredentialsError(source: source, message: "the endpoint answered with something that is not credentials JSON")
        }
        if let code = decoded.code, code != "Success" {
            throw AWSCredentialsError(source: source, message: "the endpoint answered Code \(code): \(decoded.message ?? "no message")")
        }
        guard let id = decoded.accessKeyID, !id.isEmpty, let secret = decoded.secretAccessKey, !secret.isEmpty else {
            throw AWSCredentialsError(source: source, message: "the endpoint's answer has no AccessKeyId or SecretAccessKey")
        }
        var expiration: Date?
        if let text = decoded.expiration {
            guard let date = parseISO8601(text) else {
                throw AWSCredentialsError(source: source, message: "the endpoint's Expiration \"\(text)\" is not an ISO 8601 time")
            }
            expiration = date
        }
        let token = decoded.token.flatMap { $0.isEmpty ? nil : $0 }
        return AWSCredentials(accessKeyID: id, secretAccessKey: secret, sessionToken: token, expiration: expiration, source: source)
    }

    /// `2026-12-04T14:00:00Z`, with or without fractional seconds.
    static func parseISO8601(_ text: String) -> Date? {
        if let date = try? Date(text, strategy: .iso8601) { return date }
        return try? Date(text, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }
}
