import Synchronization

/// A setting that may change while the process runs (a live reload of the settings file):
/// the part that uses it reads ``value`` when it needs it, the reload ``set(_:)``s it.
/// A read is one uncontended lock, cheap enough for a request's hot path.
public final class LiveSetting<Value: Sendable>: Sendable {
    private let storage: Mutex<Value>

    public init(_ value: Value) {
        storage = Mutex(value)
    }

    /// The value now.
    public var value: Value { storage.withLock { $0 } }

    /// Replaces the value; readers see it from their next read.
    public func set(_ value: Value) {
        storage.withLock { $0 = value }
    }
}
