import BatonCore
import Foundation
import Testing

@Suite struct StoreClockTests {
    @Test func systemClockReadsTheWallClock() {
        let before = Date()
        let now = StoreClock.system.now()
        let micros = StoreClock.system.microsecondsSince1970()
        #expect(now >= before.addingTimeInterval(-0.001) && now <= Date().addingTimeInterval(0.001))
        #expect(abs(Double(micros) / 1e6 - Date().timeIntervalSince1970) < 1)
    }

    @Test func manualClockStandsStillUntilMovedExactly() {
        let manual = ManualClock(microsecondsSince1970: 1_930_000_000_123_000)
        let clock = StoreClock.manual(manual)
        #expect(clock.microsecondsSince1970() == 1_930_000_000_123_000)
        #expect(clock.now() == manual.now)
        manual.advance(by: .milliseconds(1500))
        #expect(clock.microsecondsSince1970() == 1_930_000_001_623_000)
        manual.advance(by: .microseconds(-23))
        #expect(clock.microsecondsSince1970() == 1_930_000_001_622_977)
        manual.set(microsecondsSince1970: 5)
        #expect(clock.microsecondsSince1970() == 5)
        #expect(ManualClock(Date(timeIntervalSince1970: 12.5)).microseconds == 12_500_000)
    }
}
