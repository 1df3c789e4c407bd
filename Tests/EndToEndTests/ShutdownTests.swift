import BatonClient
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

            // The worker announces itself, so that the node notes its claim (`GET /v1/workers`' last_seen).
            let client = BatonClient(servers: [URL(string: url)!])
            var announce = URLRequest(url: URL(string: "\(url)/v1/workers")!)
            announce.httpMethod = "POST"
            announce.setValue("application/json", forHTTPHeaderField: "Content-Type")
            announce.httpBody = Data(#"{"worker":"w","queues":["q"],"kinds":[],"concurrency":1,"running":0}"#.utf8)
            let (_, announced) = try await URLSession.shared.data(for: announce)
            #expect((announced as? HTTPURLResponse)?.statusCode == 200)
            let firstSeen = try #require(try await client.workers().first { $0.worker == "w" }?.lastSeen)
            try await Task.sleep(for: .milliseconds(20))

            var request = URLRequest(url: URL(string: "\(url)/v1/workers/claim")!)
            request.httpMethod = "POST"
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
            request.httpBody = Data(#"{"worker":"w","queues":["q"],"max":5,"wait_ms":30000}"#.utf8)
            request.timeoutInterval = 60
            let claim = Task { try await URLSession.shared.data(for: request) }
            // The claim reached the node (it noted the worker just before it waits).
            _ = try await eventually("the claim to reach the node", within: .seconds(20), every: .milliseconds(20)) { () -> Bool? in
                try await client.workers().first { $0.worker == "w" }.map { $0.lastSeen > firstSeen } == true ? true : nil
            }
            try await Task.sleep(for: .milliseconds(50))

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
