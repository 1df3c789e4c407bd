import Foundation
import Synchronization
import Testing

/// Where the built `baton` binary is: `BATON_BIN` (set by scripts/test.sh), else the build's
/// bin path next to this test bundle.
enum BatonBinary {
    static var path: String {
        if let bin = ProcessInfo.processInfo.environment["BATON_BIN"], !bin.isEmpty { return bin }
        // The test bundle lives in the same bin directory as the product.
        var dir = URL(fileURLWithPath: CommandLine.arguments.first ?? ".").deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = dir.appendingPathComponent("baton").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        return ".build/debug/baton"
    }

    /// `baton-test-worker` (the multi-node tests' worker), built next to `baton`.
    static var testWorkerPath: String {
        URL(fileURLWithPath: path).deletingLastPathComponent().appendingPathComponent("baton-test-worker").path
    }
}

/// A temporary directory removed when the test ends.
final class TempDir: Sendable {
    let url: URL
    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("baton-e2e-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    func path(_ name: String) -> String { url.appendingPathComponent(name).path }
    deinit { try? FileManager.default.removeItem(at: url) }
}

/// The outcome of a finished `baton` command.
struct CommandResult: Sendable {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// A `baton` process running in the background (a node or a worker).
final class BatonProcess: Sendable {
    private let process: Mutex<Process>
    private let output = OutputBuffer()
    let pid: Int32

    /// Starts `executable` (default: `baton`) with `arguments`.
    init(_ arguments: [String], environment: [String: String] = [:], directory: URL? = nil, executable: String? = nil) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable ?? BatonBinary.path)
        p.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        env["BATON_SERVER"] = nil
        env["BATON_STORE"] = nil
        for (k, v) in environment { env[k] = v }
        p.environment = env
        if let directory { p.currentDirectoryURL = directory }
        let out = Pipe()
        let err = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = FileHandle.nullDevice
        try p.run()
        pid = p.processIdentifier
        process = Mutex(p)
        let buffer = output
        out.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            if data.isEmpty {
                handle.readabilityHandler = nil
            } else {
                buffer.state.withLock { $0.stdout += String(decoding: data, as: UTF8.self) }
            }
        }
        err.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            if data.isEmpty {
                handle.readabilityHandler = nil
            } else {
                buffer.state.withLock { $0.stderr += String(decoding: data, as: UTF8.self) }
            }
        }
    }

    var stdout: String { output.state.withLock { $0.stdout } }
    var stderr: String { output.state.withLock { $0.stderr } }
    var isRunning: Bool { process.withLock { $0.isRunning } }
    var exitStatus: Int32? { process.withLock { $0.isRunning ? nil : $0.terminationStatus } }

    /// Waits for the node's URL, the first line it prints on stdout.
    func url(timeout: Duration = .seconds(30)) async throws -> String {
        let line = try await eventually("the node's URL on stdout", timeout: timeout) { () -> String? in
            let out = self.stdout
            guard let newline = out.firstIndex(of: "\n") else {
                if !self.isRunning { throw ProcessError.exited(self.stderr) }
                return nil
            }
            return String(out[..<newline])
        }
        return line
    }

    func signal(_ sig: Int32) { kill(pid, sig) }

    /// Waits for the process to exit and returns its status.
    @discardableResult
    func waitForExit(timeout: Duration = .seconds(60)) async throws -> Int32 {
        try await eventually("process \(pid) to exit", timeout: timeout) { self.exitStatus }
    }

    /// Stops the process (SIGTERM, then SIGKILL) if it still runs.
    func stop() async {
        guard isRunning else { return }
        signal(SIGTERM)
        if (try? await waitForExit(timeout: .seconds(20))) == nil {
            signal(SIGKILL)
            _ = try? await waitForExit(timeout: .seconds(5))
        }
    }

    deinit {
        let running = process.withLock { $0.isRunning }
        if running { kill(pid, SIGKILL) }
    }
}

/// What a process wrote, filled in by the pipes' handlers.
final class OutputBuffer: Sendable {
    let state = Mutex((stdout: "", stderr: ""))
}

enum ProcessError: Error, CustomStringConvertible {
    case exited(String)
    case timeout(String)
    var description: String {
        switch self {
        case .exited(let stderr): "the process exited early; stderr:\n\(stderr)"
        case .timeout(let what): "timed out waiting for \(what)"
        }
    }
}

/// Runs `baton` with `arguments` to completion, without blocking a cooperative thread.
func baton(_ arguments: [String], environment: [String: String] = [:], directory: URL? = nil, timeout: Duration = .seconds(60)) async throws
    -> CommandResult
{
    let process = try BatonProcess(arguments, environment: environment, directory: directory)
    let status = try await process.waitForExit(timeout: timeout)
    // Let the pipe handlers drain what was written just before exit.
    try await Task.sleep(for: .milliseconds(30))
    return CommandResult(status: status, stdout: process.stdout, stderr: process.stderr)
}

/// Polls `condition` every 20 ms until it returns a value, or fails after `timeout`.
@discardableResult
func eventually<T>(_ what: String, timeout: Duration = .seconds(30), _ condition: () async throws -> T?) async throws -> T {
    let deadline = ContinuousClock.now.advanced(by: timeout)
    while true {
        if let value = try await condition() { return value }
        if ContinuousClock.now >= deadline { throw ProcessError.timeout(what) }
        try await Task.sleep(for: .milliseconds(20))
    }
}
