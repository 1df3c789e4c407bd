import BatonClient
import BatonCore
import BatonTesting
import Foundation
import Testing

extension EndToEnd {
    /// Workflows across real processes: a chord of 2,000 members run by two
    /// `baton-test-worker` processes over HTTP, one of them SIGKILLed mid-run. The body's
    /// handler records each run in a file, so "exactly once" is counted by the handler, not by
    /// the store under test.
    @Suite(.serialized) struct WorkflowTests {
        static let members = 2000

        @Test func chordBodyRunsOnceAfterAWorkerIsKilledOnSQLite() async throws {
            let dir = try TempDir()
            defer { dir.remove() }
            try await Self.chord(store: "sqlite:" + dir.path("baton.db"), nodes: 1, dir: dir)
        }

        @Test func chordBodyRunsOnceAcrossTwoNodesOnPostgreSQL() async throws {
            guard let store = TestPostgres.storeURL(for: "chordBodyRunsOnceAcrossTwoNodesOnPostgreSQL") else { return }
            let dir = try TempDir()
            defer { dir.remove() }
            try await Self.chord(store: store, nodes: 2, dir: dir)
        }

        static func chord(store: String, nodes count: Int, dir: TempDir) async throws {
            let record = dir.path("record.txt")
            let nodes = try await MultiNodeTests.startNodes(count, store: store, extra: ["--rescue-interval", "1"])
            defer { for n in nodes { n.process.signal(SIGKILL) } }
            let urls = nodes.map(\.url)
            let victim = try MultiNodeTests.startWorker(id: "victim", servers: urls, record: record, concurrency: 32, lease: 2)
            defer { victim.signal(SIGKILL) }
            let survivor = try MultiNodeTests.startWorker(
                id: "survivor", servers: urls.reversed(), record: record, concurrency: 32, lease: 2)
            defer { survivor.signal(SIGKILL) }

            let header = (0..<members).map { i in
                WorkflowStep.task(NewTask(kind: "record", args: RawJSON(trusted: #"{"i":\#(i),"ms":20}"#)))
            }
            let body = WorkflowStep.task(NewTask(kind: "gather", args: RawJSON(trusted: "[]"), pass: .prepend), name: "body")
            let submitted = try await nodes[0].client.submitWorkflow(.chord(header: header, body: body), name: "e2e-chord")
            #expect(submitted.nodes.count == members + 1 && submitted.state == .running)
            #expect(submitted.nodes.last?.name == "body" && submitted.nodes.last?.state == .waiting)

            // Kill one worker once the members are under way: what it held is rescued.
            try await eventually("a quarter of the members to run", within: .seconds(60)) { () -> Bool? in
                (try? String(contentsOfFile: record, encoding: .utf8))
                    .map { $0.split(separator: "\n").count >= members / 4 } == true ? true : nil
            }
            victim.signal(SIGKILL)

            let done = try await nodes[count - 1].client.waitWorkflow(submitted.id, timeout: .seconds(240))
            #expect(done.state == .succeeded, "counts \(done.counts)")
            #expect(done.nodes.last?.result?.text == "\(members)")
            let lines = try String(contentsOfFile: record, encoding: .utf8).split(separator: "\n")
            let gathers = lines.filter { $0.contains(" gather ") }
            #expect(gathers.count == 1, "the chord body ran exactly once: \(gathers)")
            #expect(gathers.first?.hasSuffix(" gather \(members) true") == true, "it saw every member's result in member order")
            let memberIDs = Set(lines.filter { !$0.contains(" gather ") }.map { $0.split(separator: " ")[0] })
            #expect(memberIDs.count == members, "every member ran")
            #expect(survivor.isRunning, "\(survivor.stderr.suffix(2000))")
            print("workflow e2e (\(count) node(s)): chord of \(members), \(lines.count - 1) member runs (kill re-ran some)")
            await survivor.stop()
            for n in nodes { await n.process.stop() }
        }
    }
}
