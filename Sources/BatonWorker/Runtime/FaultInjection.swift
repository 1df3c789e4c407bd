import BatonCore
import Foundation

/// A testing aid (off by default): fails a fraction of attempts on purpose, before their
/// handler runs, with an error that says so — for watching retries, backoff and dead tasks
/// happen (seed of the idea: "random errors" in an SQS-based scheduler's demo worker).
///
/// Set as `worker.faults` (`BATON_WORKER_FAULTS`, `--faults`): a comma list of `kind=rate`
/// entries and at most one bare `rate` for every other kind, each rate from 0 to 1, e.g.
/// `0.3` or `email.send=0.5,0.1`. An injected failure is retryable, like a handler's error,
/// and its message starts with ``marker``.
public struct FaultInjection: Sendable, Hashable {
    /// The rate of kinds not named in ``perKind``.
    public var overall: Double
    public var perKind: [String: Double]

    /// How an injected failure's message starts.
    public static let marker = "injected fault"

    public init(overall: Double = 0, perKind: [String: Double] = [:]) {
        self.overall = overall
        self.perKind = perKind
    }

    /// The fraction of `kind`'s attempts that fail.
    public func rate(for kind: String) -> Double { perKind[kind] ?? overall }

    /// Whether this attempt of `kind` fails (`draw` is uniform in 0..<1).
    public func strikes(_ kind: String, draw: Double = Double.random(in: 0..<1)) -> Bool { draw < rate(for: kind) }

    /// Parses the setting's text; errors name the entry.
    public init(parsing text: String) throws(BatonError) {
        self.init()
        var sawOverall = false
        for entry in text.split(separator: ",", omittingEmptySubsequences: false).map({ $0.trimmingCharacters(in: .whitespaces) }) {
            let parts = entry.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            let (kind, rateText) = parts.count == 2 ? (Optional(parts[0]), parts[1]) : (nil, parts[0])
            guard let rate = Double(rateText), rate >= 0, rate <= 1 else {
                throw .invalidArgument("worker.faults: '\(entry)' is not a rate from 0 to 1 (e.g. 0.3 or email.send=0.5)")
            }
            if let kind {
                try NewTask.validateName(kind, field: "worker.faults", maxLength: Limits.maxKindLength)
                guard perKind.updateValue(rate, forKey: kind) == nil else { throw .invalidArgument("worker.faults names \(kind) twice") }
            } else {
                guard !sawOverall else { throw .invalidArgument("worker.faults has more than one rate for every kind") }
                sawOverall = true
                overall = rate
            }
        }
    }
}

/// The error of an injected failure (``FaultInjection``).
struct InjectedFault: Error, CustomStringConvertible {
    var kind: String
    var rate: Double
    var description: String {
        "\(FaultInjection.marker): worker.faults fails \(String(format: "%g", rate * 100))% of \(kind) attempts (a testing aid, not a handler error)"
    }
}
