import Crypto
import Foundation

/// AWS Signature Version 4 (`AWS4-HMAC-SHA256`): signs one HTTP request for one service in
/// one region with one set of credentials.
///
/// Pure and deterministic: the same request, credentials and date always give the same
/// signature, so it is tested against AWS's published test-suite vectors and against
/// botocore's `SigV4Auth` (`Tests/BatonSQSTests/SigV4SignerTests.swift`).
///
/// The steps, as AWS defines them:
/// 1. The **canonical request**: the method; the URI path, normalised (dot segments removed,
///    repeated slashes collapsed, for every service but S3) and URI-encoded; the query string,
///    each name and value URI-encoded, sorted by name then value; the headers, names
///    lower-cased, values trimmed with inner runs of spaces collapsed, sorted by name, the
///    values of a repeated name joined by commas; the signed header names; the hex SHA-256
///    of the payload.
/// 2. The **string to sign**: `AWS4-HMAC-SHA256`, the `X-Amz-Date` (`YYYYMMDDTHHMMSSZ`), the
///    scope `DATE/REGION/SERVICE/aws4_request`, and the hex SHA-256 of the canonical request.
/// 3. The **signing key**: HMAC-SHA256 chained over `AWS4` + secret, the date, the region,
///    the service and `aws4_request`; the signature is the hex HMAC of the string to sign.
/// 4. The `Authorization` header: `AWS4-HMAC-SHA256 Credential=KEYID/SCOPE,
///    SignedHeaders=…, Signature=…`, sent with `X-Amz-Date` and, for temporary credentials,
///    `X-Amz-Security-Token` (which is signed too).
public struct SigV4Signer: Sendable {
    /// The algorithm's name, the first line of the string to sign.
    public static let algorithm = "AWS4-HMAC-SHA256"
    /// Headers never signed (as botocore): proxies and clients may change them on the way.
    public static let unsignedHeaders: Set<String> = ["authorization", "user-agent", "expect", "x-amzn-trace-id"]

    public var credentials: AWSCredentials
    public var region: String
    public var service: String
    /// Whether the URI path is normalised (dot segments, repeated slashes). AWS normalises for
    /// every service but S3.
    public var normalizesPath: Bool

    public init(credentials: AWSCredentials, region: String, service: String, normalizesPath: Bool = true) {
        self.credentials = credentials
        self.region = region
        self.service = service
        self.normalizesPath = normalizesPath
    }

    /// The parts of an HTTP request that SigV4 covers.
    public struct Request: Sendable {
        /// `GET`, `POST`, …
        public var method: String
        /// The `Host` header's value: the host, with `:PORT` when the port is not the
        /// scheme's default.
        public var host: String
        /// The URI path, as the request carries it (`/` for SQS). The signer URI-encodes it
        /// once more, as AWS and botocore do for every service but S3.
        public var path: String
        /// The query parameters, not encoded: the signer encodes them.
        public var query: [(name: String, value: String)]
        /// The headers to send and sign, besides `Host`, `X-Amz-Date` and
        /// `X-Amz-Security-Token`, which the signer adds (replacing any given).
        public var headers: [(name: String, value: String)]
        /// The hex SHA-256 of the body (``SigV4Signer/hexSHA256(_:)``).
        public var payloadHash: String

        public init(
            method: String, host: String, path: String = "/", query: [(name: String, value: String)] = [],
            headers: [(name: String, value: String)] = [], payloadHash: String
        ) {
            self.method = method
            self.host = host
            self.path = path
            self.query = query
            self.headers = headers
            self.payloadHash = payloadHash
        }

        /// The request of `body` (its hash computed here).
        public init(
            method: String, host: String, path: String = "/", query: [(name: String, value: String)] = [],
            headers: [(name: String, value: String)] = [], body: some DataProtocol
        ) {
            self.init(method: method, host: host, path: path, query: query, headers: headers, payloadHash: SigV4Signer.hexSHA256(body))
        }
    }

    /// What signing produced: the intermediate strings (for tests and for explaining a
    /// `SignatureDoesNotMatch`) and the headers to add to the request.
    public struct Signed: Sendable {
        public var canonicalRequest: String
        public var stringToSign: String
        /// The hex signature.
        public var signature: String
        /// The signed header names, `;`-separated, sorted.
        public var signedHeaders: String
        /// The `Authorization` header's value.
        public var authorization: String
        /// `X-Amz-Date`'s value, `YYYYMMDDTHHMMSSZ`.
        public var amzDate: String
        /// The headers to send besides the request's own: `X-Amz-Date`,
        /// `X-Amz-Security-Token` when the credentials carry a session token, and
        /// `Authorization`.
        public var headers: [(name: String, value: String)]
    }

    /// Signs `request` as of `date`.
    public func sign(_ request: Request, date: Date) -> Signed {
        let (amzDate, dateStamp) = Self.timestamps(date)
        var headers = request.headers.filter { header in
            let name = header.name.lowercased()
            return name != "host" && name != "x-amz-date" && name != "x-amz-security-token" && name != "authorization"
        }
        headers.append(("host", request.host))
        headers.append(("x-amz-date", amzDate))
        if let token = credentials.sessionToken { headers.append(("x-amz-security-token", token)) }

        let canonical = Self.canonicalRequest(
            method: request.method, path: request.path, query: request.query, headers: headers, payloadHash: request.payloadHash,
            normalizePath: normalizesPath)
        let scope = "\(dateStamp)/\(region)/\(service)/aws4_request"
        let stringToSign = [Self.algorithm, amzDate, scope, Self.hexSHA256(Data(canonical.request.utf8))].joined(separator: "\n")
        let key = Self.signingKey(secretAccessKey: credentials.secretAccessKey, dateStamp: dateStamp, region: region, service: service)
        let signature = Self.hex(HMAC<SHA256>.authenticationCode(for: Data(stringToSign.utf8), using: key))
        let authorization =
            "\(Self.algorithm) Credential=\(credentials.accessKeyID)/\(scope), SignedHeaders=\(canonical.signedHeaders), Signature=\(signature)"

        var added: [(name: String, value: String)] = [("X-Amz-Date", amzDate)]
        if let token = credentials.sessionToken { added.append(("X-Amz-Security-Token", token)) }
        added.append(("Authorization", authorization))
        return Signed(
            canonicalRequest: canonical.request, stringToSign: stringToSign, signature: signature, signedHeaders: canonical.signedHeaders,
            authorization: authorization, amzDate: amzDate, headers: added)
    }

    // MARK: The steps

    /// The canonical request and its signed header names. `headers` are all the headers to
    /// sign (``unsignedHeaders`` are left out here).
    public static func canonicalRequest(
        method: String, path: String, query: [(name: String, value: String)], headers: [(name: String, value: String)],
        payloadHash: String, normalizePath: Bool = true
    ) -> (request: String, signedHeaders: String) {
        let canonicalPath = uriEncode(normalizePath ? normalizedPath(path) : (path.isEmpty ? "/" : path), keepSlashes: true)

        // Sorted by encoded name, then by encoded value (byte order: all ASCII by now).
        var encodedQuery: [(name: String, value: String)] = []
        for item in query {
            encodedQuery.append((uriEncode(item.name, keepSlashes: false), uriEncode(item.value, keepSlashes: false)))
        }
        encodedQuery.sort { a, b in a.name == b.name ? a.value < b.value : a.name < b.name }
        let canonicalQuery = encodedQuery.map { item in item.name + "=" + item.value }.joined(separator: "&")

        // Names lower-cased; the values of a repeated name joined by commas, in their order.
        var values: [String: [String]] = [:]
        for header in headers {
            let name = header.name.lowercased()
            guard !unsignedHeaders.contains(name) else { continue }
            values[name, default: []].append(canonicalHeaderValue(header.value))
        }
        let names = values.keys.sorted()
        let canonicalHeaders = names.map { "\($0):\(values[$0]!.joined(separator: ","))\n" }.joined()
        let signedHeaders = names.joined(separator: ";")

        let request = [method.uppercased(), canonicalPath, canonicalQuery, canonicalHeaders, signedHeaders, payloadHash]
            .joined(separator: "\n")
        return (request, signedHeaders)
    }

    /// The signing key: `kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request")`.
    public static func signingKey(secretAccessKey: String, dateStamp: String, region: String, service: String) -> SymmetricKey {
        var key = SymmetricKey(data: Data("AWS4\(secretAccessKey)".utf8))
        for part in [dateStamp, region, service, "aws4_request"] {
            key = SymmetricKey(data: Data(HMAC<SHA256>.authenticationCode(for: Data(part.utf8), using: key)))
        }
        return key
    }

    /// `X-Amz-Date` (`20150830T123600Z`) and the scope's date (`20150830`) of `date`, in UTC.
    public static func timestamps(_ date: Date) -> (amzDate: String, dateStamp: String) {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        func two(_ value: Int?) -> String {
            let v = value ?? 0
            return v < 10 ? "0\(v)" : "\(v)"
        }
        let day = "\(c.year ?? 1970)\(two(c.month))\(two(c.day))"
        return ("\(day)T\(two(c.hour))\(two(c.minute))\(two(c.second))Z", day)
    }

    /// The lower-case hex SHA-256 of `bytes`.
    public static func hexSHA256(_ bytes: some DataProtocol) -> String {
        hex(SHA256.hash(data: bytes))
    }

    /// The hex SHA-256 of the empty payload.
    public static let emptyPayloadHash = hexSHA256(Data())

    // MARK: Encoding

    static func hex(_ bytes: some Sequence<UInt8>) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// URI-encodes `text` as SigV4 wants: every byte of its UTF-8 but the unreserved
    /// characters (`A-Z a-z 0-9 - . _ ~`) as `%XX` in upper-case hex; `/` kept in a path.
    static func uriEncode(_ text: String, keepSlashes: Bool) -> String {
        let digits = Array("0123456789ABCDEF".utf8)
        var out = [UInt8]()
        out.reserveCapacity(text.utf8.count)
        for byte in text.utf8 {
            if isUnreserved(byte) || (keepSlashes && byte == UInt8(ascii: "/")) {
                out.append(byte)
            } else {
                out.append(UInt8(ascii: "%"))
                out.append(digits[Int(byte >> 4)])
                out.append(digits[Int(byte & 0x0f)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// `A-Z a-z 0-9 - . _ ~`: the bytes that URI encoding keeps.
    static func isUnreserved(_ byte: UInt8) -> Bool {
        switch byte {
        case 0x41...0x5A, 0x61...0x7A, 0x30...0x39: return true  // A-Z, a-z, 0-9
        case 0x2D, 0x2E, 0x5F, 0x7E: return true  // - . _ ~
        default: return false
        }
    }

    /// `path` with `.` and `..` segments resolved and empty segments dropped; absolute, and
    /// ending in `/` when `path` did (and is not just `/`).
    static func normalizedPath(_ path: String) -> String {
        var segments: [Substring] = []
        for segment in path.split(separator: "/", omittingEmptySubsequences: true) {
            switch segment {
            case ".": continue
            case "..": _ = segments.popLast()
            default: segments.append(segment)
            }
        }
        if segments.isEmpty { return "/" }
        let joined = "/" + segments.joined(separator: "/")
        return path.hasSuffix("/") ? joined + "/" : joined
    }

    /// A header value as signed: trimmed, inner runs of whitespace as one space.
    static func canonicalHeaderValue(_ value: String) -> String {
        value.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }).joined(separator: " ")
    }
}
