import AsyncHTTPClient
import BatonCore
import BatonNode
import BatonServer
import BatonTesting
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

@Suite("Schedule, queue and unique-submit routes")
struct ScheduleRouteTests {
    @Test func scheduleLifecycle() async throws {
        try await withTestApp { client, node in
            let body = #"""
                {"name":"nightly","cron":"0 3 * * *","timezone":"Europe/Paris","misfire":"once",
                 "task":{"kind":"report","args":{"x":1},"queue":"reports","priority":7}}
                """#
            let created = try await client.send(.post, "/v1/schedules", json: body)
            #expect(created.status == .created, "\(created.text)")
            #expect(try await client.send(.post, "/v1/schedules", json: body).status == .conflict)
            let shown = try await client.send(.get, "/v1/schedules/nightly")
            #expect(shown.status == .ok)
            let json = try JSONSerialization.jsonObject(with: Data(shown.body.readableBytesView)) as? [String: Any]
            let next = try #require(json?["next"] as? [String])
            #expect(next.count == 5)
            // 03:00 in Paris is 01:00 or 02:00 UTC.
            #expect(next.allSatisfy { $0.contains("T01:00:00") || $0.contains("T02:00:00") }, "\(next)")
            #expect((json?["task"] as? [String: Any])?["queue"] as? String == "reports")

            let put = try await client.send(.put, "/v1/schedules/nightly", json: #"{"every":"30s","task":{"kind":"report"}}"#)
            #expect(put.status == .ok, "\(put.text)")
            #expect(try await client.send(.put, "/v1/schedules/other", json: #"{"every":"1m","task":{"kind":"k"}}"#).status == .created)
            let list = try await client.send(.get, "/v1/schedules")
            let names = try (JSONSerialization.jsonObject(with: Data(list.body.readableBytesView)) as? [String: Any])?["schedules"]
                .flatMap { $0 as? [[String: Any]] }?.compactMap { $0["name"] as? String }
            #expect(names == ["nightly", "other"])

            let paused = try await client.send(.post, "/v1/schedules/nightly/pause")
            #expect(paused.status == .ok && paused.text.contains(#""paused":true"#))
            let store = try #require(node.store as (any ScheduleStore)?)
            #expect(try await store.scheduleGet("nightly")?.paused == true)
            #expect(try await client.send(.post, "/v1/schedules/nightly/resume").text.contains(#""paused":false"#))
            #expect(try await client.send(.delete, "/v1/schedules/nightly").status == .noContent)
            #expect(try await client.send(.get, "/v1/schedules/nightly").status == .notFound)
            #expect(try await client.send(.delete, "/v1/schedules/nightly").status == .notFound)
        }
    }

    @Test(arguments: [
        (#"{"name":"a","cron":"0 25 * * *","task":{"kind":"k"}}"#, "hour"),
        (#"{"name":"a","cron":"* * * * *","timezone":"Mars/Olympus","task":{"kind":"k"}}"#, "Mars/Olympus"),
        (#"{"name":"a","cron":"* * * * *","every":"1s","task":{"kind":"k"}}"#, "not both"),
        (#"{"name":"a","task":{"kind":"k"}}"#, "cron or every"),
        (#"{"name":"a","every":"1s","task":{"kind":"bad kind"}}"#, "task: kind"),
        (#"{"name":"a b","every":"1s","task":{"kind":"k"}}"#, "name"),
        (#"{"name":"a","every":"1s","misfire":"later","task":{"kind":"k"}}"#, "misfire"),
        (#"{"name":"a","every":"1s","task":{"kind":"k","args":[],"pass":"prepend"}}"#, "baton.workflow"),
        (#"{"name":"a","every":"1s","task":{"kind":"k","after":["01a24100-da0b-741e-a960-629863c486e5"]}}"#, "after"),
    ])
    func badSchedulesAre400NamingTheProblem(_ body: String, _ mention: String) async throws {
        try await withTestApp { client, _ in
            let response = try await client.send(.post, "/v1/schedules", json: body)
            #expect(response.status == .badRequest)
            let error = try response.errorBody()
            #expect(error.code == "invalid_argument")
            #expect(error.message.contains(mention), "\(error.message)")
        }
    }

    @Test func queuePauseAndResume() async throws {
        try await withTestApp { client, node in
            #expect(try await client.send(.post, "/v1/queues/mail/pause").text.contains(#"["mail"]"#))
            _ = try await client.submit(echoTask(1, queue: "mail"))
            #expect(try await client.claim(queue: "mail").isEmpty)
            #expect(try await client.send(.get, "/v1/queues/paused").text.contains("mail"))
            #expect(try await client.send(.post, "/v1/queues/mail/resume").status == .ok)
            #expect(try await client.claim(queue: "mail").count == 1)
        }
    }

    @Test func duplicateUniqueKeyIs200WithTheExistingTask() async throws {
        try await withTestApp { client, _ in
            let body = #"{"kind":"k","unique_key":"u1"}"#
            let first = try await client.send(.post, "/v1/tasks", json: body)
            #expect(first.status == .created)
            #expect(first.text.contains(#""duplicate":false"#))
            let second = try await client.send(.post, "/v1/tasks", json: body)
            #expect(second.status == .ok)
            #expect(second.text.contains(#""duplicate":true"#))
            #expect(try second.decode(TaskRecord.self).id == first.decode(TaskRecord.self).id)
            let bad = try await client.send(.post, "/v1/tasks", json: #"{"kind":"k","unique_key":"u","unique_window":-1}"#)
            #expect(bad.status == .badRequest && bad.text.contains("unique_window must be a positive number"))
        }
    }

    @Test func idempotencyKeyReplaysAndRefusesADifferentBody() async throws {
        try await withTestApp { client, _ in
            var headers = jsonHeaders
            headers[HTTPField.Name("Idempotency-Key")!] = "abc"
            let first = try await client.send(.post, "/v1/tasks", json: #"{"kind":"k"}"#, headers: headers)
            let again = try await client.send(.post, "/v1/tasks", json: #"{"kind":"k"}"#, headers: headers)
            #expect(first.status == .created && again.status == .created)
            #expect(try again.decode(TaskRecord.self).id == first.decode(TaskRecord.self).id)
            let other = try await client.send(.post, "/v1/tasks", json: #"{"kind":"other"}"#, headers: headers)
            #expect(other.status == .unprocessableContent)
            #expect(try other.errorBody().code == "idempotency_mismatch")
            // Its task deleted since: a replay has nothing to answer with, and says so.
            let id = try first.decode(TaskRecord.self).id
            #expect(try await client.send(.post, "/v1/tasks/\(id)/cancel").status == .ok)
            #expect(try await client.send(.delete, "/v1/tasks/\(id)").status == .noContent)
            let gone = try await client.send(.post, "/v1/tasks", json: #"{"kind":"k"}"#, headers: headers)
            #expect(gone.status == .conflict, "\(gone.text)")
            #expect(try gone.errorBody().code == "conflict" && gone.text.contains("deleted"))
        }
    }

    /// 50 concurrent identical POSTs over live HTTP: one task for an Idempotency-Key, one for a unique key.
    @Test func concurrentIdenticalSubmitsOverHTTPCreateOneTask() async throws {
        try await withTestApp(.live) { client, node in
            let port = try #require(client.port)
            var config = HTTPClient.Configuration()
            config.connectionPool = .init(idleTimeout: .seconds(30), concurrentHTTP1ConnectionsPerHostSoftLimit: 64)
            let http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: config)
            defer { _ = http.shutdown() }
            for (header, body) in [("idem-1", #"{"kind":"k","args":{"n":1}}"#), (nil, #"{"kind":"k","unique_key":"u-50"}"#)] {
                let answers = try await withThrowingTaskGroup(of: (UInt, TaskID).self) { group in
                    for _ in 0..<50 {
                        group.addTask {
                            var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/v1/tasks")
                            request.method = .POST
                            request.headers.add(name: "Content-Type", value: "application/json")
                            if let header { request.headers.add(name: "Idempotency-Key", value: header) }
                            request.body = .bytes(ByteBuffer(string: body))
                            let response = try await http.execute(request, timeout: .seconds(20))
                            let bytes = try await response.body.collect(upTo: 1 << 20)
                            let task = try BatonJSON.decoder().decode(TaskRecord.self, from: Data(bytes.readableBytesView))
                            return (response.status.code, task.id)
                        }
                    }
                    return try await group.reduce(into: [(UInt, TaskID)]()) { $0.append($1) }
                }
                #expect(Set(answers.map(\.1)).count == 1)
                if header != nil {
                    #expect(answers.allSatisfy { $0.0 == 201 }, "a replay answers the first status")
                } else {
                    #expect(answers.filter { $0.0 == 201 }.count == 1)
                    #expect(answers.filter { $0.0 == 200 }.count == 49)
                }
            }
            #expect(try await node.store.taskList(TaskListParams()).tasks.count == 2)
        }
    }

    @Test func firerSubmitsOneTaskPerTickWithTags() async throws {
        let node = try await TestNode.make()
        defer { node.dispose() }
        let store = node.store
        let created = try await store.scheduleUpsert(
            // catch-up: a firer stalled past a tick by a loaded machine still fires it (skip would drop it).
            ScheduleUpsertParams(
                definition: ScheduleDefinition(name: "tick", every: "1s", misfire: "catch-up", task: NewTask(kind: "k", tags: ["mine"]))))
        let firer = ScheduleFirer(store: store)
        // Two firers on one store, racing: each tick still fires once.
        let other = ScheduleFirer(store: store)
        let deadline = created.createdAt.addingTimeInterval(2.6)
        while Date() < deadline {
            async let a = firer.fireOnce()
            async let b = other.fireOnce()
            _ = try await (a, b)
            try await Task.sleep(for: .milliseconds(100))
        }
        let tasks = try await store.taskList(TaskListParams()).tasks
        let ticks = tasks.compactMap { $0.tags.first { $0.hasPrefix("tick:") } }
        #expect(tasks.count >= 2 && tasks.count <= 3, "\(ticks)")
        #expect(Set(ticks).count == tasks.count)
        #expect(tasks.allSatisfy { $0.tags.contains("mine") && $0.tags.contains("schedule:tick") })
        // Paused: nothing more fires.
        _ = try await store.scheduleSetPaused("tick", paused: true)
        try await Task.sleep(for: .milliseconds(1100))
        #expect(try await firer.fireOnce() == 0)
    }

    /// A schedule whose task is `baton.workflow` starts its workflow once per tick, even with
    /// two firers racing (each tick's workflow is stored under its own idempotency key).
    @Test func scheduleStartsAWorkflowOncePerTick() async throws {
        let node = try await TestNode.make()
        defer { node.dispose() }
        let store = node.store
        let workflow = RawJSON(trusted: #"{"chain":[{"kind":"extract"},{"kind":"load"}]}"#)
        let created = try await store.scheduleUpsert(
            ScheduleUpsertParams(
                definition: ScheduleDefinition(
                    name: "etl", every: "1s", task: NewTask(kind: ScheduleDefinition.workflowKind, args: workflow))))
        let firer = ScheduleFirer(store: store)
        let other = ScheduleFirer(store: store)
        let deadline = created.createdAt.addingTimeInterval(2.6)
        while Date() < deadline {
            async let a = firer.fireOnce()
            async let b = other.fireOnce()
            _ = try await (a, b)
            try await Task.sleep(for: .milliseconds(100))
        }
        let tasks = try await store.taskList(TaskListParams()).tasks
        let byTick = Dictionary(grouping: tasks) { $0.tags.first { $0.hasPrefix("tick:") } ?? "" }
        #expect(!byTick.isEmpty && byTick[""] == nil)
        for (tick, nodes) in byTick {
            #expect(nodes.count == 2, "one workflow of two nodes per tick: \(tick)")
            #expect(Set(nodes.compactMap(\.workflowID)).count == 1)
            #expect(Set(nodes.map(\.state)) == [.ready, .waiting])
        }
        // A schedule whose workflow does not compile is refused when it is created.
        let bad = ScheduleDefinition(
            name: "bad", every: "1s", task: NewTask(kind: ScheduleDefinition.workflowKind, args: RawJSON(trusted: #"{"chain":[]}"#)))
        #expect(throws: BatonError.self) { try bad.validate() }
    }
}
