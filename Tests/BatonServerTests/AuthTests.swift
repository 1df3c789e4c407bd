import BatonCore
import BatonNode
import BatonTesting
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

@testable import BatonServer

/// Bearer tokens with roles, checked from the route table: every route and every JSON-RPC method.
@Suite("Auth")
struct AuthTests {
    static let tokens = [
        AuthToken(role: .producer, token: "p-token"), AuthToken(role: .worker, token: "w-token"),
        AuthToken(role: .admin, token: "a-token"), AuthToken(role: .metrics, token: "m-token"),
    ]
    static let configuration = ServerConfiguration(tokens: tokens)

    static func bearer(_ token: String) -> HTTPFields {
        var headers = jsonHeaders
        headers[.authorization] = "Bearer \(token)"
        return headers
    }

    static func token(for role: Role) -> String { tokens.first { $0.role == role }!.token }

    /// The path with its parameters filled in (the event stream with a timeout, so that it ends).
    static func concrete(_ path: String) -> String {
        let filled = path.split(separator: "/", omittingEmptySubsequences: false).map { segment in
            segment.hasPrefix(":") ? (segment == ":id" ? "0190a000-0000-7000-8000-000000000000" : "x") : String(segment)
        }.joined(separator: "/")
        return path == "/v1/events" ? filled + "?timeout=0" : filled
    }

    @Test func everyRouteRefusesMissingAndWrongTokensAndWrongRoles() async throws {
        let t = try await TestNode.make()
        defer { t.dispose() }
        let routes: [Route<BasicRequestContext>] = routeTable(node: t.node, configuration: Self.configuration)
        #expect(routes.count > 15)
        try await t.app(Self.configuration).test(.router) { client in
            for route in routes {
                let path = Self.concrete(route.path)
                let label = "\(route.method) \(route.path)"
                if route.access == .public {
                    let open = try await client.send(route.method, path)
                    #expect(open.status != .unauthorized && open.status != .forbidden, "\(label) is public")
                    continue
                }
                let none = try await client.send(route.method, path, json: "{}")
                #expect(none.status == .unauthorized, "\(label) without a token: \(none.status)")
                #expect(none.headers[.wwwAuthenticate]?.hasPrefix("Bearer") == true, "\(label)")
                if route.access == .authenticated {
                    // `POST /rpc` answers with a JSON-RPC error object.
                    #expect(try none.json()["error"]?["code"] == .int(-32004))
                } else {
                    #expect(try none.errorBody().code == "unauthorized")
                }
                let wrong = try await client.send(route.method, path, json: "{}", headers: Self.bearer("nope"))
                #expect(wrong.status == .unauthorized, "\(label) with an unknown token")
                for role in Role.allCases {
                    let response = try await client.send(route.method, path, json: "{}", headers: Self.bearer(Self.token(for: role)))
                    if role.may(route.access) {
                        #expect(response.status != .unauthorized && response.status != .forbidden, "\(label) as \(role)")
                    } else {
                        #expect(response.status == .forbidden, "\(label) as \(role): \(response.status)")
                        #expect(try response.errorBody().code == "forbidden")
                    }
                }
            }
        }
    }

    @Test func everyRPCMethodChecksItsRole() async throws {
        let t = try await TestNode.make()
        defer { t.dispose() }
        let ops = NodeAPI(node: t.node, limits: Self.configuration.limits)
        let methods = ops.rpcMethods.map { ($0.key, $0.value.access) } + [("submit:export", Access.producer)]
        try await t.app(Self.configuration).test(.router) { client in
            // No token or an unknown one: 401 for the whole request.
            let call = #"{"jsonrpc":"2.0","method":"task.get","params":{},"id":1}"#
            let none = try await client.rpc(call)
            #expect(none.status == .unauthorized)
            #expect(none.headers[.wwwAuthenticate]?.hasPrefix("Bearer") == true)
            #expect(try none.json()["error"]?["code"] == .int(-32004))
            #expect(try await client.rpc(call, headers: Self.bearer("nope")).status == .unauthorized)

            for (name, access) in methods {
                for role in Role.allCases {
                    let response = try await client.rpc(
                        #"{"jsonrpc":"2.0","method":"\#(name)","params":{"id":"x","timeout":0},"id":7}"#,
                        headers: Self.bearer(Self.token(for: role)))
                    #expect(response.status == .ok)
                    let code = try response.json()["error"]?["code"]
                    if role.may(access) {
                        #expect(code != .int(-32005) && code != .int(-32601), "\(name) as \(role)")
                    } else {
                        #expect(code == .int(-32005), "\(name) as \(role): \(response.text)")
                    }
                }
            }

            // In a batch, a forbidden call gets its error and the others proceed.
            let batch = try await client.rpc(
                #"[{"jsonrpc":"2.0","method":"worker.claim","params":{"worker":"w"},"id":1},{"jsonrpc":"2.0","method":"queue.list","id":2}]"#,
                headers: Self.bearer(Self.token(for: .producer)))
            let answers = try batch.json()
            #expect(answers[0]?["error"]?["code"] == .int(-32005))
            #expect(answers[0]?["error"]?["data"]?["code"] == "forbidden")
            #expect(answers[1]?["result"]?["queues"] != nil)
        }
    }

    @Test func producerFlowWithTokens() async throws {
        try await withTestApp(configuration: Self.configuration) { client, _ in
            let submitted = try await client.execute(
                uri: "/v1/tasks", method: .post, headers: Self.bearer("p-token"), body: ByteBuffer(string: #"{"kind":"echo"}"#))
            #expect(submitted.status == .created)
            let claim = try await client.execute(
                uri: "/v1/workers/claim", method: .post, headers: Self.bearer("w-token"), body: ByteBuffer(string: #"{"worker":"w"}"#))
            #expect(claim.status == .ok)
            #expect(try claim.decode(ClaimResponse.self).tasks.count == 1)
            // Lower-case scheme is accepted; the health check needs nothing.
            var headers = jsonHeaders
            headers[.authorization] = "bearer a-token"
            #expect(try await client.send(.get, "/v1/queues", headers: headers).status == .ok)
            #expect(try await client.send(.get, "/health").status == .ok)
        }
    }

    @Test func tokenParsingAndRedaction() throws {
        let tokens = try AuthToken.parseList("producer:abc, worker:def ,admin:x:y")
        #expect(tokens == [.init(role: .producer, token: "abc"), .init(role: .worker, token: "def"), .init(role: .admin, token: "x:y")])
        #expect(!"\(tokens)".contains("abc"))
        #expect(throws: BatonError.self) { try AuthToken.parseList("root:abc") }
        #expect(throws: BatonError.self) { try AuthToken.parseList("producer:") }
        #expect(Authenticator.constantTimeEqual(Array("abc".utf8), Array("abc".utf8)))
        #expect(!Authenticator.constantTimeEqual(Array("abc".utf8), Array("abd".utf8)))
        #expect(!Authenticator.constantTimeEqual(Array("abc".utf8), Array("abcabc".utf8)))
        #expect(!Authenticator.constantTimeEqual([], Array("a".utf8)))
    }
}
