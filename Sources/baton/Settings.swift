import BatonCore
import Configuration
import Foundation
import Logging
import SystemPackage

/// One set of settings from flags, `BATON_*` environment variables and an optional YAML file
/// (`--config`), in that precedence.
///
/// Keys (YAML path → environment variable):
/// - `store` → `BATON_STORE`: `sqlite:PATH` (PostgreSQL URLs come with the PostgreSQL store)
/// - `sqlite.synchronous` → `BATON_SQLITE_SYNCHRONOUS`: `normal` (default) or `full`
/// - `log.level` → `BATON_LOG_LEVEL`: trace, debug, info (default), notice, warning, error, critical
/// - `http.host` → `BATON_HTTP_HOST` (default 127.0.0.1), `http.port` → `BATON_HTTP_PORT` (default 8080)
/// - `worker.concurrency` → `BATON_WORKER_CONCURRENCY` (default 16)
/// - `worker.queues` → `BATON_WORKER_QUEUES` (comma list, default `default`)
/// - `worker.kinds` → `BATON_WORKER_KINDS` (comma list, default: every registered kind)
/// - `worker.id` → `BATON_WORKER_ID`
/// - `worker.lease` → `BATON_WORKER_LEASE` (seconds, default 30)
/// - `worker.shutdownGrace` → `BATON_WORKER_SHUTDOWN_GRACE` (seconds, default 30)
/// - `node.fallbackPoll` → `BATON_NODE_FALLBACK_POLL` (seconds, default 1)
/// - `node.retention` → `BATON_NODE_RETENTION` (seconds, default 7 days)
/// - `node.rescueInterval` → `BATON_NODE_RESCUE_INTERVAL` (seconds, default 5)
/// - `retry.policy` → `BATON_RETRY_POLICY`: the node's retry policy for tasks and kinds that set
///   none: `exponential` (default), `fibonacci`, `fixed` or `none`; `retry.backoff` (base
///   seconds, default 1) and `retry.cap` (seconds, default 3600)
/// - `files.root` → `BATON_FILES_ROOT`: directory the `file` kind may use (unset: `file` is disabled)
/// - `httpKind.allowlist` → `BATON_HTTP_KIND_ALLOWLIST`: hosts and networks (CIDR) the `http` kind may
///   reach although they are not public; also `httpKind.maxResponseBytes`, `httpKind.timeout`,
///   `httpKind.maxRedirects`
/// - `server` → `BATON_SERVER`: node URL(s) for the CLI and remote workers (comma list)
/// - `token` → `BATON_TOKEN`: bearer token (secret; never logged)
/// - `auth.tokens` → `BATON_AUTH_TOKENS`: the node's tokens, a comma list of `role:token`
///   (roles producer, worker, admin; secret)
/// - `insecure` → `BATON_INSECURE`: let a node on a non-loopback address run without tokens
/// - `limits.maxArgsBytes` → `BATON_LIMITS_MAX_ARGS_BYTES` (default 1 MiB),
///   `limits.maxBodyBytes` → `BATON_LIMITS_MAX_BODY_BYTES` (default 16 MiB),
///   `limits.maxBatch` → `BATON_LIMITS_MAX_BATCH` (default 10,000),
///   `limits.maxWait` → `BATON_LIMITS_MAX_WAIT` (seconds, default 60)
/// - `tls.cert`, `tls.key` → `BATON_TLS_CERT`, `BATON_TLS_KEY`: PEM files; the node serves HTTPS
/// - `caFile` → `BATON_CA_FILE`: PEM CA certificates the CLI and workers trust for https nodes
struct Settings {
    let reader: ConfigReader
    /// The YAML file read, if any (for sections swift-configuration cannot enumerate, e.g. `schedules:`).
    var configFile: String? = nil

    /// Builds the reader: `flags` first, then the environment, then the YAML file.
    static func load(flags: [String: String?], configFile: String?) async throws -> Settings {
        var values: [AbsoluteConfigKey: ConfigValue] = [:]
        for (key, value) in flags {
            guard let value else { continue }
            values[AbsoluteConfigKey(key.split(separator: ".").map(String.init))] = ConfigValue(
                .string(value), isSecret: Settings.isSecret(key))
        }
        var providers: [any ConfigProvider] = [
            InMemoryProvider(name: "flags", values: values),
            KeyMappingProvider(upstream: EnvironmentVariablesProvider(secretsSpecifier: .specific(["BATON_TOKEN"]))) { key in
                key.prepending(["baton"])
            },
        ]
        let file = configFile ?? ProcessInfo.processInfo.environment["BATON_CONFIG"]
        if let file {
            guard FileManager.default.isReadableFile(atPath: file) else {
                throw CLIError.usage("cannot read the config file \(file)")
            }
            do {
                providers.append(try await FileProvider<YAMLSnapshot>(filePath: FilePath(file)))
            } catch {
                throw CLIError.usage("the config file \(file) is not valid YAML: \(error)")
            }
        }
        return Settings(reader: ConfigReader(providers: providers), configFile: file)
    }

    /// Keys whose values are never logged.
    static func isSecret(_ key: String) -> Bool { key == "token" || key == "auth.tokens" }

    func string(_ key: String) -> String? {
        reader.string(forKey: ConfigKey(key.split(separator: ".").map(String.init)), isSecret: Settings.isSecret(key))
            .flatMap { $0.isEmpty ? nil : $0 }
    }

    func int(_ key: String, default value: Int, range: ClosedRange<Int>) throws -> Int {
        guard let text = string(key) else { return value }
        guard let n = Int(text.trimmingCharacters(in: .whitespaces)), range.contains(n) else {
            throw CLIError.usage("\(key) must be a whole number in \(range.lowerBound)...\(range.upperBound), got '\(text)'")
        }
        return n
    }

    func seconds(_ key: String, default value: Duration, minimum: Double = 0) throws -> Duration {
        guard let text = string(key) else { return value }
        guard let s = Double(text.trimmingCharacters(in: .whitespaces)), s.isFinite, s >= minimum else {
            throw CLIError.usage("\(key) must be a number of seconds ≥ \(minimum), got '\(text)'")
        }
        return .seconds(s)
    }

    func list(_ key: String) -> [String]? {
        guard let text = string(key) else { return nil }
        let items = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        return items.isEmpty ? nil : items
    }

    /// The node's global retry policy.
    func retryPolicy() throws -> RetryPolicy {
        guard string("retry.policy") != nil || string("retry.backoff") != nil || string("retry.cap") != nil else { return .default }
        let base = try string("retry.backoff").map { text -> Double in
            guard let v = Double(text) else { throw CLIError.usage("retry.backoff must be a number of seconds, got '\(text)'") }
            return v
        }
        let cap = try string("retry.cap").map { text -> Double in
            guard let v = Double(text) else { throw CLIError.usage("retry.cap must be a number of seconds, got '\(text)'") }
            return v
        }
        do throws(BatonError) {
            return try RetryPolicy.named(string("retry.policy") ?? "exponential", base: base, cap: cap)
        } catch {
            throw CLIError.usage("retry.policy: \(error.message)")
        }
    }

    func logLevel() throws -> Logger.Level? {
        guard let text = string("log.level") else { return nil }
        guard let level = Logger.Level(rawValue: text.lowercased()) else {
            throw CLIError.usage("log level must be one of trace, debug, info, notice, warning, error, critical; got '\(text)'")
        }
        return level
    }
}
