import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// The web dashboard, `GET /ui` on every node (docs/operations.md, "Dashboard"): queues and
/// their counts with pause and resume, recent tasks by state with their progress, failed tasks
/// with retry, a task's arguments, result and errors with cancel and retry, schedules with
/// pause and resume, the workers this node sees, and the node's live events.
///
/// One document, its style and script inline: no external asset, so it works offline. The page
/// itself holds no data and is public; it reads everything through the API with the token the
/// user gives it (kept in the tab's `sessionStorage`), so each role sees and does what the API
/// lets it. Its Content-Security-Policy allows only its own style and script (by hash) and
/// requests to this node.
public enum Dashboard {
    /// Where the page is served.
    public static let path = "/ui"

    /// The whole document.
    public static let document: String = """
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>Baton</title>
        <link rel="icon" href="data:,">
        <style>\(style)</style>
        </head>
        <body>
        \(markup)
        <script>\(script)</script>
        </body>
        </html>

        """

    /// The response headers: HTML, never cached, and a policy that runs nothing but the page's
    /// own style and script.
    public static let headers: HTTPFields = {
        var fields = HTTPFields()
        fields[.contentType] = "text/html; charset=utf-8"
        fields[.cacheControl] = "no-cache"
        fields[.contentSecurityPolicy] =
            "default-src 'none'; style-src '\(hash(style))'; script-src '\(hash(script))'; connect-src 'self'; "
            + "img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
        fields[HTTPField.Name("X-Content-Type-Options")!] = "nosniff"
        fields[HTTPField.Name("Referrer-Policy")!] = "no-referrer"
        return fields
    }()

    private static let body = ByteBuffer(string: document)

    /// The page's response.
    public static func response() -> Response {
        Response(status: .ok, headers: headers, body: .init(byteBuffer: body))
    }

    /// A CSP source for inline content: `sha256-` and its digest in base64.
    static func hash(_ text: String) -> String {
        "sha256-" + Data(SHA256.hash(data: Data(text.utf8))).base64EncodedString()
    }
}
