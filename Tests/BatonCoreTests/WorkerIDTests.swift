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
}
