import AsyncHTTPClient
import BatonCore
import BatonTesting
import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

@testable import BatonServer

@Suite("OpenAPI and limits")
struct OpenAPIAndLimitsTests {
    /// The document's paths and methods are exactly the router's route table, both ways.
    @Test func openAPIDocumentMatchesTheRouteTable() async throws {
        try await withTestApp { client, node in
            let response = try await client.send(.get, "/openapi.json")
            #expect(response.status == .ok)
            let document = try response.json()
            #expect(document["openapi"] == "3.1.0")
            guard case .object(let paths)? = document["paths"] else { throw Failure("no paths") }
            var documented: Set<String> = []
            for (path, item) in paths {
                guard case .object(let operations) = item else { continue }
                for (method, operation) in operations {
                    documented.insert("\(method.uppercased()) \(path)")
                    // Every path parameter is declared; security matches the route's role.
                    let names = path.split(separator: "/").filter { $0.hasPrefix("{") }.map { String($0.dropFirst().dropLast()) }
                    if case .array(let parameters)? = operation["parameters"] {
                        #expect(
                            parameters.filter { $0["in"] == "path" }.compactMap { $0["name"]?.stringValue } == names, "\(method) \(path)")
                    } else {
                        #expect(names.isEmpty, "\(method) \(path) declares no parameters")
                    }
                    #expect(operation["security"] != nil)
                }
            }
            let routes: [Route<BasicRequestContext>] = routeTable(node: node.node, configuration: .init())
            let table = Set(routes.map { route in "\(route.method.rawValue) \(OpenAPIDocument.openAPIPath(route.path).0)" })
            #expect(documented == table)
            #expect(table.contains("GET /openapi.json") && table.contains("POST /rpc"))
            // The public row has no security, others require the bearer scheme.
            #expect(document["paths"]?["/health"]?["get"]?["security"] == .array([]))
            #expect(document["paths"]?["/v1/tasks/{id}"]?["delete"]?["x-baton-access"] == "admin")
            #expect(document["components"]?["securitySchemes"]?["bearer"]?["scheme"] == "bearer")
        }
    }

    @Test func tooDeepJSONIs400AndNothingIsStored() async throws {
        try await withTestApp { client, node in
            let deep = String(repeating: "[", count: 70) + String(repeating: "]", count: 70)
            let response = try await client.send(.post, "/v1/tasks", json: #"{"kind":"x","args":\#(deep)}"#)
            #expect(response.status == .badRequest)
            #expect(try response.errorBody().message.contains("nested"))
            // Lenient JSON (a trailing comma) is refused before decoding.
            let trailing = try await client.send(.post, "/v1/tasks", json: #"{"kind":"x",}"#)
            #expect(trailing.status == .badRequest)
            #expect(try await node.store.taskList(TaskListParams()).tasks.isEmpty)
        }
    }

    @Test func oversizedBodyArgsAndBatchAre413AndNothingIsStored() async throws {
        let configuration = ServerConfiguration(maxBodyBytes: 64 << 10, maxArgsBytes: 1 << 10, maxBatch: 3)
        try await withTestApp(configuration: configuration) { client, node in
            let big = String(repeating: "a", count: 2000)
            let args = try await client.send(.post, "/v1/tasks", json: #"{"kind":"x","args":{"s":"\#(big)"}}"#)
            #expect(args.status == .contentTooLarge)
            let body = try await client.send(
                .post, "/v1/tasks", json: #"{"kind":"x","args":{"s":"\#(String(repeating: "b", count: 70_000))"}}"#)
            #expect(body.status == .contentTooLarge)
            let batch = try await client.send(
                .post, "/v1/tasks", json: "[" + Array(repeating: #"{"kind":"x"}"#, count: 4).joined(separator: ",") + "]")
            #expect(batch.status == .contentTooLarge)
            let rpcBatch = try await client.rpc(
                "[" + Array(repeating: #"{"jsonrpc":"2.0","method":"submit:x","params":{}}"#, count: 4).joined(separator: ",") + "]")
            #expect(rpcBatch.status == .contentTooLarge)
            #expect(try rpcBatch.json()["error"]?["code"] == .int(-32006))
            let longKind = try await client.send(.post, "/v1/tasks", json: #"{"kind":"\#(String(repeating: "k", count: 200))"}"#)
            #expect(longKind.status == .badRequest)
            #expect(try await node.store.taskList(TaskListParams()).tasks.isEmpty)
        }
    }
}
