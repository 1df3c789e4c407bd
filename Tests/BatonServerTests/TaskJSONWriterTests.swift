import BatonCore
import Foundation
import Testing

@testable import BatonServer

@Suite("Task JSON writer")
struct TaskJSONWriterTests {
    static let sample = TaskRecord(
        id: TaskID.generate(), kind: "email.send", queue: "mail", args: RawJSON(.object(["to": .string("a\"b\\c\n\u{1}é/")])),
        priority: 7, state: .failed, attempt: 2, maxAttempts: 3, runAt: Date(timeIntervalSince1970: 1_795_000_000.123),
        leaseOwner: "w-1", leaseExpiresAt: Date(timeIntervalSince1970: 1_795_000_030.5), timeout: 2.5,
        retry: .exponential(base: .seconds(1), cap: .seconds(60), jitter: true), result: RawJSON(.array([.int(1), .double(0.5)])),
        lastError: "boom\t!", errors: [AttemptError(attempt: 1, at: Date(timeIntervalSince1970: 1_795_000_001), message: "x")],
        uniqueKey: "k", tags: ["a", "b"], createdAt: Date(timeIntervalSince1970: 1_795_000_000),
        startedAt: Date(timeIntervalSince1970: 1_795_000_000.999), finishedAt: Date(timeIntervalSince1970: 1_795_000_002))

    @Test func matchesTheCodableEncoding() throws {
        let minimal = TaskRecord(
            id: TaskID.generate(), kind: "k", queue: "default", args: .emptyObject, priority: 5, state: .ready, attempt: 0,
            maxAttempts: 10, runAt: Date(timeIntervalSince1970: 0), createdAt: Date(timeIntervalSince1970: 0))
        for policy in [RetryPolicy.fibonacci(base: .seconds(2), cap: .seconds(9)), .fixed(.milliseconds(1500)), .none] {
            var t = Self.sample
            t.retry = policy
            try check(t)
        }
        try check(Self.sample)
        try check(minimal)
    }

    private func check(_ task: TaskRecord) throws {
        let written = String(decoding: TaskJSONWriter.task(task), as: UTF8.self)
        let encoded = String(decoding: try BatonJSON.encoder().encode(task), as: UTF8.self)
        #expect(written == encoded)
        let decoded = try BatonJSON.decoder().decode(TaskRecord.self, from: Data(written.utf8))
        #expect(decoded == (try BatonJSON.decoder().decode(TaskRecord.self, from: Data(encoded.utf8))))
    }

    @Test func claimCarriesLeaseToken() throws {
        let claimed = ClaimedTask(task: Self.sample, leaseToken: "tok")
        let written = TaskJSONWriter.claim([claimed, claimed])
        let encoded = try BatonJSON.encoder().encode(ClaimResponse(tasks: [claimed, claimed]))
        #expect(String(decoding: written, as: UTF8.self) == String(decoding: encoded, as: UTF8.self))
    }

    @Test func datesMatchBatonJSON() {
        var seconds = -86_400.0 * 365 * 3
        while seconds < 86_400.0 * 365 * 200 {
            let date = Date(timeIntervalSince1970: seconds)
            var w = TaskJSONWriter()
            w.date(date)
            #expect(String(decoding: w.bytes, as: UTF8.self) == "\"\(BatonJSON.formatDate(date))\"")
            seconds += 86_400.0 * 37.123457
        }
    }
}

@Suite("Ack results writer")
struct AckResultsWriterTests {
    @Test func matchesTheCodableEncoding() throws {
        let ids = (0..<4).map { _ in TaskID.generate() }
        let outcomes: [AckOutcome] = [.applied(.succeeded), .applied(.pending), .staleLease, .notFound]
        let written = TaskJSONWriter.ackResults(ids: ids, outcomes: outcomes)
        let encoded = try BatonJSON.encoder().encode(
            AckResponse(results: zip(ids, outcomes).map { AckItemResult(id: $0, outcome: $1) }))
        #expect(String(decoding: written, as: UTF8.self) == String(decoding: encoded, as: UTF8.self))
    }
}
