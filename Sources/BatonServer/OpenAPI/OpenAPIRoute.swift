import BatonCore
import BatonNode
import Hummingbird

/// `GET /openapi.json`: the OpenAPI 3.1 document of the route table (itself included).
struct OpenAPIRoute<Context: RequestContext>: Sendable {
    let table: [Route<Context>]
    let limits: NodeAPILimits

    init(routes: [Route<Context>], limits: NodeAPILimits) {
        table = routes
        self.limits = limits
    }

    static var path: String { "/openapi.json" }

    var routes: [Route<Context>] {
        let this = RouteSpec(method: .get, path: Self.path, access: .public, summary: "This OpenAPI document")
        let bytes = Array(JSONResponse.encode(OpenAPIDocument.make(table.map(RouteSpec.init) + [this], limits: limits)).readableBytesView)
        return [
            Route(.get, Self.path, access: .public, summary: this.summary) { _, _ in JSONResponse.make(bytes: bytes) }
        ]
    }
}

/// What the OpenAPI document needs of a route.
struct RouteSpec: Sendable {
    var method: HTTPRequest.Method
    var path: String
    var access: Access
    var summary: String
    var requestSchema: String? = nil
    var responseSchema: String? = nil
    var query: [QueryParameter] = []
    var dropIn: DropInSpec? = nil

    init(method: HTTPRequest.Method, path: String, access: Access, summary: String) {
        self.method = method
        self.path = path
        self.access = access
        self.summary = summary
    }

    init<Context>(_ route: Route<Context>) {
        self.init(method: route.method, path: route.path, access: route.access, summary: route.summary)
        requestSchema = route.requestSchema
        responseSchema = route.responseSchema
        query = route.query
        dropIn = route.dropIn
    }
}

/// A query parameter of a route, for the OpenAPI document.
struct QueryParameter: Sendable {
    var name: String
    var schema: JSONValue
    var description: String
}
