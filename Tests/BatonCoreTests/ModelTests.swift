import BatonCore
import Foundation
import Testing

@Suite struct TaskIDTests {
    @Test func version7AndTimeOrdered() throws {
        let a = TaskID.generate(at: Date(timeIntervalSince1970: 1_700_000_000))
        let b = TaskID.generate(at: Date(timeIntervalSince1970: 1_700_000_000.002))
        #expect(a < b)
        #expect(a.description.count == 36)
        let chars = Array(a.description)
        #expect(chars[14] == "7")
        #expect("89ab".contains(chars[19]))
        #expect(abs(a.timestamp.timeIntervalSince1970 - 1_700_000_000) < 0.001)
        #expect(TaskID(a.description) == a)
        #expect(TaskID("not-a-uuid") == nil)
    }

    @Test func generatedIDsAreUnique() {
        let ids = (0..<10_000).map { _ in TaskID.generate() }
        #expect(Set(ids).count == ids.count)
    }
}

@Suite struct RawJSONTests {
    @Test func normalisesToCompactSortedForm() throws {
        let raw = try RawJSON(validating: #"{ "b": [1, 2.5, "x"], "a": {"n": null, "t": true} }"#)
        #expect(raw.text == #"{"a":{"n":null,"t":true},"b":[1,2.5,"x"]}"#)
        #expect(try RawJSON(validating: "42").text == "42")
        #expect(try RawJSON(validating: #""s/l""#).text == #""s/l""#)
    }

    @Test func keepsLargeIntegersExact() throws {
        #expect(try RawJSON(validating: "9007199254740993").text == "9007199254740993")
    }

    @Test(arguments: ["{", "{\"a\":}", "nope", "", "[1,]", "{'a':1}"])
    func rejectsMalformed(_ text: String) {
        #expect(throws: BatonError.self) { try RawJSON(validating: text) }
    }

    @Test func rejectsDeepNesting() throws {
        let deep = String(repeating: "[", count: 65) + String(repeating: "]", count: 65)
        #expect(throws: BatonError.self) { try RawJSON(validating: deep) }
        let ok = String(repeating: "[", count: 64) + String(repeating: "]", count: 64)
        #expect(try RawJSON(validating: ok).text == ok)
        // Brackets inside strings do not count.
        #expect(try RawJSON(validating: "\"" + String(repeating: "[", count: 100) + "\"").byteCount == 102)
    }
}

@Suite struct NewTaskTests {
    @Test func defaults() throws {
        let t = NewTask(kind: "email.send")
        #expect(t.queue == "default" && t.priority == 5 && t.maxAttempts == 10)
        try t.validate()
    }

    @Test(arguments: [
        (NewTask(kind: ""), "kind must not be empty"),
        (NewTask(kind: String(repeating: "k", count: 129)), "kind is 129 bytes"),
        (NewTask(kind: "a b"), "kind 'a b' may contain only"),
        (NewTask(kind: "ok", queue: ""), "queue must not be empty"),
        (NewTask(kind: "ok", queue: String(repeating: "q", count: 65)), "queue is 65 bytes"),
        (NewTask(kind: "ok", priority: 0), "priority must be between 1 and 10"),
        (NewTask(kind: "ok", priority: 11), "priority must be between 1 and 10"),
        (NewTask(kind: "ok", delay: -1), "delay must be a number of seconds from 0"),
        (NewTask(kind: "ok", runAt: Date(), delay: 1), "either run_at or delay"),
        (NewTask(kind: "ok", maxAttempts: 0), "max_attempts must be between"),
        (NewTask(kind: "ok", timeout: 0), "timeout must be a positive"),
    ])
    func rejectsInvalid(_ task: NewTask, _ message: String) {
        do {
            try task.validate()
            Issue.record("accepted an invalid task")
        } catch {
            #expect(error.code == .invalidArgument)
            #expect(error.message.contains(message), "\(error.message)")
        }
    }

    @Test func argsSizeLimit() throws {
        let big = try RawJSON(validating: "\"" + String(repeating: "x", count: 2000) + "\"")
        #expect(throws: BatonError(.tooLarge, "args are 2002 bytes, more than the limit of 1000")) {
            try NewTask(kind: "k", args: big).validate(maxArgsBytes: 1000)
        }
    }

    @Test func decodingRejectsUnknownFieldsByName() throws {
        let json = #"{"kind":"echo","args":{"x":1},"prioritee":3}"#
        do {
            _ = try BatonJSON.decoder().decode(NewTask.self, from: Data(json.utf8))
            Issue.record("accepted an unknown field")
        } catch let DecodingError.dataCorrupted(context) {
            #expect(context.debugDescription.contains("prioritee"))
        }
        let ok = try BatonJSON.decoder().decode(
            NewTask.self, from: Data(#"{"kind":"echo","delay":2.5,"retry":{"policy":"fixed","backoff":0.1}}"#.utf8))
        #expect(ok.delay == 2.5 && ok.retry == .fixed(.milliseconds(100)) && ok.args == .emptyObject)
    }
}

@Suite struct WireTests {
    @Test func claimedTaskIsFlatWithLeaseToken() throws {
        let record = TaskRecord(
            id: .generate(), kind: "echo", queue: "default", args: try RawJSON(validating: #"{"a":1}"#), priority: 5, state: .running,
            attempt: 1, maxAttempts: 10, runAt: Date(timeIntervalSince1970: 1_700_000_000.123),
            createdAt: Date(timeIntervalSince1970: 1_700_000_000))
        let claimed = ClaimedTask(task: record, leaseToken: "abc")
        let data = try BatonJSON.encoder().encode(claimed)
        let object = try JSONSerialization.jsonObject(with: data) as! [String: Any]
        #expect(object["lease_token"] as? String == "abc")
        #expect(object["kind"] as? String == "echo")
        #expect(object["run_at"] as? String == "2023-11-14T22:13:20.123Z")
        let back = try BatonJSON.decoder().decode(ClaimedTask.self, from: data)
        #expect(back == claimed)
    }

    @Test func ackItemsRoundTrip() throws {
        let lease = LeaseRef(id: .generate(), token: "t")
        let fail = TaskAck.fail(TaskFailure(lease: lease, message: "boom", retryable: false, retryAfter: .milliseconds(1500)))
        #expect(try AckItem(fail).toAck() == fail)
        let complete = TaskAck.complete(TaskCompletion(lease: lease, result: try RawJSON(validating: "[1]")))
        #expect(try AckItem(complete).toAck() == complete)
        var bad = AckItem(complete)
        bad.outcome = "explode"
        #expect(throws: BatonError.self) { try bad.toAck() }
    }

    @Test func datesAcceptBothForms() {
        #expect(BatonJSON.parseDate("2026-11-23T19:00:00Z") != nil)
        #expect(BatonJSON.parseDate("2026-11-23T19:00:00.250Z")!.timeIntervalSince(BatonJSON.parseDate("2026-11-23T19:00:00Z")!) == 0.25)
        #expect(BatonJSON.parseDate("yesterday") == nil)
    }
}
