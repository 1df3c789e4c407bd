import BatonCore
import BatonNode
import Foundation
import Hummingbird

/// Which drop-in APIs of earlier systems a node serves, and where (docs/compat.md): the
/// `/jobs` API of the Go Distributed Task Scheduler and the task queue API of taskq
/// (dist-sched-tasks). Their clients send no token: on a node with tokens, `prefix` may hold
/// the segment `{token}`, which the clients' URL then carries in place of a bearer token.
///
/// Keys read by ``ServerConfiguration/init(reader:)``:
/// - `compat.jobs` (`BATON_COMPAT_JOBS`): serve `/jobs`, `/jobs/{id}`, `/next-job` and
///   `/jobs/{id}/complete` (default true)
/// - `compat.taskq` (`BATON_COMPAT_TASKQ`): serve `/v1/tasks/enqueue`, `/v1/tasks/dequeue`,
///   `/v1/tasks/update` and `/v1/about` (default true)
/// - `compat.prefix` (`BATON_COMPAT_PREFIX`): a path prefix for both, e.g. `/compat` or
///   `/compat/{token}` (default none: at the root)
public struct DropInConfiguration: Sendable, Hashable {
    /// The segment of ``prefix`` that stands for one of the node's tokens.
    public static let tokenSegment = "{token}"
    /// First segments of Baton's own routes, which a prefix may not start with.
    static let reserved: Set<String> = ["v1", "rpc", "health", "ready", "metrics", "openapi.json"]

    public var jobs: Bool
    public var taskq: Bool
    /// `""` (the root), or `/a/b` whose segments are letters, digits and `- . _ ~`, or `{token}` (once).
    public var prefix: String

    public init(jobs: Bool = true, taskq: Bool = true, prefix: String = "") {
        self.jobs = jobs
        self.taskq = taskq
        self.prefix = prefix
    }

    /// The prefix without a trailing slash (`/` is the root, `""`).
    var normalizedPrefix: String {
        var p = prefix
        while p.hasSuffix("/") { p.removeLast() }
        return p
    }

    /// Whether the prefix carries a token.
    public var tokenInPath: Bool { normalizedPrefix.split(separator: "/").contains { $0 == Self.tokenSegment } }

    /// The router's path template of a drop-in route: the prefix (its `{token}` as the
    /// parameter `:token`), then `path`.
    func path(_ path: String) -> String {
        let segments = normalizedPrefix.split(separator: "/").map { $0 == Self.tokenSegment ? ":token" : String($0) }
        return (segments.isEmpty ? "" : "/" + segments.joined(separator: "/")) + path
    }

    /// `path` with the token of a drop-in route's path replaced, for logs.
    func redacted(_ path: String) -> String {
        let template = normalizedPrefix.split(separator: "/", omittingEmptySubsequences: false)
        guard let index = template.firstIndex(where: { $0 == Self.tokenSegment }) else { return path }
        var segments = path.split(separator: "/", omittingEmptySubsequences: false)
        guard segments.count > index, zip(template[..<index], segments[..<index]).allSatisfy({ $0 == $1 }) else { return path }
        segments[index] = "<token>"
        return segments.joined(separator: "/")
    }

    public func validate() throws(BatonError) {
        let p = normalizedPrefix
        guard !p.isEmpty else { return }
        guard p.hasPrefix("/") else { throw .invalidArgument("compat.prefix must start with '/', got '\(prefix)'") }
        let segments = p.dropFirst().split(separator: "/", omittingEmptySubsequences: false)
        for segment in segments where segment != Self.tokenSegment {
            let ok =
                !segment.isEmpty
                && segment.unicodeScalars.allSatisfy { s in
                    (s.isASCII && (CharacterSet.alphanumerics.contains(s))) || "-._~".unicodeScalars.contains(s)
                }
            guard ok else {
                throw .invalidArgument(
                    "compat.prefix: each segment must be letters, digits and - . _ ~, or {token}; got '\(segment)' in '\(prefix)'")
            }
        }
        guard segments.filter({ $0 == Self.tokenSegment }).count <= 1 else {
            throw .invalidArgument("compat.prefix may hold {token} once, got '\(prefix)'")
        }
        if let first = segments.first, Self.reserved.contains(String(first)) {
            throw .invalidArgument("compat.prefix may not start with /\(first), which is Baton's own (got '\(prefix)')")
        }
    }
}

/// How a drop-in route is documented and checked, beside what every route has.
struct DropInSpec: Sendable {
    struct Success: Sendable {
        var status: String
        var description: String
        /// `nil`: no body.
        var schema: String?
    }

    var successes: [Success]
    /// Error statuses beyond the usual ones (400, 503; 401/403 with a role; 413/415 with a body).
    var errors: [String] = []
    /// The body schema of its 400, 404 and 409 answers.
    var errorSchema: String = "Error"
    /// The request body may be empty.
    var bodyOptional = false
    /// The path's `:token` is the caller's token (checked instead of the Authorization header).
    var tokenInPath = false
}

/// The lease a drop-in client completes a task under: its clients name the task by id alone,
/// so the route reads the task's current lease from the store (on any node, across restarts)
/// and completes the attempt under it.
enum DropInLease {
    /// The token of running task `id`'s current lease. When `worker` is named, the lease must
    /// be that worker's (its owner in the store), so a worker whose lease ran out cannot end
    /// another worker's attempt. Throws `notFound` for an unknown task, and `conflict` with
    /// `notRunning(task)`, or `heldByOther(owner)`, as the messages.
    static func token(
        _ ops: NodeAPI, _ id: TaskID, worker: String?, notRunning: (TaskRecord) -> String, heldByOther: (String) -> String
    ) async throws -> String {
        let current = try await ops.getWithLease(id)
        guard current.task.state == .running, let token = current.leaseToken else {
            throw BatonError(.conflict, notRunning(current.task))
        }
        let owner = current.task.leaseOwner ?? ""
        if let worker, worker != owner { throw BatonError(.conflict, heldByOther(owner)) }
        return token
    }
}
