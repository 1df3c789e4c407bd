import BatonTesting
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

/// The outcome of a finished `baton` command.
struct CommandResult: Sendable {
    var status: Int32
    var stdout: String
    var stderr: String
    /// Both streams, stdout first.
    var output: String { stdout + stderr }
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
        // Nodes count their queues every 0.1 s here (default 5 s), so that tests polling
        // `GET /v1/queues` see their work soon; MetricsTests checks the setting itself.
        env["BATON_NODE_COUNTS_INTERVAL"] = "0.1"
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
                buffer.state.withLock { $0.ended += 1 }
            } else {
                buffer.state.withLock { $0.stdout += String(decoding: data, as: UTF8.self) }
            }
        }
        err.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            if data.isEmpty {
                handle.readabilityHandler = nil
                buffer.state.withLock { $0.ended += 1 }
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
        let line = try await eventually("the node's URL on stdout", within: timeout) { () -> String? in
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

    /// Waits for the process to exit and returns its status, once the pipe handlers drained what
    /// it wrote just before: both pipes at their end, or 30 ms (Foundation does not always report
    /// a pipe's end; a longer wait there slowed every command by its length on CI, and timed
    /// tests failed).
    @discardableResult
    func waitForExit(timeout: Duration = .seconds(60)) async throws -> Int32 {
        let status = try await eventually("process \(pid) to exit", within: timeout) { self.exitStatus }
        await eventually(within: .milliseconds(30)) { self.output.state.withLock { $0.ended == 2 } }
        return status
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
    /// `ended`: how many of the two pipes reached their end.
    let state = Mutex((stdout: "", stderr: "", ended: 0))
}

enum ProcessError: Error, CustomStringConvertible {
    case exited(String)
    var description: String {
        switch self {
        case .exited(let stderr): "the process exited early; stderr:\n\(stderr)"
        }
    }
}

/// Runs `baton` with `arguments` to completion, without blocking a cooperative thread.
func baton(_ arguments: [String], environment: [String: String] = [:], directory: URL? = nil, timeout: Duration = .seconds(60)) async throws
    -> CommandResult
{
    try await runToEnd(nil, arguments, environment: environment, directory: directory, timeout: timeout)
}

/// Runs `executable` (`nil`: `baton`) with `arguments` to completion.
func runToEnd(
    _ executable: String?, _ arguments: [String], environment: [String: String] = [:], directory: URL? = nil,
    timeout: Duration = .seconds(60)
) async throws -> CommandResult {
    let process = try BatonProcess(arguments, environment: environment, directory: directory, executable: executable)
    let status = try await process.waitForExit(timeout: timeout)
    return CommandResult(status: status, stdout: process.stdout, stderr: process.stderr)
}
