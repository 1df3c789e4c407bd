import Foundation
import Logging
import Synchronization

/// A swift-log handler writing one logfmt line per message to standard error:
/// `time=… level=info msg="task succeeded" task_id=… kind=echo attempt=1`.
///
/// The handlers that ``bootstrap(level:)`` installs follow the process-wide level, which
/// ``setProcessLevel(_:)`` changes while the process runs (a live reload of `log.level`);
/// a logger whose `logLevel` was set keeps its own.
public struct LogfmtLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    private let label: String
    /// This logger's own level; `nil`: the process-wide level.
    private var ownLevel: Logger.Level?

    private static let lock = Mutex(())
    /// Whether lines are JSON objects instead of logfmt (``setJSON(_:)``).
    private static let json = Atomic<Bool>(false)

    /// Writes every line from now on as one JSON object (`--log-format json`): `time`, `level`,
    /// `msg`, `logger` and the metadata, each a string.
    public static func setJSON(_ on: Bool) { json.store(on, ordering: .relaxed) }

    /// The process-wide level, as an index into `Logger.Level.allCases`.
    private static let processLevel = Atomic<Int>(Logger.Level.allCases.firstIndex(of: .info)!)

    public var logLevel: Logger.Level {
        get { ownLevel ?? Self.currentProcessLevel }
        set { ownLevel = newValue }
    }

    public init(label: String, level: Logger.Level = .info) {
        self.label = label
        self.ownLevel = level
    }

    /// A handler following the process-wide level.
    init(label: String) {
        self.label = label
        self.ownLevel = nil
    }

    /// Installs the handler for the whole process at `level`.
    public static func bootstrap(level: Logger.Level) {
        setProcessLevel(level)
        LoggingSystem.bootstrap { label in LogfmtLogHandler(label: label) }
    }

    /// The level of every logger that follows the process-wide level, from its next message.
    public static func setProcessLevel(_ level: Logger.Level) {
        processLevel.store(Logger.Level.allCases.firstIndex(of: level)!, ordering: .relaxed)
    }

    /// The process-wide level now.
    public static var currentProcessLevel: Logger.Level {
        Logger.Level.allCases[processLevel.load(ordering: .relaxed)]
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        if Self.json.load(ordering: .relaxed) { return logJSON(event: event) }
        var line = "time=\(Self.timestamp()) level=\(event.level.rawValue) msg=\(Self.quote(event.message.description))"
        line += " logger=\(Self.quote(label))"
        var fields = metadata
        if let provided = metadataProvider?.get() { fields.merge(provided) { $1 } }
        if let extra = event.metadata { fields.merge(extra) { $1 } }
        for key in fields.keys.sorted() {
            line += " \(key)=\(Self.quote(Self.flatten(fields[key]!)))"
        }
        line += "\n"
        Self.lock.withLock { _ in
            FileHandle.standardError.write(Data(line.utf8))
        }
    }

    private func logJSON(event: LogEvent) {
        var fields: [String: String] = [:]
        var metadata = self.metadata
        if let provided = metadataProvider?.get() { metadata.merge(provided) { $1 } }
        if let extra = event.metadata { metadata.merge(extra) { $1 } }
        for (key, value) in metadata { fields[key] = Self.flatten(value) }
        fields["time"] = Self.timestamp()
        fields["level"] = event.level.rawValue
        fields["msg"] = event.message.description
        fields["logger"] = label
        let head = ["time", "level", "msg", "logger"]
        let keys = head + fields.keys.filter { !head.contains($0) }.sorted()
        var line = "{"
        for (i, key) in keys.enumerated() {
            if i > 0 { line += "," }
            line += RawJSON.quoted(key) + ":" + RawJSON.quoted(fields[key]!)
        }
        line += "}\n"
        Self.lock.withLock { _ in
            FileHandle.standardError.write(Data(line.utf8))
        }
    }

    static func timestamp() -> String {
        Date().formatted(.iso8601.year().month().day().time(includingFractionalSeconds: true).timeZone(separator: .omitted))
    }

    static func flatten(_ value: Logger.Metadata.Value) -> String {
        switch value {
        case .string(let s): return s
        case .stringConvertible(let c): return c.description
        case .array(let items): return items.map(flatten).joined(separator: ",")
        case .dictionary(let dict): return dict.keys.sorted().map { "\($0):\(flatten(dict[$0]!))" }.joined(separator: ",")
        }
    }

    /// Quotes a value when it has spaces, quotes, `=` or is empty, as logfmt readers expect.
    static func quote(_ s: String) -> String {
        if !s.isEmpty && !s.contains(where: { $0 == " " || $0 == "\"" || $0 == "=" || $0 == "\n" || $0 == "\\" }) {
            return s
        }
        var out = "\""
        for ch in s {
            switch ch {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            default: out.append(ch)
            }
        }
        return out + "\""
    }
}
