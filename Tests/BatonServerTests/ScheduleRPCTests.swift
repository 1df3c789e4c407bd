import BatonCore
import BatonServer
import BatonTesting
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

/// The `schedule.*` and `queue.*` JSON-RPC methods, end to end through the router: the same
/// operations and JSON as `/v1/schedules` and `/v1/queues/...`.
@Suite("JSON-RPC schedules and queues")
struct ScheduleRPCTests {
    static let nightly = #"""
        {"name":"nightly","cron":"0 3 * * *","timezone":"Europe/Paris","misfire":"once",
         "task":{"kind":"report","args":{"x":1},"queue":"reports","priority":7}}
        """#

    @Test func scheduleLifecycle() async throws {
        try await withTestApp { client, node in
            let created = try await client.call("schedule.create", Self.nightly)
            #expect(created["name"] == "nightly")
            #expect(created["paused"] == .bool(false))
            #expect(created["task"]?["queue"] == "reports")
            guard case .array(let next)? = created["next"] else { throw Failure("no next: \(created)") }
            #expect(next.count == 5)
            // 03:00 in Paris is 01:00 or 02:00 UTC.
            #expect(next.allSatisfy { $0.stringValue?.contains("T01:00:00") == true || $0.stringValue?.contains("T02:00:00") == true })
            #expect(try await client.callError("schedule.create", Self.nightly) == (-32002, "conflict"))

            // schedule.get answers what GET /v1/schedules/{name} does.
            let got = try await client.call("schedule.get", #"{"name":"nightly"}"#)
            #expect(got["next"] == created["next"])
            #expect(try await client.send(.get, "/v1/schedules/nightly").json() == got)

            // schedule.put: replaces (keeping the paused flag and creation time), or creates.
            let replaced = try await client.call("schedule.put", #"{"name":"nightly","every":"30s","task":{"kind":"report"}}"#)
            #expect(replaced["every"] == "30s" && replaced["cron"] == nil)
            #expect(replaced["created_at"] == created["created_at"])
            _ = try await client.call("schedule.put", #"{"name":"other","every":"1m","task":{"kind":"k"}}"#)
            let list = try await client.call("schedule.list", "{}")
            guard case .array(let schedules)? = list["schedules"] else { throw Failure("no schedules: \(list)") }
            #expect(schedules.map { $0["name"] } == ["nightly", "other"])
            #expect(try await client.send(.get, "/v1/schedules").json()["schedules"]?[0]?["name"] == "nightly")

            let paused = try await client.call("schedule.pause", #"{"name":"nightly"}"#)
            #expect(paused["paused"] == .bool(true))
            #expect(try await node.store.scheduleGet("nightly")?.paused == true)
            #expect(try await client.call("schedule.resume", #"{"name":"nightly"}"#)["paused"] == .bool(false))
            #expect(try await client.call("schedule.delete", #"{"name":"nightly"}"#) == .null)
            #expect(try await node.store.scheduleGet("nightly") == nil)
            #expect(try await node.store.scheduleGet("other") != nil)
        }
    }

    @Test func queuePauseAndResumeSkipClaims() async throws {
        try await withTestApp { client, _ in
            #expect(try await client.call("queue.paused", "{}") == .object(["paused": .array([])]))
            #expect(try await client.call("queue.pause", #"{"name":"mail"}"#) == .object(["paused": ["mail"]]))
            _ = try await client.submit(echoTask(1, queue: "mail"))
            _ = try await client.submit(echoTask(2))
            let claim = #"{"worker":"w1","queues":["mail"],"max":5}"#
            #expect(try await client.call("worker.claim", claim)["tasks"] == .array([]))
            #expect(try await client.claim(queue: "mail").isEmpty)
            #expect(try await client.claim(queue: "default").count == 1, "another queue is not paused")
            let listed = try await client.call("queue.paused", "{}")
            #expect(listed == .object(["paused": ["mail"]]))
            #expect(try await client.send(.get, "/v1/queues/paused").json() == listed)

            #expect(try await client.call("queue.resume", #"{"name":"mail"}"#) == .object(["paused": .array([])]))
            guard case .array(let claimed)? = try await client.call("worker.claim", claim)["tasks"] else { throw Failure("no tasks") }
            #expect(claimed.count == 1)
            #expect(claimed.first?["queue"] == "mail")
        }
    }

    @Test func missingSchedulesAreNotFound() async throws {
        try await withTestApp { client, _ in
            for method in ["schedule.get", "schedule.delete", "schedule.pause", "schedule.resume"] {
                let answer = try await client.rpcJSON(#"{"jsonrpc":"2.0","method":"\#(method)","params":{"name":"nope"},"id":4}"#)
                #expect(answer["id"] == .int(4))
                #expect(answer["error"]?["code"] == .int(-32001), "\(method): \(answer)")
                #expect(answer["error"]?["data"]?["code"] == "not_found")
                #expect(answer["error"]?["message"] == "schedule 'nope' not found")
            }
        }
    }

    @Test(arguments: [
        ("schedule.get", "{}", "field 'name' is required"),
        ("schedule.get", #"{"name":7}"#, "field 'name': expected a string"),
        ("schedule.pause", #"{"name":"a b"}"#, "name 'a b' may contain only"),
        ("schedule.create", #"{"name":"a","cron":"0 25 * * *","task":{"kind":"k"}}"#, "hour"),
        ("schedule.create", #"{"name":"a","every":"1s","task":{"kind":"k"},"evrey":"2s"}"#, "evrey"),
        ("schedule.create", #"{"name":"a","every":"1s"}"#, "task"),
        ("schedule.put", #"{"every":"1s","task":{"kind":"k"}}"#, "field 'name' is required"),
        ("schedule.put", #"{"name":"a","cron":"* * * * *","every":"1s","task":{"kind":"k"}}"#, "not both"),
        ("queue.pause", "{}", "field 'name' is required"),
        ("queue.resume", #"{"name":"bad queue"}"#, "queue 'bad queue'"),
    ])
    func badParamsAreInvalidParams(_ method: String, _ params: String, _ mention: String) async throws {
        try await withTestApp { client, node in
            let answer = try await client.rpcJSON(#"{"jsonrpc":"2.0","method":"\#(method)","params":\#(params),"id":"b"}"#)
            #expect(answer["id"] == "b")
            #expect(answer["error"]?["code"] == .int(-32602), "\(answer)")
            #expect(answer["error"]?["data"]?["code"] == "invalid_argument")
            let message = answer["error"]?["message"]?.stringValue ?? ""
            #expect(message.contains(mention), "\(message)")
            #expect(try await node.store.scheduleList().isEmpty)
            #expect(try await node.store.queuePausedList().isEmpty)
        }
    }

    @Test func positionalParamsAreInvalidParams() async throws {
        try await withTestApp { client, _ in
            let answer = try await client.rpcJSON(#"{"jsonrpc":"2.0","method":"schedule.get","params":["nightly"],"id":1}"#)
            #expect(answer["error"]?["code"] == .int(-32602))
        }
    }
}
