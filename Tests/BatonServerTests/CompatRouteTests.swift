import BatonCore
import BatonNode
import BatonTesting
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Testing

@testable import BatonServer

/// The drop-in APIs of the Go Distributed Task Scheduler (`/jobs`) and of taskq
/// (dist-sched-tasks), through the router of a real node: their request and response
/// examples, their errors, what is fenced and what is not, their place in the OpenAPI
/// document, and their mounting under a prefix that carries a token (docs/compat.md).
@Suite("Drop-in APIs of earlier systems")
struct CompatRouteTests {
    static let validator = SchemaValidator(schemas: APISchemas(limits: NodeAPILimits()).all)

    /// The body as JSON, after checking it against the document's schema `schema`.
    static func body(_ response: TestResponse, _ schema: String) throws -> JSONValue {
        let value = try response.json()
        let problems = validator.problems(value, APISchemas.ref(schema))
        #expect(problems.isEmpty, "\(schema): \(problems) in \(response.text)")
        return value
    }

    /// The task with this id, as stored.
    static func stored(_ node: TestNode, _ id: String) async throws -> TaskRecord {
        let taskID = try #require(TaskID(id))
        return try #require(try await node.store.taskGet(taskID))
    }

    static let readmeJob = #"{"type": "sleep", "payload": {"duration": 5}, "priority": 7}"#

    // MARK: The Go Distributed Task Scheduler

    @Test func readmeJobIsCreatedReadAndStoredAsABatonSleepTask() async throws {
        try await withTestApp { client, node in
            let created = try await client.send(.post, "/jobs", json: Self.readmeJob)
            #expect(created.status == .created)
            let job = try Self.body(created, "Job")
            #expect(job["type"] == "sleep" && job["payload"] == .object(["duration": 5]) && job["priority"] == 7)
            #expect(job["status"] == "pending" && job["attempts"] == 0)
            let id = try #require(job["id"]?.stringValue)
            #expect(created.headers[.location] == "/jobs/\(id)")

            let read = try await client.send(.get, "/jobs/\(id)")
            #expect(read.status == .ok)
            #expect(try Self.body(read, "Job") == job)

            let task = try await Self.stored(node, id)
            #expect(task.kind == "sleep" && task.queue == "default" && task.priority == 7)
            #expect(try task.args.parsed() == .object(["seconds": 5]), "Baton's sleep kind reads seconds")
        }
    }

    @Test func httpAndFileJobsKeepTheirPayloadAsTheKindsArguments() async throws {
        try await withTestApp { client, node in
            let http = try await client.send(
                .post, "/jobs", json: #"{"type": "http", "payload": {"url": "https://example.com/hook", "method": "POST"}}"#)
            #expect(http.status == .created)
            let file = try await client.send(
                .post, "/jobs", json: #"{"type": "file", "payload": {"op": "write", "path": "a.txt", "content": "hi"}, "priority": 2}"#)
            #expect(file.status == .created)
            for (response, kind) in [(http, "http"), (file, "file")] {
                let job = try Self.body(response, "Job")
                let task = try await Self.stored(node, job["id"]?.stringValue ?? "")
                #expect(task.kind == kind && job["type"] == .string(kind))
                #expect(try task.args.parsed() == job["payload"])
            }
            #expect(try Self.body(http, "Job")["priority"] == 5, "the default priority")
        }
    }

    @Test func aWorkerTakesTheNextJobByPriorityAndCompletesItByIDAlone() async throws {
        try await withTestApp { client, node in
            let low = try await client.send(.post, "/jobs", json: #"{"type": "sleep", "payload": {"duration": 1}, "priority": 2}"#)
            let high = try await client.send(.post, "/jobs", json: Self.readmeJob)
            let highID = try #require(try high.json()["id"]?.stringValue)
            let lowID = try #require(try low.json()["id"]?.stringValue)

            let next = try await client.send(.get, "/next-job?worker_id=worker-1")
            #expect(next.status == .ok)
            let taken = try Self.body(next, "ClaimedJob")
            #expect(taken["id"] == .string(highID), "priority 7 before priority 2")
            #expect(taken["status"] == "running" && taken["worker_id"] == "worker-1" && taken["attempts"] == 1)
            #expect(taken["payload"] == .object(["duration": 5]))

            let done = try await client.send(.post, "/jobs/\(highID)/complete", json: #"{"result": {"slept": 5}}"#)
            #expect(done.status == .ok, "\(done.text)")
            let completed = try Self.body(done, "Job")
            #expect(completed["status"] == "completed" && completed["result"] == .object(["slept": 5]))
            #expect(completed["completed_at"] != nil)
            let stored = try await Self.stored(node, highID)
            #expect(stored.state == .succeeded)

            // Completing it again: it no longer runs under a lease.
            let again = try await client.send(.post, "/jobs/\(highID)/complete")
            #expect(again.status == .conflict)
            #expect(try again.errorBody().code == "conflict")

            // The other job, then none: 204 without a body.
            let second = try await client.send(.get, "/next-job")
            #expect(try second.json()["id"] == .string(lowID) && second.json()["worker_id"] == "jobs-worker")
            let none = try await client.send(.get, "/next-job")
            #expect(none.status == .noContent && none.body.readableBytes == 0)
            // A Go client posting no body (and no Content-Type) reports success.
            let empty = try await client.execute(uri: "/jobs/\(lowID)/complete", method: .post, headers: [:], body: nil)
            #expect(try empty.status == .ok && empty.json()["status"] == "completed")
        }
    }

    @Test func aReportedFailureIsRetriedByBatonsPolicy() async throws {
        try await withTestApp { client, node in
            let id = try #require(try await client.send(.post, "/jobs", json: Self.readmeJob).json()["id"]?.stringValue)
            #expect(try await client.send(.get, "/next-job?worker_id=w1").status == .ok)
            let failed = try await client.send(.post, "/jobs/\(id)/complete", json: #"{"success": false, "error": "disk full"}"#)
            #expect(failed.status == .ok)
            let job = try Self.body(failed, "Job")
            #expect(job["status"] == "pending" && job["error"] == "disk full" && job["attempts"] == 1)
            let task = try await Self.stored(node, id)
            // Backing off before its next attempt (a jittered delay from the node's policy).
            #expect(task.state == .pending && task.errors.map(\.message) == ["disk full"])
            #expect(task.runAt >= (task.errors.first?.at ?? .distantFuture))
        }
    }

    /// The lease is fenced by `lease_token` when the client sends it, by `worker_id` when it
    /// sends that; by the job id alone it completes the job's current lease in the store.
    @Test func completionIsFencedByLeaseTokenOrWorker() async throws {
        try await withTestApp { client, node in
            let id = try #require(try await client.send(.post, "/jobs", json: Self.readmeJob).json()["id"]?.stringValue)
            let taken = try await client.send(.get, "/next-job?worker_id=w1&lease=0.2")
            let token = try #require(try taken.json()["lease_token"]?.stringValue)

            let other = try await client.send(.post, "/jobs/\(id)/complete", json: #"{"worker_id": "w2"}"#)
            #expect(other.status == .conflict)
            #expect(try other.errorBody().message.contains("w1"))
            let wrong = try await client.send(.post, "/jobs/\(id)/complete", json: #"{"lease_token": "not-the-lease"}"#)
            #expect(wrong.status == .conflict)
            #expect(try wrong.errorBody().code == "stale_lease")

            // Never completed: its lease runs out and Baton's rescue makes it ready again.
            try await Task.sleep(for: .milliseconds(300))
            let rescued = try await node.store.leaseRescueMany(LeaseRescueParams(defaultRetry: .fixed(.milliseconds(1))))
            #expect(rescued.map(\.id) == [try #require(TaskID(id))])
            try await Task.sleep(for: .milliseconds(20))
            let retaken = try await client.send(.get, "/next-job?worker_id=w2")
            #expect(try retaken.json()["id"] == .string(id) && retaken.json()["attempts"] == 2)
            // The first worker's lease is stale.
            let stale = try await client.send(.post, "/jobs/\(id)/complete", json: #"{"lease_token": "\#(token)"}"#)
            #expect(stale.status == .conflict)
            let late = try await client.send(.post, "/jobs/\(id)/complete", json: #"{"worker_id": "w1"}"#)
            #expect(late.status == .conflict)
            let right = try await client.send(.post, "/jobs/\(id)/complete", json: #"{"worker_id": "w2"}"#)
            #expect(try right.status == .ok && right.json()["status"] == "completed")
        }
    }

    /// The lease a completion by id applies under is the store's, not a memory of `/next-job`:
    /// a job claimed elsewhere (here straight from the store, as another node or a Baton worker
    /// would) completes by its id, fenced by `worker_id` against the store's lease owner.
    @Test func aJobClaimedElsewhereCompletesByIDUnderTheStoresLease() async throws {
        try await withTestApp { client, node in
            let id = try #require(try await client.send(.post, "/jobs", json: Self.readmeJob).json()["id"]?.stringValue)
            let claimed = try #require(try await node.store.claim("elsewhere").first)
            #expect(claimed.task.id.description == id)
            let read = try await client.send(.get, "/jobs/\(id)")
            #expect(try read.json()["worker_id"] == "elsewhere" && read.json()["lease_token"] == nil, "GET never shows the token")
            let other = try await client.send(.post, "/jobs/\(id)/complete", json: #"{"worker_id": "w1"}"#)
            #expect(try other.status == .conflict && other.errorBody().message.contains("elsewhere"))
            let done = try await client.send(.post, "/jobs/\(id)/complete", json: #"{"worker_id": "elsewhere", "result": 1}"#)
            #expect(try done.status == .ok && done.json()["status"] == "completed", "\(done.text)")
            let stored = try await Self.stored(node, id)
            #expect(stored.state == .succeeded && stored.result?.text == "1")
        }
    }

    @Test(arguments: [
        (#"[1]"#, "a JSON object"), (#"{"payload": {}}"#, "type"), (#"{"type": "email", "payload": {}}"#, "not a job type"),
        (#"{"type": "sleep", "payload": 5}"#, "payload"), (#"{"type": "sleep", "payload": {}}"#, "duration"),
        (#"{"type": "sleep", "payload": {"duration": -1}}"#, "duration"),
        (#"{"type": "sleep", "payload": {"duration": "5"}}"#, "duration"),
        (#"{"type": "sleep", "payload": {"duration": 5}, "priority": 11}"#, "priority"),
        (#"{"type": "sleep", "payload": {"duration": 5}, "priority": "7"}"#, "priority"),
        (#"{"type": "http", "payload": {"method": "GET"}}"#, "url"), (#"{"type": "file", "payload": {"op": "move", "path": "a"}}"#, "op"),
        (#"{"type": "sleep", "payload": {"duration": 5}"#, "JSON"),
    ])
    func badJobsAreRefusedNamingTheProblem(_ body: String, _ mention: String) async throws {
        try await withTestApp { client, _ in
            let response = try await client.send(.post, "/jobs", json: body)
            #expect(response.status == .badRequest)
            let error = try response.errorBody()
            #expect(error.code == "invalid_argument" && error.message.contains(mention), "\(error.message)")
        }
    }

    @Test func badJobIDsAndCompletionsAreRefused() async throws {
        try await withTestApp { client, _ in
            #expect(try await client.send(.get, "/jobs/not-a-uuid").status == .badRequest)
            let unknown = UUID().uuidString.lowercased()
            let missing = try await client.send(.get, "/jobs/\(unknown)")
            #expect(try missing.status == .notFound && missing.errorBody().code == "not_found")
            #expect(try await client.send(.post, "/jobs/\(unknown)/complete").status == .notFound)
            let id = try #require(try await client.send(.post, "/jobs", json: Self.readmeJob).json()["id"]?.stringValue)
            let bad = try await client.send(.post, "/jobs/\(id)/complete", json: #"{"success": "yes"}"#)
            #expect(try bad.status == .badRequest && bad.errorBody().message.contains("success"))
            #expect(try await client.send(.get, "/next-job?lease=-1").status == .badRequest)
            #expect(try await client.send(.get, "/next-job?worker_id=").status == .badRequest)
            // Not taken yet: nothing to complete.
            #expect(try await client.send(.post, "/jobs/\(id)/complete").status == .conflict)
        }
    }

    @Test func jobsGoThroughTheNodeAPIEvents() async throws {
        try await withTestApp { client, node in
            let stream = node.node.events.subscribe { event in
                if case .storeOperation = event { return false }
                return true
            }
            let id = try #require(try await client.send(.post, "/jobs", json: Self.readmeJob).json()["id"]?.stringValue)
            _ = try await client.send(.get, "/next-job?worker_id=w-ev")
            _ = try await client.send(.post, "/jobs/\(id)/complete")
            let events = try await NodeEventStreamTests.take(3, from: stream)
            try #require(events.count == 3, "\(events)")
            guard case .enqueued(let ref) = events[0], case .claimed(_, _, let worker, _) = events[1], case .transitioned(let t) = events[2]
            else {
                Issue.record("\(events)")
                return
            }
            #expect(ref.id.description == id && worker == "w-ev" && t.to == .succeeded)
        }
    }

    /// The node's limits hold for the drop-in routes as for its own (here `limits.maxArgsBytes`).
    @Test func theNodesLimitsHold() async throws {
        let configuration = ServerConfiguration(maxArgsBytes: 64)
        try await withTestApp(configuration: configuration) { (client: any TestClientProtocol, _: TestNode) async throws in
            let padding = String(repeating: "x", count: 100)
            let job = #"{"type": "sleep", "payload": {"duration": 1, "note": "\#(padding)"}}"#
            let tooLarge = try await client.send(.post, "/jobs", json: job)
            #expect(try tooLarge.status == .contentTooLarge && tooLarge.errorBody().code == "too_large")
            let task = #"{"name": "cook-pasta", "schedule": 1, "config": {"note": "\#(padding)"}}"#
            #expect(try await client.send(.post, "/v1/tasks/enqueue", json: task).status == .contentTooLarge)
            #expect(try await client.send(.post, "/jobs", json: Self.readmeJob).status == .created)
        }
    }

    // MARK: taskq (dist-sched-tasks)

    static let processor = #"{"host": "mark42.ironman.com", "pid": 12345, "name": "Issac Newton"}"#
    static let validTask =
        #"{"name": "calculate-prime-number", "schedule": 1499938282, "config": {"algorithm": "Sieve of Eratosthenes", "start": 100, "stop": 10000}}"#
    static let validDequeue = #"{"processor": \#(processor), "capabilities": ["cook", "shop", "calculate-prime-number"]}"#

    static func update(_ uuid: String, success: Bool = true) -> String {
        #"{"processor": \#(processor), "result": {"name": "Kim Tae-yeon", "favourite": true}, "success": \#(success), "uuid": "\#(uuid)"}"#
    }

    /// A taskq error: its status and `{"error": "..."}`.
    static func expectTaskqError(_ response: TestResponse, _ status: HTTPResponse.Status) throws {
        #expect(response.status == status, "\(response.text)")
        let body = try Self.body(response, "TaskqError")
        #expect((body["error"]?.stringValue ?? "").isEmpty == false)
    }

    @Test func serverInfoAnswersGetAndRefusesPost() async throws {
        try await withTestApp { client, _ in
            let about = try await client.send(.get, "/v1/about")
            #expect(about.status == .ok)
            let info = try Self.body(about, "TaskqAbout")
            #expect(info["version"] == .string(BatonVersion.current))
            let post = try await client.send(.post, "/v1/about", json: Self.validTask)
            #expect(post.status == .methodNotAllowed && post.headers[.allow] == "GET")
        }
    }

    @Test func enqueueAnswers201WithTheTaskAndItsUUIDOr400() async throws {
        try await withTestApp { client, node in
            try Self.expectTaskqError(try await client.send(.post, "/v1/tasks/enqueue", json: "invalid-json"), .badRequest)
            try Self.expectTaskqError(
                try await client.send(
                    .post, "/v1/tasks/enqueue", json: #"{"name": "Jack Sparrow", "occupation": "Captain", "vessel": "The Black Pearl"}"#),
                .badRequest)
            try Self.expectTaskqError(
                try await client.send(.post, "/v1/tasks/enqueue", json: #"{"name": "a b", "schedule": 1, "config": {}}"#), .badRequest)
            try Self.expectTaskqError(
                try await client.send(.post, "/v1/tasks/enqueue", json: #"{"name": "a", "schedule": "soon", "config": {}}"#), .badRequest)

            let extra = try await client.send(
                .post, "/v1/tasks/enqueue", json: #"{"name": "a", "schedule": 1, "config": null, "owner": "ops"}"#)
            #expect(try extra.status == .created && extra.json()["owner"] == "ops", "the request as sent, with its uuid")
            let response = try await client.send(.post, "/v1/tasks/enqueue", json: Self.validTask)
            #expect(response.status == .created)
            let task = try Self.body(response, "TaskqEnqueued")
            #expect(task["name"] == "calculate-prime-number" && task["schedule"] == 1_499_938_282)
            #expect(task["config"]?["stop"] == 10000)
            let stored = try await Self.stored(node, task["uuid"]?.stringValue ?? "")
            #expect(stored.queue == "taskq" && stored.kind == "calculate-prime-number")
            // Due already (Baton runs a past run time at once), its schedule kept in a tag.
            #expect(stored.state == .ready && stored.runAt <= Date() && stored.args.text.contains("Sieve"))
            #expect(stored.tags == ["taskq.schedule:1499938282"])
        }
    }

    @Test func dequeueRefusesBadRequestsAndAnswers404WhenNothingIsDue() async throws {
        try await withTestApp { client, _ in
            try Self.expectTaskqError(
                try await client.send(.post, "/v1/tasks/dequeue", json: #"{"name": "Jack Sparrow", "occupation": "Captain"}"#), .badRequest)
            try Self.expectTaskqError(
                try await client.send(.post, "/v1/tasks/dequeue", json: #"{"processor": \#(Self.processor), "capabilities": []}"#),
                .badRequest)
            try Self.expectTaskqError(
                try await client.send(.post, "/v1/tasks/dequeue", json: #"{"processor": {}, "capabilities": [1]}"#), .badRequest)
            try Self.expectTaskqError(
                try await client.send(.post, "/v1/tasks/dequeue", json: #"{"processor": {}, "capabilities": "cook"}"#), .badRequest)
            // taskq requires both keys.
            let noProcessor = try await client.send(.post, "/v1/tasks/dequeue", json: #"{"capabilities": ["cook"]}"#)
            try Self.expectTaskqError(noProcessor, .badRequest)
            #expect(try noProcessor.json()["error"]?.stringValue?.hasPrefix("Required keys missing in dequeue request") == true)
            let none = try await client.send(.post, "/v1/tasks/dequeue", json: Self.validDequeue)
            try Self.expectTaskqError(none, .notFound)
            #expect(
                try none.json()["error"] == "No task found matching capabilities: \"cook\",\"shop\",\"calculate-prime-number\"",
                "taskq's message")
            // A name that cannot be a Baton kind matches nothing: 404, as taskq answers it.
            try Self.expectTaskqError(
                try await client.send(.post, "/v1/tasks/dequeue", json: #"{"processor": {}, "capabilities": ["cook pasta"]}"#), .notFound)
        }
    }

    @Test func enqueueDequeueThenNothingElse() async throws {
        try await withTestApp { client, _ in
            let uuid = try #require(try await client.send(.post, "/v1/tasks/enqueue", json: Self.validTask).json()["uuid"]?.stringValue)
            let dequeued = try await client.send(.post, "/v1/tasks/dequeue", json: Self.validDequeue)
            #expect(dequeued.status == .ok)
            let task = try Self.body(dequeued, "TaskqTask")
            #expect(task["uuid"] == .string(uuid) && task["name"] == "calculate-prime-number" && task["schedule"] == 1_499_938_282)
            #expect(task["args"]?["algorithm"] == "Sieve of Eratosthenes")
            try Self.expectTaskqError(try await client.send(.post, "/v1/tasks/dequeue", json: Self.validDequeue), .notFound)
        }
    }

    @Test func enqueueDequeueCompleteThenNothingElse() async throws {
        try await withTestApp { client, node in
            let uuid = try #require(try await client.send(.post, "/v1/tasks/enqueue", json: Self.validTask).json()["uuid"]?.stringValue)
            #expect(try await client.send(.post, "/v1/tasks/dequeue", json: Self.validDequeue).status == .ok)
            let updated = try await client.send(.post, "/v1/tasks/update", json: Self.update(uuid))
            #expect(updated.status == .ok)
            #expect(try Self.body(updated, "TaskqUpdate") == JSONValue(parsing: Self.update(uuid)))
            try Self.expectTaskqError(try await client.send(.post, "/v1/tasks/dequeue", json: Self.validDequeue), .notFound)
            let stored = try await Self.stored(node, uuid)
            #expect(stored.state == .succeeded && stored.result?.text.contains("Kim Tae-yeon") == true)
        }
    }

    @Test func aFailedUpdateHandsTheTaskToTheNextDequeueAtOnce() async throws {
        try await withTestApp { client, node in
            let uuid = try #require(try await client.send(.post, "/v1/tasks/enqueue", json: Self.validTask).json()["uuid"]?.stringValue)
            #expect(try await client.send(.post, "/v1/tasks/dequeue", json: Self.validDequeue).status == .ok)
            #expect(try await client.send(.post, "/v1/tasks/update", json: Self.update(uuid, success: false)).status == .ok)
            let again = try await client.send(.post, "/v1/tasks/dequeue", json: Self.validDequeue)
            #expect(again.status == .ok)
            #expect(try Self.body(again, "TaskqTask")["uuid"] == .string(uuid))
            #expect(try Self.body(again, "TaskqTask")["schedule"] == 1_499_938_282, "its schedule as enqueued")
            let stored = try await Self.stored(node, uuid)
            #expect(stored.state == .running && stored.attempt == 2 && stored.errors.count == 1)
        }
    }

    @Test func updatesAreRefusedAsTaskqRefusesThem() async throws {
        try await withTestApp { client, _ in
            try Self.expectTaskqError(
                try await client.send(.post, "/v1/tasks/update", json: #"{"name": "Jack Sparrow", "vessel": "The Black Pearl"}"#),
                .badRequest)
            // taskq's own uuids (name|schedule|index) are not this queue's.
            for success in [true, false] {
                try Self.expectTaskqError(
                    try await client.send(
                        .post, "/v1/tasks/update", json: Self.update("calculate-prime-number|1499938282|1", success: success)),
                    .badRequest)
            }
            let uuid = try #require(try await client.send(.post, "/v1/tasks/enqueue", json: Self.validTask).json()["uuid"]?.stringValue)
            try Self.expectTaskqError(
                try await client.send(
                    .post, "/v1/tasks/update", json: #"{"processor": {}, "result": {}, "uuid": "\#(uuid)", "success": "yes"}"#),
                .badRequest)
            // taskq requires processor and result too, and both as objects on success.
            try Self.expectTaskqError(
                try await client.send(.post, "/v1/tasks/update", json: #"{"uuid": "\#(uuid)", "success": true}"#), .badRequest)
            let notDict = try await client.send(
                .post, "/v1/tasks/update", json: #"{"processor": \#(Self.processor), "result": 42, "success": true, "uuid": "\#(uuid)"}"#)
            try Self.expectTaskqError(notDict, .badRequest)
            #expect(try notDict.json()["error"] == "result and processor should be dict")
            // A well-formed uuid of no task: 400, as taskq answers a uuid it does not know.
            let unknown = UUID().uuidString.lowercased()
            let missing = try await client.send(.post, "/v1/tasks/update", json: Self.update(unknown))
            try Self.expectTaskqError(missing, .badRequest)
            #expect(try missing.json()["error"] == .string("Task uuid: \(unknown) does not exist"))
            // Not dequeued: nothing to update.
            try Self.expectTaskqError(try await client.send(.post, "/v1/tasks/update", json: Self.update(uuid)), .conflict)
            // Dequeued by one processor, updated by another.
            #expect(try await client.send(.post, "/v1/tasks/dequeue", json: Self.validDequeue).status == .ok)
            let other = #"{"processor": {"host": "other", "pid": 1}, "result": {}, "success": true, "uuid": "\#(uuid)"}"#
            try Self.expectTaskqError(try await client.send(.post, "/v1/tasks/update", json: other), .conflict)
            // A failure's result need not be an object (taskq does not read it).
            let failed = #"{"processor": \#(Self.processor), "result": null, "success": false, "uuid": "\#(uuid)"}"#
            #expect(try await client.send(.post, "/v1/tasks/update", json: failed).status == .ok)
            #expect(try await client.send(.post, "/v1/tasks/dequeue", json: Self.validDequeue).status == .ok)
            #expect(try await client.send(.post, "/v1/tasks/update", json: Self.update(uuid)).status == .ok)
        }
    }

    @Test func dequeueTakesOnlyDueTasksOfItsCapabilities() async throws {
        try await withTestApp { client, _ in
            let later = Int(Date().timeIntervalSince1970) + 3600
            let future = #"{"name": "cook-pasta", "schedule": \#(later), "config": {}}"#
            #expect(try await client.send(.post, "/v1/tasks/enqueue", json: future).status == .created)
            let other = #"{"name": "nyquist-plot", "schedule": 1, "config": {}}"#
            #expect(try await client.send(.post, "/v1/tasks/enqueue", json: other).status == .created)
            // A Baton task of a capability's kind in another queue is not taskq's.
            _ = try await client.submit(NewTask(kind: "cook-pasta"))
            let request = #"{"processor": {}, "capabilities": ["cook-pasta"]}"#
            try Self.expectTaskqError(try await client.send(.post, "/v1/tasks/dequeue", json: request), .notFound)
            let nyquist = try await client.send(.post, "/v1/tasks/dequeue", json: #"{"processor": {}, "capabilities": ["nyquist-plot"]}"#)
            #expect(try nyquist.json()["name"] == "nyquist-plot")
        }
    }

    // MARK: Mounting, switches, the document

    /// With tokens, the drop-in routes at the root need a bearer token like any other.
    @Test func withTokensTheRootRoutesNeedABearerToken() async throws {
        let configuration = ServerConfiguration(tokens: [AuthToken(role: .producer, token: "p-token")])
        try await withTestApp(configuration: configuration) { (client: any TestClientProtocol, _: TestNode) async throws in
            #expect(try await client.send(.post, "/jobs", json: Self.readmeJob).status == .unauthorized)
            var headers = jsonHeaders
            headers[.authorization] = "Bearer p-token"
            #expect(try await client.send(.post, "/jobs", json: Self.readmeJob, headers: headers).status == .created)
            #expect(try await client.send(.get, "/next-job", headers: headers).status == .forbidden)
            #expect(try await client.send(.get, "/v1/about").status == .ok)
        }
    }

    /// `compat.prefix: /compat/{token}`: the URL carries the token, checked with its role.
    @Test func aPrefixWithTheTokenStandsForTheBearerToken() async throws {
        var configuration = ServerConfiguration(
            tokens: [AuthToken(role: .producer, token: "p-token"), AuthToken(role: .worker, token: "w-token")])
        configuration.compat.prefix = "/compat/{token}"
        try await withTestApp(configuration: configuration) { (client: any TestClientProtocol, _: TestNode) async throws in
            let created = try await client.send(.post, "/compat/p-token/jobs", json: Self.readmeJob)
            #expect(created.status == .created)
            let id = try #require(try created.json()["id"]?.stringValue)
            #expect(created.headers[.location] == "/compat/p-token/jobs/\(id)")
            #expect(try await client.send(.post, "/compat/nope/jobs", json: Self.readmeJob).status == .unauthorized)
            #expect(try await client.send(.get, "/compat/p-token/next-job").status == .forbidden)
            #expect(try await client.send(.get, "/compat/w-token/next-job").status == .ok)
            #expect(try await client.send(.post, "/compat/w-token/jobs/\(id)/complete").status == .ok)
            #expect(try await client.send(.get, "/compat/p-token/jobs/\(id)").status == .ok)
            let enqueued = try await client.send(.post, "/compat/p-token/v1/tasks/enqueue", json: Self.validTask)
            #expect(enqueued.status == .created)
            #expect(try await client.send(.post, "/compat/w-token/v1/tasks/dequeue", json: Self.validDequeue).status == .ok)
            // Only under the prefix.
            #expect(try await client.send(.post, "/jobs", json: Self.readmeJob).status == .notFound)
            // Baton's `/v1/tasks/{id}` is there, for GET and DELETE.
            #expect(try await client.send(.post, "/v1/tasks/enqueue", json: Self.validTask).status == .methodNotAllowed)
        }
    }

    @Test func eachSystemCanBeTurnedOff() async throws {
        var configuration = ServerConfiguration()
        configuration.compat.jobs = false
        try await withTestApp(configuration: configuration) { (client: any TestClientProtocol, _: TestNode) async throws in
            #expect(try await client.send(.post, "/jobs", json: Self.readmeJob).status == .notFound)
            #expect(try await client.send(.get, "/v1/about").status == .ok)
        }
        configuration.compat = DropInConfiguration(jobs: true, taskq: false)
        try await withTestApp(configuration: configuration) { (client: any TestClientProtocol, _: TestNode) async throws in
            #expect(try await client.send(.post, "/jobs", json: Self.readmeJob).status == .created)
            #expect(try await client.send(.get, "/v1/about").status == .notFound)
            #expect(try await client.send(.post, "/v1/tasks/enqueue", json: Self.validTask).status == .methodNotAllowed)
        }
    }

    /// taskq's routes sit beside Baton's `/v1/tasks/{id}`: each keeps its own.
    @Test func taskqRoutesDoNotShadowBatonsTaskRoutes() async throws {
        try await withTestApp { client, _ in
            let task = try await client.submit(echoTask(1))
            #expect(try await client.send(.get, "/v1/tasks/\(task.id)").status == .ok)
            let wrongMethod = try await client.send(.get, "/v1/tasks/enqueue")
            #expect(wrongMethod.status == .methodNotAllowed && wrongMethod.headers[.allow] == "POST")
            #expect(try await client.send(.get, "/health").status == .ok)
        }
    }

    @Test func theDocumentDescribesEveryDropInRoute() async throws {
        try await withTestApp { client, _ in
            let document = try await client.send(.get, "/openapi.json").json()
            let paths = try #require(document["paths"])
            let expected: [(String, String, [String])] = [
                ("/jobs", "post", ["201", "400"]), ("/jobs/{id}", "get", ["200", "404"]), ("/next-job", "get", ["200", "204"]),
                ("/jobs/{id}/complete", "post", ["200", "404", "409"]), ("/v1/tasks/enqueue", "post", ["201", "400"]),
                ("/v1/tasks/dequeue", "post", ["200", "400", "404"]), ("/v1/tasks/update", "post", ["200", "400", "409"]),
                ("/v1/about", "get", ["200"]),
            ]
            for (path, method, statuses) in expected {
                let operation = try #require(paths[path]?[method], "\(method) \(path)")
                let responses = try #require(operation["responses"]?.objectValue)
                #expect(Set(statuses).isSubset(of: Set(responses.keys)), "\(path): \(responses.keys.sorted())")
            }
            #expect(
                paths["/v1/tasks/dequeue"]?["post"]?["responses"]?["404"]?["content"]?["application/json"]?["schema"]
                    == APISchemas.ref("TaskqError"))
            #expect(paths["/jobs/{id}/complete"]?["post"]?["requestBody"]?["required"] == .bool(false))
            #expect(paths["/v1/tasks/update"]?["post"]?["responses"]?["404"] == nil, "an unknown uuid is 400, as in taskq")
            // Every schema the drop-in routes name exists.
            let schemas = try #require(document["components"]?["schemas"]?.objectValue)
            for name in APISchemas.dropInSchemas.keys { #expect(schemas[name] != nil, "\(name)") }
        }
    }

    @Test func prefixesAreCheckedAndTokensKeptOutOfLogs() throws {
        #expect(throws: BatonError.self) { try DropInConfiguration(prefix: "compat").validate() }
        #expect(throws: BatonError.self) { try DropInConfiguration(prefix: "/v1/x").validate() }
        #expect(throws: BatonError.self) { try DropInConfiguration(prefix: "/{token}/{token}").validate() }
        #expect(throws: BatonError.self) { try DropInConfiguration(prefix: "/a//b").validate() }
        try DropInConfiguration(prefix: "/compat/{token}/").validate()
        let mount = DropInConfiguration(prefix: "/compat/{token}")
        #expect(mount.path("/jobs/:id") == "/compat/:token/jobs/:id")
        #expect(mount.redacted("/compat/s3cret/jobs") == "/compat/<token>/jobs")
        #expect(mount.redacted("/v1/tasks") == "/v1/tasks")
        #expect(DropInConfiguration(prefix: "/").path("/jobs") == "/jobs")
    }
}

extension JSONValue {
    init(parsing text: String) throws {
        self = try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
    }
}
