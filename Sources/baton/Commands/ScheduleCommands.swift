import ArgumentParser
import BatonClient
import BatonCore
import Foundation
import Yams

/// What the schedule and queue commands act on: a node over HTTP, or the database directly.
enum AdminTarget {
    case remote(BatonClient)
    case local(any NodeStore)

    /// Same rules as the task commands (`TargetOptions`).
    static func resolve(_ target: TargetOptions) async throws -> AdminTarget {
        let (backend, _) = try await target.backend()
        if let remote = backend as? RemoteBackend { return .remote(remote.client) }
        if let local = backend as? LocalBackend { return .local(local.store) }
        throw CLIError.usage("no target")
    }

    /// Each schedule with its next fire times.
    func schedule(_ name: String) async throws -> (ScheduleRecord, [Date]) {
        switch self {
        case .remote(let client):
            let info = try await client.scheduleGet(name)
            return (info.record, info.next)
        case .local(let store):
            guard let record = try await store.scheduleGet(name) else {
                throw BatonError.notFound("schedule '\(name)' not found")
            }
            return (record, record.next(5, after: try await store.now()))
        }
    }
}

struct ScheduleCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schedule", abstract: "Manage schedules: tasks submitted on a cron rule or an interval.",
        subcommands: [Add.self, ScheduleList.self, Show.self, Remove.self, Pause.self, Resume.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a schedule (or replace one with --replace).",
            discussion: "Example: baton schedule add nightly --cron '0 3 * * *' --timezone Europe/Paris report --args '{\"x\":1}'")
        @Argument(help: "The schedule's name (letters, digits and . _ - : /).") var name: String
        @Argument(help: "The kind of task each tick submits.") var kind: String
        @Option(help: "A cron rule: 5 fields, or 6 with seconds first, or @daily etc.") var cron: String?
        @Option(help: "An interval such as 30s, 5m or 1h30m.") var every: String?
        @Option(help: "IANA time zone of the cron rule.") var timezone: String = "UTC"
        @Option(help: "Missed ticks: skip, once or catch-up.") var misfire: String = "skip"
        @Option(help: "Arguments as JSON.") var args: String = "{}"
        @Option(help: "Queue name.") var queue: String = Defaults.queue
        @Option(help: "Priority 1–10, higher runs first.") var priority: Int = Defaults.priority
        @Flag(help: "Replace a schedule of that name instead of failing.") var replace = false
        @OptionGroup var target: TargetOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            try await reportingErrors {
                let parsedArgs: RawJSON
                do throws(BatonError) { parsedArgs = try RawJSON(validating: args) } catch {
                    throw CLIError.usage("--args: \(error.message)")
                }
                let definition = ScheduleDefinition(
                    name: name, cron: cron, every: every, timezone: timezone, misfire: misfire,
                    task: NewTask(kind: kind, args: parsedArgs, queue: queue, priority: priority))
                do throws(BatonError) { try definition.validate() } catch { throw CLIError.usage(error.message) }
                let record: ScheduleRecord
                let next: [Date]
                switch try await AdminTarget.resolve(target) {
                case .remote(let client):
                    let info = try await client.scheduleUpsert(definition, replace: replace)
                    (record, next) = (info.record, info.next)
                case .local(let store):
                    record = try await store.scheduleUpsert(ScheduleUpsertParams(definition: definition, replace: replace))
                    next = record.next(5, after: try await store.now())
                }
                print(output.json ? Output.jsonLine(record) : "\(record.name) next \(next.first.map(BatonJSON.formatDate) ?? "never")")
            }
        }
    }

    struct ScheduleList: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "List schedules.")
        @OptionGroup var target: TargetOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            try await reportingErrors {
                var rows: [(ScheduleRecord, [Date])] = []
                switch try await AdminTarget.resolve(target) {
                case .remote(let client):
                    rows = try await client.scheduleList().map { ($0.record, $0.next) }
                case .local(let store):
                    let now = try await store.now()
                    rows = try await store.scheduleList().map { ($0, $0.next(1, after: now)) }
                }
                if output.json {
                    print(Output.jsonLine(rows.map(\.0)))
                    return
                }
                var table = [["NAME", "RULE", "TIMEZONE", "MISFIRE", "KIND", "QUEUE", "PAUSED", "NEXT"]]
                for (r, next) in rows {
                    let d = r.definition
                    table.append([
                        d.name, d.cron.map { "cron \($0)" } ?? "every \(d.every ?? "")", d.timezone, d.misfire, d.task.kind, d.task.queue,
                        r.paused ? "yes" : "no", next.first.map(BatonJSON.formatDate) ?? "-",
                    ])
                }
                print(formatColumns(table))
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a schedule and its next 5 fire times.")
        @Argument(help: "The schedule's name.") var name: String
        @OptionGroup var target: TargetOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            try await reportingErrors {
                let (r, next) = try await AdminTarget.resolve(target).schedule(name)
                if output.json {
                    print(Output.jsonLine(r))
                    return
                }
                let d = r.definition
                print("name:       \(d.name)")
                print("rule:       \(d.cron.map { "cron \($0)" } ?? "every \(d.every ?? "")")")
                print("timezone:   \(d.timezone)")
                print("misfire:    \(d.misfire)")
                print("task:       \(d.task.kind) queue=\(d.task.queue) priority=\(d.task.priority) args=\(d.task.args.text)")
                print("paused:     \(r.paused ? "yes" : "no")")
                print("last fired: \(r.lastFired.map(BatonJSON.formatDate) ?? "never")")
                for t in next { print("next:       \(BatonJSON.formatDate(t))") }
            }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a schedule (its submitted tasks stay).")
        @Argument(help: "The schedule's name.") var name: String
        @OptionGroup var target: TargetOptions

        func run() async throws {
            try await reportingErrors {
                switch try await AdminTarget.resolve(target) {
                case .remote(let client): try await client.scheduleDelete(name)
                case .local(let store): try await store.scheduleDelete(name)
                }
                print("\(name) removed")
            }
        }
    }

    struct Pause: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Pause a schedule: no ticks fire until it is resumed.")
        @Argument(help: "The schedule's name.") var name: String
        @OptionGroup var target: TargetOptions

        func run() async throws {
            try await reportingErrors { try await ScheduleCommand.setPaused(name, true, target) }
        }
    }

    struct Resume: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Resume a paused schedule (missed ticks follow its misfire policy).")
        @Argument(help: "The schedule's name.") var name: String
        @OptionGroup var target: TargetOptions

        func run() async throws {
            try await reportingErrors { try await ScheduleCommand.setPaused(name, false, target) }
        }
    }

    static func setPaused(_ name: String, _ paused: Bool, _ target: TargetOptions) async throws {
        switch try await AdminTarget.resolve(target) {
        case .remote(let client): _ = try await client.scheduleSetPaused(name, paused: paused)
        case .local(let store): _ = try await store.scheduleSetPaused(name, paused: paused)
        }
        print("\(name) \(paused ? "paused" : "resumed")")
    }
}

/// Rows as aligned columns (the first row is the header).
func formatColumns(_ rows: [[String]]) -> String {
    var widths = [Int](repeating: 0, count: rows.first?.count ?? 0)
    for row in rows { for (i, cell) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], cell.count) } }
    return rows.map { row in
        row.enumerated().map { i, cell in i == row.count - 1 ? cell : cell.padding(toLength: widths[i], withPad: " ", startingAt: 0) }
            .joined(separator: "  ")
    }.joined(separator: "\n")
}

/// The `schedules:` section of the YAML settings file: name → {cron | every, timezone,
/// misfire, task: {kind, args, queue, priority, …}}, upserted (replaced) at node start.
enum YAMLSchedules {
    static func load(_ file: String?) throws -> [ScheduleDefinition] {
        guard let file, let text = try? String(contentsOfFile: file, encoding: .utf8) else { return [] }
        let root: Any?
        do {
            root = try Yams.load(yaml: text)
        } catch {
            throw CLIError.usage("the config file \(file) is not valid YAML: \(error)")
        }
        guard let section = (root as? [String: Any])?["schedules"] else { return [] }
        guard let schedules = section as? [String: Any] else {
            throw CLIError.usage("schedules: expected a mapping of name to schedule")
        }
        var result: [ScheduleDefinition] = []
        for (name, value) in schedules.sorted(by: { $0.key < $1.key }) {
            guard var body = value as? [String: Any] else { throw CLIError.usage("schedules.\(name): expected a mapping") }
            body["name"] = name
            do {
                let data = try JSONSerialization.data(withJSONObject: jsonSafe(body))
                let definition = try BatonJSON.decoder().decode(ScheduleDefinition.self, from: data)
                try definition.validate()
                result.append(definition)
            } catch let error as BatonError {
                throw CLIError.usage("schedules.\(name): \(error.message)")
            } catch {
                throw CLIError.usage("schedules.\(name): \(error)")
            }
        }
        return result
    }

    /// YAML values as JSONSerialization accepts them (dates as text).
    static func jsonSafe(_ value: Any) -> Any {
        switch value {
        case let map as [String: Any]: return map.mapValues(jsonSafe)
        case let list as [Any]: return list.map(jsonSafe)
        case let date as Date: return BatonJSON.formatDate(date)
        default: return value
        }
    }
}
