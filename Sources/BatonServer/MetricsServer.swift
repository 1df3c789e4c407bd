import BatonNode
import Hummingbird
import Logging
import NIOCore

/// The HTTP server of a process that is not a node but keeps Prometheus metrics (`baton worker
/// --metrics-port`): `GET /metrics` and nothing else, on its own address.
public func makeMetricsApplication(
    host: String, port: Int, logger: Logger, exposition: @escaping @Sendable () -> [UInt8],
    onServerRunning: @escaping @Sendable (_ port: Int) async -> Void = { _ in }
) -> some ApplicationProtocol {
    let router = Router()
    router.get("/metrics") { _, _ -> Response in
        var headers = HTTPFields()
        headers[.contentType] = NodeMetrics.contentType
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: exposition())))
    }
    return Application(
        router: router, configuration: ApplicationConfiguration(address: .hostname(host, port: port), serverName: "baton-worker"),
        onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? port) }, logger: logger)
}
