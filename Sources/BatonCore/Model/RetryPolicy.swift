/// How long to wait before the next attempt after a failed one.
///
/// Resolved per task (its own option), then per kind (the worker's registration), then
/// globally (the node's setting), in that order.
public enum RetryPolicy: Sendable, Hashable {
    /// `base * 2^(n-1)` capped at `cap`; with jitter, a uniformly random delay in
    /// `[d/2, d]` so that many failing tasks do not retry in lockstep.
    case exponential(base: Duration, cap: Duration, jitter: Bool)
    /// `base * fib(n)` (1, 1, 2, 3, 5, 8, …) capped at `cap`, as in Machinery-style task queues.
    case fibonacci(base: Duration, cap: Duration)
    case fixed(Duration)
    /// No retries: the first failure is final.
    case none

    public static let `default` = RetryPolicy.exponential(base: Defaults.retryBase, cap: Defaults.retryCap, jitter: true)

    /// The delay after failed attempt number `attempt` (1-based), or `nil` if the policy never retries.
    public func delay(afterAttempt attempt: Int, random: Double = Double.random(in: 0...1)) -> Duration? {
        let n = max(1, attempt)
        switch self {
        case .none:
            return nil
        case .fixed(let d):
            return d
        case .exponential(let base, let cap, let jitter):
            let raw = base.seconds * pow2(n - 1)
            let capped = min(raw, cap.seconds)
            let value = jitter ? capped * (0.5 + 0.5 * random) : capped
            return .seconds(value)
        case .fibonacci(let base, let cap):
            return .seconds(min(base.seconds * Double(Self.fibonacci(n)), cap.seconds))
        }
    }

    static func fibonacci(_ n: Int) -> Int {
        var (a, b) = (1, 1)
        for _ in 1..<max(1, n) {
            (a, b) = (b, a &+ b)
            if a > 1 << 40 { return a }
        }
        return a
    }

    private func pow2(_ e: Int) -> Double { e >= 62 ? Double.greatestFiniteMagnitude : Double(1 << e) }

    /// The policy's name as used on the wire and in the CLI.
    public var name: String {
        switch self {
        case .exponential: "exponential"
        case .fibonacci: "fibonacci"
        case .fixed: "fixed"
        case .none: "none"
        }
    }

    /// The shortest cap: a millisecond, the precision Baton stores times with.
    public static let minCap = 0.001

    /// Builds a policy from its name and an optional base delay in seconds.
    public static func named(_ name: String, base: Double? = nil, cap: Double? = nil) throws(BatonError) -> RetryPolicy {
        if let base, !(base >= 0 && base <= Limits.maxSeconds) {
            throw .invalidArgument("retry backoff must be a number of seconds from 0 to \(Int(Limits.maxSeconds))")
        }
        if let cap, !(cap >= minCap && cap <= Limits.maxSeconds) {
            throw .invalidArgument("retry cap must be a number of seconds from \(minCap) to \(Int(Limits.maxSeconds))")
        }
        let b = base.map { Duration.seconds($0) }
        let c = cap.map { Duration.seconds($0) } ?? Defaults.retryCap
        switch name {
        case "exponential": return .exponential(base: b ?? Defaults.retryBase, cap: c, jitter: true)
        case "fibonacci": return .fibonacci(base: b ?? Defaults.retryBase, cap: c)
        case "fixed": return .fixed(b ?? Defaults.retryBase)
        case "none": return .none
        default:
            throw .invalidArgument("unknown retry policy '\(name)' (expected exponential, fibonacci, fixed or none)")
        }
    }
}

extension RetryPolicy: Codable {
    private enum CodingKeys: String, CodingKey {
        case policy, backoff, cap, jitter
    }

    /// In a request (``BatonJSON/requestDecoder()``) an unknown member, or one the policy does
    /// not have, is refused; elsewhere (a worker reading a node's answer) they are ignored, so
    /// that a newer node's additions do not break older workers.
    public init(from decoder: any Decoder) throws {
        let strict = decoder.userInfo[.batonRequest] as? Bool == true
        if strict {
            let all = try decoder.container(keyedBy: AnyKey.self)
            for key in all.allKeys where CodingKeys(stringValue: key.stringValue) == nil {
                throw DecodingError.dataCorrupted(
                    .init(codingPath: decoder.codingPath + [key], debugDescription: "unknown field '\(key.stringValue)' in a retry policy"))
            }
        }
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let name = try c.decode(String.self, forKey: .policy)
        let base = try c.decodeIfPresent(Double.self, forKey: .backoff)
        let cap = try c.decodeIfPresent(Double.self, forKey: .cap)
        let jitter = try c.decodeIfPresent(Bool.self, forKey: .jitter)
        do {
            if strict {
                self = try RetryPolicy.decoded(policy: name, backoff: base, cap: cap, jitter: jitter)
            } else {
                var policy = try RetryPolicy.named(name, base: base, cap: cap)
                if case .exponential(let b, let cp, _) = policy, let jitter { policy = .exponential(base: b, cap: cp, jitter: jitter) }
                self = policy
            }
        } catch {
            throw DecodingError.dataCorruptedError(forKey: .policy, in: c, debugDescription: error.message)
        }
    }

    /// A policy from its wire members, each allowed only where the policy has it (as the API
    /// schema's `RetryPolicy` states): `backoff`, `cap` and `jitter` for exponential,
    /// `backoff` and `cap` for fibonacci, `backoff` for fixed, nothing more for none.
    public static func decoded(policy name: String, backoff: Double?, cap: Double?, jitter: Bool?) throws(BatonError) -> RetryPolicy {
        let allowed: (cap: Bool, jitter: Bool, backoff: Bool) =
            switch name {
            case "exponential": (true, true, true)
            case "fibonacci": (true, false, true)
            case "fixed": (false, false, true)
            default: (false, false, false)
            }
        for (member, given, ok) in [
            ("backoff", backoff != nil, allowed.backoff), ("cap", cap != nil, allowed.cap), ("jitter", jitter != nil, allowed.jitter),
        ]
        where given && !ok && ["exponential", "fibonacci", "fixed", "none"].contains(name) {
            throw .invalidArgument("retry policy \(name) has no \(member)")
        }
        var policy = try named(name, base: backoff, cap: cap)
        if case .exponential(let b, let c, _) = policy, let jitter { policy = .exponential(base: b, cap: c, jitter: jitter) }
        return policy
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .policy)
        switch self {
        case .exponential(let base, let cap, let jitter):
            try c.encode(base.seconds, forKey: .backoff)
            try c.encode(cap.seconds, forKey: .cap)
            try c.encode(jitter, forKey: .jitter)
        case .fibonacci(let base, let cap):
            try c.encode(base.seconds, forKey: .backoff)
            try c.encode(cap.seconds, forKey: .cap)
        case .fixed(let d):
            try c.encode(d.seconds, forKey: .backoff)
        case .none:
            break
        }
    }
}

extension Duration {
    /// The duration in seconds as a `Double`.
    public var seconds: Double {
        let (s, atto) = components
        return Double(s) + Double(atto) / 1e18
    }

    /// The duration in whole milliseconds, rounded to the nearest (`lease_ms`, Redis `PX`).
    public var inMilliseconds: Int { Int((seconds * 1000).rounded()) }
}
