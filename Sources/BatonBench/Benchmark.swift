import BatonCore
import Foundation
import Synchronization

/// Runs Baton's benchmark: a real node (in this process or as `baton serve` children) drives
/// no-op tasks and reports enqueue, drain and end-to-end rates, pick-up latency, peak memory
/// and CPU per task. `baton bench` is a command over it.
public enum Benchmark {
    /// Runs one benchmark and returns its report. Everything it starts (children, temporary
    /// database and directory, PostgreSQL schema) is stopped or removed before it returns or
    /// throws.
    ///
    /// - Parameter progress: told how far each phase is (called often: keep it cheap); `nil`
    ///   for none. ``BenchProgressBar`` draws it on a terminal.
    /// - Throws: ``BenchError`` for invalid settings and the run's own failures; the store's
    ///   `BatonError`s and other errors pass through.
    public static func run(_ settings: BenchSettings, progress: (@Sendable (BenchProgress) -> Void)? = nil) async throws
        -> BenchReport
    {
        try settings.validate()
        let progress = ProgressReporter(progress)
        let cleanup = BenchCleanup.begin()
        let report: BenchReport
        var location: BenchStore?
        do {
            let store = try BenchStore(settings.store, cleanup: cleanup)
            location = store
            switch settings.workers {
            case .inprocess:
                report = try await InProcessBench(settings: settings, location: store, progress: progress).run()
            case .http:
                report = try await HTTPBench(settings: settings, location: store, progress: progress, cleanup: cleanup).run()
            }
        } catch {
            progress.finish()
            cleanup.end()
            await location?.dropTemporarySchema()
            throw error
        }
        progress.finish()
        cleanup.end()
        await location?.dropTemporarySchema()
        return report
    }

    /// From now on, SIGINT and SIGTERM stop every running benchmark's children and remove its
    /// temporary files, print a line on stderr, and exit the process with 128 + the signal.
    /// Call it once, before ``run(_:progress:)``, in a process that has no handlers of its own.
    public static func cleanUpOnInterrupt() {
        BenchCleanup.installSignalHandlers()
    }
}

/// How far a benchmark is, for ``Benchmark/run(_:progress:)``'s `progress`.
public enum BenchProgress: Sendable, Equatable {
    /// `done` of `total` in a phase: `enqueue`, `drain`, `submit`, `finish`, `empty`, `prefilled`.
    case step(phase: String, done: Int, total: Int)
    /// The current phase ended (a line drawn for it can be cleared).
    case phaseEnded
}

/// A progress bar on stderr, redrawn at most every 100 ms; meant for a terminal.
public final class BenchProgressBar: Sendable {
    private struct State {
        var lastDraw: ContinuousClock.Instant?
        var drawn = false
    }

    private let state = Mutex(State())

    public init() {}

    public func show(_ event: BenchProgress) {
        switch event {
        case .step(let label, let done, let total): update(label, done: done, total: total)
        case .phaseEnded: finish()
        }
    }

    private func update(_ label: String, done: Int, total: Int) {
        let now = ContinuousClock.now
        let draw = state.withLock { s -> Bool in
            if let last = s.lastDraw, now - last < .milliseconds(100), done < total { return false }
            s.lastDraw = now
            s.drawn = true
            return true
        }
        guard draw else { return }
        let width = 30
        let fraction = total > 0 ? min(1, Double(done) / Double(total)) : 1
        let filled = Int(fraction * Double(width))
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
        let line = "\r\(label.padding(toLength: 10, withPad: " ", startingAt: 0)) [\(bar)] \(Int(fraction * 100))% \(done)/\(total)\u{1B}[K"
        FileHandle.standardError.write(Data(line.utf8))
    }

    private func finish() {
        let drawn = state.withLock { s -> Bool in
            defer { s.drawn = false }
            return s.drawn
        }
        if drawn { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
    }
}

/// The run's side of the progress callback.
struct ProgressReporter: Sendable {
    let handler: (@Sendable (BenchProgress) -> Void)?

    init(_ handler: (@Sendable (BenchProgress) -> Void)?) { self.handler = handler }

    func update(_ phase: String, done: Int, total: Int) { handler?(.step(phase: phase, done: done, total: total)) }
    func finish() { handler?(.phaseEnded) }
}
