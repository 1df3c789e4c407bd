import Foundation

/// AWS's shared files and the profile to read from them, as the AWS CLI and SDKs find them:
///
/// - the credentials file: `AWS_SHARED_CREDENTIALS_FILE`, by default `~/.aws/credentials`,
///   whose sections are named by the profile (`[default]`, `[ci]`);
/// - the config file: `AWS_CONFIG_FILE`, by default `~/.aws/config`, whose sections are
///   `[default]` and `[profile NAME]`;
/// - the profile: `AWS_PROFILE`, by default `default`.
///
/// `~` is the environment's `HOME`. Keys are read case-insensitively; `#` and `;` start a
/// comment line; indented lines (sub-settings such as `s3 =` blocks) are skipped.
public struct AWSSharedFiles: Sendable, Hashable {
    public var credentialsPath: String
    public var configPath: String
    public var profile: String
    /// Whether the profile was named (`AWS_PROFILE`), so that its absence is an error rather
    /// than "no profile configured".
    public var profileIsExplicit: Bool

    public init(environment: [String: String] = ProcessInfo.processInfo.environment, profile: String? = nil) {
        let home = environment.nonEmpty("HOME") ?? NSHomeDirectory()
        func expand(_ path: String) -> String {
            if path == "~" { return home }
            if path.hasPrefix("~/") { return home + path.dropFirst(1) }
            return path
        }
        credentialsPath = expand(environment.nonEmpty("AWS_SHARED_CREDENTIALS_FILE") ?? "~/.aws/credentials")
        configPath = expand(environment.nonEmpty("AWS_CONFIG_FILE") ?? "~/.aws/config")
        let named = profile ?? environment.nonEmpty("AWS_PROFILE")
        self.profile = named ?? "default"
        profileIsExplicit = named != nil
    }

    /// The profile's settings in the credentials file (`[NAME]`), or `nil` when the file or
    /// the section is missing.
    public func credentialsFileProfile() -> [String: String]? {
        Self.parse(path: credentialsPath)?[profile]
    }

    /// The profile's settings in the config file (`[profile NAME]`, or `[default]` for the
    /// default profile), or `nil` when the file or the section is missing.
    public func configFileProfile() -> [String: String]? {
        guard let sections = Self.parse(path: configPath) else { return nil }
        if let section = sections["profile \(profile)"] { return section }
        return profile == "default" ? sections["default"] : nil
    }

    /// The profile's `region` in the config file.
    public func region() -> String? {
        configFileProfile()?["region"].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// The sections of the INI file at `path` (names trimmed, inner spaces collapsed), each
    /// a map of lower-cased keys to values; `nil` when the file cannot be read.
    static func parse(path: String) -> [String: [String: String]]? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return parse(String(decoding: data, as: UTF8.self))
    }

    static func parse(_ text: String) -> [String: [String: String]] {
        var sections: [String: [String: String]] = [:]
        var current: String?
        for rawLine in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline) {
            // Indented lines continue a sub-setting (`s3 =` then `  max_concurrent_requests = 5`).
            if let first = rawLine.first, first == " " || first == "\t" { continue }
            let line = String(rawLine).trimmed
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("[") {
                guard let close = line.firstIndex(of: "]") else {
                    current = nil
                    continue
                }
                let name = line[line.index(after: line.startIndex)..<close]
                    .split(whereSeparator: { $0 == " " || $0 == "\t" }).joined(separator: " ")
                current = name
                if sections[name] == nil { sections[name] = [:] }
                continue
            }
            guard let section = current, let equals = line.firstIndex(of: "=") else { continue }
            let key = line[..<equals].trimmingCharacters(in: .whitespaces).lowercased()
            var value = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            // An inline comment needs whitespace before it (`key = value # note`).
            for marker in [" #", "\t#", " ;", "\t;"] {
                if let range = value.range(of: marker) { value = String(value[..<range.lowerBound]).trimmed }
            }
            sections[section, default: [:]][key] = value
        }
        return sections
    }
}

/// Credentials from the shared files' profile (``AWSSharedFiles``): `aws_access_key_id`,
/// `aws_secret_access_key` and `aws_session_token`, from the credentials file, else from the
/// config file. Not configured when neither file has the profile with keys; an error when
/// `AWS_PROFILE` names a profile that neither file has, or a profile has only half a key.
/// (Profiles that assume a role or use SSO are not supported: they count as not configured.)
public struct ProfileCredentialSource: AWSCredentialSource {
    public var files: AWSSharedFiles

    public init(environment: [String: String] = ProcessInfo.processInfo.environment, profile: String? = nil) {
        self.files = AWSSharedFiles(environment: environment, profile: profile)
    }

    public init(files: AWSSharedFiles) {
        self.files = files
    }

    public var name: String { "profile \"\(files.profile)\"" }
    public var summary: String { "the profile \"\(files.profile)\" of \(files.credentialsPath) and \(files.configPath)" }

    public func load() async throws -> AWSCredentials? {
        let credentialsSection = files.credentialsFileProfile()
        let configSection = files.configFileProfile()
        if credentialsSection == nil && configSection == nil {
            guard files.profileIsExplicit else { return nil }
            throw AWSCredentialsError(
                source: name,
                message:
                    "AWS_PROFILE names the profile \"\(files.profile)\", which neither \(files.credentialsPath) nor \(files.configPath) has"
            )
        }
        for (section, path) in [(credentialsSection, files.credentialsPath), (configSection, files.configPath)] {
            guard let section else { continue }
            let id = section["aws_access_key_id"].flatMap { $0.isEmpty ? nil : $0 }
            let secret = section["aws_secret_access_key"].flatMap { $0.isEmpty ? nil : $0 }
            switch (id, secret) {
            case (nil, nil):
                continue
            case (.some(let id), .some(let secret)):
                let token = section["aws_session_token"].flatMap { $0.isEmpty ? nil : $0 }
                return AWSCredentials(
                    accessKeyID: id, secretAccessKey: secret, sessionToken: token, source: "profile \"\(files.profile)\" in \(path)")
            default:
                throw AWSCredentialsError(
                    source: name, message: "the profile in \(path) has only one of aws_access_key_id and aws_secret_access_key")
            }
        }
        return nil
    }
}
