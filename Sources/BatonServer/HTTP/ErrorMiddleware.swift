import BatonCore
import Hummingbird
import Logging

/// Turns every error, including Hummingbird's own (unknown route, body too large), into the
/// API's JSON error body. An unknown path is 404; a known path with another method is 405.
struct ErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    let routes: RouteTable
    /// Where the drop-in routes are, to keep a token in their path out of the log.
    var compat = DropInConfiguration()

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            var apiError = APIError(error)
            if apiError.status == .notFound, context.endpointPath == "NotFound" || context.endpointPath == nil {
                let allowed = routes.methods(forPath: request.uri.path)
                if allowed.isEmpty {
                    apiError = .notFound(method: request.method, path: request.uri.path)
                } else {
                    var headers = HTTPFields()
                    headers[.allow] = allowed.map(\.rawValue).joined(separator: ", ")
                    apiError = APIError(
                        status: .methodNotAllowed, code: APIError.methodNotAllowedCode,
                        message: "\(request.method.rawValue) is not allowed on \(request.uri.path); allowed: \(headers[.allow] ?? "")",
                        headers: headers)
                }
            }
            if apiError.status.code >= 500 {
                context.logger.error(
                    "request failed",
                    metadata: ["method": "\(request.method.rawValue)", "path": "\(compat.redacted(request.uri.path))", "error": "\(error)"])
            }
            return try apiError.response(from: request, context: context)
        }
    }
}

/// The API's routes as path templates, to tell "no such path" (404) from "wrong method" (405).
struct RouteTable: Sendable {
    private var entries: [(segments: [Substring], method: HTTPRequest.Method)] = []

    mutating func add(_ method: HTTPRequest.Method, _ path: String) {
        entries.append((path.split(separator: "/"), method))
    }

    /// The methods of the template the router resolves `path` to: as its trie, the one with a
    /// constant segment first where templates differ (`/v1/tasks/enqueue` before `/v1/tasks/:id`).
    func methods(forPath path: String) -> [HTTPRequest.Method] {
        let segments = path.split(separator: "/")
        var seen: [HTTPRequest.Method] = []
        var best: [Bool]?
        for entry in entries where entry.segments.count == segments.count {
            let match = zip(entry.segments, segments).allSatisfy { template, actual in
                template.hasPrefix(":") || template == actual
            }
            guard match else { continue }
            let constants = entry.segments.map { !$0.hasPrefix(":") }
            if let current = best, constants != current {
                guard Self.moreSpecific(constants, than: current) else { continue }
                seen = []
            }
            best = constants
            if !seen.contains(entry.method) { seen.append(entry.method) }
        }
        return seen
    }

    static func moreSpecific(_ a: [Bool], than b: [Bool]) -> Bool {
        for (x, y) in zip(a, b) where x != y { return x }
        return false
    }
}
