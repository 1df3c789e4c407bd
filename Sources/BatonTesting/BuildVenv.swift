import Foundation

/// The Python virtual environment `scripts/python-venv.sh` makes in `.build-venv` at the
/// repository's root (boto3, moto, prometheus_client, schemathesis, …), for tests that run a
/// Python program or server from it.
public enum BuildVenv {
    /// The repository's root (Sources/BatonTesting/BuildVenv.swift → the package root).
    public static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The path of `name` in the environment's `bin`, whether or not it exists.
    public static func executable(_ name: String) -> String {
        repositoryRoot.appendingPathComponent(".build-venv/bin/\(name)").path
    }

    /// The environment's Python, if it has been made.
    public static var python: String? {
        let path = executable("python")
        return FileManager.default.isExecutableFile(atPath: path) ? path : nil
    }

    /// The environment's Python if it can import every module of `modules`, `nil` otherwise.
    public static func python(importing modules: [String]) -> String? {
        guard let python else { return nil }
        let probe = Process()
        probe.executableURL = URL(fileURLWithPath: python)
        probe.arguments = ["-c", modules.map { "import \($0)" }.joined(separator: "; ")]
        probe.standardOutput = FileHandle.nullDevice
        probe.standardError = FileHandle.nullDevice
        guard (try? probe.run()) != nil else { return nil }
        probe.waitUntilExit()
        return probe.terminationStatus == 0 ? python : nil
    }
}
