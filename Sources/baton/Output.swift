import BatonCore
import Foundation

/// Human and JSON renderings of tasks for the CLI.
enum Output {
    static func json<T: Encodable>(_ value: T) -> String {
        let encoder = BatonJSON.encoder()
        encoder.outputFormatting.insert(.prettyPrinted)
        return (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }

    /// One JSON object on one line (for `--json` where a script reads a line).
    static func jsonLine<T: Encodable>(_ value: T) -> String {
        (try? BatonJSON.encoder().encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }

    /// A task as one JSON line, with `"duplicate": true` when the submit found it by its unique key.
    static func jsonLine(_ task: TaskRecord, duplicate: Bool) -> String {
        guard duplicate, let data = try? BatonJSON.encoder().encode(task),
            case .object(var fields) = try? JSONDecoder().decode(JSONValue.self, from: data)
        else { return jsonLine(task) }
        fields["duplicate"] = .bool(true)
        return RawJSON(.object(fields)).text
    }

    /// Seconds as a person reads them: `3 s`, `0.5 s`.
    static func seconds(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? "\(Int64(value)) s" : "\(value) s"
    }

    static func describe(_ task: TaskRecord) -> String {
        var lines: [(String, String)] = [
            ("id", task.id.description),
            ("kind", task.kind),
            ("queue", task.queue),
            ("state", task.state.rawValue),
            ("priority", "\(task.priority)"),
            ("attempt", "\(task.attempt) of \(task.maxAttempts)"),
            ("args", task.args.text),
            ("created", BatonJSON.formatDate(task.createdAt)),
            ("run at", BatonJSON.formatDate(task.runAt)),
        ]
        if let started = task.startedAt { lines.append(("started", BatonJSON.formatDate(started))) }
        if let finished = task.finishedAt { lines.append(("finished", BatonJSON.formatDate(finished))) }
        if let owner = task.leaseOwner, task.state == .running { lines.append(("worker", owner)) }
        if let p = task.progress { lines.append(("progress", progress(p, current: task.attempt))) }
        if let result = task.result { lines.append(("result", result.text)) }
        if let error = task.lastError { lines.append(("last error", error)) }
        for e in task.errors { lines.append(("error #\(e.attempt)", e.message)) }
        if !task.tags.isEmpty { lines.append(("tags", task.tags.joined(separator: ", "))) }
        let width = lines.map(\.0.count).max() ?? 0
        return lines.map { $0.0.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + $0.1 }.joined(separator: "\n")
    }

    /// `40% copied 4,000 of 10,000 rows (attempt 2, 2026-12-04T14:00:00.000Z)`.
    static func progress(_ p: TaskProgress, current: Int) -> String {
        var text = String(format: "%.0f%%", p.fraction * 100)
        if let message = p.message, !message.isEmpty { text += " " + message }
        var notes: [String] = []
        if let attempt = p.attempt, attempt != current { notes.append("attempt \(attempt)") }
        if let at = p.at { notes.append(BatonJSON.formatDate(at)) }
        if !notes.isEmpty { text += " (" + notes.joined(separator: ", ") + ")" }
        return text
    }

    static func table(_ tasks: [TaskRecord]) -> String {
        var rows = [["ID", "KIND", "QUEUE", "STATE", "PRIO", "ATTEMPT", "CREATED"]]
        for t in tasks {
            rows.append([
                t.id.description, t.kind, t.queue, t.state.rawValue, "\(t.priority)", "\(t.attempt)/\(t.maxAttempts)",
                BatonJSON.formatDate(t.createdAt),
            ])
        }
        var widths = [Int](repeating: 0, count: rows[0].count)
        for row in rows { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) } }
        return rows.map { row in
            row.enumerated().map { i, cell in i == row.count - 1 ? cell : cell.padding(toLength: widths[i], withPad: " ", startingAt: 0) }
                .joined(separator: "  ")
        }.joined(separator: "\n")
    }
}
