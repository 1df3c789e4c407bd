#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Connection failures in words a user can act on, shared by the client, the worker and the
/// PostgreSQL store (each matches its own error types and asks here for the text).
public enum ConnectionFailureText {
    /// An error in words: `known` names the error types its caller knows (the client's HTTP
    /// errors, the store's PostgreSQL errors); what it does not know is looked into here —
    /// a connection error that lists its attempts (NIO's, one per address tried) by their
    /// errors, a TLS failure by its likely cause — or else described as it describes itself.
    public static func describe(_ error: any Error, known: (any Error) -> String?) -> String {
        if let text = known(error) { return text }
        let attempts = Mirror(reflecting: error).children.first { $0.label == "connectionErrors" }?.value as? [Any]
        if let attempts {
            let reasons = attempts.compactMap { Mirror(reflecting: $0).children.first { $0.label == "error" }?.value as? any Error }
            let words = Set(reasons.map { describe($0, known: known) }).sorted()
            if !words.isEmpty { return words.joined(separator: "; ") }
        }
        let text = String(reflecting: error)
        if text.contains("SSL") || text.contains("TLS") { return tlsHandshake(text) }
        return text
    }

    /// A system error number as words: `connection refused`, `no route to host`.
    public static func errno(_ code: Int32) -> String {
        guard let text = strerror(code).map({ String(cString: $0) }), !text.isEmpty else { return "system error \(code)" }
        return text.prefix(1).lowercased() + text.dropFirst()
    }

    /// A TLS handshake failure, from the library's description of it (which names the source
    /// file of the library it was built from): what it most likely means.
    public static func tlsHandshake(_ description: String) -> String {
        if description.contains("WRONG_VERSION_NUMBER") || description.contains("HTTP_REQUEST") {
            return "TLS handshake failed: the server does not speak TLS (a plain-HTTP node? use http://)"
        }
        if description.contains("CERTIFICATE_VERIFY_FAILED") || description.contains("certificate verify failed")
            || description.contains("unable to get local issuer")
        {
            return "TLS handshake failed: the server's certificate is not trusted (give its CA with --ca-file or BATON_CA_FILE)"
        }
        // `error:…:SSL routines:OPENSSL_internal:REASON at /path/file.c:123`: keep REASON.
        if let range = description.range(of: "OPENSSL_internal:") {
            let reason = description[range.upperBound...].prefix { $0 != " " && $0 != "," && $0 != "]" && $0 != ")" }
            if !reason.isEmpty { return "TLS handshake failed: \(reason.lowercased().replacingOccurrences(of: "_", with: " "))" }
        }
        return "TLS handshake failed"
    }

    /// A URL with the password of its user information replaced by `***`, for messages about
    /// a server's URL (one that could not be read included).
    public static func redactedURL(_ text: String) -> String {
        guard let at = text.lastIndex(of: "@"), let scheme = text.range(of: "://"), scheme.upperBound < at else { return text }
        let userInfo = text[scheme.upperBound..<at]
        guard let colon = userInfo.firstIndex(of: ":") else { return text }
        return String(text[..<colon]) + ":***" + String(text[at...])
    }
}
