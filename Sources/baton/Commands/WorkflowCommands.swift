import ArgumentParser
import BatonClient
import BatonCore
import Foundation
import Yams

/// `baton workflow submit FILE | status ID [--watch] | cancel ID` (docs/workflows.md).
struct WorkflowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "workflow", abstract: "Submit, watch and cancel workflows: tasks linked by dependencies.",
        subcommands: [SubmitWorkflow.self, WorkflowStatus.self, CancelWorkflow.self])

    struct SubmitWorkflow: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "submit", abstract: "Submit a workflow from a JSON or YAML file ('-': standard input).",
            discussion: """
                The file holds named nodes with `after` edges, or chain, group and chord shorthands: \
                {"chain": [{"kind": "extract"}, {"group": [{"kind": "a"}, {"kind": "b"}]}, {"kind": "load"}]}. \
                See docs/workflows.md.
                """)
        @Argument(help: "The workflow file (.json, .yaml or .yml), or - for standard input.") var file: String
        @Flag(help: "Wait until the workflow finishes; exit 1 unless it succeeded.") var wait = false
        @Option(help: "With --wait, give up after this many seconds (exit 7).") var waitTimeout: Double = 3600
        @OptionGroup var target: TargetOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            try await reportingErrors {
                let body = try WorkflowFile.load(file)
                let submission: WorkflowSubmission
                do throws(BatonError) { submission = try WorkflowSpec.compile(body) } catch { throw CLIError.usage(error.message) }
                var record: WorkflowRecord
                switch try await AdminTarget.resolve(target) {
                case .remote(let client): record = try await client.submitWorkflow(body)
                case .local(let store):
                    _ = try await store.taskEnqueueMany(
                        TaskEnqueueParams(tasks: submission.tasks, workflow: submission.workflow, strictUnique: true))
                    guard let stored = try await store.workflowGet(submission.workflow.id) else {
                        throw BatonError(.internal, "the workflow was not stored")
                    }
                    record = stored
                }
                if !wait {
                    print(output.json ? Output.jsonLine(record) : "\(record.id) \(record.state.rawValue) \(record.nodes.count) node(s)")
                    return
                }
                record = try await WorkflowFile.watch(record.id, target: target, timeout: .seconds(waitTimeout), printing: !output.json)
                try WorkflowFile.finish(record, json: output.json)
            }
        }
    }

    struct WorkflowStatus: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "status", abstract: "Show a workflow and the state of each node.")
        @Argument(help: "The workflow id.") var id: String
        @Flag(help: "Print each change until the workflow finishes; exit 1 unless it succeeded.") var watch = false
        @Option(help: "With --watch, give up after this many seconds (exit 7).") var watchTimeout: Double = 3600
        @OptionGroup var target: TargetOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            try await reportingErrors {
                let workflowID = try parseTaskID(id)
                if watch {
                    let record = try await WorkflowFile.watch(
                        workflowID, target: target, timeout: .seconds(watchTimeout), printing: !output.json)
                    try WorkflowFile.finish(record, json: output.json)
                    return
                }
                let record = try await WorkflowFile.get(workflowID, target: target)
                print(output.json ? Output.jsonLine(record) : WorkflowFile.describe(record))
            }
        }
    }

    struct CancelWorkflow: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "cancel", abstract: "Cancel every node of a workflow that has not finished.")
        @Argument(help: "The workflow id.") var id: String
        @OptionGroup var target: TargetOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            try await reportingErrors {
                let workflowID = try parseTaskID(id)
                let record: WorkflowRecord
                switch try await AdminTarget.resolve(target) {
                case .remote(let client): record = try await client.cancelWorkflow(workflowID)
                case .local(let store): record = try await store.workflowCancel(workflowID)
                }
                print(output.json ? Output.jsonLine(record) : WorkflowFile.describe(record))
            }
        }
    }
}

/// Reading workflow files, and showing workflows.
enum WorkflowFile {
    /// The file's JSON, or its YAML as JSON.
    static func load(_ path: String) throws -> JSONValue {
        let data: Data
        if path == "-" {
            data = FileHandle.standardInput.readDataToEndOfFile()
        } else {
            guard let read = FileManager.default.contents(atPath: path) else { throw CLIError.usage("cannot read \(path)") }
            data = read
        }
        let text = String(decoding: data, as: UTF8.self)
        let trimmed = text.drop { $0.isWhitespace }
        if trimmed.first == "{" {
            do throws(BatonError) { try RawJSON.validateSyntax(data) } catch { throw CLIError.usage("\(path): \(error.message)") }
            do {
                return try BatonJSON.decoder().decode(JSONValue.self, from: data)
            } catch {
                throw CLIError.usage("\(path): \(error)")
            }
        }
        let root: Any?
        do {
            root = try Yams.load(yaml: text)
        } catch {
            throw CLIError.usage("\(path) is neither JSON nor valid YAML: \(error)")
        }
        guard let root, root is [String: Any] else { throw CLIError.usage("\(path): expected a mapping (a workflow object)") }
        do {
            let json = try JSONSerialization.data(withJSONObject: YAMLSchedules.jsonSafe(root))
            return try BatonJSON.decoder().decode(JSONValue.self, from: json)
        } catch {
            throw CLIError.usage("\(path): \(error)")
        }
    }

    static func get(_ id: TaskID, target: TargetOptions) async throws -> WorkflowRecord {
        switch try await AdminTarget.resolve(target) {
        case .remote(let client): return try await client.workflow(id)
        case .local(let store):
            guard let record = try await store.workflowGet(id) else { throw BatonError.notFound("workflow \(id) not found") }
            return record
        }
    }

    /// Polls until the workflow finishes or `timeout` passes, printing each node's changes.
    static func watch(_ id: TaskID, target: TargetOptions, timeout: Duration, printing: Bool) async throws -> WorkflowRecord {
        let deadline = ContinuousClock.now.advanced(by: timeout)
        var seen: [TaskID: TaskState] = [:]
        while true {
            let record = try await get(id, target: target)
            if printing {
                for node in record.nodes where seen[node.id] != node.state {
                    seen[node.id] = node.state
                    print("\(node.name) \(node.state.rawValue)\(node.skipped ? " (skipped)" : "")")
                }
            }
            if record.state.isTerminal { return record }
            guard ContinuousClock.now < deadline else {
                throw CLIError(message: "workflow \(id) is still \(record.state.rawValue) after the wait", code: ExitStatus.waitTimedOut)
            }
            try await Task.sleep(for: .milliseconds(200))
        }
    }

    /// Prints the finished workflow; exit 1 unless it succeeded.
    static func finish(_ record: WorkflowRecord, json: Bool) throws {
        print(json ? Output.jsonLine(record) : "workflow \(record.id) \(record.state.rawValue)")
        if record.state != .succeeded {
            throw CLIError(message: "workflow \(record.id) ended \(record.state.rawValue)", code: ExitStatus.taskUnsuccessful)
        }
    }

    static func describe(_ record: WorkflowRecord) -> String {
        var lines = ["workflow \(record.id)\(record.name.map { " (\($0))" } ?? "") \(record.state.rawValue)"]
        var table = [["NODE", "STATE", "KIND", "TASK"]]
        for node in record.nodes {
            table.append([node.name, node.state.rawValue + (node.skipped ? " (skipped)" : ""), node.kind, node.id.description])
        }
        lines.append(formatColumns(table))
        return lines.joined(separator: "\n")
    }
}
