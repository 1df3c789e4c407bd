import BatonCore
import BatonNode
import BatonTesting
import Foundation
import HTTPTypes
import Hummingbird
import Testing

@testable import BatonServer

/// The REST routes and the JSON-RPC methods are two doors onto the same operations: every
/// `/v1/...` route names its method (`Route.rpc`) and needs the same role, and every method is
/// named by some route. Routes outside `/v1` (`/health`, `/ready`, `/openapi.json`, `/rpc`)
/// have no method; `submit:KIND` is resolved by name and is not in `rpcMethods`. The drop-in
/// routes of earlier systems' APIs (`Route.dropIn`, docs/compat.md) are those systems' own
/// doors, wherever they are mounted: they name no method and are outside this parity.
@Suite("REST and JSON-RPC parity")
struct RPCParityTests {
    /// Methods that share a route another method names, with the reason. Each is checked
    /// against that route (it must exist and need the method's role), not exempted.
    static let sharedRoutes: [String: (method: HTTPRequest.Method, path: String, reason: String)] = [
        "task.submitBatch": (
            .post, "/v1/tasks", "POST /v1/tasks takes one task (task.submit) or an array of tasks (task.submitBatch)"
        )
    ]

    struct Tables {
        var routes: [Route<BasicRequestContext>]
        var methods: [String: RPCMethod]

        var v1: [Route<BasicRequestContext>] { routes.filter { $0.path.hasPrefix("/v1/") && $0.dropIn == nil } }
        var dropIn: [Route<BasicRequestContext>] { routes.filter { $0.dropIn != nil } }
    }

    func withTables(_ body: (Tables) throws -> Void) async throws {
        let t = try await TestNode.make()
        defer { t.dispose() }
        let configuration = ServerConfiguration()
        try body(
            Tables(
                routes: routeTable(node: t.node, configuration: configuration),
                methods: NodeAPI(node: t.node, limits: configuration.limits).rpcMethods))
    }

    @Test func everyV1RouteNamesAnRPCMethodWithTheSameRole() async throws {
        try await withTables { tables in
            #expect(tables.v1.count >= 25, "the /v1 routes were not found: \(tables.v1.map(\.path))")
            for route in tables.v1 {
                let label = "\(route.method) \(route.path)"
                guard let name = route.rpc else {
                    Issue.record("\(label) names no JSON-RPC method (give its Route an `rpc:`)")
                    continue
                }
                guard let method = tables.methods[name] else {
                    Issue.record("\(label) names '\(name)', which is not in rpcMethods")
                    continue
                }
                #expect(method.access == route.access, "\(label) needs \(route.access) but \(name) needs \(method.access)")
            }
            for route in tables.routes where !route.path.hasPrefix("/v1/") || route.dropIn != nil {
                #expect(route.rpc == nil, "\(route.method) \(route.path) is outside /v1 or a drop-in route and names no method")
            }
        }
    }

    /// The drop-in routes are in the table (both systems, some under `/v1/`), so that the
    /// exemption above is not vacuous, and none of them names a method.
    @Test func dropInRoutesAreOutsideTheParity() async throws {
        try await withTables { tables in
            let paths = Set(tables.dropIn.map(\.path))
            #expect(paths.isSuperset(of: ["/jobs", "/jobs/:id", "/next-job", "/jobs/:id/complete", "/v1/tasks/enqueue", "/v1/about"]))
            #expect(tables.dropIn.allSatisfy { $0.rpc == nil })
            #expect(tables.dropIn.contains { $0.path.hasPrefix("/v1/") }, "taskq's routes are under /v1 and still outside")
        }
    }

    @Test func everyRPCMethodIsNamedByARoute() async throws {
        try await withTables { tables in
            #expect(tables.methods.count >= 25)
            for (name, method) in tables.methods.sorted(by: { $0.key < $1.key }) {
                let naming = tables.v1.filter { $0.rpc == name }
                guard let shared = Self.sharedRoutes[name] else {
                    #expect(!naming.isEmpty, "no /v1 route names \(name) (give its Route `rpc: \"\(name)\"`)")
                    continue
                }
                #expect(naming.isEmpty, "\(name) is named by a route: remove it from sharedRoutes")
                guard let route = tables.v1.first(where: { $0.method == shared.method && $0.path == shared.path }) else {
                    Issue.record("\(name) maps to \(shared.method) \(shared.path), which is not a route (\(shared.reason))")
                    continue
                }
                #expect(
                    route.access == method.access,
                    "\(name) needs \(method.access) but \(shared.method) \(shared.path) needs \(route.access)")
            }
            for name in Self.sharedRoutes.keys {
                #expect(tables.methods[name] != nil, "sharedRoutes names \(name), which is not in rpcMethods")
            }
        }
    }
}
