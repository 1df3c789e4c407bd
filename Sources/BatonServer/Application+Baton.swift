import BatonCore
import BatonNode
import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import ServiceLifecycle
import Tracing

/// The node's router: every REST and worker-protocol route, `POST /rpc` and
/// `GET /openapi.json`, each behind its role check, and the dashboard's page (`GET /ui`),
/// behind the JSON error middleware.
///
/// - Parameter live: the settings a reload changes (tokens, limits); by default fixed at
///   `configuration`'s.
public func makeRouter(
    node: NodeServices, configuration: ServerConfiguration = .init(), live: ServerLiveSettings? = nil
) -> Router<BatonRequestContext> {
    let live = live ?? ServerLiveSettings(configuration)
    let router = Router(context: BatonRequestContext.self)
    let routes: [Route<BatonRequestContext>] = routeTable(node: node, configuration: configuration, live: live)
    let authenticator = Authenticator(table: live.tokens)
    var table = RouteTable()
    for route in routes { table.add(route.method, route.path) }
    table.add(.get, Dashboard.path)
    router.add(middleware: ErrorMiddleware(routes: table, compat: configuration.compat))
    // The dashboard's page is public: it holds no data, and reads the API with the user's token.
    router.get(RouterPath(Dashboard.path)) { _, _ in Dashboard.response() }
    for route in routes {
        let access = route.access
        let handler = route.handler
        let longPoll = route.longPoll
        let tokenInPath = route.dropIn?.tokenInPath == true
        router.on(RouterPath(route.path), method: route.method) { request, context in
            if tokenInPath {
                // A drop-in route under `compat.prefix` with `{token}`: its clients send no header.
                try authenticator.authorize(pathToken: context.pathParameter("token"), access)
            } else if access != .authenticated {
                // `POST /rpc` (`.authenticated`) checks its token itself, to answer with a JSON-RPC error.
                try authenticator.authorize(request, access)
            }
            // Long-polls (claims, also through `POST /rpc`) stop when their client leaves.
            let connection = longPoll ? ClientConnection.of(context.channel) : nil
            @Sendable func serve() async throws -> Response {
                guard let connection else { return try await handler(request, context) }
                return try await ClientConnection.$current.withValue(connection) { try await handler(request, context) }
            }
            // A submitter's `traceparent` parents the submit's producer span (``TaskTrace``).
            if TaskTrace.isEnabled, request.headers[.traceparent] != nil {
                let headers = request.headers
                let submitter = TaskTrace.context { name in HTTPField.Name(name).flatMap { headers[$0] } }
                return try await ServiceContext.withValue(submitter) { try await serve() }
            }
            return try await serve()
        }
    }
    return router
}

/// Every route of the API, in one table: the router, the role checks and the OpenAPI
/// document are all built from it.
func routeTable<Context: RequestContext>(
    node: NodeServices, configuration: ServerConfiguration, live: ServerLiveSettings? = nil
) -> [Route<Context>] {
    let live = live ?? ServerLiveSettings(configuration)
    let reader = JSONBodyReader(bodyLimit: live.maxBodyBytes, maxJSONDepth: configuration.maxJSONDepth)
    let ops = NodeAPI(node: node, limits: live.limits)
    var routes: [Route<Context>] = SystemRoutes<Context>(ops: ops).routes
    routes += TaskRoutes<Context>(ops: ops, reader: reader).routes
    routes += WorkflowRoutes<Context>(ops: ops, reader: reader).routes
    routes += MachineryRoutes<Context>(ops: ops, reader: reader).routes
    if configuration.compat.jobs {
        routes += JobsRoutes<Context>(ops: ops, reader: reader, mount: configuration.compat).routes
    }
    if configuration.compat.taskq {
        routes += TaskqRoutes<Context>(ops: ops, reader: reader, mount: configuration.compat).routes
    }
    routes += WorkerRoutes<Context>(ops: ops, reader: reader).routes
    routes += WorkerRegistryRoutes<Context>(ops: ops, reader: reader).routes
    routes += ScheduleRoutes<Context>(ops: ops, reader: reader).routes
    routes += QueueRoutes<Context>(ops: ops).routes
    routes += EventRoutes<Context>(ops: ops).routes
    routes += JSONRPCRoute<Context>(ops: ops, reader: reader, authenticator: Authenticator(table: live.tokens)).routes
    return routes + OpenAPIRoute<Context>(routes: routes, limits: configuration.limits).routes
}

/// The node's HTTP server as a ServiceLifecycle service: put it in a `ServiceGroup` beside
/// the maintenance services (or run it alone with `runService()`).
///
/// - Parameter server: plain HTTP/1.1 by default, or HTTPS from `makeServerBuilder(configuration)`.
/// - Parameter services: services the application runs beside the server (a test runs the
///   node's completer here; `baton serve` runs the node's services in its own group instead).
/// - Parameter onServerRunning: called once the server listens, with the bound port (useful
///   with `port: 0`).
/// - Parameter live: the settings a reload changes (``ServerLiveSettings/apply(_:)``); by
///   default fixed at `configuration`'s.
public func makeApplication(
    node: NodeServices,
    configuration: ServerConfiguration = .init(),
    live: ServerLiveSettings? = nil,
    logger: Logger = Logger(label: "baton.server"),
    server: HTTPServerBuilder? = nil,
    services: [any Service] = [],
    onServerRunning: @escaping @Sendable (_ port: Int) async -> Void = { _ in }
) -> some ApplicationProtocol {
    Application(
        router: makeRouter(node: node, configuration: configuration, live: live),
        server: server ?? ClientConnection.http1Server(),
        configuration: ApplicationConfiguration(
            address: .hostname(configuration.host, port: configuration.port),
            serverName: "baton"),
        services: services,
        onServerRunning: { channel in
            await onServerRunning(channel.localAddress?.port ?? configuration.port)
        },
        logger: logger)
}

extension HTTPField.Name {
    /// W3C Trace Context's header.
    static var traceparent: Self { Self("traceparent")! }
}
