import BatonTesting
import Foundation
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

extension EndToEnd {
    /// `baton serve` stopping while workers long-poll.
    @Suite(.serialized) struct ShutdownTests {
        @Test func aWaitingClaimIsAnsweredAtOnceWhenTheNodeStops() async throws {
            let dir = try TempDir()
            let node = try BatonProcess(["serve", "--db", dir.path("baton.db"), "--port", "0"])
            defer { Task { await node.stop() } }
            let url = try await node.url()

            var request = URLRequest(url: URL(string: "\(url)/v1/workers/claim")!)
            request.httpMethod = "POST"
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
            request.httpBody = Data(#"{"worker":"w","queues":["q"],"max":5,"wait_ms":30000}"#.utf8)
            request.timeoutInterval = 60
            let claim = Task { try await URLSession.shared.data(for: request) }
            // Let the claim reach the node and start waiting.
            try await Task.sleep(for: .milliseconds(500))

            let stopping = ContinuousClock.now
            node.signal(SIGTERM)
            let (body, response) = try await claim.value
            let answered = ContinuousClock.now - stopping
            // The claim ends with an empty answer, not a dropped connection after the grace period.
            #expect((response as? HTTPURLResponse)?.statusCode == 200)
            #expect(String(decoding: body, as: UTF8.self) == #"{"tasks":[]}"#)
            #expect(answered < .seconds(3), "the waiting claim was answered \(answered) after SIGTERM")
            let status = try await node.waitForExit(timeout: .seconds(10))
            #expect(status == 0)
            #expect(ContinuousClock.now - stopping < .seconds(5), "the node took \(ContinuousClock.now - stopping) to stop")
        }
    }
}
