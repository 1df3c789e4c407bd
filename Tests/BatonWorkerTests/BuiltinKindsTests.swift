import BatonCore
import BatonTesting
import Foundation
import Testing

@testable import BatonWorker

@Suite struct BuiltinKindsTests {
    final class Root: Sendable {
        let base: TempDir
        let url: URL
        let outside: URL
        init() throws {
            base = try TempDir(prefix: "baton-files")
            url = base.url.appendingPathComponent("root")
            outside = base.url.appendingPathComponent("outside")
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
            try FileManager.default.createDirectory(at: outside, withIntermediateDirectories: true)
        }
        func cleanUp() { base.remove() }
    }

    func run(_ registry: HandlerRegistry, _ kind: String, _ args: String) async throws -> JSONValue {
        let registration = try #require(registry.registration(for: kind))
        return try await registration.run(try json(args), context(kind: kind)).parsed()
    }

    func refusal(_ registry: HandlerRegistry, _ args: String) async -> String? {
        do {
            _ = try await run(registry, "file", args)
            return nil
        } catch let error as FailPermanently {
            return error.message
        } catch {
            return "unexpected \(error)"
        }
    }

    @Test func registersEveryBuiltinKind() {
        let registry = HandlerRegistry()
        BuiltinKinds.register(into: registry, fileRoot: nil)
        #expect(registry.kinds == BuiltinKinds.names.sorted())
    }

    @Test func echoNoopSleepAndFail() async throws {
        let registry = HandlerRegistry()
        BuiltinKinds.register(into: registry, fileRoot: nil)
        #expect(try await run(registry, "echo", #"{"a": [1, 2.5, null]}"#) == .object(["a": .array([.int(1), .double(2.5), .null])]))
        #expect(try await run(registry, "noop", "{}") == .null)
        let before = BuiltinKinds.unixNanoseconds()
        let probe = try await run(registry, "probe", "{}")
        let after = BuiltinKinds.unixNanoseconds()
        guard case .object(let fields) = probe, case .int(let started)? = fields["started_unix_ns"] else {
            Issue.record("probe answered \(probe)")
            return
        }
        #expect(fields.count == 1)
        #expect(Int64(started) >= before && Int64(started) <= after, "the handler's start, on the wall clock")
        #expect(try await run(registry, "sleep", #"{"seconds": 0.01}"#) == .object(["slept": .double(0.01)]))
        await #expect {
            _ = try await run(registry, "fail", #"{"message": "kaboom"}"#)
        } throws: { error in
            error is BuiltinFailure && "\(error)" == "kaboom"
        }
    }

    @Test func sleepStopsEarlyWhenCancelled() async throws {
        let registry = HandlerRegistry()
        BuiltinKinds.register(into: registry, fileRoot: nil)
        let registration = try #require(registry.registration(for: "sleep"))
        let started = ContinuousClock.now
        let task = Task { try await registration.run(try json(#"{"seconds": 10}"#), context(kind: "sleep")) }
        try await Task.sleep(for: .milliseconds(50))
        task.cancel()
        await #expect(throws: CancellationError.self) { try await task.value }
        #expect(ContinuousClock.now - started < .seconds(2))
    }

    @Test func fileOperationsInsideTheRoot() async throws {
        let root = try Root()
        defer { root.cleanUp() }
        let registry = HandlerRegistry()
        BuiltinKinds.register(into: registry, fileRoot: root.url)

        let written = try await run(registry, "file", #"{"op": "write", "path": "notes/a.txt", "content": "hello"}"#)
        #expect(written == .object(["path": .string("notes/a.txt"), "bytes": .int(5)]))
        #expect(try String(contentsOf: root.url.appendingPathComponent("notes/a.txt"), encoding: .utf8) == "hello")

        let appended = try await run(registry, "file", #"{"op": "append", "path": "notes/a.txt", "content": ", world"}"#)
        #expect(appended == .object(["path": .string("notes/a.txt"), "bytes": .int(7)]))
        let read = try await run(registry, "file", #"{"op": "read", "path": "./notes/../notes/a.txt"}"#)
        #expect(read == .object(["content": .string("hello, world")]))

        let deleted = try await run(registry, "file", #"{"op": "delete", "path": "notes/a.txt"}"#)
        #expect(deleted == .object(["path": .string("notes/a.txt"), "bytes": .int(12)]))
        #expect(!FileManager.default.fileExists(atPath: root.url.appendingPathComponent("notes/a.txt").path))
        #expect(await refusal(registry, #"{"op": "read", "path": "notes/a.txt"}"#) == "no such file 'notes/a.txt'")
        #expect(await refusal(registry, #"{"op": "chmod", "path": "x"}"#)?.hasPrefix("unknown file op 'chmod'") == true)
    }

    @Test func pathsOutsideTheRootAreRefused() async throws {
        let root = try Root()
        defer { root.cleanUp() }
        let registry = HandlerRegistry()
        BuiltinKinds.register(into: registry, fileRoot: root.url)
        let secret = root.outside.appendingPathComponent("secret.txt")
        try "top secret".write(to: secret, atomically: true, encoding: .utf8)
        let manager = FileManager.default
        try manager.createSymbolicLink(at: root.url.appendingPathComponent("out"), withDestinationURL: root.outside)
        try manager.createSymbolicLink(at: root.url.appendingPathComponent("link.txt"), withDestinationURL: secret)
        try manager.createSymbolicLink(
            at: root.url.appendingPathComponent("dangling"), withDestinationURL: root.outside.appendingPathComponent("new.txt"))

        let escapes = "path escapes the file root"
        #expect(await refusal(registry, #"{"op": "read", "path": "../outside/secret.txt"}"#) == escapes)
        #expect(await refusal(registry, #"{"op": "write", "path": "a/../../x", "content": "x"}"#) == escapes)
        #expect(await refusal(registry, #"{"op": "read", "path": "\#(secret.path)"}"#) == escapes)
        #expect(await refusal(registry, #"{"op": "read", "path": "link.txt"}"#) == escapes)
        #expect(await refusal(registry, #"{"op": "read", "path": "out/secret.txt"}"#) == escapes)
        #expect(await refusal(registry, #"{"op": "write", "path": "out/new.txt", "content": "x"}"#) == escapes)
        #expect(await refusal(registry, #"{"op": "write", "path": "dangling", "content": "x"}"#) == escapes)
        #expect(await refusal(registry, #"{"op": "delete", "path": "link.txt"}"#) == escapes)
        // Nothing outside the root changed.
        #expect(try String(contentsOf: secret, encoding: .utf8) == "top secret")
        #expect(!manager.fileExists(atPath: root.outside.appendingPathComponent("new.txt").path))
        #expect(!manager.fileExists(atPath: root.url.deletingLastPathComponent().appendingPathComponent("x").path))

        // A symlink that stays inside the root is fine.
        try "inside".write(to: root.url.appendingPathComponent("real.txt"), atomically: true, encoding: .utf8)
        try manager.createSymbolicLink(
            at: root.url.appendingPathComponent("alias.txt"), withDestinationURL: root.url.appendingPathComponent("real.txt"))
        #expect(try await run(registry, "file", #"{"op": "read", "path": "alias.txt"}"#) == .object(["content": .string("inside")]))
    }

    @Test func fileKindIsDisabledWithoutARoot() async throws {
        let registry = HandlerRegistry()
        BuiltinKinds.register(into: registry, fileRoot: nil)
        #expect(
            await refusal(registry, #"{"op": "read", "path": "a.txt"}"#) == "file kind disabled: no file root configured")
    }
}
