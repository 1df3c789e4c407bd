import Foundation
import Logging

/// A logger for the code under test, quiet unless asked: at `level`, or at the level named by
/// `BATON_TEST_LOG` (`trace` … `critical`; any other value: `debug`) when that is set.
public func testLogger(_ label: String, level: Logger.Level = .critical) -> Logger {
    var logger = Logger(label: "baton.test.\(label)")
    if let requested = ProcessInfo.processInfo.environment["BATON_TEST_LOG"], !requested.isEmpty {
        logger.logLevel = Logger.Level(rawValue: requested) ?? .debug
    } else {
        logger.logLevel = level
    }
    return logger
}
