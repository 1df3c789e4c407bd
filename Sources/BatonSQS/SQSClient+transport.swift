import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1

extension SQSClient {
    /// The protocol's content type.
    static let contentType = "application/x-amz-json-1.0"
    /// The signing service: always `sqs` (local servers such as moto read the service from the
    /// credential scope).
    static let signingService = "sqs"
    /// Largest answer read (10 messages of up to 1 MiB each, and their attributes).
    static let maxResponseBytes = 16 * 1024 * 1024

    /// One operation: encodes `input`, signs, sends, retries what may succeed on a retry,
    /// decodes the answer or maps the error.
    func call<Input: Encodable, Output: Decodable>(
        _ operation: String, _ input: Input, queue: String?, extraTime: Duration = .zero
    ) async throws -> Output {
        let body: Data
        do {
            body = try JSONEncoder().encode(input)
        } catch {
            throw SQSError(
                kind: .service, code: "InvalidRequest", message: "cannot encode the request: \(error)", operation: operation, queue: queue)
        }
        let attempts = max(1, configuration.maxAttempts)
        var attempt = 0
        while true {
            attempt += 1
            let failure: SQSError
            do {
                let data = try await send(operation, body: body, queue: queue, extraTime: extraTime)
                do {
                    return try JSONDecoder().decode(Output.self, from: data.isEmpty ? Data("{}".utf8) : data)
                } catch {
                    throw SQSError(
                        kind: .invalidResponse, code: "InvalidResponse", message: "cannot decode the answer: \(error)",
                        operation: operation,
                        queue: queue, statusCode: 200)
                }
            } catch var error as SQSError {
                error.attempts = attempt
                failure = error
            }
            guard failure.isRetryable, attempt < attempts, !Task.isCancelled else { throw failure }
            let delay = backoff(attempt: attempt)
            logger.debug(
                "SQS call will be retried",
                metadata: [
                    "operation": "\(operation)", "code": "\(failure.code)", "attempt": "\(attempt)",
                    "delayMs": "\(Int(delay.timeInterval * 1000))",
                ])
            try await Task.sleep(for: delay)
        }
    }

    /// The wait before attempt `attempt + 1`: a random time up to
    /// `min(retryMaxDelay, retryBaseDelay × 2^(attempt-1))` ("full jitter").
    func backoff(attempt: Int) -> Duration {
        let base = configuration.retryBaseDelay.timeInterval
        let cap = configuration.retryMaxDelay.timeInterval
        let ceiling = min(cap, base * pow(2, Double(min(attempt - 1, 30))))
        guard ceiling > 0 else { return .zero }
        return .milliseconds(Int64(Double.random(in: 0...ceiling) * 1000))
    }

    /// One signed request; the answer's body on HTTP 200, else an ``SQSError``.
    private func send(_ operation: String, body: Data, queue: String?, extraTime: Duration) async throws -> Data {
        let credentials: AWSCredentials
        do {
            credentials = try await self.credentials.credentials()
        } catch let error as AWSCredentialsError {
            throw SQSError(kind: .noCredentials, code: "NoCredentials", message: error.description, operation: operation, queue: queue)
        } catch {
            throw SQSError(kind: .noCredentials, code: "NoCredentials", message: "\(error)", operation: operation, queue: queue)
        }

        let host = Self.hostHeader(endpoint)
        let target = "AmazonSQS.\(operation)"
        let signer = SigV4Signer(credentials: credentials, region: region, service: Self.signingService)
        let signed = signer.sign(
            SigV4Signer.Request(
                method: "POST", host: host, path: "/", headers: [("Content-Type", Self.contentType), ("X-Amz-Target", target)], body: body),
            date: now())

        var request = HTTPClientRequest(url: Self.requestURL(endpoint))
        request.method = .POST
        request.headers.add(name: "Host", value: host)
        request.headers.add(name: "Content-Type", value: Self.contentType)
        request.headers.add(name: "X-Amz-Target", value: target)
        for (name, value) in signed.headers { request.headers.add(name: name, value: value) }
        request.headers.add(name: "User-Agent", value: "baton-sqs")
        request.body = .bytes(ByteBuffer(bytes: body))

        let timeout = configuration.requestTimeout + extraTime
        let response: HTTPClientResponse
        let answer: ByteBuffer
        do {
            response = try await httpClient.execute(request, timeout: .milliseconds(max(1, Int64(timeout.timeInterval * 1000))))
            answer = try await response.body.collect(upTo: Self.maxResponseBytes)
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            throw SQSError(kind: .transport, code: "Transport", message: "\(error)", operation: operation, queue: queue)
        }
        let status = Int(response.status.code)
        let data = Data(answer.readableBytesView)
        if status == 200 { return data }
        throw Self.error(
            status: status, headers: response.headers, body: data, operation: operation, queue: queue, credentials: credentials)
    }

    /// The error an answer other than 200 stands for.
    static func error(
        status: Int, headers: HTTPHeaders, body: Data, operation: String, queue: String?, credentials: AWSCredentials
    ) -> SQSError {
        struct ErrorBody: Decodable {
            var type: String?
            var code: String?
            var message: String?
            var capitalMessage: String?
            enum CodingKeys: String, CodingKey {
                case type = "__type"
                case code
                case message
                case capitalMessage = "Message"
            }
        }
        let decoded = try? JSONDecoder().decode(ErrorBody.self, from: body)
        // `__type` is `com.amazonaws.sqs#QueueDoesNotExist` (or a bare code); the query
        // protocol's code, if any, is in `x-amzn-query-error: CODE;Sender`.
        var code = (decoded?.type ?? decoded?.code).map(shortCode) ?? ""
        if code.isEmpty, let errorType = headers.first(name: "x-amzn-ErrorType") { code = shortCode(errorType) }
        let queryCode = headers.first(name: "x-amzn-query-error").map { String($0.split(separator: ";").first ?? "") }
        if code.isEmpty { code = queryCode ?? "HTTP\(status)" }
        var message = decoded?.message ?? decoded?.capitalMessage ?? ""
        if message.isEmpty, decoded == nil, !body.isEmpty {
            message = String(decoding: body.prefix(500), as: UTF8.self)
        }

        var kind = SQSError.kind(code: code, status: status)
        if kind == .service, let queryCode, SQSError.missingQueueCodes.contains(queryCode) { kind = .queueDoesNotExist }
        let refused = kind == .credentialsRefused
        return SQSError(
            kind: kind, code: code, message: message, operation: operation, queue: queue, statusCode: status,
            accessKeyID: refused ? credentials.accessKeyID : nil, credentialsSource: refused ? credentials.source : nil)
    }

    /// `com.amazonaws.sqs#QueueDoesNotExist` → `QueueDoesNotExist`; `Code:http://…` → `Code`.
    static func shortCode(_ raw: String) -> String {
        var code = Substring(raw)
        if let hash = code.lastIndex(of: "#") { code = code[code.index(after: hash)...] }
        if let colon = code.firstIndex(of: ":") { code = code[..<colon] }
        return code.trimmingCharacters(in: .whitespaces)
    }

    /// The `Host` header of `endpoint`: its host, with the port when it is not the scheme's.
    static func hostHeader(_ endpoint: URL) -> String {
        var host = endpoint.host(percentEncoded: false) ?? ""
        if host.contains(":") && !host.hasPrefix("[") { host = "[\(host)]" }
        let scheme = endpoint.scheme?.lowercased()
        if let port = endpoint.port, !(scheme == "http" && port == 80), !(scheme == "https" && port == 443) {
            host += ":\(port)"
        }
        return host
    }

    /// `scheme://host[:port]/`: the endpoint's root.
    static func requestURL(_ endpoint: URL) -> String {
        var components = URLComponents()
        components.scheme = endpoint.scheme
        components.host = endpoint.host(percentEncoded: false)
        components.port = endpoint.port
        components.path = "/"
        return components.string ?? endpoint.absoluteString
    }
}
