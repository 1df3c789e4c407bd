import AsyncHTTPClient
import BatonCore
import Foundation
import NIOCore
import NIOHTTP1

/// The `http` kind: one HTTP request, safe against server-side request forgery.
///
/// Arguments: `{"method": "GET"|"POST"|"PUT"|"DELETE" (default GET), "url": "http(s)://…",
/// "headers": {"k": "v"}, "body": "text", "timeout": seconds (default 30, at most 300),
/// "max_response_bytes": n (default and cap: the configuration's, 1 MiB)}`.
/// Result: `{"status": 200, "headers": {"content-type": "…"}, "body": "…"}` — header names
/// lower-cased, repeated headers joined with `", "`; a body that is not UTF-8 comes as
/// `body_base64` instead of `body`.
///
/// Outcomes:
/// - Any response the server gives, 4xx and 5xx included, is a **success** of the task: the
///   result's `status` says what happened. Check it downstream.
/// - Unreachable, connection refused, name not resolving, timed out: a retryable failure.
/// - A refused address, bad arguments, a response over `max_response_bytes`
///   ("response larger than N bytes"), more than `maxRedirects` redirects: a permanent failure.
///
/// How addresses are checked (``AddressPolicy``): the host is resolved once, here, and
/// **every** address it resolves to must be allowed — one refused address refuses the
/// request (a name that mixes public and private addresses is a rebinding attempt or a
/// mistake). The request then goes to the first checked address and to nothing else: an IP
/// literal is rewritten to its canonical form in the URL; a name keeps its URL (so the
/// `Host` header, TLS SNI and certificate verification use the name) while async-http-client's
/// `dnsOverride` pins its connection to the checked address — the client never resolves
/// the name itself. Redirects are not followed by the client: each `Location` is checked the
/// same way before it is requested (303, and 301/302 after a POST, become a GET without a
/// body; `Authorization` and `Cookie` are dropped when the redirect leaves the origin).
/// No proxy is used.
struct HTTPKind: Sendable {
    struct Args: Codable, Sendable {
        var method: String?
        var url: String
        var headers: [String: String]?
        var body: String?
        var timeout: Double?
        var maxResponseBytes: Int?

        enum CodingKeys: String, CodingKey {
            case method, url, headers, body, timeout
            case maxResponseBytes = "max_response_bytes"
        }
    }

    struct Response: Codable, Sendable, Equatable {
        var status: Int
        var headers: [String: String]
        var body: String?
        var bodyBase64: String?

        enum CodingKeys: String, CodingKey {
            case status, headers, body
            case bodyBase64 = "body_base64"
        }
    }

    /// One request to send: the URL as given (or as redirected to).
    struct Request: Sendable {
        var method: HTTPMethod
        var url: URL
        var headers: [(String, String)]
        var body: String?
    }

    static let methods: Set<String> = ["GET", "POST", "PUT", "DELETE"]
    static let redirectStatuses: Set<UInt> = [301, 302, 303, 307, 308]
    /// Headers the kind sets itself.
    static let reservedHeaders: Set<String> = ["host", "content-length", "transfer-encoding", "connection"]
    /// Headers not carried to another origin on a redirect.
    static let credentialHeaders: Set<String> = ["authorization", "cookie", "proxy-authorization"]

    let configuration: HTTPKindConfiguration
    let policy: Result<AddressPolicy, HTTPKindConfigurationError>
    let resolver: HostResolver

    init(configuration: HTTPKindConfiguration, resolver: HostResolver = .system) {
        self.configuration = configuration
        self.resolver = resolver
        do throws(HTTPKindConfigurationError) {
            try configuration.validate()
            policy = .success(try! AddressPolicy(allowlist: configuration.allowlist))
        } catch {
            policy = .failure(error)
        }
    }

    func run(_ args: Args, context: TaskContext) async throws -> Response {
        let policy: AddressPolicy
        switch self.policy {
        case .success(let valid): policy = valid
        case .failure(let error): throw FailPermanently("http kind misconfigured: \(error.message)")
        }
        var request = try Self.request(from: args)
        let timeout = try timeout(args.timeout)
        let maxBytes = try maxResponseBytes(args.maxResponseBytes)
        let deadline = ContinuousClock.now + timeout

        var redirects = 0
        while true {
            let addresses = try await checkedAddresses(for: request.url, policy: policy, deadline: deadline)
            context.logger.debug(
                "http request", metadata: ["method": "\(request.method.rawValue)", "url": "\(request.url)", "address": "\(addresses[0])"])
            let exchange = try await send(request, to: addresses, deadline: deadline, timeout: timeout, maxBytes: maxBytes)
            guard let location = exchange.redirect else { return exchange.response }
            redirects += 1
            guard redirects <= configuration.maxRedirects else {
                throw FailPermanently("too many redirects (more than \(configuration.maxRedirects)), the last to \(location)")
            }
            request = try Self.redirected(request, to: location, status: exchange.response.status)
        }
    }

    // MARK: Arguments

    static func request(from args: Args) throws -> Request {
        let method = (args.method ?? "GET").uppercased()
        guard methods.contains(method) else {
            throw FailPermanently("unsupported method '\(args.method ?? "")' (expected GET, POST, PUT or DELETE)")
        }
        let url = try checkedURL(args.url)
        var headers: [(String, String)] = []
        for (name, value) in (args.headers ?? [:]).sorted(by: { $0.key < $1.key }) {
            guard !name.isEmpty, name.utf8.allSatisfy({ $0 > 32 && $0 < 127 && $0 != UInt8(ascii: ":") }) else {
                throw FailPermanently("invalid header name '\(name)'")
            }
            guard !value.utf8.contains(where: { $0 == 13 || $0 == 10 || $0 == 0 }) else {
                throw FailPermanently("header '\(name)' contains a line break")
            }
            guard !reservedHeaders.contains(name.lowercased()) else {
                throw FailPermanently("header '\(name)' is set by the http kind and cannot be given")
            }
            headers.append((name, value))
        }
        return Request(method: HTTPMethod(rawValue: method), url: url, headers: headers, body: args.body)
    }

    static func checkedURL(_ text: String) throws -> URL {
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme) else {
            throw FailPermanently("'\(text)' is not an http:// or https:// URL")
        }
        guard let host = url.host, !host.isEmpty else { throw FailPermanently("'\(text)' has no host") }
        guard !host.contains("%") else { throw FailPermanently("'\(text)': IPv6 zone identifiers are not supported") }
        return url
    }

    func timeout(_ seconds: Double?) throws -> Duration {
        guard let seconds else { return configuration.defaultTimeout }
        guard seconds.isFinite, seconds > 0, seconds <= HTTPKindConfiguration.maxTimeout.seconds else {
            throw FailPermanently("timeout must be more than 0 and at most 300 seconds, got \(seconds)")
        }
        return .milliseconds(Int64((seconds * 1000).rounded(.up)))
    }

    func maxResponseBytes(_ requested: Int?) throws -> Int {
        guard let requested else { return configuration.maxResponseBytes }
        guard requested > 0 else { throw FailPermanently("max_response_bytes must be positive, got \(requested)") }
        return min(requested, configuration.maxResponseBytes)
    }

    // MARK: Addresses

    /// The host as async-http-client sees it: `URL.host` without IPv6 brackets.
    static func host(of url: URL) -> String {
        var host = url.host ?? ""
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return host
    }

    /// The addresses the URL's host stands for, each one allowed; throws `FailPermanently`
    /// ("refused …") if any is not.
    func checkedAddresses(for url: URL, policy: AddressPolicy, deadline: ContinuousClock.Instant) async throws -> [IPAddress] {
        let host = Self.host(of: url)
        let addresses: [IPAddress]
        if let literal = IPAddress(host) {
            addresses = [literal]
        } else {
            addresses = try await resolver.resolve(host, max(deadline - ContinuousClock.now, .milliseconds(1)))
            guard !addresses.isEmpty else { throw HostResolutionError(host: host, reason: "no address") }
        }
        if IPAddress(host) == nil && policy.allowsHost(host) { return addresses }
        for address in addresses {
            if let reason = policy.refusal(for: address) {
                let what = IPAddress(host) != nil ? "\(address)" : "host '\(host)' resolves to \(address), which"
                throw FailPermanently(
                    "refused \(url.absoluteString): \(what) is \(reason); only public addresses are allowed "
                        + "unless the http allowlist names the host or its network")
            }
        }
        return addresses
    }

    // MARK: Sending

    struct Exchange: Sendable {
        var response: Response
        /// Where a redirect points (the body was not read).
        var redirect: URL?
    }

    /// Sends the request to the checked addresses in turn (the next one only when a
    /// connection could not be made) until one answers.
    func send(
        _ request: Request, to addresses: [IPAddress], deadline: ContinuousClock.Instant, timeout: Duration, maxBytes: Int
    ) async throws -> Exchange {
        var lastError: (any Error)?
        for address in addresses.prefix(4) {
            do {
                return try await send(request, to: address, deadline: deadline, maxBytes: maxBytes)
            } catch let error as ConnectionFailure {
                lastError = error.underlying
                if ContinuousClock.now >= deadline { break }
            } catch let error as HTTPClientError where Self.isTimeout(error) {
                throw HTTPKindTimeout(what: "waiting for \(request.method.rawValue) \(request.url.absoluteString)", after: timeout)
            } catch let error as HTTPKindTimeout {
                throw error
            } catch let error as FailPermanently {
                throw error
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                throw HTTPRequestFailure(method: request.method.rawValue, url: request.url, error: error)
            }
        }
        if let error = lastError as? HTTPClientError, Self.isTimeout(error) {
            throw HTTPKindTimeout(what: "connecting for \(request.method.rawValue) \(request.url.absoluteString)", after: timeout)
        }
        throw HTTPRequestFailure(method: request.method.rawValue, url: request.url, error: lastError ?? CancellationError())
    }

    static func isTimeout(_ error: HTTPClientError) -> Bool {
        [.deadlineExceeded, .connectTimeout, .readTimeout, .writeTimeout].contains(error)
    }

    /// A failure before the response began, worth trying the host's next address for.
    struct ConnectionFailure: Error {
        var underlying: any Error
    }

    private func send(_ request: Request, to address: IPAddress, deadline: ContinuousClock.Instant, maxBytes: Int) async throws
        -> Exchange
    {
        let remaining = deadline - ContinuousClock.now
        guard remaining > .zero else { throw HTTPClientError.deadlineExceeded }
        let host = Self.host(of: request.url)
        var target = request.url
        var clientConfiguration = HTTPClient.Configuration()
        if IPAddress(host) != nil {
            // A literal, in whatever form: connect to its canonical form.
            guard var components = URLComponents(url: request.url, resolvingAgainstBaseURL: false) else {
                throw FailPermanently("'\(request.url)' is not a valid URL")
            }
            components.percentEncodedHost = address.urlHost
            guard let rewritten = components.url else { throw FailPermanently("'\(request.url)' is not a valid URL") }
            target = rewritten
        } else {
            // A name: keep it for Host, SNI and certificates; pin the connection to the address.
            clientConfiguration.dnsOverride = [host: address.description]
        }
        clientConfiguration.redirectConfiguration = .disallow
        clientConfiguration.connectionPool.retryConnectionEstablishment = false
        clientConfiguration.timeout.connect = Self.timeAmount(min(remaining, .seconds(30)))
        clientConfiguration.proxy = nil
        clientConfiguration.decompression = .disabled
        let client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: clientConfiguration)
        do {
            let exchange = try await exchange(request, url: target, client: client, deadline: deadline, maxBytes: maxBytes)
            try? await client.shutdown()
            return exchange
        } catch {
            try? await client.shutdown()
            throw error
        }
    }

    private func exchange(_ request: Request, url: URL, client: HTTPClient, deadline: ContinuousClock.Instant, maxBytes: Int)
        async throws -> Exchange
    {
        var outgoing = HTTPClientRequest(url: url.absoluteString)
        outgoing.method = request.method
        for (name, value) in request.headers { outgoing.headers.add(name: name, value: value) }
        if let body = request.body { outgoing.body = .bytes(ByteBuffer(string: body)) }
        let nioDeadline = NIODeadline.now() + Self.timeAmount(max(deadline - ContinuousClock.now, .zero))

        let response: HTTPClientResponse
        do {
            response = try await client.execute(outgoing, deadline: nioDeadline)
        } catch let error as HTTPClientError where Self.isTimeout(error) && error != .connectTimeout {
            throw error
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            throw ConnectionFailure(underlying: error)
        }

        let status = response.status.code
        var headers: [String: String] = [:]
        for header in response.headers {
            let name = header.name.lowercased()
            headers[name] = headers[name].map { "\($0), \(header.value)" } ?? header.value
        }
        if Self.redirectStatuses.contains(status), let location = response.headers.first(name: "location") {
            guard let next = URL(string: location, relativeTo: request.url)?.absoluteURL else {
                throw FailPermanently("redirect to an invalid URL '\(location)'")
            }
            return Exchange(response: Response(status: Int(status), headers: headers), redirect: next)
        }

        if let length = response.headers.first(name: "content-length").flatMap(Int.init), length > maxBytes {
            throw FailPermanently("response larger than \(maxBytes) bytes (Content-Length: \(length))")
        }
        var body: [UInt8] = []
        for try await chunk in response.body {
            guard body.count + chunk.readableBytes <= maxBytes else {
                throw FailPermanently("response larger than \(maxBytes) bytes")
            }
            body.append(contentsOf: chunk.readableBytesView)
        }
        var result = Response(status: Int(status), headers: headers)
        if let text = String(validating: body, as: UTF8.self) {
            result.body = text
        } else {
            result.bodyBase64 = Data(body).base64EncodedString()
        }
        return Exchange(response: result, redirect: nil)
    }

    // MARK: Redirects

    static func redirected(_ request: Request, to location: URL, status: Int) throws -> Request {
        let url = try checkedURL(location.absoluteString)
        var next = request
        next.url = url
        if status == 303 || ((status == 301 || status == 302) && request.method == .POST) {
            next.method = .GET
            next.body = nil
        }
        let sameOrigin =
            url.scheme?.lowercased() == request.url.scheme?.lowercased() && host(of: url).lowercased() == host(of: request.url).lowercased()
            && effectivePort(url) == effectivePort(request.url)
        if !sameOrigin { next.headers.removeAll { credentialHeaders.contains($0.0.lowercased()) } }
        return next
    }

    static func effectivePort(_ url: URL) -> Int {
        url.port ?? (url.scheme?.lowercased() == "https" ? 443 : 80)
    }

    static func timeAmount(_ duration: Duration) -> TimeAmount {
        let (seconds, attoseconds) = duration.components
        return .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }

    static func formatSeconds(_ duration: Duration) -> String {
        let seconds = duration.seconds
        return seconds == seconds.rounded() ? "\(Int(seconds)) s" : String(format: "%.3g s", seconds)
    }
}

/// A request that did not get a response (retryable).
struct HTTPRequestFailure: Error, CustomStringConvertible {
    var method: String
    var url: URL
    var error: any Error
    var description: String { "\(method) \(url.absoluteString) failed: \(error)" }
}
