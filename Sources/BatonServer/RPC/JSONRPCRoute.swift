import BatonCore
import BatonNode
import Foundation
import Hummingbird
import NIOCore

/// `POST /rpc`: JSON-RPC 2.0 (https://www.jsonrpc.org/specification) over the same
/// operations as the REST routes. Single calls, batches and notifications; named params only.
///
/// HTTP status: a body that is not JSON, not a call, or an empty batch is refused as a whole
/// with 400 and a JSON-RPC error object (`-32700`, `-32600`); otherwise 200 with the answers
/// (a call's own errors are in its answer), or 204 when every call was a notification.
struct JSONRPCRoute<Context: RequestContext>: Sendable {
    let ops: NodeAPI
    let reader: JSONBodyReader
    let authenticator: Authenticator

    var routes: [Route<Context>] {
        [
            Route(
                .post, "/rpc", access: .authenticated, summary: "JSON-RPC 2.0: one call or a batch", request: "RPCRequest",
                response: "RPCResponse", longPoll: true, handle)
        ]
    }

    // Standard codes.
    static var parseError: Int { -32700 }
    static var invalidRequest: Int { -32600 }
    static var methodNotFound: Int { -32601 }
    static var invalidParams: Int { -32602 }
    static var internalError: Int { -32603 }

    /// The application code of each `BatonError` code (`data.code` carries the name).
    static func rpcCode(for code: String) -> Int {
        switch code {
        case BatonError.Code.invalidArgument.description: invalidParams
        case BatonError.Code.notFound.description: -32001
        case BatonError.Code.conflict.description: -32002
        case BatonError.Code.staleLease.description: -32003
        case BatonError.Code.unauthorized.description: -32004
        case BatonError.Code.forbidden.description: -32005
        case BatonError.Code.tooLarge.description: -32006
        case BatonError.Code.unavailable.description, BatonError.Code.storeIncompatible.description: -32007
        case BatonError.Code.idempotencyMismatch.description: -32008
        case APIError.unsupportedMediaTypeCode: invalidRequest
        default: internalError
        }
    }

    /// One parsed request object.
    struct Call {
        /// `nil` for a notification (no `id` member); `.null` for `"id": null`.
        var id: JSONValue?
        var method: String
        var params: JSONValue?
    }

    @Sendable func handle(_ request: Request, context: Context) async throws -> Response {
        let role: Role?
        let body: ByteBuffer
        do {
            role = try authenticator.role(of: request)
            body = try await reader.read(request, validate: false)
        } catch {
            // Transport-level refusals keep their HTTP status, with a JSON-RPC error body.
            let api = APIError(error)
            var response = Self.single(
                Self.errorObject(id: .null, code: Self.rpcCode(for: api.code), message: api.message, data: api.code), status: api.status)
            response.headers.append(contentsOf: api.headers)
            return response
        }
        let bytes = Array(body.readableBytesView)
        do {
            try RawJSON.validateSyntax(bytes, maxDepth: reader.maxJSONDepth)
        } catch {
            if error.message.hasPrefix("JSON nested") {
                return Self.single(
                    Self.errorObject(
                        id: .null, code: Self.invalidRequest, message: "Invalid Request", data: "invalid_argument", detail: error.message),
                    status: .badRequest)
            }
            return Self.single(Self.errorObject(id: .null, code: Self.parseError, message: "Parse error"), status: .badRequest)
        }
        let value: JSONValue
        do {
            value = try JSONDecoder().decode(JSONValue.self, from: Data(bytes))
        } catch {
            return Self.single(Self.errorObject(id: .null, code: Self.parseError, message: "Parse error"), status: .badRequest)
        }
        let methods = ops.rpcMethods
        switch value {
        case .array(let items):
            guard !items.isEmpty else {
                return Self.invalidRequestResponse
            }
            guard items.count <= ops.configuration.maxBatch else {
                return Self.single(
                    Self.errorObject(
                        id: .null, code: Self.rpcCode(for: BatonError.Code.tooLarge.description), message: "Batch too large",
                        data: BatonError.Code.tooLarge.description,
                        detail: "the batch has \(items.count) calls, more than the limit of \(ops.configuration.maxBatch)"),
                    status: .contentTooLarge)
            }
            var answers: [[UInt8]] = []
            for call in items.map(Self.parse) {
                if let answer = await run(call, role: role, methods: methods, context: context) { answers.append(answer) }
            }
            guard !answers.isEmpty else { return Response(status: .noContent) }
            var out: [UInt8] = [UInt8(ascii: "[")]
            for (i, answer) in answers.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                out += answer
            }
            out.append(UInt8(ascii: "]"))
            return JSONResponse.make(bytes: out)
        default:
            // A body that is not a call at all is refused as a whole (400); a call's own
            // errors are answers (200).
            let parsed = Self.parse(value)
            if case .failure = parsed { return Self.invalidRequestResponse }
            guard let answer = await run(parsed, role: role, methods: methods, context: context) else {
                return Response(status: .noContent)
            }
            return JSONResponse.make(bytes: answer)
        }
    }

    /// One call's answer, or `nil` for a notification.
    func run(_ parsed: Result<Call, RPCInvalid>, role: Role?, methods: [String: RPCMethod], context: Context) async
        -> [UInt8]?
    {
        let call: Call
        switch parsed {
        case .failure:
            return Self.errorObject(id: .null, code: Self.invalidRequest, message: "Invalid Request")
        case .success(let c):
            call = c
        }
        let answer: [UInt8]
        do {
            guard let method = ops.rpcMethod(named: call.method, in: methods) else {
                throw RPCFailure(code: Self.methodNotFound, message: "Method not found")
            }
            if let role, !role.may(method.access) {
                throw Authenticator.forbidden(role: role, access: method.access)
            }
            let params: RPCParams
            switch call.params {
            case nil: params = RPCParams(object: [:])
            case .object(let members)?: params = RPCParams(object: members)
            default:
                throw RPCFailure(
                    code: Self.invalidParams, message: "Invalid params", data: BatonError.Code.invalidArgument.description,
                    detail: "params must be an object (named params)")
            }
            let result = try await method.run(params)
            guard let id = call.id else { return nil }
            answer = Self.resultObject(id: id, result: result)
        } catch {
            guard let id = call.id else { return nil }
            answer = errorObject(id: id, error, context: context)
        }
        return answer
    }

    struct RPCInvalid: Error {}

    /// Validates a request object: `jsonrpc` exactly `"2.0"`, a string `method`, `params` an
    /// object or array if present, `id` a string, number or null if present.
    static func parse(_ value: JSONValue) -> Result<Call, RPCInvalid> {
        guard case .object(let members) = value, members["jsonrpc"] == .string("2.0"),
            case .string(let method)? = members["method"]
        else { return .failure(RPCInvalid()) }
        let params = members["params"]
        switch params {
        case nil, .object?, .array?: break
        default: return .failure(RPCInvalid())
        }
        let id = members["id"]
        switch id {
        case nil, .null?, .string?, .int?, .double?: break
        default: return .failure(RPCInvalid())
        }
        return .success(Call(id: id, method: method, params: params))
    }

    // MARK: Response objects

    struct RPCFailure: Error {
        var code: Int
        var message: String
        /// `data.code`: the REST error code it matches, as every Baton error object carries.
        var data: String?
        var detail: String?
    }

    static func resultObject(id: JSONValue, result: [UInt8]) -> [UInt8] {
        var out = Array(#"{"jsonrpc":"2.0","result":"#.utf8)
        out += result
        out += Array(#","id":"#.utf8)
        out += encodeID(id)
        out.append(UInt8(ascii: "}"))
        return out
    }

    func errorObject(id: JSONValue, _ error: any Error, context: Context) -> [UInt8] {
        switch error {
        case let e as RPCFailure:
            return Self.errorObject(id: id, code: e.code, message: e.message, data: e.data, detail: e.detail)
        default:
            let api = APIError(error)
            if api.status.code >= 500 && api.code == BatonError.Code.internal.description {
                context.logger.error("JSON-RPC call failed", metadata: ["error": "\(error)"])
            }
            return Self.errorObject(id: id, code: Self.rpcCode(for: api.code), message: api.message, data: api.code)
        }
    }

    struct ErrorObject: Encodable {
        struct Detail: Encodable {
            var code: Int
            var message: String
            var data: Data?
        }
        struct Data: Encodable {
            var code: String?
            var message: String?
        }
        var error: Detail
    }

    /// `{"jsonrpc":"2.0","error":{"code":..,"message":..,"data":{"code":..}},"id":..}`.
    static func errorObject(id: JSONValue, code: Int, message: String, data: String? = nil, detail: String? = nil) -> [UInt8] {
        let hasData = data != nil || detail != nil
        let error = ErrorObject.Detail(
            code: code, message: message, data: hasData ? ErrorObject.Data(code: data, message: detail) : nil)
        var out = Array(#"{"jsonrpc":"2.0","error":"#.utf8)
        out += Array(JSONResponse.encode(error).readableBytesView)
        out += Array(#","id":"#.utf8)
        out += encodeID(id)
        out.append(UInt8(ascii: "}"))
        return out
    }

    static func encodeID(_ id: JSONValue) -> [UInt8] {
        Array(JSONResponse.encode(id).readableBytesView)
    }

    /// A body that is valid JSON but not a call, or an empty batch: 400 with `-32600`.
    static var invalidRequestResponse: Response {
        single(errorObject(id: .null, code: invalidRequest, message: "Invalid Request"), status: .badRequest)
    }

    static func single(_ bytes: [UInt8], status: HTTPResponse.Status = .ok) -> Response {
        JSONResponse.make(status: status, bytes: bytes)
    }
}
