import BatonCore
import BatonTesting
import Foundation
import Testing

extension EndToEnd {
    /// `--log-format json`: every line a node writes to stderr is one JSON object.
    @Suite(.serialized) struct LogFormatTests {
        @Test func jsonLogsAreOneObjectPerLine() async throws {
            let dir = try TempDir()
            let node = try BatonProcess([
                "standalone", "--db", dir.path("baton.db"), "--port", "0", "--log-format", "json", "--log-level", "debug",
            ])
            _ = try await node.url()
            await node.stop()
            let lines = node.stderr.split(separator: "\n")
            #expect(lines.count >= 3, "\(node.stderr)")
            for line in lines {
                let object = try? JSONDecoder().decode([String: String].self, from: Data(line.utf8))
                #expect(object != nil, "not a JSON object of strings: \(line)")
                #expect(object?["time"] != nil && object?["level"] != nil && object?["msg"] != nil && object?["logger"] != nil)
            }
            #expect(lines.contains { $0.contains(#""msg":"worker started""#) }, "\(node.stderr)")
        }

        @Test func anUnknownLogFormatIsAUsageError() async throws {
            let result = try await baton(["list", "--db", "/nonexistent/x.db", "--log-format", "xml"])
            #expect(result.status != 0)
            #expect(result.stderr.contains("log.format must be logfmt or json"), "\(result.stderr)")
        }
    }
}
