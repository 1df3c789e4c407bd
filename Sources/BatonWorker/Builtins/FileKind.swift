import BatonCore
import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The `file` kind: writes, appends to, reads and deletes files under one root directory.
///
/// Paths are relative to the root. `..` is resolved lexically and symlinks through the file
/// system; a path that ends up outside the root, or an absolute path, is refused
/// ("path escapes the file root"). Refusals and bad arguments fail permanently; I/O errors
/// are retryable.
struct FileKind: Sendable {
    struct Args: Codable, Sendable {
        var op: String
        var path: String
        var content: String?
    }

    struct Written: Codable, Sendable {
        var path: String
        var bytes: Int
    }

    struct Read: Codable, Sendable {
        var content: String
    }

    /// The root as given; resolved (symlinks included) at each use.
    let root: URL?

    func run(_ args: Args) throws -> RawJSON {
        guard let root else { throw FailPermanently("file kind disabled: no file root configured") }
        let op = args.op
        guard ["write", "append", "read", "delete"].contains(op) else {
            throw FailPermanently("unknown file op '\(op)' (expected write, append, read or delete)")
        }
        let target = try Self.resolve(args.path, under: root, createDirectories: op == "write" || op == "append")
        let manager = FileManager.default
        var isDirectory: ObjCBool = false
        let exists = manager.fileExists(atPath: target, isDirectory: &isDirectory)
        if exists && isDirectory.boolValue { throw FailPermanently("'\(args.path)' is a directory") }

        switch op {
        case "write", "append":
            guard let content = args.content else { throw FailPermanently("\(op) needs 'content'") }
            let bytes = Array(content.utf8)
            if op == "write" {
                try Data(bytes).write(to: URL(fileURLWithPath: target), options: .atomic)
            } else {
                try Self.append(bytes, to: target, shownAs: args.path)
            }
            return try HandlerRegistry.encode(Written(path: args.path, bytes: bytes.count))
        case "read":
            guard exists else { throw FailPermanently("no such file '\(args.path)'") }
            let data = try Data(contentsOf: URL(fileURLWithPath: target))
            guard let text = String(data: data, encoding: .utf8) else {
                throw FailPermanently("'\(args.path)' is not UTF-8 text")
            }
            return try HandlerRegistry.encode(Read(content: text))
        default:  // delete
            guard exists else { throw FailPermanently("no such file '\(args.path)'") }
            let size = (try? manager.attributesOfItem(atPath: target)[.size] as? Int) ?? 0
            try manager.removeItem(atPath: target)
            return try HandlerRegistry.encode(Written(path: args.path, bytes: size))
        }
    }

    static let escapes = "path escapes the file root"

    /// Appends `bytes` with one `write(2)` on a descriptor opened `O_APPEND` (created if
    /// missing): the kernel moves to the end and writes as one step, so appends from several
    /// tasks or processes never overwrite each other, and two first appends cannot race to
    /// create the file. `O_NOFOLLOW`: a symlink put in the path's place after it was checked is
    /// refused, not followed.
    static func append(_ bytes: [UInt8], to target: String, shownAs path: String) throws {
        let fd = open(target, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o644)
        guard fd >= 0 else {
            let code = errno
            if code == ELOOP { throw FailPermanently(escapes) }
            throw FileKindError(path: path, operation: "open", code: code)
        }
        defer { close(fd) }
        guard !bytes.isEmpty else { return }
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard written == bytes.count else {
            // A short write leaves a torn line: report it rather than append the rest as a second write.
            throw FileKindError(path: path, operation: "append", code: written < 0 ? errno : EIO)
        }
    }

    /// The absolute path `relative` names under `root`, with symlinks resolved, or an error if
    /// it is outside the root.
    static func resolve(_ relative: String, under root: URL, createDirectories: Bool) throws -> String {
        guard !relative.isEmpty else { throw FailPermanently("path must not be empty") }
        guard !relative.hasPrefix("/"), !relative.contains("\0") else { throw FailPermanently(escapes) }
        guard let rootPath = realPath(root.path) else {
            throw FailPermanently("the file root '\(root.path)' does not exist")
        }
        // Lexically: no component may climb above the root.
        var parts: [Substring] = []
        for part in relative.split(separator: "/", omittingEmptySubsequences: true) {
            switch part {
            case ".": continue
            case "..":
                guard !parts.isEmpty else { throw FailPermanently(escapes) }
                parts.removeLast()
            default: parts.append(part)
            }
        }
        guard !parts.isEmpty else { throw FailPermanently("path names the file root itself") }

        // Through the file system: resolve the longest existing prefix (symlinks included),
        // then the rest, which does not exist and so holds no symlinks.
        var existing = parts.count
        var resolved: String?
        while existing > 0 {
            if let real = realPath(rootPath + "/" + parts.prefix(existing).joined(separator: "/")) {
                resolved = real
                break
            }
            existing -= 1
        }
        let base = resolved ?? rootPath
        guard within(base, rootPath) else { throw FailPermanently(escapes) }
        let rest = parts.dropFirst(existing)
        if let next = rest.first {
            // A dangling symlink does not resolve but would be followed by a write.
            var info = stat()
            if lstat(base + "/" + next, &info) == 0 { throw FailPermanently(escapes) }
        }
        let target = rest.isEmpty ? base : base + "/" + rest.joined(separator: "/")
        if rest.count > 1 && createDirectories {
            let parent = base + "/" + rest.dropLast().joined(separator: "/")
            try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
        }
        if target == rootPath { throw FailPermanently("path names the file root itself") }
        return target
    }

    static func within(_ path: String, _ root: String) -> Bool {
        path == root || path.hasPrefix(root.hasSuffix("/") ? root : root + "/")
    }

    /// `realpath(3)`: the canonical absolute path, or `nil` if it does not exist.
    static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}

/// An I/O error of the `file` kind: retryable (the disk may come back).
struct FileKindError: Error, CustomStringConvertible {
    var path: String
    var operation: String
    var code: Int32

    var description: String { "\(operation) '\(path)' failed: \(String(cString: strerror(code)))" }
}
