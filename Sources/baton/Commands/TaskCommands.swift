import ArgumentParser
import BatonCore
import Foundation

/// How the task commands find their target: `--server`/`BATON_SERVER` → that node over HTTP;
/// else `--store`/`--db`/`BATON_STORE` → the database directly; else http://127.0.0.1:8080.
struct TargetOptions: ParsableArguments {
    @OptionGroup var common: CommonOptions

    @Option(help: "A node's URL (repeatable, or a comma list in BATON_SERVER); the next is tried when one does not answer.")
    var server: [String] = []

    @Option(help: "Bearer token for the node (BATON_TOKEN).")
    var token: String?

    @Option(help: "PEM CA certificates to trust for an https node (BATON_CA_FILE).")
    var caFile: String?

    static let defaultServer = "http://127.0.0.1:8080"

    func backend() async throws -> (any TaskBackend, Settings) {
        let settings = try await common.settings([
            "server": server.isEmpty ? nil : server.joined(separator: ","),
            "token": token,
            "caFile": caFile,
        ])
        try LogSetup.bootstrap(try settings.logLevel(), default: .warning)
        // Flags decide first: an explicit --store/--db beats BATON_SERVER from the environment.
        let explicitStore = common.store != nil || common.db != nil
        if !explicitStore, let servers = settings.list("server") {
            return (try RemoteBackend(servers: servers, token: settings.string("token"), caFile: settings.string("caFile")), settings)
        }
        if settings.string("store") != nil {
            return (LocalBackend(store: try await StoreLocation.open(settings, fallback: nil)), settings)
        }
        return (
            try RemoteBackend(servers: [Self.defaultServer], token: settings.string("token"), caFile: settings.string("caFile")), settings
        )
    }
}

struct Submit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Submit a task.",
        discussion: "Prints the new task's id; with --wait, waits for it to finish and prints its state and result."
    )

    @Argument(help: "The task's kind, e.g. echo or email.send.") var kind: String
    @Argument(help: ArgumentHelp("Arguments as JSON (or --args); {} when neither is given.", valueName: "args"))
    var positionalArgs: String?
    @Option(help: "Arguments as JSON.") var args: String?
    @Option(help: "Queue name.") var queue: String = Defaults.queue
    // Numbers are read even when they start with '-' (`--delay -5` then gets the real check,
    // not "missing value").
    @Option(parsing: .unconditional, help: "Priority 1–10, higher runs first.") var priority: Int = Defaults.priority
    @Option(parsing: .unconditional, help: "Run after this many seconds.") var delay: Double?
    @Option(help: "Run at this time (ISO 8601, e.g. 2026-11-23T19:00:00Z).") var at: String?
    @Option(parsing: .unconditional, help: "Attempts before the task is dead.") var maxAttempts: Int = Defaults.maxAttempts
    @Option(parsing: .unconditional, help: "Per-attempt time limit in seconds.") var timeout: Double?
    @Option(help: "Retry policy: exponential, fibonacci, fixed or none.") var retry: String?
    @Option(parsing: .unconditional, help: "Base retry delay in seconds for the policy.") var backoff: Double?
    @Option(
        help: "At most one active task per key: a duplicate submit stores nothing and prints the existing task (a note on stderr).")
    var uniqueKey: String?
    @Option(help: "A tag (repeatable).") var tag: [String] = []
    @Flag(help: "Wait until the task finishes; exit 1 if it ends failed or cancelled.") var wait = false
    @Option(parsing: .unconditional, help: "With --wait: give up after this many seconds (exit 7 with the current state).")
    var waitTimeout: Double = 3600
    @OptionGroup var target: TargetOptions
    @OptionGroup var output: OutputOptions

    func run() async throws {
        try await reportingErrors {
            let task = try makeTask()
            let (backend, _) = try await target.backend()
            let (created, duplicate) = try await backend.submitReporting(task)
            if duplicate {
                printError(
                    "note: duplicate of an active task with unique key '\(uniqueKey ?? "")': nothing new was stored; this is that task")
            }
            if await backend.hasWorker(kind: task.kind, queue: task.queue) == false {
                printError(
                    "warning: no worker the node heard from recently serves kind '\(task.kind)' on queue '\(task.queue)'; "
                        + "the task waits until one does (a misspelt kind or queue?)")
            }
            guard wait else {
                print(output.json ? Output.jsonLine(created, duplicate: duplicate) : created.id.description)
                return
            }
            let done = try await backend.wait(created.id, timeout: .seconds(waitTimeout))
            if output.json {
                print(Output.jsonLine(done))
            } else {
                print(done.state.rawValue)
                if let result = done.result { print(result.text) }
                if let error = done.lastError, done.state != .succeeded { print("error: \(error)") }
            }
            if done.state == .failed || done.state == .cancelled { throw ExitCode(ExitStatus.taskUnsuccessful) }
            if !done.state.isTerminal {
                printError("error: --wait gave up after \(Output.seconds(waitTimeout)) with the task \(done.state.rawValue)")
                throw ExitCode(ExitStatus.waitTimedOut)
            }
        }
    }

    func makeTask() throws(CLIError) -> NewTask {
        let parsedArgs: RawJSON
        if positionalArgs != nil && args != nil { throw .usage("arguments given twice: as JSON after the kind and with --args") }
        let (text, source) = if let positionalArgs { (positionalArgs, "arguments") } else { (args ?? "{}", "--args") }
        do throws(BatonError) { parsedArgs = try RawJSON(validating: text) } catch { throw .usage("\(source): \(error.message)") }
        var runAt: Date?
        if let at {
            guard let date = BatonJSON.parseDate(at) else {
                throw .usage("--at '\(at)' is not an ISO 8601 time such as 2026-11-23T19:00:00Z")
            }
            runAt = date
        }
        var policy: RetryPolicy?
        if retry != nil || backoff != nil {
            do throws(BatonError) { policy = try RetryPolicy.named(retry ?? "exponential", base: backoff) } catch {
                throw .usage(error.message)
            }
        }
        let task = NewTask(
            kind: kind, args: parsedArgs, queue: queue, priority: priority, runAt: runAt, delay: delay,
            maxAttempts: maxAttempts, timeout: timeout, retry: policy, uniqueKey: uniqueKey, tags: tag)
        do throws(BatonError) { try task.validate() } catch { throw .usage(error.message) }
        return task
    }
}

struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show a task.")
    @Argument(help: "The task id.") var id: String
    @OptionGroup var target: TargetOptions
    @OptionGroup var output: OutputOptions

    func run() async throws {
        try await reportingErrors {
            let taskID = try parseTaskID(id)
            let (backend, _) = try await target.backend()
            let task = try await backend.get(taskID)
            print(output.json ? Output.jsonLine(task) : Output.describe(task))
        }
    }
}

struct List: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List tasks, newest first.")
    @Option(help: "Only tasks in this state (repeatable): waiting, pending, ready, running, succeeded, failed, cancelled.")
    var state: [String] = []
    @Option(help: "Only this queue.") var queue: String?
    @Option(help: "Only this kind.") var kind: String?
    @Option(help: "Only tasks with this tag (a schedule tags the tasks it fires schedule:NAME).") var tag: String?
    @Option(help: "At most this many tasks (1–1000).") var limit: Int = 50
    @Option(help: "Continue from a previous page's cursor.") var cursor: String?
    @OptionGroup var target: TargetOptions
    @OptionGroup var output: OutputOptions

    func run() async throws {
        try await reportingErrors {
            var states: [TaskState] = []
            for name in state.flatMap({ $0.split(separator: ",").map(String.init) }) {
                guard let s = TaskState(rawValue: name) else {
                    throw CLIError.usage(
                        "unknown state '\(name)': expected waiting, pending, ready, running, succeeded, failed or cancelled")
                }
                states.append(s)
            }
            let params = TaskListParams(
                states: states.isEmpty ? nil : states, queue: queue, kind: kind, limit: limit, cursor: cursor, tag: tag)
            do throws(BatonError) { _ = try params.validatedCursor() } catch { throw CLIError.usage(error.message) }
            let (backend, _) = try await target.backend()
            let page = try await backend.list(params)
            if output.json {
                print(Output.jsonLine(page))
            } else {
                print(Output.table(page.tasks))
                if let next = page.nextCursor { print("more: --cursor \(next)") }
            }
        }
    }
}

/// `cancel` and `retry`: act on one task and print its new state.
protocol TaskAction: AsyncParsableCommand {
    var id: String { get }
    var target: TargetOptions { get }
    var output: OutputOptions { get }
    func act(_ backend: any TaskBackend, _ id: TaskID) async throws -> TaskRecord
}

extension TaskAction {
    func run() async throws {
        try await reportingErrors {
            let taskID = try parseTaskID(id)
            let (backend, _) = try await target.backend()
            let task = try await act(backend, taskID)
            print(output.json ? Output.jsonLine(task) : "\(task.id) \(task.state.rawValue)")
        }
    }
}

struct Cancel: TaskAction {
    static let configuration = CommandConfiguration(abstract: "Cancel a pending, ready or running task.")
    @Argument(help: "The task id.") var id: String
    @OptionGroup var target: TargetOptions
    @OptionGroup var output: OutputOptions

    func act(_ backend: any TaskBackend, _ id: TaskID) async throws -> TaskRecord { try await backend.cancel(id) }
}

struct Retry: TaskAction {
    static let configuration = CommandConfiguration(abstract: "Run a finished (failed, cancelled or succeeded) task again.")
    @Argument(help: "The task id.") var id: String
    @OptionGroup var target: TargetOptions
    @OptionGroup var output: OutputOptions

    func act(_ backend: any TaskBackend, _ id: TaskID) async throws -> TaskRecord { try await backend.retry(id) }
}
