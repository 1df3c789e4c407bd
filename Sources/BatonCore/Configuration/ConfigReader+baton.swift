import Configuration
import Foundation

/// How Baton's components read their settings from swift-configuration.
///
/// Every value is read as text, whichever provider holds it (a flag, a `BATON_*` variable or a
/// YAML scalar), and parsed here, so that a bad value is refused with its key named in the
/// message, wherever it came from. Keys are dotted paths (`limits.maxBatch`); the environment
/// variable of a key is `BATON_` and its path in upper snake case (`BATON_LIMITS_MAX_BATCH`).
extension ConfigReader {
    /// The text of `key`, or `nil` when it is unset or blank.
    public func text(_ key: String, isSecret: Bool = false) -> String? {
        guard let raw = string(forKey: ConfigKey(key), isSecret: isSecret) else { return nil }
        let trimmed = raw.trimmingCharacters(in: .whitespaces)
        return trimmed.isEmpty ? nil : trimmed
    }

    /// A whole number in `range`, or `value` when unset.
    public func int(_ key: String, default value: Int, range: ClosedRange<Int>) throws(BatonError) -> Int {
        guard let text = text(key) else { return value }
        guard let n = Int(text), range.contains(n) else {
            throw .invalidArgument("\(key) must be a whole number in \(range.lowerBound)...\(range.upperBound), got '\(text)'")
        }
        return n
    }

    /// A number of seconds from `minimum` to `maximum` (``Limits/maxSeconds`` unless given), or `value` when unset.
    public func seconds(
        _ key: String, default value: Duration, minimum: Double = 0, maximum: Double = Limits.maxSeconds
    ) throws(BatonError) -> Duration {
        guard let text = text(key) else { return value }
        guard let s = Double(text), s.isFinite, s >= minimum, s <= maximum else {
            throw .invalidArgument("\(key) must be a number of seconds from \(minimum) to \(Int(maximum)), got '\(text)'")
        }
        return .seconds(s)
    }

    /// A comma list (`a,b`) or a YAML sequence, without blank items; `nil` when unset or empty.
    public func list(_ key: String) -> [String]? {
        let items: [String]
        if let text = text(key) {
            items = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        } else if let array = stringArray(forKey: ConfigKey(key)) {
            items = array.map { $0.trimmingCharacters(in: .whitespaces) }
        } else {
            return nil
        }
        let kept = items.filter { !$0.isEmpty }
        return kept.isEmpty ? nil : kept
    }

    /// A yes/no setting: `true`/`yes`/`1`/`on` or `false`/`no`/`0`/`off`; `value` when unset.
    public func flag(_ key: String, default value: Bool = false) throws(BatonError) -> Bool {
        guard let text = text(key)?.lowercased() else { return value }
        switch text {
        case "true", "yes", "1", "on": return true
        case "false", "no", "0", "off": return false
        default: throw .invalidArgument("\(key) must be true or false, got '\(text)'")
        }
    }

    /// A comma list of `QUEUE=VALUE` items (a broker's dispatch setting: which Baton queues go
    /// where), in the order given; each queue a valid queue name, named once. `example` shows
    /// an item in the message when one is malformed.
    public func queueMap(_ key: String, example: String) throws(BatonError) -> [(queue: String, value: String)] {
        var pairs: [(queue: String, value: String)] = []
        for item in list(key) ?? [] {
            let parts = item.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                throw .invalidArgument("\(key) takes QUEUE=VALUE items such as \(example), got '\(item)'")
            }
            do {
                try NewTask.validateName(parts[0], field: "\(key) queue", maxLength: Limits.maxQueueLength)
            } catch {
                throw .invalidArgument(error.message)
            }
            guard !pairs.contains(where: { $0.queue == parts[0] }) else {
                throw .invalidArgument("\(key) names the queue \(parts[0]) twice")
            }
            pairs.append((parts[0], parts[1]))
        }
        return pairs
    }
}

extension RetryPolicy {
    /// The settings keys of a node's retry policy.
    public static let configKeys = ["retry.policy", "retry.backoff", "retry.cap"]

    /// The node's retry policy for tasks and kinds that set none, from `retry.policy`
    /// (`exponential`, `fibonacci`, `fixed`, `none`), `retry.backoff` (base seconds) and
    /// `retry.cap` (seconds); ``RetryPolicy/default`` when none is set.
    public init(reader: ConfigReader) throws(BatonError) {
        let name = reader.text("retry.policy")
        let backoff = reader.text("retry.backoff")
        let cap = reader.text("retry.cap")
        guard name != nil || backoff != nil || cap != nil else {
            self = .default
            return
        }
        func number(_ key: String, _ text: String?) throws(BatonError) -> Double? {
            guard let text else { return nil }
            guard let v = Double(text) else { throw .invalidArgument("\(key) must be a number of seconds, got '\(text)'") }
            return v
        }
        do throws(BatonError) {
            self = try RetryPolicy.named(
                name?.lowercased() ?? "exponential", base: try number("retry.backoff", backoff), cap: try number("retry.cap", cap))
        } catch {
            throw .invalidArgument(error.message.hasPrefix("retry") ? error.message : "retry.policy: \(error.message)")
        }
    }
}
