import ArgumentParser
import BatonCore

/// Options every command takes.
struct CommonOptions: ParsableArguments {
    @Option(help: "A YAML settings file (also BATON_CONFIG). Flags win over BATON_* variables, which win over the file.")
    var config: String?

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical (BATON_LOG_LEVEL).")
    var logLevel: String?

    @Option(help: "Log lines as logfmt (default) or json, one object per line (BATON_LOG_FORMAT).")
    var logFormat: String?

    @Option(help: "The store: sqlite:PATH, or postgres://user:password@host:port/database?schema=NAME (BATON_STORE).")
    var store: String?

    @Option(help: "SQLite database file; shorthand for --store sqlite:PATH.")
    var db: String?

    @Option(help: "SQLite durability: normal (default; WAL, survives process crashes) or full (also survives power loss).")
    var synchronous: String?

    var flags: [String: String?] {
        [
            "log.level": logLevel,
            "log.format": logFormat,
            "store": store ?? db.map { "sqlite:\($0)" },
            "sqlite.synchronous": synchronous,
        ]
    }

    func validate() throws {
        if store != nil && db != nil { throw ValidationError("give --store or --db, not both") }
        if let db, db.isEmpty { throw ValidationError("--db needs a file path") }
    }

    /// Loads the settings with these flags plus `extra` (command-specific flags); with
    /// `reloading` (a node or a worker), the settings file is watched for changes.
    func settings(_ extra: [String: String?] = [:], reloading: Bool = false) async throws -> Settings {
        let settings = try await Settings.load(flags: flags.merging(extra) { $1 }, configFile: config, reloading: reloading)
        LogfmtLogHandler.setJSON(try settings.read(SettingsKeys.logFormatIsJSON))
        return settings
    }
}

/// Options of the commands that print tasks.
struct OutputOptions: ParsableArguments {
    @Flag(help: "Print JSON instead of text (for scripts).")
    var json = false
}
