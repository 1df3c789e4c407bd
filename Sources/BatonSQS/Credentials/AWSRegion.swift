import Foundation

/// Where the region comes from, as AWS's tools find it: `AWS_REGION`, else
/// `AWS_DEFAULT_REGION`, else the `region` of the profile (`AWS_PROFILE`, by default
/// `default`) in the config file (`AWS_CONFIG_FILE`, by default `~/.aws/config`).
public enum AWSRegion {
    /// The region, or `nil` when none is set anywhere.
    public static func resolve(environment: [String: String] = ProcessInfo.processInfo.environment) -> String? {
        if let region = environment.nonEmpty("AWS_REGION") { return region }
        if let region = environment.nonEmpty("AWS_DEFAULT_REGION") { return region }
        return AWSSharedFiles(environment: environment).region()
    }

    /// Whether `text` looks like a region name (`us-east-1`, `eu-central-2`,
    /// `us-gov-west-1`): lower-case letters, digits and dashes.
    public static func isValid(_ text: String) -> Bool {
        !text.isEmpty && text.count <= 64 && text.first != "-" && text.last != "-"
            && text.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" }
    }
}
