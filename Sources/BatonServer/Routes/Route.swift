import Foundation
import Hummingbird

/// One API endpoint: method, path template (`:id` for a parameter), who may call it, and handler.
///
/// The route table (every `Route` of `makeRouter`) is the one source of the router, the
/// authorization check and the OpenAPI document.
struct Route<Context: RequestContext>: Sendable {
    var method: HTTPRequest.Method
    var path: String
    /// Defaults to `.admin`: a route nobody classified is closed to everyone else.
    var access: Access
    /// The JSON-RPC method (`rpcMethods`) doing what this route does, with the same role; every
    /// `/v1/...` route names one (`RPCParityTests`).
    var rpc: String?
    /// OpenAPI: one-line summary, and the request/response schema names (`components.schemas`).
    var summary: String
    var requestSchema: String?
    var responseSchema: String?
    /// A long-poll: the handler learns when its client leaves (`ClientConnection.current`).
    var longPoll: Bool
    /// Its query parameters, for the OpenAPI document.
    var query: [QueryParameter]
    /// A drop-in route of an earlier system's API (docs/compat.md): outside the REST/JSON-RPC
    /// parity, with its own answers in the OpenAPI document.
    var dropIn: DropInSpec?
    var handler: @Sendable (Request, Context) async throws -> Response

    init(
        _ method: HTTPRequest.Method, _ path: String, access: Access = .admin, rpc: String? = nil, summary: String = "",
        request: String? = nil, response: String? = nil, longPoll: Bool = false, query: [QueryParameter] = [],
        dropIn: DropInSpec? = nil, _ handler: @escaping @Sendable (Request, Context) async throws -> Response
    ) {
        self.method = method
        self.path = path
        self.access = access
        self.rpc = rpc
        self.summary = summary
        self.requestSchema = request
        self.responseSchema = response
        self.longPoll = longPoll
        self.query = query
        self.dropIn = dropIn
        self.handler = handler
    }
}

extension RequestContext {
    /// A path parameter as the client meant it: percent-decoded (`%3A` is `:`). Empty when
    /// missing or not valid percent-encoding, which every caller refuses.
    func pathParameter(_ name: String) -> String {
        guard let raw = parameters.get(name) else { return "" }
        return raw.removingPercentEncoding ?? ""
    }
}
