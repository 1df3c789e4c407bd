import BatonAMQPBroker
import BatonCore
import BatonNode
import BatonPostgres
import BatonRedisBroker
import BatonSQLite
import BatonSQSBroker
import BatonServer
import BatonWorker
import Configuration
import Foundation
import Logging
import SystemPackage

/// One set of settings from flags, `BATON_*` environment variables and an optional YAML file
/// (`--config` or `BATON_CONFIG`), in that precedence, composed here as swift-configuration
/// providers. Each component reads its own keys from the reader (`NodeConfiguration(reader:)`,
/// `ServerConfiguration(reader:)`, `WorkerConfiguration(reader:)`, `HTTPKindConfiguration(reader:)`,
/// `SQLiteStoreConfiguration(path:reader:)`, `PostgresStoreConfiguration(url:reader:)`); the
/// CLI reads only its own keys (``SettingsKeys/cli``). docs/cli.md lists every key.
///
/// A node or worker given a settings file re-reads it every `config.reloadInterval` seconds
/// (and on SIGHUP) through swift-configuration's `ReloadingFileProvider`; ``ConfigReloader``
/// applies what changed.
struct Settings {
    let reader: ConfigReader
    /// The YAML file read, if any (for sections swift-configuration cannot enumerate, e.g. `schedules:`).
    var configFile: String? = nil
    /// The file's provider when it reloads: a service to run beside the node or worker.
    var reloadingProvider: ReloadingFileProvider<BatonYAMLSnapshot>? = nil
    /// Where a refused file is reported once the process runs.
    var refusals = ConfigFileRefusals()

    /// Builds the reader: `flags` first, then the environment, then the YAML file. With
    /// `reloading`, the file is watched (unless `config.reloadInterval` is 0).
    static func load(flags: [String: String?], configFile: String?, reloading: Bool = false) async throws -> Settings {
        var values: [AbsoluteConfigKey: ConfigValue] = [:]
        for (key, value) in flags {
            guard let value else { continue }
            values[AbsoluteConfigKey(key.split(separator: ".").map(String.init))] = ConfigValue(
                .string(value), isSecret: SettingsKeys.secret.contains(key))
        }
        let front: [any ConfigProvider] = [
            InMemoryProvider(name: "flags", values: values),
            KeyMappingProvider(upstream: EnvironmentVariablesProvider(secretsSpecifier: .specific(["BATON_TOKEN", "BATON_AUTH_TOKENS"]))) {
                key in key.prepending(["baton"])
            },
        ]
        let file = configFile ?? ProcessInfo.processInfo.environment["BATON_CONFIG"]
        guard let file else { return Settings(reader: ConfigReader(providers: front)) }
        guard FileManager.default.isReadableFile(atPath: file) else {
            throw CLIError.usage("cannot read the config file \(file)")
        }
        let fixed: FileProvider<BatonYAMLSnapshot>
        do {
            fixed = try await FileProvider<BatonYAMLSnapshot>(filePath: FilePath(file))
        } catch {
            throw CLIError.usage("the config file \(file) is refused: \(BatonYAMLSnapshot.describe(error))")
        }
        let reader = ConfigReader(providers: front + [fixed])
        let interval: Duration
        do throws(BatonError) {
            interval = try reader.seconds("config.reloadInterval", default: SettingsKeys.defaultReloadInterval)
        } catch {
            throw CLIError.usage(error.message)
        }
        guard reloading, interval > .zero else { return Settings(reader: reader, configFile: file) }
        let refusals = ConfigFileRefusals()
        let provider: ReloadingFileProvider<BatonYAMLSnapshot>
        do {
            provider = try await ReloadingFileProvider<BatonYAMLSnapshot>(
                parsingOptions: .init(refusals: refusals), filePath: FilePath(file), pollInterval: interval,
                logger: Logger(label: "baton.config"))
        } catch {
            throw CLIError.usage("the config file \(file) is refused: \(BatonYAMLSnapshot.describe(error))")
        }
        return Settings(
            reader: ConfigReader(providers: front + [provider]), configFile: file, reloadingProvider: provider, refusals: refusals)
    }

    /// The text of `key`, `nil` when unset or blank (secrets are never logged).
    func string(_ key: String) -> String? {
        reader.text(key, isSecret: SettingsKeys.secret.contains(key))
    }

    func list(_ key: String) -> [String]? { reader.list(key) }

    /// Runs a component's `init(reader:)`, turning its error into a usage error.
    func read<T>(_ make: (ConfigReader) throws(BatonError) -> T) throws(CLIError) -> T {
        do throws(BatonError) { return try make(reader) } catch { throw CLIError.usage(error.message) }
    }

    func logLevel() throws -> Logger.Level? { try read(SettingsKeys.logLevel) }
}

/// Every settings key, by who reads it.
enum SettingsKeys {
    static let defaultReloadInterval: Duration = .seconds(10)

    /// The CLI's own keys: where to act, the log level, the worker's client side, the `file`
    /// kind's root, the reload interval.
    static let cli =
        [
            "store", "log.level", "log.format", "server", "token", "caFile", "files.root", "config.reloadInterval", "metrics.port",
            "metrics.host",
        ]
        + TraceSetup.keys

    /// Every key a settings file may hold (besides the free-form `schedules:` section).
    static let all: Set<String> = Set(
        cli + NodeConfiguration.configKeys + NodeConfiguration.startupKeys + ServerConfiguration.configKeys + WorkerConfiguration.configKeys
            + HTTPKindConfiguration.configKeys + SQLiteStoreConfiguration.configKeys + PostgresStoreConfiguration.configKeys
            + SQSBrokerConfiguration.configKeys + RedisBrokerConfiguration.configKeys + AMQPBrokerConfiguration.configKeys)

    /// The keys a running node or worker applies without a restart.
    static let reloadable: Set<String> = Set(["log.level"] + NodeConfiguration.configKeys)
        .union(ServerConfiguration.reloadableKeys).union(WorkerConfiguration.reloadableKeys)

    /// Keys whose values are never logged.
    static let secret: Set<String> = ServerConfiguration.secretKeys.union(["token", "redis.url", "amqp.url"])

    /// Top-level sections of the file that are not settings keys (read by their own code).
    static let sections: Set<String> = ["schedules"]

    /// `log.level`: trace, debug, info, notice, warning, error, critical; `nil` when unset.
    static func logLevel(_ reader: ConfigReader) throws(BatonError) -> Logger.Level? {
        guard let text = reader.text("log.level") else { return nil }
        guard let level = Logger.Level(rawValue: text.lowercased()) else {
            throw .invalidArgument("log.level must be one of trace, debug, info, notice, warning, error, critical; got '\(text)'")
        }
        return level
    }

    /// `metrics.port` (`baton worker`): where to serve the worker's metrics; `nil` when unset.
    static func metricsPort(_ reader: ConfigReader) throws(BatonError) -> Int? {
        guard let text = reader.text("metrics.port") else { return nil }
        guard let port = Int(text), (0...65535).contains(port) else {
            throw .invalidArgument("metrics.port must be a port number from 0 to 65535; got '\(text)'")
        }
        return port
    }

    /// `log.format`: `logfmt` (default) or `json`; whether it is JSON.
    static func logFormatIsJSON(_ reader: ConfigReader) throws(BatonError) -> Bool {
        switch reader.text("log.format")?.lowercased() {
        case nil, "logfmt": return false
        case "json": return true
        case let other?: throw .invalidArgument("log.format must be logfmt or json; got '\(other)'")
        }
    }

    /// The known key nearest to `key` (a likely misspelling), if one is close.
    static func suggestion(for key: String) -> String? {
        let best = all.map { ($0, distance(key.lowercased(), $0.lowercased())) }.min { ($0.1, $0.0) < ($1.1, $1.0) }
        guard let best, best.1 <= max(2, key.count / 4) else { return nil }
        return best.0
    }

    /// Levenshtein distance.
    static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a)
        let b = Array(b)
        var row = Array(0...b.count)
        for i in 1...max(1, a.count) where !a.isEmpty {
            var previous = row[0]
            row[0] = i
            for j in stride(from: 1, through: b.count, by: 1) {
                let substitution = previous + (a[i - 1] == b[j - 1] ? 0 : 1)
                previous = row[j]
                row[j] = min(row[j] + 1, row[j - 1] + 1, substitution)
            }
        }
        return a.isEmpty ? b.count : row[b.count]
    }
}
