#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Connection failures in words a user can act on, shared by the client, the worker and the
/// PostgreSQL store (each matches its own error types and asks here for the text).
public enum ConnectionFailureText {
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
}
