/// A settings key (`worker.queues`) as the two places outside the command line spell it: its
/// `BATON_*` environment variable and a YAML settings file.
public enum SettingsKeyText {
    /// `limits.maxBatch` → `BATON_LIMITS_MAX_BATCH`.
    public static func environmentVariable(_ key: String) -> String {
        var name = "BATON"
        for component in key.split(separator: ".") {
            name += "_"
            var previous: Character?
            for c in component {
                if let p = previous, p.isLowercase, c.isUppercase { name += "_" }
                name += c.uppercased()
                previous = c
            }
        }
        return name
    }

    /// `worker.queues`, `mail` → `worker:\n  queues: "mail"\n`.
    public static func yaml(_ key: String, _ value: String) -> String {
        let parts = key.split(separator: ".")
        var text = ""
        for (depth, part) in parts.enumerated() {
            text += String(repeating: "  ", count: depth) + part + ":"
            text += depth == parts.count - 1 ? " \"\(value)\"\n" : "\n"
        }
        return text
    }

    /// Several settings of one or two levels (`store`, `worker.queues`) as one YAML file, keys
    /// of a section together.
    public static func yaml(_ settings: [(key: String, value: String)]) -> String {
        var text = ""
        var section: Substring?
        for (key, value) in settings.sorted(by: { $0.key < $1.key }) {
            let parts = key.split(separator: ".", maxSplits: 1)
            guard parts.count == 2 else {
                text += "\(key): \"\(value)\"\n"
                section = nil
                continue
            }
            if parts[0] != section {
                text += "\(parts[0]):\n"
                section = parts[0]
            }
            text += "  \(parts[1]): \"\(value)\"\n"
        }
        return text
    }
}
