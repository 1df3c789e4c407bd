import BatonClient
import BatonCore
import BatonTesting
import Foundation
import Testing

extension EndToEnd {
    /// A handler's progress (`ctx.progress`) from a separate `baton worker` process, through the
    /// HTTP heartbeat, to the node's API and `baton status`.
    @Suite(.serialized) struct ProgressTests {
        @Test func aRemoteWorkersProgressReachesTheAPIAndTheCLI() async throws {
            let dir = try TempDir()
            let node = try BatonProcess(["serve", "--db", dir.path("baton.db"), "--port", "0"])
            defer { Task { await node.stop() } }
            let url = try await node.url()
            let worker = try BatonProcess(["worker", "--server", url, "--concurrency", "2"])
            defer { Task { await worker.stop() } }
            let client = BatonClient(servers: [URL(string: url)!])
            // The built-in `sleep` reports its progress when it sleeps a second or more.
            let task = try await client.submit(NewTask(kind: "sleep", args: try RawJSON(validating: #"{"seconds":4}"#)))

            var fractions: [Double] = []
            let seen = try await eventually("progress while the task runs", within: .seconds(20), every: .milliseconds(200)) {
                () -> TaskProgress? in
                let now = try await client.get(task.id)
                if let p = now.progress, now.state == .running {
                    if fractions.last != p.fraction { fractions.append(p.fraction) }
                    return fractions.count >= 2 ? p : nil
                }
                return nil
            }
            #expect(seen.fraction > 0 && seen.fraction < 1)
            #expect(seen.message?.hasPrefix("slept ") == true && seen.message?.hasSuffix(" of 4 s") == true, "\(seen)")
            #expect(seen.attempt == 1 && seen.at != nil)
            #expect(fractions == fractions.sorted(), "progress only grows: \(fractions)")

            let status = try await baton(["status", task.id.description, "--server", url])
            #expect(status.status == 0, "\(status.stderr)")
            #expect(status.stdout.contains("progress"), "\(status.stdout)")
            #expect(status.stdout.range(of: #"progress\s+\d+% slept"#, options: .regularExpression) != nil, "\(status.stdout)")

            // The last report stays with the finished task.
            let done = try await client.wait(task.id, timeout: .seconds(20))
            #expect(done.state == .succeeded)
            #expect((done.progress?.fraction ?? 0) >= seen.fraction)
        }
    }
}
