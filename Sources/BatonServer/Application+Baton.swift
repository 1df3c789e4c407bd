import BatonCore
import Hummingbird
import Logging
import NIOCore

/// The node's router: every REST and worker-protocol route, behind the JSON error middleware.
public func makeRouter(node: NodeServices, configuration: ServerConfiguration = .init()) -> Router<BasicRequestContext> {
    let router = Router(context: BasicRequestContext.self)
    let reader = JSONBodyReader(maxBodyBytes: configuration.maxBodyBytes)
    let routes =
        SystemRoutes<BasicRequestContext>(node: node).routes
        + TaskRoutes<BasicRequestContext>(node: node, configuration: configuration, reader: reader).routes
        + WorkerRoutes<BasicRequestContext>(node: node, configuration: configuration, reader: reader).routes
    var table = RouteTable()
    for route in routes { table.add(route.method, route.path) }
    router.add(middleware: ErrorMiddleware(routes: table))
    for route in routes {
        router.on(RouterPath(route.path), method: route.method, use: route.handler)
    }
    return router
}

/// The node's HTTP server as a ServiceLifecycle service: put it in a `ServiceGroup` beside
/// the maintenance services (or run it alone with `runService()`).
///
/// - Parameter onServerRunning: called once the server listens, with the bound port (useful
///   with `port: 0`).
public func makeApplication(
    node: NodeServices,
    configuration: ServerConfiguration = .init(),
    logger: Logger = Logger(label: "baton.server"),
    onServerRunning: @escaping @Sendable (_ port: Int) async -> Void = { _ in }
) -> some ApplicationProtocol {
    Application(
        router: makeRouter(node: node, configuration: configuration),
        configuration: ApplicationConfiguration(
            address: .hostname(configuration.host, port: configuration.port),
            serverName: "baton"),
        onServerRunning: { channel in
            await onServerRunning(channel.localAddress?.port ?? configuration.port)
        },
        logger: logger)
}
