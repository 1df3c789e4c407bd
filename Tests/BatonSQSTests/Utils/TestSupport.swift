import Foundation
import Testing

/// What the tests need to know of where they run.
enum TestSupport {
    static let environment = ProcessInfo.processInfo.environment

    /// `CI=true`: a missing tool or server fails the test instead of skipping it.
    static let isCI = environment["CI"] == "true"

    /// Says why a test cannot run: locally it prints the reason (and the test passes as a
    /// skip); under `CI=true` it records an issue (the test fails).
    static func unavailable(_ test: String, _ reason: String, sourceLocation: SourceLocation = #_sourceLocation) {
        if isCI {
            Issue.record("\(test) cannot run in CI: \(reason)", sourceLocation: sourceLocation)
        } else {
            print("\(test): skipped, \(reason)")
        }
    }

    /// An environment for the credential chain that can never reach a real metadata service:
    /// `HOME` is an empty temporary folder, IMDS is off unless the test points it elsewhere.
    static func isolatedEnvironment(home: String, _ extra: [String: String] = [:]) -> [String: String] {
        var environment = ["HOME": home, "AWS_EC2_METADATA_DISABLED": "true"]
        environment.merge(extra) { _, new in new }
        return environment
    }
}

/// A temporary directory, removed when the value is released.
final class TemporaryDirectory: Sendable {
    let path: String

    init() throws {
        path = NSTemporaryDirectory() + "baton-sqs-test-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func write(_ name: String, _ text: String) throws -> String {
        let file = path + "/" + name
        try FileManager.default.createDirectory(
            atPath: (file as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try text.write(toFile: file, atomically: true, encoding: .utf8)
        return file
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}
