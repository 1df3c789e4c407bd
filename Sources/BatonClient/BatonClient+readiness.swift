import AsyncHTTPClient
import BatonCore
import Foundation
import NIOCore
import NIOHTTP1

extension BatonClient {
    /// A node's answer to `GET /ready`.
    public enum Readiness: Sendable, Equatable {
        /// The node answered 200: its store answers.
        case ready
        /// The node answered, but not 200: the HTTP status and the node's reason (e.g. 503,
        /// "the store is not available").
        case notReady(status: Int, reason: String)
    }

    /// Asks one node whether it is ready (`GET /ready`), with no failover to another server:
    /// for health checks, where the question is about that node.
    ///
    /// - Parameters:
    ///   - server: the node's base URL; need not be one of ``servers``.
    ///   - timeout: the time limit of the whole request, the connection included.
    /// - Returns: ``Readiness/ready``, or ``Readiness/notReady(status:reason:)`` when the node
    ///   answered otherwise (a proxy's 502–504 page counts as an answer that it is not ready).
    /// - Throws: `unavailable` when the node cannot be reached or does not answer in time;
    ///   ``NotABatonNode`` when what answered is not a Baton node.
    public func readiness(of server: URL, timeout: Duration) async throws -> Readiness {
        var request = HTTPClientRequest(url: Self.url(server, path: "/ready", query: []))
        request.method = .GET
        request.headers.add(name: "Accept", value: "application/json")
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        let status: Int
        let contentType: String?
        let data: Data
        do {
            let response = try await httpClient.execute(request, timeout: .nanoseconds(Int64(timeout.seconds * 1e9)))
            let bytes = try await response.body.collect(upTo: 1 << 20)
            status = Int(response.status.code)
            contentType = response.headers["Content-Type"].first
            data = Data(bytes.readableBytesView)
        } catch {
            if error is CancellationError { throw error }
            throw BatonError.unavailable("cannot reach \(Self.displayURL(server)): \(Self.describe(error))")
        }
        if (502...504).contains(status) && !Self.isJSON(contentType) {
            return .notReady(status: status, reason: "HTTP \(status) from a proxy: the node is down")
        }
        guard Self.isJSON(contentType) else {
            throw NotABatonNode(server: Self.displayURL(server), request: "GET /ready", status: status, contentType: contentType)
        }
        if status == 200 { return .ready }
        return .notReady(status: status, reason: Self.error(status: status, body: data).message)
    }
}
