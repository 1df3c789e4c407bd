import Foundation
import Synchronization

/// Where an embedded store reads the time: the system clock in production, or a
/// ``ManualClock`` that a test sets and advances (leases expire and backoffs come due
/// without waiting).
///
/// Reading `.system` costs what `Date()` costs: one branch on a `nil` reference, no allocation.
public struct StoreClock: Sendable {
    @usableFromInline let manual: ManualClock?

    /// The system's wall clock.
    public static let system = StoreClock(manual: nil)

    /// A clock that reads `clock`'s time: for tests.
    public static func manual(_ clock: ManualClock) -> StoreClock { StoreClock(manual: clock) }

    @usableFromInline init(manual: ManualClock?) { self.manual = manual }

    /// The current time.
    @inlinable public func now() -> Date {
        if let manual { return Date(timeIntervalSince1970: Double(manual.microseconds) / 1e6) }
        return Date()
    }

    /// The current time in whole microseconds since 1970: exact for a manual clock (no
    /// floating-point round trip), the system time rounded down otherwise.
    @inlinable public func microsecondsSince1970() -> Int64 {
        if let manual { return manual.microseconds }
        return Int64((Date().timeIntervalSince1970 * 1e6).rounded(.down))
    }
}

/// A clock that stands still until it is set or advanced: a testing aid for stores
/// (``StoreClock/manual(_:)``). Safe to use from any thread.
public final class ManualClock: Sendable {
    private let value: Atomic<Int64>

    /// Starts at `date`, to the microsecond.
    public init(_ date: Date) {
        value = Atomic(Int64((date.timeIntervalSince1970 * 1e6).rounded()))
    }

    /// Starts at this many microseconds since 1970.
    public init(microsecondsSince1970: Int64) {
        value = Atomic(microsecondsSince1970)
    }

    /// The time in microseconds since 1970.
    public var microseconds: Int64 { value.load(ordering: .acquiring) }

    public var now: Date { Date(timeIntervalSince1970: Double(microseconds) / 1e6) }

    /// Sets the time (it may move backwards).
    public func set(microsecondsSince1970: Int64) {
        value.store(microsecondsSince1970, ordering: .releasing)
    }

    /// Moves the time forward by `duration` (backwards for a negative one), to the microsecond.
    public func advance(by duration: Duration) {
        let (seconds, attoseconds) = duration.components
        value.add(seconds * 1_000_000 + attoseconds / 1_000_000_000_000, ordering: .acquiringAndReleasing)
    }
}
