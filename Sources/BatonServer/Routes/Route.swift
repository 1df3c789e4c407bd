import Hummingbird

/// One API endpoint: method, path template (`:id` for a parameter) and handler.
struct Route<Context: RequestContext>: Sendable {
    var method: HTTPRequest.Method
    var path: String
    var handler: @Sendable (Request, Context) async throws -> Response

    init(_ method: HTTPRequest.Method, _ path: String, _ handler: @escaping @Sendable (Request, Context) async throws -> Response) {
        self.method = method
        self.path = path
        self.handler = handler
    }
}
