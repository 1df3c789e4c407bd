import BatonCore
import Foundation
import Testing

extension EndToEnd {
    @Suite struct VersionTests {
        /// `baton --version` prints the version and exits 0 (it used to be a usage error, 64).
        @Test func versionFlagPrintsTheVersion() async throws {
            let result = try await baton(["--version"])
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == BatonVersion.current)
        }
    }
}
