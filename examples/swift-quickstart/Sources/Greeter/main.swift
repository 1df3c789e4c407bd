// greeter: a worker that serves the kind `greet`, and a producer that submits one `greet`
// task and waits for its result, both against a running node:
//
//   baton serve                       # in another terminal (or `baton` for standalone)
//   swift run greeter                 # or: swift run greeter http://host:8080
//
// Prints `succeeded "Hello, Ada!"` and exits. In a real deployment the worker and the
// producer are separate programs; they are one here to keep the example short.

import BatonClient
import BatonCore
import BatonWorker
import Foundation
import Logging

/// The task's arguments: JSON `{"name": "Ada"}`.
struct Greeting: Codable, Sendable {
    var name: String
}

let server = URL(string: CommandLine.arguments.dropFirst().first ?? "http://127.0.0.1:8080")!
LogfmtLogHandler.bootstrap(level: .warning)
let logger = Logger(label: "greeter")

// The worker: handlers by kind. The arguments arrive decoded; what the handler returns is the
// task's result (any Encodable). Throwing fails the attempt, and Baton retries it.
let registry = HandlerRegistry()
registry.register("greet") { (args: Greeting, context: TaskContext) -> String in
    logger.info("greeting", metadata: ["task_id": "\(context.taskID)", "attempt": "\(context.attempt)"])
    return "Hello, \(args.name)!"
}
let worker = WorkerRuntime(
    source: HTTPTaskSource(servers: [server], logger: logger), registry: registry,
    configuration: WorkerConfiguration(queues: ["default"], kinds: ["greet"], concurrency: 4), logger: logger)

do {
    try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await worker.run() }

        // The producer: submit a task and wait for it to finish.
        let client = BatonClient(servers: [server])
        let task = try await client.submit(NewTask(kind: "greet", args: try RawJSON.encoding(Greeting(name: "Ada"))))
        let done = try await client.wait(task.id, timeout: .seconds(30))
        print(done.state.rawValue, done.result?.text ?? "")

        worker.shutdownGracefully()
        try await group.waitForAll()
        if done.state != .succeeded { exit(1) }
    }
} catch {
    FileHandle.standardError.write(Data("greeter: \(error)\n".utf8))
    exit(1)
}
