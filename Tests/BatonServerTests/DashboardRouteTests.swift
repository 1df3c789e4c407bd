import BatonCore
import BatonNode
import BatonTesting
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

@testable import BatonServer

/// `GET /ui` as HTTP: the page, public on a node with tokens, self-contained, and allowed to
/// run only its own style and script. The page's behaviour in a browser is
/// EndToEnd.DashboardTests (chromium).
@Suite("Dashboard route")
struct DashboardRouteTests {
    @Test func thePageIsPublicSelfContainedAndRunsOnlyItsOwnScript() async throws {
        let t = try await TestNode.make()
        defer { t.dispose() }
        try await t.app(AuthTests.configuration).test(.router) { client in
            let page = try await client.send(.get, "/ui")
            #expect(page.status == .ok, "the page holds no data: no token needed")
            #expect(page.headers[.contentType] == "text/html; charset=utf-8")
            let html = String(buffer: page.body)
            #expect(html.hasPrefix("<!doctype html>") && html.contains("<title>Baton</title>"))

            // Every hash in the policy is the hash of the inline style or script it serves.
            let policy = try #require(page.headers[.contentSecurityPolicy])
            let style = try #require(Self.between(html, "<style>", "</style>"))
            let script = try #require(Self.between(html, "<script>", "</script>"))
            #expect(policy.contains("style-src '\(Dashboard.hash(style))'"))
            #expect(policy.contains("script-src '\(Dashboard.hash(script))'"))
            #expect(policy.contains("default-src 'none'") && policy.contains("connect-src 'self'"))
            #expect(!policy.contains("unsafe-inline") && !policy.contains("unsafe-eval"))

            // No external asset: nothing loaded from another origin.
            for attribute in ["src=\"http", "href=\"http", "src=\"//", "href=\"//", "@import", "url("] {
                #expect(!html.contains(attribute), "the page loads \(attribute)…")
            }
            // Data goes in as text: the script never writes markup.
            #expect(!script.contains("innerHTML") && !script.contains("insertAdjacentHTML") && !script.contains("document.write"))

            let post = try await client.send(.post, "/ui", json: "{}")
            #expect(post.status == .methodNotAllowed)
            #expect(try post.errorBody().code == "method_not_allowed")
            // The data behind it still needs a token.
            #expect(try await client.send(.get, "/v1/queues").status == .unauthorized)
        }
    }

    static func between(_ text: String, _ open: String, _ close: String) -> String? {
        guard let start = text.range(of: open), let end = text.range(of: close, range: start.upperBound..<text.endIndex) else { return nil }
        return String(text[start.upperBound..<end.lowerBound])
    }
}
