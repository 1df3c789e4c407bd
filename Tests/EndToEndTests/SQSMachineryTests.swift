import BatonClient
import BatonCore
import BatonTesting
import Foundation
import Testing

extension EndToEnd.SQSPipelineTests {
    /// Machinery's producer sends a chord as one SQS message per member. A `baton standalone`
    /// ingesting that queue runs the members with its in-process workers (the built-in `echo`,
    /// which answers a member's `[{Type, Value}]` arguments as its result), then the callback
    /// once, with every member's result in front of its own arguments in the order the members
    /// were stored; the workflow is found by the group's UUID.
    @Test func machineryChordSentAMemberPerMessageRunsItsCallbackOnce() async throws {
        guard let endpoint = Self.skipUnlessMoto() else { return }
        let sqs = try Self.client(endpoint)
        let submit = try await Self.queue(sqs, "machinery")
        let dir = try TempDir()
        let node = try BatonProcess(
            ["standalone", "--db", dir.path("baton.db"), "--port", "0", "--sqs-endpoint", endpoint, "--sqs-ingest", submit],
            environment: Self.awsEnvironment)
        defer { Task { await node.stop() } }
        let client = BatonClient(servers: [URL(string: try await node.url())!])

        let count = 20
        let group = UUID().uuidString.lowercased()
        let callbackUUID = UUID().uuidString.lowercased()
        let callback = goSignature("chord_\(callbackUUID)", "echo", args: [100])
        let uuids = (0..<count).map { _ in UUID().uuidString.lowercased() }
        let members = uuids.enumerated().map { i, uuid in
            goSignature("task_\(uuid)", "echo", args: [i], chordCallback: callback, groupUUID: "group_\(group)", groupTaskCount: count)
        }
        try await Self.send(sqs, submit, members)

        let workflowID = try #require(TaskID(group))
        let done = try await eventually("the chord to finish", within: .seconds(60), every: .milliseconds(200)) {
            () -> WorkflowRecord? in
            guard let record = try? await client.workflow(workflowID), record.state.isTerminal else { return nil }
            return record
        }
        // Running until every member and the callback were stored and had run.
        #expect(done.state == .succeeded && done.name == "group_\(group)" && done.nodes.count == count + 1, "\(done.counts)")
        let callbackID = try #require(TaskID(callbackUUID))
        let body = try await client.get(callbackID)
        #expect(body.attempt == 1 && body.parentCount == count, "the callback ran once, after every member")
        // Its result: each member's item, in stored order, then its own argument.
        let order = done.nodes.filter { $0.id != callbackID }.compactMap { node in uuids.firstIndex(of: node.id.description) }
        #expect(order.count == count)
        let items = (order + [100]).map { JSONValue.object(["Type": .string("int64"), "Value": .int(Int64($0))]) }
        #expect(try body.result?.parsed() == .array(items))
        try await eventually("every message to be deleted", within: .seconds(20), every: .milliseconds(200)) { () -> Bool? in
            try await Self.depth(sqs, submit) == 0 ? true : nil
        }
    }
}
