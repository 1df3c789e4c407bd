import ArgumentParser
import BatonClient
import BatonCore
import Foundation

/// `baton watch`: a node's events as they happen (`GET /v1/events`), one line each.
struct Watch: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print a node's events as they happen: submits, claims, state changes, progress, rescues, schedule fires.",
        discussion: """
            Reconnects after a dropped connection and resumes after the last event it printed; a line \
            `gap` says that events were lost meanwhile (the node restarted, the reader fell behind, or, \
            on PostgreSQL, the id is older than the event window or a node began publishing only then). \
            On PostgreSQL the stream holds the events of every node of the cluster, and resumes on any node.
            """)
    @Option(help: "Only events of this queue's tasks.") var queue: String?
    @Option(help: "Only events of this kind's tasks.") var kind: String?
    @Option(help: "Only events of this task.") var task: String?
    @Option(help: "Only events of this workflow's tasks.") var workflow: String?
    @Option(help: "Stop after this many seconds (default: until interrupted).") var timeout: Double?
    @OptionGroup var target: TargetOptions
    @OptionGroup var output: OutputOptions

    func run() async throws {
        try await reportingErrors {
            if let timeout, !(timeout.isFinite && timeout >= 0) { throw CLIError.usage("--timeout must be a number of seconds") }
            guard case .remote(let client) = try await AdminTarget.resolve(target) else {
                throw CLIError.usage("baton watch needs a running node: give --server (events are a node's, not a store's)")
            }
            let filter = EventStreamFilter(
                queue: queue, kind: kind, task: try task.map(parseTaskID), workflow: try workflow.map(parseTaskID))
            let deadline = timeout.map { ContinuousClock.now + .seconds($0) }
            var last: String?
            while true {
                let remaining = deadline.map { ($0 - ContinuousClock.now).seconds }
                if let remaining, remaining <= 0 { return }
                do {
                    for try await event in client.events(filter, lastEventID: last, timeout: remaining) {
                        if let id = event.id { last = id }
                        // Unbuffered: each line shows as it happens, also through a pipe.
                        FileHandle.standardOutput.write(Data(((output.json ? Self.jsonLine(event) : Self.line(event)) + "\n").utf8))
                    }
                } catch let error as BatonError where error.code == .unavailable {
                    FileHandle.standardError.write(Data("baton watch: \(error.message); reconnecting\n".utf8))
                }
                if let deadline, ContinuousClock.now >= deadline { return }
                try await Task.sleep(for: .seconds(1))
            }
        }
    }

    /// `{"id": …, "type": …, "data": {…}}`.
    static func jsonLine(_ event: ServerEvent) -> String {
        var object: [String: JSONValue] = ["type": .string(event.type), "data": event.json ?? .string(event.data)]
        if let id = event.id { object["id"] = .string(id) }
        return Output.jsonLine(JSONValue.object(object))
    }

    /// `14:00:01.123  succeeded  01a2…  kind=email.send queue=default attempt=1 run_ms=12`.
    static func line(_ event: ServerEvent) -> String {
        let time = BatonJSON.formatDate(Date())
        guard case .object(var data)? = event.json else { return "\(time)  \(event.type)  \(event.data)" }
        var headline = event.type
        if event.type == "transitioned", let to = data.removeValue(forKey: "to")?.stringValue {
            let from = data.removeValue(forKey: "from")?.stringValue
            headline = from.map { "\($0)→\(to)" } ?? to
        }
        var parts = [time, headline]
        if let task = data.removeValue(forKey: "task")?.stringValue { parts.append(task) }
        let rest = data.keys.sorted().map { key -> String in
            let value = data[key]!
            return "\(key)=\(value.stringValue ?? Output.jsonLine(value))"
        }
        return (parts + rest).joined(separator: "  ")
    }
}
