import BatonCore
import Configuration
import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import Yams

/// The settings file as swift-configuration reads it: YAML (swift-configuration's
/// `YAMLSnapshot`), refused whole when it holds a key Baton does not know — a misspelt key
/// is reported with its name, never ignored. The free-form `schedules:` section is left to
/// its own reader (``YAMLSchedules``).
///
/// A file refused while the process runs (a reload) is reported through the parsing options'
/// ``ConfigFileRefusals``; the running settings stay.
struct BatonYAMLSnapshot: FileConfigSnapshot {
    struct ParsingOptions: FileParsingOptions {
        var refusals: ConfigFileRefusals?
        static var `default`: ParsingOptions { ParsingOptions(refusals: nil) }
    }

    /// A settings file Baton refuses.
    struct Refused: Error, CustomStringConvertible {
        var description: String
    }

    private let yaml: YAMLSnapshot

    var providerName: String { yaml.providerName }
    var description: String { yaml.description }
    var debugDescription: String { yaml.debugDescription }

    init(data: RawSpan, providerName: String, parsingOptions: ParsingOptions) throws {
        let text = data.withUnsafeBytes { String(decoding: $0, as: UTF8.self) }
        do {
            yaml = try Self.parse(text, providerName: providerName)
        } catch {
            parsingOptions.refusals?.report(Self.describe(error))
            throw error
        }
    }

    func value(forKey key: AbsoluteConfigKey, type: ConfigType) throws -> LookupResult {
        try yaml.value(forKey: key, type: type)
    }

    static func parse(_ text: String, providerName: String) throws -> YAMLSnapshot {
        let root: Yams.Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch {
            throw Refused(description: "not valid YAML: \(error)")
        }
        guard let root else { return try snapshot(of: "{}", providerName: providerName) }
        guard let mapping = root.mapping else { throw Refused(description: "the file must be a mapping of settings (key: value)") }
        let unknown = unknownKeys(in: mapping, prefix: "")
        if !unknown.isEmpty {
            let named = unknown.map { key in SettingsKeys.suggestion(for: key).map { "\(key) (did you mean \($0)?)" } ?? key }
            throw Refused(
                description: "unknown key\(unknown.count == 1 ? "" : "s") \(named.joined(separator: ", ")); docs/cli.md lists every key")
        }
        guard mapping.keys.contains(where: { $0.string.map(SettingsKeys.sections.contains) == true }) else {
            return try snapshot(of: text, providerName: providerName)
        }
        // Without the sections, whose lists of mappings swift-configuration does not read.
        let settings = Yams.Node.Mapping(mapping.filter { !SettingsKeys.sections.contains($0.key.string ?? "") }.map { ($0.key, $0.value) })
        return try snapshot(of: try Yams.serialize(node: .mapping(settings)), providerName: providerName)
    }

    private static func snapshot(of text: String, providerName: String) throws -> YAMLSnapshot {
        let bytes = Array(text.utf8)
        return try YAMLSnapshot(data: bytes.span.bytes, providerName: providerName, parsingOptions: .default)
    }

    /// The dotted paths of the file's values that are not settings keys, in file order.
    static func unknownKeys(in mapping: Yams.Node.Mapping, prefix: String) -> [String] {
        var unknown: [String] = []
        for (key, value) in mapping {
            let name = key.string ?? "\(key)"
            let path = prefix.isEmpty ? name : "\(prefix).\(name)"
            if prefix.isEmpty && SettingsKeys.sections.contains(name) { continue }
            if SettingsKeys.all.contains(path) { continue }
            if let inner = value.mapping {
                unknown += unknownKeys(in: inner, prefix: path)
            } else {
                unknown.append(path)
            }
        }
        return unknown
    }

    /// A refusal's message without swift-configuration's wrapping.
    static func describe(_ error: any Error) -> String {
        (error as? Refused)?.description ?? "\(error)"
    }
}

/// Where a settings file refused by a reload is reported: logged as an error once the process
/// runs (before that, the refusal stops the command, which reports it itself).
final class ConfigFileRefusals: Sendable {
    private let target = Mutex<(logger: Logger, file: String)?>(nil)

    func arm(_ logger: Logger, file: String) {
        target.withLock { $0 = (logger, file) }
    }

    func report(_ reason: String) {
        guard let (logger, file) = target.withLock({ $0 }) else { return }
        logger.error(
            "config file refused: the running settings stay", metadata: ["file": "\(file)", "reason": "\(reason)"])
    }
}

/// What a reload changes in one component: `prepare` reads and validates the component's
/// settings and returns how to apply them, so that every component checks the new settings
/// before any applies them (a file is refused whole).
struct ReloadTarget: Sendable {
    let prepare: @Sendable (ConfigReader) throws(BatonError) -> @Sendable () -> Void

    /// The process-wide log level (`log.level`), falling back to `fallback` when unset.
    static func logLevel(default fallback: Logger.Level) -> ReloadTarget {
        ReloadTarget { reader throws(BatonError) in
            let level = try SettingsKeys.logLevel(reader) ?? fallback
            return { LogfmtLogHandler.setProcessLevel(level) }
        }
    }
}

/// Applies a reloaded settings file to a running node or worker: a ServiceLifecycle service
/// beside the file's `ReloadingFileProvider`, which re-reads the file every
/// `config.reloadInterval` seconds and on SIGHUP.
///
/// Each time the file changes, every target reads its settings again (flags and `BATON_*`
/// variables still win over the file); if one refuses a value, nothing is applied and the
/// refusal is logged as an error naming the key. Otherwise the reloadable settings that
/// changed are applied and logged (secrets by name only), and a warning names changed
/// settings that need a restart.
struct ConfigReloader: Service {
    static let schedulesKey = "schedules"
    let settings: Settings
    let provider: ReloadingFileProvider<BatonYAMLSnapshot>
    let targets: [ReloadTarget]
    let logger: Logger

    init?(settings: Settings, targets: [ReloadTarget], logger: Logger) {
        guard let provider = settings.reloadingProvider else { return nil }
        self.settings = settings
        self.provider = provider
        self.targets = targets
        self.logger = logger
    }

    /// The file's provider and this reloader, to run in the process's service group (first, so
    /// that they stop last).
    var services: [any Service] { [provider, self] }

    func run() async throws {
        let file = settings.configFile ?? ""
        settings.refusals.arm(logger, file: file)
        let initial = values()
        try await cancelWhenGracefulShutdown {
            try await provider.watchSnapshot { updates in
                var current = initial
                for await _ in updates {
                    current = reload(from: current, file: file)
                }
            }
        }
    }

    /// The text of every key now, and of the `schedules:` section (which needs a restart: a
    /// change to it is named in the warning as `schedules`).
    func values() -> [String: String] {
        var values: [String: String] = [:]
        values[Self.schedulesKey] = (try? YAMLSchedules.load(settings.configFile)).map { "\($0)" } ?? "unreadable"
        for key in SettingsKeys.all {
            let secret = SettingsKeys.secret.contains(key)
            if let text = settings.reader.text(key, isSecret: secret) ?? settings.reader.list(key)?.joined(separator: ",") {
                values[key] = text
            }
        }
        return values
    }

    /// Reads and applies the settings; returns the values now in force.
    func reload(from current: [String: String], file: String) -> [String: String] {
        let next = values()
        let changed = (SettingsKeys.all + [Self.schedulesKey]).filter { current[$0] != next[$0] }.sorted()
        guard !changed.isEmpty else { return current }
        var applies: [@Sendable () -> Void] = []
        do throws(BatonError) {
            for target in targets { applies.append(try target.prepare(settings.reader)) }
        } catch {
            settings.refusals.report(error.message)
            return current
        }
        for apply in applies { apply() }
        let reloaded = changed.filter { SettingsKeys.reloadable.contains($0) }
        let restart = changed.filter { !SettingsKeys.reloadable.contains($0) }
        if !reloaded.isEmpty {
            let shown = reloaded.map { key in SettingsKeys.secret.contains(key) ? "\(key)=<redacted>" : "\(key)=\(next[key] ?? "<default>")"
            }
            logger.info("settings reloaded", metadata: ["file": "\(file)", "changed": "\(shown.joined(separator: " "))"])
        }
        if !restart.isEmpty {
            logger.warning(
                "settings changed that need a restart; the running values stay until then",
                metadata: ["file": "\(file)", "keys": "\(restart.joined(separator: ","))"])
        }
        return next
    }
}
