import BatonCore
import Foundation
import Testing

/// The hand-written text form and parser of `TaskID` against Foundation's `UUID`.
@Suite struct TaskIDTextTests {
    @Test func descriptionIsFoundationsLowercaseForm() {
        for _ in 0..<2_000 {
            let uuid = UUID()
            #expect(TaskID(uuid: uuid).description == uuid.uuidString.lowercased())
        }
        let edges = ["00000000-0000-0000-0000-000000000000", "ffffffff-ffff-ffff-ffff-ffffffffffff"]
        for text in edges { #expect(TaskID(text)?.description == text) }
    }

    @Test func parsesEitherCaseAndRejectsWhatFoundationRejects() {
        for _ in 0..<500 {
            let uuid = UUID()
            #expect(TaskID(uuid.uuidString)?.uuid == uuid)
            #expect(TaskID(uuid.uuidString.lowercased())?.uuid == uuid)
        }
        let bad = [
            "", "not-a-uuid", "0190f5e2-7b1c-7d3e-8f00-00000000000", "0190f5e2-7b1c-7d3e-8f00-0000000000000",
            "0190f5e2x7b1c-7d3e-8f00-000000000000", "0190f5e2-7b1c-7d3e-8f00-00000000000g", "{0190f5e2-7b1c-7d3e-8f00-000000000000}",
            "0190f5e27b1c7d3e8f00000000000000", " 0190f5e2-7b1c-7d3e-8f00-000000000000", "0190f5e2-7b1c-7d3e-8f00-00000000000é",
        ]
        for text in bad { #expect(TaskID(text) == nil, "\(text)") }
    }

    @Test func generatedBitsAndOrder() {
        let at = Date(timeIntervalSince1970: 1_763_900_000.123)
        var ids: [TaskID] = []
        for _ in 0..<1_000 {
            let id = TaskID.generate(at: at)
            let b = id.uuid.uuid
            #expect(b.6 >> 4 == 7)
            #expect(b.8 >> 6 == 0b10)
            #expect(id.timestamp == Date(timeIntervalSince1970: Double(UInt64(at.timeIntervalSince1970 * 1000)) / 1000))
            ids.append(id)
        }
        // Random bits differ: 1,000 ids in the same millisecond are distinct.
        #expect(Set(ids).count == ids.count)
        // `<` is the order of the text forms.
        let byText = ids.sorted { $0.description < $1.description }
        #expect(ids.sorted() == byText)
    }
}
