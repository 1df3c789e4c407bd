import Foundation

/// A fresh directory under the system's temporary directory, removed with everything in it when
/// the last reference goes (or on ``remove()``). Keep a reference for as long as something uses
/// the directory.
public final class TempDir: Sendable {
    public let url: URL

    /// Creates `<tmp>/<prefix>-<UUID>`.
    public init(prefix: String = "baton-test") throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    /// The path of `name` inside the directory.
    public func path(_ name: String) -> String { url.appendingPathComponent(name).path }

    /// Removes the directory now.
    public func remove() { try? FileManager.default.removeItem(at: url) }

    deinit { remove() }
}

/// Runs `body` with a fresh temporary directory (see ``TempDir``) and removes it afterwards,
/// whether `body` returns or throws.
public func withTempDir<T>(prefix: String = "baton-test", _ body: (URL) async throws -> T) async throws -> T {
    let directory = try TempDir(prefix: prefix)
    defer { directory.remove() }
    return try await body(directory.url)
}
