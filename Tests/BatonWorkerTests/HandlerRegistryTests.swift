import BatonCore
import BatonTesting
import Foundation
import Testing

@testable import BatonWorker

struct AddArgs: Codable, Sendable {
    var a: Int
    var b: Int
}

struct Greeting: Codable, Sendable, Equatable {
    var text: String
    var length: Int
}

struct Greeter: TaskHandler {
    static let kind = "greet"
    static let retry: RetryPolicy? = .fixed(.seconds(2))
    static let timeout: Duration? = .seconds(3)

    struct Args: Codable, Sendable { var name: String }

    func run(_ args: Args, context: TaskContext) async throws -> Greeting {
        let text = "hello \(args.name) (attempt \(context.attempt))"
        return Greeting(text: text, length: text.count)
    }
}

func context(kind: String, attempt: Int = 1) -> TaskContext {
    TaskContext(
        taskID: .generate(), kind: kind, attempt: attempt, maxAttempts: 3, queue: "default", worker: "w",
        logger: testLogger("registry"))
}

@Suite struct HandlerRegistryTests {
    @Test func typedHandlerDecodesArgsAndEncodesResult() async throws {
        let registry = HandlerRegistry()
        registry.register("add") { (args: AddArgs, _) in args.a + args.b }
        let registration = try #require(registry.registration(for: "add"))
        let result = try await registration.run(try json(#"{"a": 2, "b": 40}"#), context(kind: "add"))
        #expect(result.text == "42")
        #expect(registry.kinds == ["add"])
    }

    @Test func protocolHandlerCarriesKindRetryAndTimeout() async throws {
        let registry = HandlerRegistry()
        registry.register(Greeter())
        let registration = try #require(registry.registration(for: "greet"))
        #expect(registration.retry == .fixed(.seconds(2)))
        #expect(registration.timeout == .seconds(3))
        let result = try await registration.run(try json(#"{"name": "ada"}"#), context(kind: "greet", attempt: 2))
        let greeting = try result.decode(Greeting.self)
        #expect(greeting == Greeting(text: "hello ada (attempt 2)", length: 21))
    }

    @Test func argsThatDoNotDecodeFailPermanentlyNamingTheType() async throws {
        let registry = HandlerRegistry()
        registry.register("add") { (args: AddArgs, _) in args.a + args.b }
        let registration = try #require(registry.registration(for: "add"))
        await #expect {
            _ = try await registration.run(try json(#"{"a": 1}"#), context(kind: "add"))
        } throws: { error in
            let failure = try #require(error as? FailPermanently)
            return failure.message == "args do not match AddArgs: missing field 'b'"
        }
        await #expect {
            _ = try await registration.run(try json(#"{"a": "x", "b": 2}"#), context(kind: "add"))
        } throws: { error in
            (error as? FailPermanently)?.message == "args do not match AddArgs: field 'a' is not an integer"
        }
    }

    @Test func laterRegistrationReplacesEarlier() async throws {
        let registry = HandlerRegistry()
        registry.register("k") { (_: RawJSON, _) in 1 }
        registry.register("k") { (_: RawJSON, _) in 2 }
        let result = try await #require(registry.registration(for: "k")).run(.emptyObject, context(kind: "k"))
        #expect(result.text == "2")
    }

    /// The worker reports what the handler said; the node's lifecycle applies the policies
    /// (the kind's included, from the worker's announcement).
    @Test func failureClassification() throws {
        let lease = LeaseRef(id: .generate(), token: "t")
        let later = WorkerRuntime.failure(for: RetryLater(delay: .seconds(7), message: "busy"), lease: lease)
        #expect(later == TaskFailure(lease: lease, message: "busy", retryable: true, retryAfter: .seconds(7)))

        let permanent = WorkerRuntime.failure(for: FailPermanently("bad"), lease: lease)
        #expect(permanent == TaskFailure(lease: lease, message: "bad", retryable: false))

        let plain = WorkerRuntime.failure(for: BuiltinFailure(message: "boom"), lease: lease)
        #expect(plain == TaskFailure(lease: lease, message: "boom", retryable: true, retryAfter: nil))
    }

    @Test func configurationDefaultsAndValidation() throws {
        let config = WorkerConfiguration()
        #expect(config.queues == ["default"])
        #expect(config.concurrency == Defaults.concurrency)
        #expect(config.lease == Defaults.lease)
        #expect(config.heartbeatInterval == .seconds(10))
        #expect(config.id.hasSuffix("-\(ProcessInfo.processInfo.processIdentifier)"))
        try config.validate()
        var bad = config
        bad.heartbeatInterval = .seconds(40)
        #expect(throws: BatonError.self) { try bad.validate() }
        bad = config
        bad.concurrency = 0
        #expect(throws: BatonError.self) { try bad.validate() }
        // The id is checked as the node checks it: a worker the node would refuse does not start.
        for (id, message) in [
            ("", "worker id must be 1 to 128 characters"), ("tab\there", "worker id must not contain control characters"),
        ] {
            bad = config
            bad.id = id
            #expect(throws: BatonError.invalidArgument(message)) { try bad.validate() }
        }
        bad = config
        bad.id = String(repeating: "é", count: Limits.maxWorkerIDLength)  // 128 characters, 256 bytes
        try bad.validate()
    }
}
