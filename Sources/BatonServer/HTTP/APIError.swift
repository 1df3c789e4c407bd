import BatonCore
import Foundation
import Hummingbird
import NIOCore

/// An HTTP error as the API sends it: a status and the JSON body
/// `{"error": {"code": "...", "message": "..."}}`.
///
/// Every error leaving the server goes through `APIError(_:)`, the one place that maps
/// `BatonError` codes (and Hummingbird's and NIO's own errors) to statuses.
public struct APIError: HTTPResponseError, Sendable, CustomStringConvertible {
    public var status: HTTPResponse.Status
    public var code: String
    public var message: String
    public var headers: HTTPFields

    public init(status: HTTPResponse.Status, code: String, message: String, headers: HTTPFields = [:]) {
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers
    }

    public init(_ error: BatonError) {
        self.init(status: Self.status(for: error.code), code: error.code.description, message: error.message)
    }

    /// Maps any error to its API form. Unknown errors become a 500 `internal` whose message
    /// does not leak details (they are logged instead).
    public init(_ error: any Error) {
        switch error {
        case let e as APIError:
            self = e
        case let e as BatonError:
            self.init(e)
        case let e as HTTPError:
            self.init(
                status: e.status, code: Self.code(for: e.status), message: e.body ?? e.status.reasonPhrase.lowercased(), headers: e.headers)
        case is NIOTooManyBytesError:
            self = .bodyTooLarge(limit: nil)
        case let e as DecodingError:
            self.init(.invalidArgument(DecodingErrorMessage.describe(e)))
        case let e as any HTTPResponseError:
            self.init(status: e.status, code: Self.code(for: e.status), message: e.status.reasonPhrase.lowercased())
        default:
            self.init(status: .internalServerError, code: BatonError.Code.internal.description, message: "internal error")
        }
    }

    /// The status of each `BatonError.Code`.
    public static func status(for code: BatonError.Code) -> HTTPResponse.Status {
        switch code {
        case .invalidArgument: .badRequest
        case .notFound: .notFound
        case .conflict, .staleLease: .conflict
        case .tooLarge: .contentTooLarge
        case .unavailable, .storeIncompatible: .serviceUnavailable
        case .unauthorized: .unauthorized
        case .forbidden: .forbidden
        case .idempotencyMismatch: .unprocessableContent
        default: .internalServerError
        }
    }

    /// The code of an error that only has a status (Hummingbird's own errors).
    static func code(for status: HTTPResponse.Status) -> String {
        switch status.code {
        case 400: BatonError.Code.invalidArgument.description
        case 401: BatonError.Code.unauthorized.description
        case 403: BatonError.Code.forbidden.description
        case 404: BatonError.Code.notFound.description
        case 405: Self.methodNotAllowedCode
        case 409: BatonError.Code.conflict.description
        case 413: BatonError.Code.tooLarge.description
        case 415: Self.unsupportedMediaTypeCode
        case 503: BatonError.Code.unavailable.description
        default: BatonError.Code.internal.description
        }
    }

    public static let methodNotAllowedCode = "method_not_allowed"
    public static let unsupportedMediaTypeCode = "unsupported_media_type"

    static func bodyTooLarge(limit: Int?) -> APIError {
        let message = limit.map { "request body is larger than the limit of \($0) bytes" } ?? "request body is too large"
        return APIError(status: .contentTooLarge, code: BatonError.Code.tooLarge.description, message: message)
    }

    static func unsupportedMediaType(_ contentType: String) -> APIError {
        APIError(
            status: .unsupportedMediaType, code: unsupportedMediaTypeCode,
            message: "request body must be application/json, got '\(contentType)'")
    }

    static func notFound(method: HTTPRequest.Method, path: String) -> APIError {
        APIError(status: .notFound, code: BatonError.Code.notFound.description, message: "no route \(method.rawValue) \(path)")
    }

    public var description: String { "\(status.code) \(code): \(message)" }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var response = JSONResponse.make(status: status, body: JSONResponse.encode(ErrorBody(code: code, message: message)))
        response.headers.append(contentsOf: headers)
        return response
    }
}
