import Foundation
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A private moto server (`moto_server` from `.build-venv`, which `scripts/python-venv.sh`
/// makes) on a port of its own, for a test that stops and starts SQS itself: the shared one of
/// `scripts/with-moto.sh` must not go away under the other tests. moto keeps everything in
/// memory, so a restart loses every queue and message.
///
/// Without `moto_server` a test is skipped with a printed reason, and fails under `CI=true`.
public final class MotoServer: Sendable {
    public let port: Int
    let executable: String
    private let process = Mutex<Process?>(nil)

    /// `http://127.0.0.1:PORT`.
    public var endpoint: String { "http://127.0.0.1:\(port)" }

    /// Starts moto on a free port of 127.0.0.1 and waits until it answers; `nil` when there is
    /// no `moto_server` (then the skip is printed, or under `CI=true` an issue recorded).
    public static func start(for test: String = #function, sourceLocation: SourceLocation = #_sourceLocation) async throws -> MotoServer? {
        let executable = BuildVenv.executable("moto_server")
        guard FileManager.default.isExecutableFile(atPath: executable) else {
            let reason = "\(executable) not found (scripts/python-venv.sh installs it)"
            if TestPostgres.isCI {
                Issue.record("\(test) cannot run in CI: \(reason)", sourceLocation: sourceLocation)
            } else {
                print("\(test): skipped, \(reason)")
            }
            return nil
        }
        let server = MotoServer(port: try unusedLocalPort(), executable: executable)
        try await server.start()
        return server
    }

    init(port: Int, executable: String) {
        self.port = port
        self.executable = executable
    }

    /// Starts moto (again) on ``port`` and waits until it accepts connections.
    public func start() async throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = ["-H", "127.0.0.1", "-p", "\(port)"]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        p.standardInput = FileHandle.nullDevice
        try p.run()
        process.withLock { $0 = p }
        let deadline = ContinuousClock.now + .seconds(30)
        while !Self.accepts(port) {
            guard p.isRunning else { throw MotoError("moto_server exited (status \(p.terminationStatus)) before it served port \(port)") }
            guard ContinuousClock.now < deadline else { throw MotoError("moto_server did not serve port \(port) within 30 s") }
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    /// Stops moto (SIGKILL: it keeps nothing anyway) and waits until it has exited and its
    /// port is free.
    public func stop() async {
        guard
            let p = process.withLock({ p -> Process? in
                defer { p = nil }
                return p
            })
        else { return }
        kill(p.processIdentifier, SIGKILL)
        while p.isRunning { try? await Task.sleep(for: .milliseconds(20)) }
        while Self.accepts(port) { try? await Task.sleep(for: .milliseconds(20)) }
    }

    deinit {
        if let p = process.withLock({ $0 }), p.isRunning { kill(p.processIdentifier, SIGKILL) }
    }

    /// Whether something accepts TCP connections on 127.0.0.1:`port`.
    static func accepts(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }
}

struct MotoError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
