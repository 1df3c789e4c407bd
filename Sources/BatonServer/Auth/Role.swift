/// Who may call a route or a JSON-RPC method. A token has one role; `admin` may do everything.
public enum Role: String, Sendable, Hashable, CaseIterable, Codable {
    /// Submits and watches tasks: submit, get, list, wait, cancel, retry, queue counts.
    case producer
    /// Runs tasks: claim, heartbeat, complete, fail, ack, release.
    case worker
    /// Everything, including delete, queue pause/resume and schedules.
    case admin
    /// Scrapes `GET /metrics` and nothing else (a Prometheus server's token).
    case metrics

    /// Whether a token of this role may use an endpoint requiring `access`.
    public func may(_ access: Access) -> Bool {
        switch access {
        case .public, .authenticated: true
        case .role(let required): self == .admin || self == required
        }
    }
}

/// What an endpoint requires: nothing, or a token of a role.
public enum Access: Sendable, Hashable, CustomStringConvertible {
    case `public`
    /// Any valid token; the handler checks it (`POST /rpc`, which also checks each method's role).
    case authenticated
    case role(Role)

    public static let producer = Access.role(.producer)
    public static let worker = Access.role(.worker)
    public static let admin = Access.role(.admin)
    public static let metrics = Access.role(.metrics)

    public var description: String {
        switch self {
        case .public: "public"
        case .authenticated: "any role"
        case .role(let role): role.rawValue
        }
    }
}
