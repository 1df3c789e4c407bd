import BatonClient
import BatonCore
import BatonNode
import BatonTesting
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

@testable import BatonServer

/// The codecs held to the wire contract (`APISchemas`): what every writer produces validates
/// against its schema, and examples derived from the schemas' own bounds are accepted or
/// refused by the decoders exactly as the schemas say. (schemathesis does the same against a
/// live node in CI, with generated data: scripts/contract.sh.)
@Suite("Wire contract")
struct WireContractTests {
    static let validator = SchemaValidator(schemas: APISchemas(limits: NodeAPILimits()).all)

    static func expectValid(_ bytes: [UInt8], _ schema: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let value = try JSONDecoder().decode(JSONValue.self, from: Data(bytes))
        let problems = validator.problems(value, APISchemas.ref(schema))
        #expect(problems.isEmpty, "\(schema): \(problems)\n\(String(decoding: bytes, as: UTF8.self))", sourceLocation: sourceLocation)
    }

    static func encoded(_ value: some Encodable) -> [UInt8] { Array(JSONResponse.encode(value).readableBytesView) }

    /// Tasks in every shape the writer has: each retry policy, with and without the optional
    /// members, in every state.
    static var tasks: [TaskRecord] {
        var all: [TaskRecord] = []
        let full = TaskJSONWriterTests.sample
        for policy in [
            RetryPolicy.exponential(base: .seconds(1), cap: .seconds(60), jitter: false), .fibonacci(base: .zero, cap: .milliseconds(1)),
            .fixed(.milliseconds(1500)), .none,
        ] {
            var t = full
            t.retry = policy
            all.append(t)
        }
        for state in TaskState.allCases {
            all.append(
                TaskRecord(
                    id: TaskID.generate(), kind: "k", queue: "default", args: RawJSON(trusted: "[1,\"x\",null]"), priority: 1,
                    state: state, attempt: 0, maxAttempts: 1, runAt: Date(timeIntervalSince1970: -1), createdAt: Date()))
        }
        return all
    }

    @Test func everyWriterProducesWhatItsSchemaSays() throws {
        let tasks = Self.tasks
        for task in tasks {
            try Self.expectValid(TaskJSONWriter.task(task), "Task")
            try Self.expectValid(UniqueSubmit.taskJSON(task, duplicate: true), "SubmittedTask")
            try Self.expectValid(UniqueSubmit.taskJSON(task, duplicate: false), "SubmitResponse")
        }
        try Self.expectValid(
            UniqueSubmit.taskListJSON(TaskEnqueueOutcome(tasks: tasks, duplicate: tasks.map { _ in false })), "SubmitResponse")
        try Self.expectValid(TaskJSONWriter.taskList(tasks), "SubmitResponse")
        try Self.expectValid(TaskJSONWriter.page(TaskPage(tasks: tasks, nextCursor: tasks[0].id.description)), "TaskPage")
        try Self.expectValid(TaskJSONWriter.page(TaskPage(tasks: [], nextCursor: nil)), "TaskPage")
        try Self.expectValid(TaskJSONWriter.claim(tasks.map { ClaimedTask(task: $0, leaseToken: "tok") }), "ClaimResponse")
        let outcomes: [AckOutcome] = [.applied(.succeeded), .applied(.pending), .applied(.failed), .staleLease, .notFound]
        try Self.expectValid(
            TaskJSONWriter.ackResults(ids: tasks.prefix(outcomes.count).map(\.id), outcomes: outcomes), "AckResponse")
        try Self.expectValid(
            Self.encoded(AckResponse(results: outcomes.map { AckItemResult(id: TaskID.generate(), outcome: $0) })), "AckResponse")

        let heartbeats: [HeartbeatOutcome] = [.extended(until: Date()), .cancelled, .lost, .notFound]
        try Self.expectValid(
            Self.encoded(HeartbeatManyResponse(results: heartbeats.map { HeartbeatItemResult(id: TaskID.generate(), outcome: $0) })),
            "HeartbeatManyResponse")
        try Self.expectValid(Self.encoded(HeartbeatResponse(cancelled: false, leaseExpiresAt: Date())), "HeartbeatResponse")
        try Self.expectValid(Self.encoded(HeartbeatResponse(cancelled: true, leaseExpiresAt: nil)), "HeartbeatResponse")
        try Self.expectValid(Self.encoded(ReleaseResponse(released: 3)), "ReleaseResponse")
        try Self.expectValid(
            Self.encoded(QueuesResponse(queues: [QueueCounts(name: "default", counts: [.ready: 2, .failed: 1])])), "QueuesResponse")
        let paused = try JSONDecoder().decode(NodeAPI.PausedQueues.self, from: Data(#"{"paused":["mail","a:b/c"]}"#.utf8))
        try Self.expectValid(Self.encoded(paused), "PausedQueues")
        for code in BatonError.Code.allCases {
            try Self.expectValid(Self.encoded(ErrorBody(code: code.description, message: "m")), "Error")
        }
        let info = WorkerInfo(
            worker: "w é", queues: ["default"],
            kinds: [KindAnnouncement(name: "k", retry: .fixed(.seconds(1))), KindAnnouncement(name: "j")],
            concurrency: 4, running: 1, version: "0.5.0", transport: "http", firstSeen: Date(), lastSeen: Date())
        try Self.expectValid(Self.encoded(info), "WorkerInfo")
        try Self.expectValid(Self.encoded(WorkerList(workers: [info])), "WorkerList")

        let definition = ScheduleDefinition(
            name: "nightly/report", cron: "0 3 * * *", timezone: "Europe/Paris", misfire: "catch-up",
            task: NewTask(kind: "report", retry: RetryPolicy.none, tags: ["t"]))
        let record = ScheduleRecord(
            definition: definition, paused: true, lastFired: Date(), createdAt: Date(), updatedAt: Date())
        let view = NodeAPI.ScheduleView(record: record, next: [Date()])
        try Self.expectValid(Self.encoded(view), "ScheduleRecord")
        try Self.expectValid(Self.encoded(NodeAPI.ScheduleList(schedules: [view])), "ScheduleList")
        try Self.expectValid(Self.encoded(definition), "Schedule")

        // Workflows.
        let workflow = WorkflowRecord(
            id: TaskID.generate(), name: "etl", cancelRequested: false, createdAt: Date(),
            nodes: [
                WorkflowNode(name: "a", id: TaskID.generate(), kind: "k", state: .succeeded, result: RawJSON(trusted: "[1]")),
                WorkflowNode(name: "b", id: TaskID.generate(), kind: "k", state: .cancelled, skipped: true, lastError: "e"),
                WorkflowNode(name: "c", id: TaskID.generate(), kind: "k", state: .waiting),
            ])
        try Self.expectValid(Self.encoded(workflow), "Workflow")
        let parents = ParentPage(
            parents: [
                ParentResult(name: "a", id: TaskID.generate(), state: .succeeded, condition: .success, result: .null, lastError: nil),
                ParentResult(name: "b", id: TaskID.generate(), state: .failed, condition: .always, result: nil, lastError: "boom"),
            ], nextCursor: "1")
        try Self.expectValid(Self.encoded(parents), "ParentPage")
        try Self.expectValid(Self.encoded(ParentPage(parents: [], nextCursor: nil)), "ParentPage")
        var linked = tasks[0]
        (linked.workflowID, linked.node, linked.parentCount, linked.pass) = (TaskID.generate(), "n", 2, .prepend)
        try Self.expectValid(TaskJSONWriter.task(linked), "Task")
        var machinery = tasks[0]
        machinery.result = RawJSON(trusted: #"[{"Type":"int64","Value":48}]"#)
        try Self.expectValid(Self.encoded(MachineryTaskState(machinery)), "MachineryTaskState")
        try Self.expectValid(Self.encoded(MachineryTaskState(tasks[1])), "MachineryTaskState")

        // JSON-RPC answers.
        try Self.expectValid(JSONRPCRoute<BasicRequestContext>.resultObject(id: .int(1), result: Array("{}".utf8)), "RPCResponse")
        try Self.expectValid(
            JSONRPCRoute<BasicRequestContext>.errorObject(id: .null, code: -32600, message: "Invalid Request"), "RPCResponse")
        try Self.expectValid(
            JSONRPCRoute<BasicRequestContext>.errorObject(id: .string("a"), code: -32001, message: "m", data: "not_found", detail: "d"),
            "RPCResponse")
    }

    /// What the clients send validates too: the worker's bodies and the task a client submits.
    @Test func clientBodiesValidate() throws {
        let lease = LeaseItem(id: TaskID.generate(), leaseToken: "t")
        try Self.expectValid(
            Self.encoded(ClaimBody(worker: "w", queues: ["a"], kinds: ["k"], max: 5, waitMS: 100, leaseMS: 3000)), "ClaimBody")
        let beats = [HeartbeatItem(lease.ref), HeartbeatItem(lease.ref, progress: TaskProgress(fraction: 0.25, message: "a quarter"))]
        try Self.expectValid(Self.encoded(HeartbeatManyBody(worker: "w", leases: beats, leaseMS: 1000)), "HeartbeatManyBody")
        try Self.expectValid(
            Self.encoded(HeartbeatBody(leaseToken: "t", progress: TaskProgress(fraction: 1, message: "done"))), "HeartbeatBody")
        try Self.expectValid(Self.encoded(ReleaseBody(leases: [lease])), "ReleaseBody")
        let acks: [TaskAck] = [
            .complete(TaskCompletion(lease: lease.ref, result: RawJSON(trusted: "{\"ok\":1}"))),
            .fail(TaskFailure(lease: lease.ref, message: "x", retryable: false, retryAfter: .seconds(2))),
        ]
        try Self.expectValid(Self.encoded(AckBody(acks: acks.map(AckItem.init))), "AckBody")
        try Self.expectValid(
            Self.encoded(WorkerAnnouncement(worker: "w", queues: ["default"], kinds: [KindAnnouncement(name: "k")], concurrency: 2)),
            "WorkerAnnouncement")
        let task = NewTask(
            kind: "email.send", args: RawJSON(trusted: "{\"to\":\"a\"}"), queue: "mail", priority: 9, delay: 1.5, maxAttempts: 3,
            timeout: 10, retry: .exponential(base: .seconds(1), cap: .seconds(10), jitter: true), uniqueKey: "u", tags: ["x"],
            id: TaskID.generate(), uniqueWindow: 60)
        try Self.expectValid(Self.encoded(task), "NewTask")
        var dependent = task
        (dependent.after, dependent.policy, dependent.pass) = ([.init(parent: TaskID.generate(), condition: .failure)], .ignore, nil)
        try Self.expectValid(Self.encoded(dependent), "NewTask")
        try Self.expectValid(
            Self.encoded(CompleteBody(leaseToken: "t", result: .null, followUps: [NewTask(kind: "next")])), "CompleteBody")
        let request = try WorkflowStep.chain([
            .task(NewTask(kind: "a")), .chord(header: [.task(NewTask(kind: "b"))], body: .task(NewTask(kind: "c"))),
        ])
        .request(name: "w", policy: .ignoreFailed)
        try Self.expectValid(Self.encoded(request), "WorkflowRequest")
        try Self.expectValid(Self.encoded([task, NewTask(kind: "k")]), "NewTaskOrBatch")
    }

    /// Each bound the NewTask schema states, just inside and just outside, through the real
    /// submit route (fast decoder, Codable fallback, validation): inside is 201, outside 400,
    /// and the schema validator agrees with the server on every example.
    @Test func submitAcceptsExactlyWhatTheSchemaAllows() async throws {
        let properties = APISchemas.newTaskProperties
        var examples: [(String, JSONValue)] = []
        func string(_ n: Int, _ c: Character = "a") -> JSONValue { .string(String(repeating: c, count: n)) }
        for (name, schema) in properties {
            guard case .object(let s) = schema else { continue }
            if let min = s["minimum"]?.doubleValue {
                examples.append((name, s["type"] == "integer" ? .int(Int64(min)) : .double(min)))
                examples.append((name, s["type"] == "integer" ? .int(Int64(min) - 1) : .double(min - 1)))
            }
            if let max = s["maximum"]?.doubleValue {
                examples.append((name, s["type"] == "integer" ? .int(Int64(max)) : .double(max)))
                examples.append((name, s["type"] == "integer" ? .int(Int64(max) + 1) : .double(max * 2)))
            }
            if s["exclusiveMinimum"] != nil { examples += [(name, .double(0)), (name, .double(1e-3))] }
            if let max = s["maxLength"]?.doubleValue {
                examples += [(name, string(Int(max))), (name, string(Int(max) + 1)), (name, string(1))]
                if s["pattern"] != nil { examples += [(name, .string("a b")), (name, .string("é"))] }
                examples.append((name, string(Int(max), "é")))
            }
            if let max = s["maxItems"]?.doubleValue {
                examples.append((name, .array(Array(repeating: .string("t"), count: Int(max)))))
                examples.append((name, .array(Array(repeating: .string("t"), count: Int(max) + 1))))
                examples.append((name, .array([string(65, "é")])))
            }
        }
        examples += [
            ("run_at", .string("2026-02-28T23:59:59.123456789+14:00")), ("run_at", .string("2026-02-29T00:00:00Z")),
            ("run_at", .string("2024-02-29T00:00:00Z")), ("run_at", .string("2026-01-01t00:00:00z")),
            ("run_at", .string("0001-01-01T00:00:00Z")), ("run_at", .string("2026-01-01T00:00:60Z")),
            ("retry", .object(["policy": "fixed", "backoff": .int(1)])), ("retry", .object(["policy": "fixed", "jitter": .bool(true)])),
            ("retry", .object(["policy": "exponential", "cap": .double(0.0005)])),
            ("retry", .object(["policy": "fibonacci", "cap": .double(0.001)])),
            ("retry", .object(["policy": "none", "x": .int(1)])), ("id", .string("not-a-uuid")),
            ("id", .string(TaskID.generate().description)),
        ]
        let all = examples
        try await withTestApp { client, _ in
            for (name, value) in all {
                var body: [String: JSONValue] = ["kind": "k"]
                if name != "kind" { body[name] = value } else { body["kind"] = value }
                let json = JSONValue.object(body)
                let valid = Self.validator.problems(json, APISchemas.ref("NewTask")).isEmpty
                let text = String(decoding: try JSONEncoder().encode(json), as: UTF8.self)
                let response = try await client.send(.post, "/v1/tasks", json: text)
                #expect(response.status == (valid ? .created : .badRequest), "\(name) = \(text): \(response.status) \(response.text)")
            }
        }
    }

    /// Dates: exactly RFC 3339 as the schema's pattern states, in the proleptic Gregorian
    /// calendar, rounded to the millisecond.
    @Test func datesAreReadExactly() {
        #expect(BatonJSON.parseDate("1970-01-01T00:00:00Z") == Date(timeIntervalSince1970: 0))
        #expect(BatonJSON.parseDate("1970-01-01T01:00:00+01:00") == Date(timeIntervalSince1970: 0))
        #expect(BatonJSON.parseDate("1969-12-31T23:59:59.9996Z") == Date(timeIntervalSince1970: 0))
        #expect(BatonJSON.parseDate("0001-01-01T00:00:00Z") == Date(timeIntervalSince1970: -62_135_596_800))
        #expect(BatonJSON.parseDate("2024-02-29T12:00:00.5-03:30") == Date(timeIntervalSince1970: 1_709_220_600.5))
        for bad in [
            "2023-02-29T00:00:00Z", "2026-06-31T00:00:00Z", "2026-01-01t00:00:00Z", "2026-01-01T00:00:00z", "2026-01-01T24:00:00Z",
            "2026-01-01T00:00:60Z", "2026-01-01T00:00:00", "2026-01-01T00:00:00.Z", "2026-01-01T00:00:00.1234567890Z",
            "2026-01-01T00:00:00+24:00", "2026-01-01 00:00:00Z", "26-01-01T00:00:00Z", "2026-01-01T00:00:00Z ",
        ] {
            #expect(BatonJSON.parseDate(bad) == nil, "\(bad)")
        }
    }

    /// Durations beyond `Limits.maxSeconds` are refused, not trapped on.
    @Test func hugeDurationsAreRefused() throws {
        #expect(throws: BatonError.self) { try RetryPolicy.named("exponential", base: 1e30) }
        #expect(throws: BatonError.self) { try RetryPolicy.named("fibonacci", cap: 1e-300) }
        #expect(throws: BatonError.self) { try ScheduleRule.parseInterval("99999999999999999999d") }
        #expect(throws: BatonError.self) { try NewTask(kind: "k", timeout: 1e30).validate() }
        #expect(throws: BatonError.self) { try NewTask(kind: "k", delay: 2e9).validate() }
        #expect(throws: BatonError.self) { try NewTask(kind: "k", uniqueKey: "u", uniqueWindow: 1e300).validate() }
        try NewTask(kind: "k", delay: Limits.maxSeconds, timeout: Limits.maxSeconds).validate()
    }
}
