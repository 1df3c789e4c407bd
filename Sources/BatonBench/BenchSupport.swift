import BatonCore
import Dispatch
import Foundation
import Histogram
import Synchronization

/// What a benchmark run must undo whatever happens: child processes to stop and files to
/// remove, also on Ctrl-C and SIGTERM (once ``installSignalHandlers()`` ran).
final class BenchCleanup: Sendable {
    private struct State {
        var actions: [@Sendable () -> Void] = []
        var children: [BenchChild] = []
    }

    private let state = Mutex(State())
    /// The runs in progress, which a signal cleans up.
    private static let running = Mutex<[BenchCleanup]>([])
    /// Kept alive for the process's life; set once, before any child starts.
    private static let signalSources = Mutex<[any DispatchSourceSignal]>([])

    private init() {}

    /// A run's cleanup, cleaned up on a signal until ``end()``.
    static func begin() -> BenchCleanup {
        let cleanup = BenchCleanup()
        running.withLock { $0.append(cleanup) }
        return cleanup
    }

    /// Undoes everything (``runAll()``) and forgets the run.
    func end() {
        runAll()
        Self.running.withLock { $0.removeAll { $0 === self } }
    }

    func add(_ action: @escaping @Sendable () -> Void) {
        state.withLock { $0.actions.append(action) }
    }

    func track(_ child: BenchChild) {
        state.withLock { $0.children.append(child) }
    }

    /// Held for the whole of a cleanup, so that a second caller (the signal handler and the
    /// run's own error path) returns only once everything is undone.
    private let cleaning = Mutex(())

    /// Kills every child still running, then runs the cleanup actions, newest first.
    func runAll() {
        cleaning.withLock { _ in
            let (children, actions) = state.withLock { s -> ([BenchChild], [@Sendable () -> Void]) in
                defer {
                    s.children = []
                    s.actions = []
                }
                return (s.children, s.actions)
            }
            for child in children { child.kill() }
            for child in children { child.waitBriefly() }
            for action in actions.reversed() { action() }
        }
    }

    /// On SIGINT and SIGTERM: cleans up every run in progress, says so on stderr, and exits
    /// with 128 + the signal. Installed once per process.
    static func installSignalHandlers() {
        signalSources.withLock { sources in
            guard sources.isEmpty else { return }
            for sig in [SIGINT, SIGTERM] {
                #if canImport(Darwin)
                    // kqueue delivers the signal to the source only while the default action is off.
                    signal(sig, SIG_IGN)
                #endif
                let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
                source.setEventHandler {
                    for cleanup in running.withLock({ $0 }) { cleanup.runAll() }
                    FileHandle.standardError.write(Data("\ninterrupted: children stopped, temporary files removed\n".utf8))
                    exit(128 + sig)
                }
                source.resume()
                sources.append(source)
            }
        }
    }
}

/// A `baton` child process (a node or a worker).
final class BenchChild: @unchecked Sendable {
    // Process is thread-safe for the calls made here (isRunning, terminate, pid).
    private let process: Process
    let name: String
    let pid: Int32
    let stdoutPath: URL
    let stderrPath: URL

    init(executable: String, name: String, arguments: [String], directory: URL) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        for key in env.keys where key.hasPrefix("BATON_") { env[key] = nil }
        p.environment = env
        stdoutPath = directory.appendingPathComponent("\(name).out")
        stderrPath = directory.appendingPathComponent("\(name).log")
        _ = FileManager.default.createFile(atPath: stdoutPath.path, contents: nil)
        _ = FileManager.default.createFile(atPath: stderrPath.path, contents: nil)
        p.standardOutput = try FileHandle(forWritingTo: stdoutPath)
        p.standardError = try FileHandle(forWritingTo: stderrPath)
        p.standardInput = FileHandle.nullDevice
        try p.run()
        process = p
        pid = p.processIdentifier
        self.name = name
    }

    var isRunning: Bool { process.isRunning }

    /// The first line the child printed on stdout (a node's URL), waiting up to `timeout`.
    func firstLine(timeout: Duration) async throws -> String {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let text = try? String(contentsOf: stdoutPath, encoding: .utf8), let newline = text.firstIndex(of: "\n") {
                return String(text[..<newline])
            }
            if !isRunning { throw BenchError(.failed, "\(name) exited early:\n\(stderrTail())") }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw BenchError(.failed, "\(name) printed no URL within \(timeout)")
    }

    func stderrTail(lines: Int = 20) -> String {
        let text = (try? String(contentsOf: stderrPath, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").suffix(lines).joined(separator: "\n")
    }

    /// Asks the child to stop (SIGTERM), then kills it if it is still running after `grace`.
    func stop(grace: Duration) async {
        guard isRunning else { return }
        Foundation.kill(pid, SIGTERM)
        let deadline = ContinuousClock.now + grace
        while isRunning && ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(10)) }
        if isRunning { kill() }
        waitBriefly()
    }

    func kill() {
        if isRunning { Foundation.kill(pid, SIGKILL) }
    }

    func waitBriefly() {
        let deadline = Date().addingTimeInterval(5)
        while isRunning && Date() < deadline { usleep(5_000) }
    }
}

/// Figures the kernel keeps per process.
enum ProcStats {
    /// User + system CPU seconds of a live process, from `/proc/PID/stat`.
    static func cpuSeconds(pid: Int32) -> Double? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = text.lastIndex(of: ")")
        else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        // After the command name: state is field 3, utime field 14, stime field 15.
        guard fields.count > 12, let utime = Double(fields[11]), let stime = Double(fields[12]) else { return nil }
        return (utime + stime) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// User + system CPU seconds of this process.
    static func selfCPUSeconds() -> Double {
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
        return seconds(usage.ru_utime) + seconds(usage.ru_stime)
    }

    /// Peak resident set size in MB (`VmHWM`), of a live process or of this one (`nil`).
    static func peakRSSMB(pid: Int32? = nil) -> Double? {
        let path = pid.map { "/proc/\($0)/status" } ?? "/proc/self/status"
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("VmHWM:") {
            let parts = line.split(separator: " ", omittingEmptySubsequences: true)
            if parts.count >= 2, let kb = Double(parts[1]) { return kb / 1024 }
        }
        return nil
    }
}

/// Percentiles of a set of samples (milliseconds), through an HdrHistogram of microseconds
/// with three significant digits (values within 0.1%).
public struct LatencySummary: Codable, Sendable {
    public var p50: Double
    public var p90: Double
    public var p99: Double
    public var max: Double
    public var count: Int

    /// `nil` for no samples.
    public init?(_ samples: [Double]) {
        guard !samples.isEmpty else { return nil }
        // Up to an hour, in microseconds.
        var histogram = Histogram<UInt64>(highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: .three)
        for sample in samples {
            _ = histogram.record(UInt64(Swift.min(3_600_000_000, Swift.max(0, (sample * 1000).rounded()))))
        }
        func ms(_ microseconds: UInt64) -> Double { BenchFormat.round(Double(microseconds) / 1000) }
        p50 = ms(histogram.valueAtPercentile(50))
        p90 = ms(histogram.valueAtPercentile(90))
        p99 = ms(histogram.valueAtPercentile(99))
        max = ms(histogram.maxRecorded)
        count = samples.count
    }
}

enum BenchFormat {
    /// Three decimals: enough for milliseconds and rates, short in JSON.
    static func round(_ x: Double) -> Double { (x * 1000).rounded() / 1000 }
}

/// Waits until `done()` reaches `total`; the progress bar follows it. With `adaptive`, each
/// check is spaced by the time the rest should take at the rate seen so far (20 ms to 1 s), so
/// that a count that costs the node a query (`GET /v1/queues`) is asked a handful of times per
/// run, not every few milliseconds while the node is being measured.
func benchWait(
    _ label: String, total: Int, progress: ProgressReporter, interval: Duration, adaptive: Bool = false, timeout: Duration,
    done: () async throws -> Int
) async throws {
    let start = ContinuousClock.now
    let deadline = start + timeout
    while true {
        let count = try await done()
        progress.update(label, done: count, total: total)
        if count >= total { return }
        let now = ContinuousClock.now
        if now >= deadline {
            throw BenchError(.failed, "\(label): only \(count) of \(total) tasks finished within \(timeout)")
        }
        var sleep = interval
        if adaptive {
            let elapsed = (now - start).seconds
            let rate = Double(count) / max(elapsed, 0.001)
            let rest = rate > 0 ? Double(total - count) / rate * 0.8 : 0.2
            sleep = .seconds(min(1, max(0.02, rest)))
        }
        try await Task.sleep(for: sleep)
    }
}

/// A value behind a lock, shareable between tasks.
final class Locked<Value: Sendable>: Sendable {
    let mutex: Mutex<Value>
    init(_ value: Value) { mutex = Mutex(value) }
    func withLock<R: Sendable>(_ body: (inout sending Value) throws -> sending R) rethrows -> R { try mutex.withLock(body) }
}
