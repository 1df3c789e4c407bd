import Foundation

/// How far a running attempt says it got: a fraction from 0 to 1 and a message for people
/// (`ctx.progress(0.4, "copied 4,000 of 10,000 rows")`, or `progress` in a heartbeat).
///
/// Stored with the task (writes coalesced: at most one per task about every second), and kept
/// after the attempt ends, naming the attempt it belongs to.
public struct TaskProgress: Sendable, Hashable, Codable {
    public var fraction: Double
    public var message: String?
    /// The attempt that reported it (set by the store).
    public var attempt: Int?
    /// When it was stored (set by the store).
    public var at: Date?

    public init(fraction: Double, message: String? = nil, attempt: Int? = nil, at: Date? = nil) {
        self.fraction = fraction
        self.message = message
        self.attempt = attempt
        self.at = at
    }

    /// Checks a reported progress: a finite fraction from 0 to 1, a message of at most
    /// ``Limits/maxProgressMessageLength`` characters (Unicode scalars).
    public func validate() throws(BatonError) {
        guard fraction.isFinite, fraction >= 0, fraction <= 1 else {
            throw .invalidArgument("progress.fraction must be a number from 0 to 1, got \(fraction)")
        }
        if let message, !Limits.hasLength(message, 0...Limits.maxProgressMessageLength) {
            throw .invalidArgument("progress.message must be at most \(Limits.maxProgressMessageLength) characters")
        }
    }
}
