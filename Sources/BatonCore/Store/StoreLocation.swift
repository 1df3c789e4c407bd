/// Where a node's tasks live, as a store URL names it (`--store`, `BATON_STORE`):
/// `sqlite:PATH` (or `sqlite://PATH`), or `postgres://user:pass@host:port/db` (also
/// `postgresql://`). The CLI and the benchmark parse store URLs with this grammar.
public enum StoreLocation: Sendable, Hashable {
    case sqlite(path: String)
    case postgres(url: String)

    /// Parses a store URL; anything else is an `invalidArgument` error.
    public init(_ text: String) throws(BatonError) {
        if text.hasPrefix("sqlite://") {
            self = .sqlite(path: String(text.dropFirst("sqlite://".count)))
        } else if text.hasPrefix("sqlite:") {
            self = .sqlite(path: String(text.dropFirst("sqlite:".count)))
        } else if text.hasPrefix("postgres://") || text.hasPrefix("postgresql://") {
            self = .postgres(url: text)
        } else {
            throw .invalidArgument("unknown store '\(text)': expected sqlite:PATH or postgres://user:pass@host:port/db")
        }
        if case .sqlite(let path) = self, path.isEmpty {
            throw .invalidArgument("the store URL '\(text)' names no file")
        }
    }

    /// The URL text of this location (`sqlite:PATH` or the PostgreSQL URL), as `init` reads it.
    public var url: String {
        switch self {
        case .sqlite(let path): "sqlite:\(path)"
        case .postgres(let url): url
        }
    }
}
