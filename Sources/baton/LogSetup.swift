import BatonCore
import Logging
import Synchronization

/// Installs the logfmt handler once per process.
enum LogSetup {
    private static let done = Mutex(false)

    static func bootstrap(_ level: Logger.Level?, default fallback: Logger.Level) throws {
        let first = done.withLock { d -> Bool in
            defer { d = true }
            return !d
        }
        if first { LogfmtLogHandler.bootstrap(level: level ?? fallback) }
    }
}
