import BatonCore
import BatonServer
import BatonTesting
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

@Suite("Task routes")
struct TaskRouteTests {
    @Test func submitOneReturnsCreatedTask() async throws {
        try await withTestApp { client, node in
            let response = try await client.send(
                .post, "/v1/tasks", json: #"{"kind":"email.send","args":{"to":"a@b.c"},"priority":7,"tags":["x"]}"#)
            #expect(response.status == .created)
            #expect(response.headers[.contentType] == "application/json")
            let task = try response.decode(TaskRecord.self)
            #expect(task.kind == "email.send")
            #expect(task.priority == 7)
            #expect(task.state == .ready)
            #expect(task.tags == ["x"])
            #expect(try task.args.parsed() == .object(["to": .string("a@b.c")]))
            #expect(response.headers[.location] == "/v1/tasks/\(task.id)")
            let stored = try #require(try await node.store.taskGet(task.id))
            #expect(stored.kind == "email.send")
        }
    }

    @Test func submitBatchStoresAllInOrder() async throws {
        try await withTestApp { client, node in
            let tasks = (0..<5).map { echoTask($0) }
            let stored = try await client.submit(tasks)
            #expect(stored.count == 5)
            for (i, t) in stored.enumerated() {
                #expect(try t.args.parsed() == .object(["n": .int(Int64(i))]))
            }
            let page = try await node.store.taskList(TaskListParams())
            #expect(page.tasks.count == 5)
        }
    }

    @Test func delayedTaskIsPending() async throws {
        try await withTestApp { client, _ in
            let response = try await client.send(.post, "/v1/tasks", json: #"{"kind":"later","delay":60}"#)
            #expect(response.status == .created)
            #expect(try response.decode(TaskRecord.self).state == .pending)
        }
    }

    @Test func malformedJSONIs400() async throws {
        try await withTestApp { client, _ in
            let response = try await client.send(.post, "/v1/tasks", json: #"{"kind": "a", "#)
            #expect(response.status == .badRequest)
            let error = try response.errorBody()
            #expect(error.code == "invalid_argument")
            #expect(error.message == "malformed JSON: expected a string key at byte 14", "\(error.message)")
        }
    }

    /// The one pass that reads a submit body also checks it: what it refuses, in any part of
    /// a single or batch body or of the arguments, is named with its byte, and nothing is stored.
    @Test(arguments: [
        (#"{"kind":"a","args":{"x":[1,2,]}}"#, "malformed JSON: invalid value at byte 29"),
        (#"[{"kind":"a"},{"kind":"b","args":"\ud800"}]"#, "malformed JSON: lone UTF-16 surrogate in \\u escape at byte 34"),
        (#"{"kind":"a","args":1e999}"#, "malformed JSON: number out of range at byte 19"),
        (#"{"kind":"a"} {}"#, "malformed JSON: unexpected data after the JSON value at byte 13"),
        (#"{"kind":"a","prioirty":1,"args":[}"#, "malformed JSON: invalid value at byte 33"),
        (
            #"{"kind":"a","args":"# + String(repeating: "[", count: 64) + String(repeating: "]", count: 64) + "}",
            "JSON nested deeper than 64 levels"
        ),
    ])
    func submitSyntaxErrorsNameTheByte(_ body: String, _ message: String) async throws {
        try await withTestApp { client, node in
            let response = try await client.send(.post, "/v1/tasks", json: body)
            #expect(response.status == .badRequest)
            #expect(try response.errorBody().message == message)
            #expect(try await node.store.taskList(TaskListParams()).tasks.isEmpty)
        }
    }

    @Test func wrongTypeNamesTheField() async throws {
        try await withTestApp { client, _ in
            let response = try await client.send(.post, "/v1/tasks", json: #"{"kind":"a","priority":"high"}"#)
            #expect(response.status == .badRequest)
            let error = try response.errorBody()
            #expect(error.code == "invalid_argument")
            #expect(error.message.contains("field 'priority': expected an integer"), "\(error.message)")
        }
    }

    @Test func missingKindIs400() async throws {
        try await withTestApp { client, _ in
            let response = try await client.send(.post, "/v1/tasks", json: #"{"args":{}}"#)
            #expect(response.status == .badRequest)
            let error = try response.errorBody()
            #expect(error.message.contains("field 'kind' is required"), "\(error.message)")
        }
    }

    /// A body that is JSON but not a task, which the one-pass decoder leaves to `JSONDecoder`,
    /// gets the field's message.
    @Test func unknownFieldIsNamed() async throws {
        try await withTestApp { client, node in
            let response = try await client.send(.post, "/v1/tasks", json: #"{"kind":"a", "prioirty": 3}"#)
            #expect(response.status == .badRequest)
            let error = try response.errorBody()
            #expect(error.code == "invalid_argument")
            #expect(error.message.contains("unknown field 'prioirty'"), "\(error.message)")
            #expect(try await node.store.taskList(TaskListParams()).tasks.isEmpty)
        }
    }

    @Test func invalidValueIs400() async throws {
        try await withTestApp { client, _ in
            let response = try await client.send(.post, "/v1/tasks", json: #"{"kind":"a","priority":42}"#)
            #expect(response.status == .badRequest)
            #expect(try response.errorBody().message.contains("priority"))
        }
    }

    @Test func emptyBatchIs400() async throws {
        try await withTestApp { client, _ in
            let response = try await client.send(.post, "/v1/tasks", json: "[]")
            #expect(response.status == .badRequest)
            #expect(try response.errorBody().code == "invalid_argument")
        }
    }

    @Test func batchIsAllOrNothing() async throws {
        try await withTestApp { client, node in
            let json = #"[{"kind":"ok"},{"kind":"ok","priority":0},{"kind":"ok"}]"#
            let response = try await client.send(.post, "/v1/tasks", json: json)
            #expect(response.status == .badRequest)
            let error = try response.errorBody()
            #expect(error.message.contains("task [1]"), "\(error.message)")
            #expect(try await node.store.taskList(TaskListParams()).tasks.isEmpty)

            // A decoding error inside a batch names the element too.
            let typed = try await client.send(.post, "/v1/tasks", json: #"[{"kind":"ok"},{"kind":7}]"#)
            #expect(typed.status == .badRequest)
            #expect(try typed.errorBody().message.contains("[1].kind"))
            #expect(try await node.store.taskList(TaskListParams()).tasks.isEmpty)
        }
    }

    @Test func batchOverLimitIs413() async throws {
        try await withTestApp(configuration: ServerConfiguration(maxBatch: 3)) { client, node in
            let response = try await client.send(.post, "/v1/tasks", body: (0..<4).map { echoTask($0) })
            #expect(response.status == .contentTooLarge)
            #expect(try response.errorBody().code == "too_large")
            #expect(try await node.store.taskList(TaskListParams()).tasks.isEmpty)
        }
    }

    @Test func argsOverLimitIs413() async throws {
        try await withTestApp(configuration: ServerConfiguration(maxArgsBytes: 100)) { client, _ in
            let big = String(repeating: "x", count: 200)
            let response = try await client.send(.post, "/v1/tasks", json: #"{"kind":"a","args":{"s":"\#(big)"}}"#)
            #expect(response.status == .contentTooLarge)
            #expect(try response.errorBody().code == "too_large")
        }
    }

    @Test func oversizeBodyIs413() async throws {
        try await withTestApp(configuration: ServerConfiguration(maxBodyBytes: 2048)) { client, node in
            let big = String(repeating: "x", count: 4096)
            let response = try await client.send(.post, "/v1/tasks", json: #"{"kind":"a","args":{"s":"\#(big)"}}"#)
            #expect(response.status == .contentTooLarge)
            #expect(try response.errorBody().code == "too_large")
            #expect(try await node.store.taskList(TaskListParams()).tasks.isEmpty)
        }
    }

    @Test func nonJSONContentTypeIs415() async throws {
        try await withTestApp { client, _ in
            let response = try await client.send(.post, "/v1/tasks", json: #"{"kind":"a"}"#, headers: [.contentType: "text/plain"])
            #expect(response.status == .unsupportedMediaType)
            #expect(try response.errorBody().code == "unsupported_media_type")
            // A charset parameter is fine.
            let ok = try await client.send(
                .post, "/v1/tasks", json: #"{"kind":"a"}"#, headers: [.contentType: "application/json; charset=utf-8"])
            #expect(ok.status == .created)
        }
    }

    @Test func getTask() async throws {
        try await withTestApp { client, _ in
            let task = try await client.submit(echoTask(1))
            let response = try await client.send(.get, "/v1/tasks/\(task.id)")
            #expect(response.status == .ok)
            #expect(try response.decode(TaskRecord.self) == task)

            let unknown = try await client.send(.get, "/v1/tasks/\(TaskID.generate())")
            #expect(unknown.status == .notFound)
            #expect(try unknown.errorBody().code == "not_found")

            let bad = try await client.send(.get, "/v1/tasks/not-a-uuid")
            #expect(bad.status == .badRequest)
            #expect(try bad.errorBody().message.contains("not-a-uuid"))
        }
    }

    @Test func listFiltersAndPages() async throws {
        try await withTestApp { client, _ in
            _ = try await client.submit((0..<5).map { echoTask($0, queue: "a") } + (0..<3).map { echoTask($0, queue: "b") })
            let claimed = try await client.claim(1, queue: "b")
            #expect(claimed.count == 1)

            let a = try await client.send(.get, "/v1/tasks?queue=a&limit=2")
            #expect(a.status == .ok)
            let page1 = try a.decode(TaskPage.self)
            #expect(page1.tasks.count == 2)
            #expect(page1.tasks.allSatisfy { $0.queue == "a" })
            let cursor = try #require(page1.nextCursor)
            let page2 = try await client.send(.get, "/v1/tasks?queue=a&limit=2&cursor=\(cursor)").decode(TaskPage.self)
            #expect(page2.tasks.count == 2)
            #expect(Set(page1.tasks.map(\.id)).isDisjoint(with: page2.tasks.map(\.id)))

            let running = try await client.send(.get, "/v1/tasks?state=running,succeeded").decode(TaskPage.self)
            #expect(running.tasks.map(\.id) == [claimed[0].task.id])

            let raw = try await client.send(.get, "/v1/tasks?state=running")
            #expect(raw.text.contains(#""next_cursor":null"#))

            let bad = try await client.send(.get, "/v1/tasks?state=ready,bogus")
            #expect(bad.status == .badRequest)
            #expect(try bad.errorBody().message.contains("bogus"))
            #expect(try await client.send(.get, "/v1/tasks?limit=0").status == .badRequest)
            #expect(try await client.send(.get, "/v1/tasks?limit=abc").status == .badRequest)
            #expect(try await client.send(.get, "/v1/tasks?cursor=zzz").status == .badRequest)
        }
    }

    @Test func cancelRetryDelete() async throws {
        try await withTestApp { client, node in
            let task = try await client.submit(echoTask(1))

            // Delete of a non-terminal task: 409, still there.
            let early = try await client.send(.delete, "/v1/tasks/\(task.id)")
            #expect(early.status == .conflict)
            #expect(try early.errorBody().code == "conflict")
            #expect(try await node.store.taskGet(task.id) != nil)

            // Retry of a non-terminal task: 409.
            #expect(try await client.send(.post, "/v1/tasks/\(task.id)/retry").status == .conflict)

            let cancelled = try await client.send(.post, "/v1/tasks/\(task.id)/cancel")
            #expect(cancelled.status == .ok)
            #expect(try cancelled.decode(TaskRecord.self).state == .cancelled)

            // Cancel of a terminal task: 409, unchanged.
            let again = try await client.send(.post, "/v1/tasks/\(task.id)/cancel")
            #expect(again.status == .conflict)
            #expect(try await node.store.taskGet(task.id)?.state == .cancelled)

            let retried = try await client.send(.post, "/v1/tasks/\(task.id)/retry")
            #expect(retried.status == .ok)
            #expect(try retried.decode(TaskRecord.self).state == .ready)

            _ = try await client.send(.post, "/v1/tasks/\(task.id)/cancel")
            let deleted = try await client.send(.delete, "/v1/tasks/\(task.id)")
            #expect(deleted.status == .noContent)
            #expect(try await node.store.taskGet(task.id) == nil)

            let unknown = TaskID.generate()
            #expect(try await client.send(.post, "/v1/tasks/\(unknown)/cancel").status == .notFound)
            #expect(try await client.send(.post, "/v1/tasks/\(unknown)/retry").status == .notFound)
            #expect(try await client.send(.delete, "/v1/tasks/\(unknown)").status == .notFound)
            #expect(try await client.send(.post, "/v1/tasks/nope/cancel").status == .badRequest)
        }
    }

    @Test func waitTimesOutWithCurrentTask() async throws {
        try await withTestApp { client, _ in
            let task = try await client.submit(echoTask(1))
            let start = ContinuousClock.now
            let response = try await client.send(.get, "/v1/tasks/\(task.id)/wait?timeout=0.3")
            let elapsed = ContinuousClock.now - start
            #expect(response.status == .ok)
            #expect(try response.decode(TaskRecord.self).state == .ready)
            #expect(elapsed >= .milliseconds(280))
            #expect(elapsed < .seconds(3))

            #expect(try await client.send(.get, "/v1/tasks/\(task.id)/wait?timeout=-1").status == .badRequest)
            #expect(try await client.send(.get, "/v1/tasks/\(TaskID.generate())/wait?timeout=1").status == .notFound)
        }
    }

    @Test func waitIsCappedAtMaxWait() async throws {
        try await withTestApp(configuration: ServerConfiguration(maxWait: .milliseconds(200))) { client, _ in
            let task = try await client.submit(echoTask(1))
            let start = ContinuousClock.now
            let response = try await client.send(.get, "/v1/tasks/\(task.id)/wait?timeout=30")
            #expect(response.status == .ok)
            #expect(ContinuousClock.now - start < .seconds(3))
        }
    }

    @Test func waitReturnsAsSoonAsTaskCompletes() async throws {
        try await withTestApp { client, _ in
            let task = try await client.submit(echoTask(1))
            let claimed = try await client.claim(1)
            let token = try #require(claimed.first?.leaseToken)
            let start = ContinuousClock.now
            async let waited = client.send(.get, "/v1/tasks/\(task.id)/wait?timeout=10")
            try await Task.sleep(for: .milliseconds(200))
            let done = try await client.send(
                .post, "/v1/tasks/\(task.id)/complete", body: CompleteBody(leaseToken: token, result: RawJSON(.string("ok"))))
            #expect(done.status == .ok)
            let response = try await waited
            let elapsed = ContinuousClock.now - start
            let result = try response.decode(TaskRecord.self)
            #expect(result.state == .succeeded)
            #expect(result.result == RawJSON(.string("ok")))
            #expect(elapsed < .seconds(5), "wait took \(elapsed) of its 10 s timeout")
        }
    }

    @Test func waitWakesOnCancel() async throws {
        try await withTestApp { client, _ in
            let task = try await client.submit(echoTask(1))
            async let waited = client.send(.get, "/v1/tasks/\(task.id)/wait?timeout=10")
            try await Task.sleep(for: .milliseconds(100))
            _ = try await client.send(.post, "/v1/tasks/\(task.id)/cancel")
            #expect(try await waited.decode(TaskRecord.self).state == .cancelled)
        }
    }
}
