import BatonCore
import Foundation

/// The kinds every Baton worker serves out of the box:
///
/// - `echo`: the result is the arguments.
/// - `noop`: does nothing; the result is `null`.
/// - `probe`: does nothing; the result is `{"started_unix_ns": n}`, the worker's wall clock
///   when the handler started. Compared with the submitter's clock (on one machine, or with
///   synchronised clocks) it gives the pick-up latency a worker process saw; `baton bench`
///   uses it for HTTP workers.
/// - `sleep` `{"seconds": x}`: sleeps cooperatively (stops early when cancelled), reporting its
///   progress when it sleeps a second or more; result `{"slept": x}`.
/// - `fail` `{"message": "…"}`: always fails with that message, retryably (for demos and tests).
/// - `file` `{"op": "write|append|read|delete", "path": "relative/path", "content": "…"}`:
///   confined to a file root directory; disabled when none is configured.
/// - `http` `{"method", "url", "headers", "body", "timeout", "max_response_bytes"}`: one HTTP
///   request; private, loopback and other non-public addresses are refused unless
///   allowlisted (see `HTTPKind` and ``HTTPKindConfiguration``). A 4xx/5xx answer is a
///   success whose result carries the status.
public enum BuiltinKinds {
    public static let names = ["echo", "noop", "probe", "sleep", "fail", "file", "http"]

    public static func register(into registry: HandlerRegistry, fileRoot: URL?, http: HTTPKindConfiguration = .init()) {
        registry.registerRaw("echo") { args, _ in args }
        registry.registerRaw("noop") { _, _ in .null }
        registry.registerRaw("probe") { _, _ in RawJSON(trusted: "{\"started_unix_ns\":\(unixNanoseconds())}") }
        registry.register("sleep") { (args: SleepArgs, context) in
            guard args.seconds.isFinite, args.seconds >= 0 else {
                throw FailPermanently("seconds must be a non-negative number, got \(args.seconds)")
            }
            try context.checkCancellation()
            guard args.seconds >= 1 else {
                try await Task.sleep(for: .seconds(args.seconds))
                return SleptResult(slept: args.seconds)
            }
            // A long sleep reports its progress (sent about once a second).
            let start = ContinuousClock.now
            let total = Duration.seconds(min(args.seconds, Limits.maxSeconds))
            while true {
                let slept = ContinuousClock.now - start
                if slept >= total { break }
                context.progress(slept / total, "slept \(String(format: "%.1f", slept.seconds)) of \(String(format: "%g", args.seconds)) s")
                try await Task.sleep(for: min(.milliseconds(250), total - slept))
            }
            return SleptResult(slept: args.seconds)
        }
        registry.register("fail") { (args: FailArgs, _) -> RawJSON in
            throw BuiltinFailure(message: args.message ?? "failed on purpose")
        }
        let files = FileKind(root: fileRoot)
        registry.register("file") { (args: FileKind.Args, _) in try files.run(args) }
        let web = HTTPKind(configuration: http)
        registry.register("http") { (args: HTTPKind.Args, context) in try await web.run(args, context: context) }
    }

    /// The wall clock in nanoseconds since 1970 (`CLOCK_REALTIME`).
    public static func unixNanoseconds() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
    }

    struct SleepArgs: Codable, Sendable {
        var seconds: Double
    }

    struct SleptResult: Codable, Sendable {
        var slept: Double
    }

    struct FailArgs: Codable, Sendable {
        var message: String?
    }
}

/// The retryable error of the `fail` kind.
struct BuiltinFailure: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}
