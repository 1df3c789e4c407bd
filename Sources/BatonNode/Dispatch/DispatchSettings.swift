import BatonCore
import Configuration

/// The two settings of a broker's dispatch role, read the same way for every broker
/// (`sqs`, `redis`, `amqp`):
/// - `PREFIX.window`: most tasks of one Baton queue in flight on the broker at once, 1...10000
///   (default 100)
/// - `PREFIX.lease`: seconds a dispatched task's lease lasts before its worker's first
///   heartbeat, at least 1 (default 300): the time a work message may wait on the broker
public struct DispatchSettings: Sendable, Equatable {
    /// Most tasks of one Baton queue in flight on the broker.
    public var window: Int
    /// The lease a dispatched task gets until its worker first heartbeats.
    public var lease: Duration

    public static let defaultWindow = 100
    public static let windowRange = 1...10_000
    public static let defaultLease: Duration = .seconds(300)

    public init(window: Int = defaultWindow, lease: Duration = defaultLease) {
        self.window = window
        self.lease = lease
    }

    /// `PREFIX.window` and `PREFIX.lease` from the settings; throws `invalidArgument` naming the key.
    public init(reader: ConfigReader, prefix: String) throws(BatonError) {
        self.init(
            window: try reader.int("\(prefix).window", default: Self.defaultWindow, range: Self.windowRange),
            lease: try reader.seconds("\(prefix).lease", default: Self.defaultLease, minimum: 1))
    }

    /// Checks values set in code (the reader checks its own).
    public func validate(prefix: String) throws(BatonError) {
        guard Self.windowRange.contains(window) else {
            throw .invalidArgument(
                "\(prefix).window must be in \(Self.windowRange.lowerBound)...\(Self.windowRange.upperBound), got \(window)")
        }
        guard lease >= .seconds(1) else { throw .invalidArgument("\(prefix).lease must be at least 1 second, got \(lease)") }
    }
}
