import BatonCore
import Testing

/// A worker's name: its length, and no control character (a NUL would not survive the store's
/// text columns, so a claim could not be matched to its worker: the claim hung).
@Suite struct WorkerIDTests {
    @Test func controlCharactersAreRefused() throws {
        for bad in ["\u{0}", "w\u{0}1", "a\u{1f}b", "\u{7f}", "tab\there"] {
            #expect(throws: BatonError.invalidArgument("worker must not contain control characters")) { try Limits.validateWorkerID(bad) }
        }
        for good in ["host-1/42", "ünïcødé worker", String(repeating: "w", count: Limits.maxWorkerIDLength)] {
            try Limits.validateWorkerID(good)
        }
        #expect(throws: BatonError.invalidArgument("worker must be 1 to 128 characters")) { try Limits.validateWorkerID("") }
    }

    /// Keys, tags and node names may hold any character but NUL; reported text keeps its NULs
    /// as U+FFFD.
    @Test func aNULIsRefusedInKeysAndReplacedInReports() throws {
        #expect(throws: BatonError.invalidArgument("unique_key must not contain a NUL character")) {
            try NewTask(kind: "k", uniqueKey: "a\u{0}").validate()
        }
        #expect(throws: BatonError.invalidArgument("each tag must not contain a NUL character")) {
            try NewTask(kind: "k", tags: ["\u{0}"]).validate()
        }
        try NewTask(kind: "k", uniqueKey: "tab\tand é", tags: ["line\nbreak"]).validate()
        #expect(Limits.storable("a\u{0}b\u{0}") == "a\u{FFFD}b\u{FFFD}")
        #expect(Limits.storable("plain") == "plain")
    }
}
