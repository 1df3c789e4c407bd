import BatonCore
import BatonRedis
import Foundation
import Synchronization
import Testing

/// A stand-in for a Machinery worker whose broker and result backend are the same Redis, doing
/// what Machinery's source does (`brokers/redis`, `worker.go`, `backends/redis`; Machinery
/// itself is Go and cannot be fetched here): `BLPOP` on its queue; a name it has no function
/// for is pushed back (`RPUSH`); otherwise `RECEIVED` then `STARTED` are `SET` at the UUID
/// (keeping `TaskName` and `CreatedAt` from the state there), the function runs on the typed
/// arguments, and `SUCCESS` with `[{"Type", "Value"}]` or `FAILURE` with the error is written,
/// each with `EX 3600`.
public final class MachineryWorkerStandIn: Sendable {
    public typealias Function = @Sendable ([(type: String, value: JSONValue)]) throws -> [(type: String, value: JSONValue)]
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
        public init(description: String) { self.description = description }
    }

    let server: RedisConfiguration
    let queue: String
    let functions: [String: Function]
    /// Every signature taken, as decoded.
    let taken = Mutex<[[String: JSONValue]]>([])

    public init(server: RedisConfiguration, queue: String, functions: [String: Function]) {
        self.server = server
        self.queue = queue
        self.functions = functions
    }

    public var signatures: [[String: JSONValue]] { taken.withLock { $0 } }

    /// Pops and runs messages until cancelled; `drop` (given each signature) says to take a
    /// message and die with it, as a worker killed mid-task does; `hold` is how long each task
    /// runs after its `STARTED` state.
    public func run(drop: @escaping @Sendable ([String: JSONValue]) -> Bool = { _ in false }, hold: Duration = .zero) async throws {
        let redis = try await RedisConnection.connect(server)
        defer { Task { await redis.close() } }
        while !Task.isCancelled {
            let reply = try await redis.command(["BLPOP", RedisArgument(queue), "1"], timeout: .seconds(5))
            guard let pair = reply.array, pair.count == 2, let text = pair[1].string else { continue }
            guard case .object(let signature) = try RawJSON(validating: text).parsed() else {
                Issue.record("not a signature: \(text)")
                continue
            }
            guard case .string(let uuid)? = signature["UUID"], case .string(let name)? = signature["Name"] else {
                Issue.record("a signature without UUID or Name: \(text)")
                continue
            }
            guard let function = functions[name] else {
                _ = try await redis.command(["RPUSH", RedisArgument(queue), RedisArgument(text)])
                continue
            }
            taken.withLock { $0.append(signature) }
            if drop(signature) { continue }
            try await Self.write(redis, uuid, "RECEIVED")
            try await Self.write(redis, uuid, "STARTED")
            if hold > .zero { try await Task.sleep(for: hold) }
            let args = Self.arguments(signature)
            do {
                try await Self.write(redis, uuid, "SUCCESS", results: Self.results(try function(args)))
            } catch {
                try await Self.write(redis, uuid, "FAILURE", error: "\(error)")
            }
        }
    }

    /// `SetState…` of Machinery's Redis backend: the new state, `TaskName` and `CreatedAt` kept
    /// from what is there.
    static func write(
        _ redis: RedisConnection, _ uuid: String, _ state: String, results: JSONValue = .null, error: String = ""
    )
        async throws
    {
        var createdAt = JSONValue.string("0001-01-01T00:00:00Z")
        var taskName = JSONValue.string("")
        if let text = try await redis.command(["GET", RedisArgument(uuid)]).string,
            case .object(let previous) = try RawJSON(validating: text).parsed()
        {
            createdAt = previous["CreatedAt"] ?? createdAt
            taskName = previous["TaskName"] ?? taskName
        }
        let json = RawJSON(
            .object([
                "TaskUUID": .string(uuid), "TaskName": taskName, "State": .string(state), "Results": results, "Error": .string(error),
                "CreatedAt": createdAt, "TTL": .int(0),
            ]))
        _ = try await redis.command(["SET", RedisArgument(uuid), RedisArgument(json.text), "EX", "3600"])
    }

    /// A signature's `Args` as a worker's function gets them: each item's `Type` and `Value`.
    public static func arguments(_ signature: [String: JSONValue]) -> [(type: String, value: JSONValue)] {
        var args: [(type: String, value: JSONValue)] = []
        if case .array(let items)? = signature["Args"] {
            for item in items {
                guard case .object(let arg) = item, case .string(let type)? = arg["Type"], let value = arg["Value"] else {
                    Issue.record("an argument that is not {Type, Value}: \(item)")
                    continue
                }
                args.append((type, value))
            }
        }
        return args
    }

    /// A function's results as a worker writes them in its `SUCCESS`: `[{"Type", "Value"}]`.
    public static func results(_ values: [(type: String, value: JSONValue)]) -> JSONValue {
        .array(values.map { .object(["Type": .string($0.type), "Value": $0.value]) })
    }

    /// Fails its first call with `error`, then returns `[("string", "done")]`.
    public static func failingOnce(_ error: String) -> Function {
        let calls = Mutex(0)
        return { _ in
            let call = calls.withLock { n -> Int in
                n += 1
                return n
            }
            if call == 1 { throw Failure(description: error) }
            return [("string", "done")]
        }
    }

    /// The functions of ``BrokerHarness/checkMachineryRetries()``: `flaky` fails once with
    /// "connection reset", `broken` always fails with "division by zero".
    public static func retryFunctions() -> [String: Function] {
        [
            "flaky": failingOnce("connection reset"),
            "broken": { _ in throw Failure(description: "division by zero") },
        ]
    }

    /// Sums its `int64` arguments: `[{"Type": "int64", "Value": sum}]`.
    public static let add: Function = { args in
        var sum: Int64 = 0
        for arg in args {
            guard arg.type == "int64", case .int(let n) = arg.value else { throw Failure(description: "add takes int64, got \(arg.type)") }
            sum += n
        }
        return [("int64", .int(sum))]
    }
}
