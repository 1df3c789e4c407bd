import BatonCore
import BatonNode
import BatonServer
import BatonTesting
import BatonWorker
import Foundation
import HummingbirdTesting
import Logging
import ServiceLifecycle
import Testing

/// Workflows as BatonWorker's handlers see them over real HTTP: parents' results
/// (`ctx.parents()`, `pass: prepend`), and follow-up tasks stored with a completion.
@Suite("Workflow handlers over HTTP")
struct WorkflowWorkerTests {
    @Test(.timeLimit(.minutes(1)))
    func parentsResultsAndFollowUpsReachTheHandlers() async throws {
        try await withTestApp(.live) { client, node in
            let port = try #require(client.port)
            var logger = Logger(label: "baton.test.worker")
            logger.logLevel = .warning
            let registry = HandlerRegistry()
            registry.register("square") { (n: Int, _: TaskContext) -> Int in n * n }
            // A chord body with `pass: prepend`: its args are the members' results, in member order.
            registry.register("sum") { (values: [Int], context: TaskContext) -> Int in
                let parents = try await context.parents()
                let last = try await context.parent("header.2")
                #expect(parents.map(\.name) == ["header.0", "header.1", "header.2"])
                #expect(last?.result?.text == "9")
                // Multistage: the sum asks for a report, stored with its own completion.
                context.followUp(
                    NewTask(kind: "report", args: RawJSON(.int(Int64(values.reduce(0, +)))), after: [.init(parent: context.taskID)]))
                return values.reduce(0, +)
            }
            registry.register("report") { (total: Int, context: TaskContext) -> String in
                "total \(total) after \(try await context.parents().first?.result?.text ?? "?")"
            }
            let source = HTTPTaskSource(servers: [URL(string: "http://127.0.0.1:\(port)")!], logger: logger)
            let runtime = WorkerRuntime(
                source: source, registry: registry,
                configuration: WorkerConfiguration(id: "wf-worker", concurrency: 8, claimWait: .seconds(1), shutdownGrace: .seconds(2)),
                logger: logger)
            let group = ServiceGroup(services: [runtime], logger: logger)
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                tasks.addTask { try await group.run() }
                let response = try await client.send(
                    .post, "/v1/workflows",
                    json:
                        #"{"chord":{"header":[{"kind":"square","args":1},{"kind":"square","args":2},{"kind":"square","args":3}],"body":{"kind":"sum","args":[],"pass":"prepend","name":"sum"}}}"#
                )
                #expect(response.status == .created)
                let workflow = try response.decode(WorkflowRecord.self)
                let done = try await eventually("the follow-up to finish", within: .seconds(20)) { () -> WorkflowRecord? in
                    let record = try #require(try await node.store.workflowGet(workflow.id))
                    return record.nodes.count == 5 && record.state.isTerminal ? record : nil
                }
                #expect(done.state == .succeeded)
                #expect(done.nodes.map(\.name) == ["header.0", "header.1", "header.2", "sum", "sum.0"])
                #expect(done.nodes.map { $0.result?.text } == ["1", "4", "9", "14", #""total 14 after 14""#])
                await group.triggerGracefulShutdown()
                try await tasks.waitForAll()
            }
        }
    }

    /// A completion with follow-ups under a stale lease is refused and stores none of them.
    @Test func followUpsOfAStaleCompletionDoNotExist() async throws {
        try await withTestApp { client, node in
            let task = try await client.submit(NewTask(kind: "stage1"))
            let claimed = try #require(try await node.store.claim().first)
            #expect(claimed.task.id == task.id)
            let stale = try await client.send(
                .post, "/v1/tasks/\(task.id)/complete", json: #"{"lease_token":"nope","result":1,"follow_ups":[{"kind":"stage2"}]}"#)
            #expect(stale.status == .conflict)
            #expect(try await node.store.all().count == 1, "no follow-up without its completion")
            let ok = try await client.send(
                .post, "/v1/tasks/\(task.id)/complete",
                json: #"{"lease_token":"\#(claimed.leaseToken)","result":1,"follow_ups":[{"kind":"stage2","after":["\#(task.id)"]}]}"#)
            #expect(ok.status == .ok)
            #expect(try ok.decode(TaskRecord.self).state == .succeeded)
            let all = try await node.store.all()
            let stage2 = try #require(all.first { $0.kind == "stage2" })
            #expect(stage2.state == .ready, "its parent succeeded in the same transaction")
        }
    }
}
