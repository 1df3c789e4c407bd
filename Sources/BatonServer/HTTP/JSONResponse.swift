import BatonCore
import Foundation
import Hummingbird
import NIOCore

/// Builds JSON responses: bodies are encoded once, straight into the response buffer.
enum JSONResponse {
    static let contentType = "application/json"
    static let encoder = BatonJSON.encoder()

    static func encode(_ value: some Encodable) -> ByteBuffer {
        do {
            return ByteBuffer(data: try encoder.encode(value))
        } catch {
            // Only reachable with a non-finite number in a value the server built itself.
            return ByteBuffer(string: #"{"error":{"code":"internal","message":"could not encode the response"}}"#)
        }
    }

    static func make(status: HTTPResponse.Status = .ok, body: ByteBuffer) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = contentType
        headers[.contentLength] = String(body.readableBytes)
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: body))
    }

    static func make(status: HTTPResponse.Status = .ok, _ value: some Encodable) -> Response {
        make(status: status, body: encode(value))
    }

    static func make(status: HTTPResponse.Status = .ok, bytes: [UInt8]) -> Response {
        make(status: status, body: ByteBuffer(bytes: bytes))
    }
}

/// Reads JSON request bodies: checks the content type, refuses bodies over the limit before
/// reading them whole, and turns decoding errors into messages naming the field.
struct JSONBodyReader: Sendable {
    /// The body limit, which a reload may change between requests.
    let bodyLimit: LiveSetting<Int>
    var maxJSONDepth: Int = Limits.defaultMaxJSONDepth

    init(maxBodyBytes: Int, maxJSONDepth: Int = Limits.defaultMaxJSONDepth) {
        self.init(bodyLimit: LiveSetting(maxBodyBytes), maxJSONDepth: maxJSONDepth)
    }

    init(bodyLimit: LiveSetting<Int>, maxJSONDepth: Int = Limits.defaultMaxJSONDepth) {
        self.bodyLimit = bodyLimit
        self.maxJSONDepth = maxJSONDepth
    }

    static let decoder = BatonJSON.requestDecoder()

    /// The whole body, after the content-type and size checks and (with `validate`) the
    /// strict JSON syntax and nesting-depth check, so no lenient decoder sees what JSON refuses.
    func read(_ request: Request, validate: Bool = true) async throws -> ByteBuffer {
        if let contentType = request.headers[.contentType] {
            let mediaType = contentType.split(separator: ";", maxSplits: 1).first.map {
                $0.trimmingCharacters(in: .whitespaces).lowercased()
            }
            guard mediaType == "application/json" else { throw APIError.unsupportedMediaType(contentType) }
        }
        let maxBodyBytes = bodyLimit.value
        if let length = request.headers[.contentLength].flatMap({ Int($0) }), length > maxBodyBytes {
            throw APIError.bodyTooLarge(limit: maxBodyBytes)
        }
        let body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: maxBodyBytes)
        } catch is NIOTooManyBytesError {
            throw APIError.bodyTooLarge(limit: maxBodyBytes)
        }
        if validate { try check(body) }
        return body
    }

    /// The strict syntax and nesting-depth check (``JSONScanner``), its error naming the byte.
    func check(_ body: ByteBuffer) throws {
        guard body.readableBytes > 0 else { return }
        try RawJSON.validateSyntax(body.readableBytesView, maxDepth: maxJSONDepth)
    }

    /// Decodes a body read without the check (`read(_:validate: false)`), after the check.
    func decodeChecked<T: Decodable>(_ type: T.Type, from buffer: ByteBuffer) throws -> T {
        try check(buffer)
        return try Self.decode(type, from: buffer)
    }

    func decode<T: Decodable>(_ type: T.Type, from request: Request) async throws -> T {
        try Self.decode(type, from: try await read(request))
    }

    static func decode<T: Decodable>(_ type: T.Type, from buffer: ByteBuffer) throws -> T {
        guard buffer.readableBytes > 0 else { throw BatonError.invalidArgument("request body is empty; expected JSON") }
        do {
            return try buffer.withUnsafeReadableBytes { raw in
                try decoder.decode(T.self, from: Data(raw))
            }
        } catch let error as DecodingError {
            throw BatonError.invalidArgument(DecodingErrorMessage.describe(error))
        }
    }
}
