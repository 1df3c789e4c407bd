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

            func post(_ path: String, _ json: String) -> URLRequest {
                var request = URLRequest(url: URL(string: "\(url)\(path)")!)
                request.httpMethod = "POST"
                request.setValue("application/json", forHTTPHeaderField: "Content-Type")
                request.httpBody = Data(json.utf8)
                request.timeoutInterval = 60
                return request
            }
            // The worker announces itself, so that the node notes its claim (`GET /v1/workers`' last_seen).
            let client = BatonClient(servers: [URL(string: url)!])
            func lastSeen() async throws -> Date? { try await client.workers().first { $0.worker == "w" }?.lastSeen }
            let (_, announced) = try await URLSession.shared.data(
                for: post("/v1/workers", #"{"worker":"w","queues":["q"],"kinds":[],"concurrency":1,"running":0}"#))
            #expect((announced as? HTTPURLResponse)?.statusCode == 200)
            let firstSeen = try #require(try await lastSeen())
            try await Task.sleep(for: .milliseconds(20))

            let request = post("/v1/workers/claim", #"{"worker":"w","queues":["q"],"max":5,"wait_ms":30000}"#)
            let claim = Task { try await URLSession.shared.data(for: request) }
            // The claim reached the node (it noted the worker just before it waits).
            _ = try await eventually("the claim to reach the node", within: .seconds(20), every: .milliseconds(20)) { () -> Bool? in
                try await lastSeen().map { $0 > firstSeen } == true ? true : nil
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
