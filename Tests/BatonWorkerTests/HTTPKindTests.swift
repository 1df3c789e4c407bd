import BatonCore
import BatonTesting
import Foundation
import Testing

@testable import BatonWorker

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The address policy on its own: parsing, special-purpose ranges, the allowlist.
@Suite struct AddressPolicyTests {
    @Test(arguments: [
        ("127.0.0.1", "127.0.0.1"), ("2130706433", "127.0.0.1"), ("0x7f000001", "127.0.0.1"), ("0X7F000001", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"), ("127.1", "127.0.0.1"), ("0x7f.1", "127.0.0.1"), ("127.0.1", "127.0.0.1"),
        ("0", "0.0.0.0"), ("0x", "0.0.0.0"), ("10.0.0.1", "10.0.0.1"), ("012.1", "10.0.0.1"), ("169.254.43518", "169.254.169.254"),
        ("0xA9.0xFE.0xA9.0xFE", "169.254.169.254"), ("4294967295", "255.255.255.255"), ("1.2.3.4", "1.2.3.4"),
    ])
    func ipv4ParsesAsInetAton(text: String, expected: String) throws {
        let parsed = try #require(IPAddress.parseIPv4(text), "\(text) did not parse")
        #expect(IPAddress.v4(parsed).description == expected)
    }

    @Test(arguments: [
        "", "1.", ".1", "1..2", "256.0.0.1", "1.2.3.4.5", "4294967296", "08", "0x1g", "1.2.3.256", "1.2.65536", "1.16777216",
        " 1.2.3.4", "1.2.3.4 ", "example.com", "1.2.3.-4", "::1",
    ])
    func notIPv4(text: String) {
        #expect(IPAddress.parseIPv4(text) == nil)
    }

    /// Our parser agrees with the C library's `inet_aton` on every string without whitespace.
    @Test func agreesWithTheCLibrary() {
        let samples = [
            "127.0.0.1", "2130706433", "0x7f000001", "0177.0.0.1", "127.1", "0x7f.1", "0x7f.0.1", "1.2.3", "1.2", "0", "00",
            "0x0", "08", "09.1", "0xffffffff", "0x100000000", "4294967296", "1.256", "1.0x1000000", "256.1", "1..1", "1.",
            ".1", "0xg", "017777777777", "040000000000", "1.2.3.4.5", "0x7F.0X0.0.01", "999", "1e3", "+1", "-1", "0.0.0.0",
            "255.255.255.255", "255.255.65535", "255.16777215", "abc",
        ]
        for sample in samples {
            var address = in_addr()
            let c = inet_aton(sample, &address) == 1 ? UInt32(bigEndian: address.s_addr) : nil
            #expect(IPAddress.parseIPv4(sample) == c, "\(sample)")
        }
    }

    @Test func ipv6LiteralsAndNetworks() throws {
        #expect(IPAddress("::1") == .v6(1))
        #expect(IPAddress("[::1]") == .v6(1))
        #expect(IPAddress("::ffff:127.0.0.1")?.description == "::ffff:127.0.0.1")
        #expect(IPAddress("fe80::1%eth0") == nil)
        #expect(IPAddress(strict: "127.1") == nil)
        #expect(IPAddress(strict: "127.0.0.1") == .v4(0x7F00_0001))

        let tenNet = try #require(IPNetwork("10.0.0.0/8"))
        #expect(tenNet.contains(try #require(IPAddress("10.255.0.1"))))
        #expect(!tenNet.contains(try #require(IPAddress("11.0.0.1"))))
        #expect(tenNet.contains(try #require(IPAddress("::ffff:10.1.2.3"))), "IPv4-mapped form of a member")
        #expect(IPNetwork("10.1.2.3/8")?.description == "10.0.0.0/8")
        #expect(IPNetwork("::1/128")?.contains(.v6(1)) == true)
        #expect(IPNetwork("0.0.0.0/0")?.contains(.v4(0x0808_0808)) == true)
        for invalid in ["10.0.0.0/33", "::/129", "10/8", "x/8", "10.0.0.0/", "10.0.0.0/8/8"] {
            #expect(IPNetwork(invalid) == nil, "\(invalid)")
        }
    }

    @Test(arguments: [
        ("127.0.0.1", "loopback"), ("127.255.255.254", "loopback"), ("0.0.0.0", "unspecified"), ("10.0.0.1", "private"),
        ("172.16.0.1", "private"), ("172.31.255.255", "private"), ("192.168.0.1", "private"), ("100.64.0.1", "CGNAT"),
        ("169.254.1.1", "link-local"), ("169.254.169.254", "cloud metadata"), ("224.0.0.1", "multicast"),
        ("255.255.255.255", "broadcast"), ("240.0.0.1", "reserved"), ("192.0.2.1", "documentation"),
        ("198.18.0.1", "benchmarking"), ("::1", "loopback"), ("::", "unspecified"), ("fc00::1", "unique local"),
        ("fd12:3456::1", "unique local"), ("fe80::1", "link-local"), ("ff02::1", "multicast"),
        ("fd00:ec2::254", "cloud metadata"), ("::ffff:127.0.0.1", "IPv4-mapped address of 127.0.0.1: loopback"),
        ("::ffff:169.254.169.254", "cloud metadata"), ("::127.0.0.1", "IPv4-compatible address of 127.0.0.1"),
        ("64:ff9b::10.0.0.1", "NAT64 address of 10.0.0.1: private"), ("64:ff9b::7f00:1", "NAT64 address of 127.0.0.1"),
        ("2002:7f00:1::", "6to4 address of 127.0.0.1"), ("::ffff:0:127.0.0.1", "IPv4-translated"),
        ("2001:db8::1", "documentation"), ("2001::1", "Teredo"), ("4000::1", "reserved"), ("100::1", "discard"),
    ])
    func refusedByDefault(address: String, reason: String) throws {
        let ip = try #require(IPAddress(address))
        let refusal = try #require(AddressPolicy.publicOnly.refusal(for: ip), "\(address) was allowed")
        #expect(refusal.contains(reason), "\(address): \(refusal)")
    }

    @Test(arguments: [
        "8.8.8.8", "1.1.1.1", "172.32.0.1", "172.15.255.255", "100.128.0.1", "169.253.255.255", "223.255.255.255", "192.169.0.1",
        "2606:4700:4700::1111", "2a00:1450:4001::1", "::ffff:8.8.8.8", "64:ff9b::8.8.8.8", "2002:808:808::1",
    ])
    func publicAddressesAreAllowed(address: String) throws {
        let ip = try #require(IPAddress(address))
        #expect(AddressPolicy.publicOnly.refusal(for: ip) == nil, "\(address)")
    }

    @Test func allowlistNamesHostsAndNetworks() throws {
        let policy = try AddressPolicy(allowlist: ["127.0.0.1/32", "10.0.0.0/8", "::1/128", "LocalHost.", " api.internal ", "192.168.1.5"])
        #expect(policy.refusal(for: .v4(0x7F00_0001)) == nil)
        #expect(policy.refusal(for: try #require(IPAddress("127.0.0.2"))) == "loopback")
        #expect(policy.refusal(for: try #require(IPAddress("10.9.8.7"))) == nil)
        #expect(policy.refusal(for: try #require(IPAddress("::ffff:10.9.8.7"))) == nil)
        #expect(policy.refusal(for: .v6(1)) == nil)
        #expect(policy.refusal(for: try #require(IPAddress("192.168.1.5"))) == nil)
        #expect(policy.refusal(for: try #require(IPAddress("192.168.1.6"))) != nil)
        #expect(policy.refusal(for: try #require(IPAddress("169.254.169.254"))) != nil)
        #expect(policy.allowsHost("localhost") && policy.allowsHost("LOCALHOST") && policy.allowsHost("api.internal."))
        #expect(!policy.allowsHost("evil.localhost") && !policy.allowsHost("api.internal.evil"))

        for bad in ["10.0.0.0/40", "::1/200", "not a host", "1.2.3.4/x", "127.1", "fe80::1%eth0"] {
            #expect(throws: AddressPolicyError.self, "\(bad)") { try AddressPolicy(allowlist: [bad]) }
        }
        #expect(throws: HTTPKindConfigurationError.self) { try HTTPKindConfiguration(allowlist: ["300.0.0.0/8"]).validate() }
        #expect(throws: Never.self) { try HTTPKindConfiguration(allowlist: ["localhost", "::1/128"]).validate() }
    }
}

/// The `http` kind over real HTTP, run by the real worker runtime on a SQLite store.
@Suite(.serialized) struct HTTPKindTests {
    /// A store, a running worker with the built-in kinds, and a server on 127.0.0.1.
    final class Rig: Sendable {
        let store: TempStore
        let worker: RunningWorker
        let server: HTTPKindServer

        init(http: HTTPKindConfiguration) async throws {
            store = try await TempStore.make()
            server = try await HTTPKindServer.start()
            let registry = HandlerRegistry()
            BuiltinKinds.register(into: registry, fileRoot: nil, http: http)
            worker = RunningWorker(store: store.store, registry: registry, configuration: workerConfig(concurrency: 8))
        }

        func submit(_ args: String, maxAttempts: Int = 3) async throws -> TaskRecord {
            try await store.enqueue(
                NewTask(kind: "http", args: try json(args), maxAttempts: maxAttempts, retry: .fixed(.milliseconds(50))))
        }

        func finish(_ task: TaskRecord, timeout: Duration = .seconds(10)) async throws -> TaskRecord {
            try await waitForState(store, task.id, [.succeeded, .failed, .cancelled], timeout: timeout)
        }

        func result(_ task: TaskRecord) async throws -> HTTPKind.Response {
            let done = try await finish(task)
            #expect(done.state == .succeeded, "\(done.lastError ?? "")")
            let text = try #require(done.result?.text)
            return try BatonJSON.decoder().decode(HTTPKind.Response.self, from: Data(text.utf8))
        }

        func close() async throws {
            try await worker.stop()
            await server.stop()
            store.cleanUp()
        }
    }

    static let loopback = HTTPKindConfiguration(allowlist: ["127.0.0.1/32"])

    @Test func getAndPostWithAnAllowlistedAddress() async throws {
        let rig = try await Rig(http: Self.loopback)
        let get = try await rig.submit(#"{"url": "\#(rig.server.url("/echo?x=1"))"}"#)
        let post = try await rig.submit(
            #"{"method": "post", "url": "\#(rig.server.url("/echo"))", "headers": {"X-Trace": "abc", "Content-Type": "text/plain"}, "body": "héllo"}"#
        )
        let missing = try await rig.submit(#"{"url": "\#(rig.server.url("/status/404"))"}"#)
        let binary = try await rig.submit(#"{"method": "DELETE", "url": "\#(rig.server.url("/binary"))"}"#)

        let got = try await rig.result(get)
        #expect(got.status == 200)
        #expect(got.headers["x-test"] == "yes")
        #expect(got.headers["content-length"] == "\(got.body?.utf8.count ?? -1)")
        #expect(got.body == "GET /echo host=127.0.0.1:\(rig.server.port) body=")

        let posted = try await rig.result(post)
        #expect(posted.status == 200)
        #expect(posted.body == "POST /echo host=127.0.0.1:\(rig.server.port) body=héllo")
        let received = try #require(rig.server.requests.first { $0.method == "POST" })
        #expect(received.header("x-trace") == "abc")
        #expect(received.header("content-type") == "text/plain")

        // A non-2xx answer is a success of the task; the result shows the status.
        let notFound = try await rig.result(missing)
        #expect(notFound.status == 404 && notFound.body == "status 404")
        let done = try await rig.store.get(missing.id)
        #expect(done.attempt == 1)

        let bytes = try await rig.result(binary)
        #expect(bytes.body == nil)
        #expect(bytes.bodyBase64 == Data([0xFF, 0xFE, 0x00, 0x01]).base64EncodedString())
        #expect(rig.server.requestCount == 4)
        try await rig.close()
    }

    @Test func responseSizeCapFailsTheTask() async throws {
        let rig = try await Rig(http: HTTPKindConfiguration(allowlist: ["127.0.0.1/32"], maxResponseBytes: 50_000))
        let exact = try await rig.submit(#"{"url": "\#(rig.server.url("/big?n=1000"))", "max_response_bytes": 1000}"#)
        let streamed = try await rig.submit(#"{"url": "\#(rig.server.url("/big?n=40000"))", "max_response_bytes": 1000}"#)
        let declared = try await rig.submit(#"{"url": "\#(rig.server.url("/big?n=5000&length=1"))", "max_response_bytes": 1000}"#)
        // Asking for more than the configuration allows is capped at the configuration's 50,000.
        let capped = try await rig.submit(#"{"url": "\#(rig.server.url("/big?n=60000"))", "max_response_bytes": 10000000}"#)

        #expect(try await rig.result(exact).body == String(repeating: "a", count: 1000))
        for (task, cap) in [(streamed, 1000), (declared, 1000), (capped, 50_000)] {
            let done = try await rig.finish(task)
            #expect(done.state == .failed)
            #expect(done.attempt == 1)
            #expect(done.lastError?.hasPrefix("response larger than \(cap) bytes") == true, "\(done.lastError ?? "")")
        }
        try await rig.close()
    }

    @Test func timeoutFailsTheAttemptRetryably() async throws {
        let rig = try await Rig(http: Self.loopback)
        let started = ContinuousClock.now
        let stalled = try await rig.submit(#"{"url": "\#(rig.server.url("/stall"))", "timeout": 0.3}"#, maxAttempts: 2)
        let done = try await rig.finish(stalled)
        #expect(done.state == .failed)
        #expect(done.attempt == 2, "a timeout is retryable")
        #expect(done.errors.count == 2)
        #expect(done.errors.allSatisfy { $0.message.contains("timed out after 0.3 s") }, "\(done.errors.map(\.message))")
        #expect(ContinuousClock.now - started < .seconds(5))
        #expect(rig.server.requestCount == 2)

        // Nothing listening: retryable too.
        let dead = try await rig.submit(#"{"url": "http://127.0.0.1:1/", "timeout": 2}"#, maxAttempts: 2)
        let refused = try await rig.finish(dead)
        #expect(refused.state == .failed && refused.attempt == 2, "\(refused.errors.map(\.message))")
        #expect(refused.lastError?.contains("GET http://127.0.0.1:1/ failed") == true, "\(refused.lastError ?? "")")
        try await rig.close()
    }

    @Test func refusedAddressesFailPermanentlyWithoutARequest() async throws {
        let rig = try await Rig(http: HTTPKindConfiguration())
        let port = rig.server.port
        let urls = [
            "http://127.0.0.1:\(port)/", "http://[::1]:\(port)/", "http://0.0.0.0:\(port)/", "http://169.254.169.254/",
            "http://10.0.0.1/", "http://172.16.0.1/", "http://192.168.0.1/", "http://[fc00::1]/", "http://[fe80::1]/",
            "http://[::ffff:127.0.0.1]:\(port)/", "http://2130706433:\(port)/", "http://0x7f000001:\(port)/",
            "http://0177.0.0.1:\(port)/", "http://127.1:\(port)/", "http://localhost:\(port)/", "https://127.0.0.1:\(port)/",
            "http://100.64.0.1/", "http://[64:ff9b::a00:1]/", "http://[::ffff:169.254.169.254]/",
        ]
        var tasks: [(String, TaskRecord)] = []
        for url in urls {
            // A short timeout: if the policy let one through, the test must not hang on it.
            tasks.append((url, try await rig.submit(#"{"url": "\#(url)", "timeout": 1}"#)))
        }
        for (url, task) in tasks {
            let done = try await rig.finish(task)
            #expect(done.state == .failed, "\(url)")
            #expect(done.attempt == 1, "\(url): refused permanently, not retried")
            let error = done.lastError ?? ""
            #expect(error.hasPrefix("refused "), "\(url): \(error)")
        }
        let localhost = try await rig.store.get(tasks.first { $0.0.contains("localhost") }!.1.id)
        #expect(localhost.lastError?.contains("host 'localhost' resolves to") == true, "\(localhost.lastError ?? "")")
        let numeric = try await rig.store.get(tasks.first { $0.0.contains("2130706433") }!.1.id)
        #expect(numeric.lastError?.contains("127.0.0.1 is loopback") == true, "\(numeric.lastError ?? "")")
        #expect(rig.server.requestCount == 0)
        try await rig.close()
    }

    @Test func redirectsAreCheckedHopByHop() async throws {
        let rig = try await Rig(http: HTTPKindConfiguration(allowlist: ["127.0.0.1/32"], maxRedirects: 2))
        let other = try await HTTPKindServer.start(host: "127.0.0.2")
        let escape = other.url("/echo").addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
        let refused = try await rig.submit(#"{"url": "\#(rig.server.url("/redirect?to=\(escape)"))"}"#)
        let followed = try await rig.submit(
            #"{"method": "POST", "url": "\#(rig.server.url("/redirect?to=/echo&status=303"))", "body": "x"}"#)
        let kept = try await rig.submit(#"{"method": "PUT", "url": "\#(rig.server.url("/redirect?to=/echo&status=307"))", "body": "y"}"#)
        // Three redirects: /redirect?to=/redirect → /redirect → /echo.
        let loop = try await rig.submit(#"{"url": "\#(rig.server.url("/redirect?to=%2Fredirect%3Fto%3D%2Fredirect"))"}"#)

        let done = try await rig.finish(refused)
        #expect(done.state == .failed && done.attempt == 1)
        #expect(done.lastError?.hasPrefix("refused http://127.0.0.2:\(other.port)/echo") == true, "\(done.lastError ?? "")")
        #expect(other.requestCount == 0)

        let after303 = try await rig.result(followed)
        #expect(after303.status == 200)
        #expect(after303.body == "GET /echo host=127.0.0.1:\(rig.server.port) body=")
        #expect(try await rig.result(kept).body == "PUT /echo host=127.0.0.1:\(rig.server.port) body=y")

        let looped = try await rig.finish(loop)
        #expect(looped.state == .failed)
        #expect(looped.lastError?.hasPrefix("too many redirects (more than 2)") == true, "\(looped.lastError ?? "")")
        await other.stop()
        try await rig.close()
    }

    @Test func badArgumentsFailPermanently() async throws {
        let kind = HTTPKind(configuration: Self.loopback)
        let cases: [(HTTPKind.Args, String)] = [
            (.init(method: "PATCH", url: "http://127.0.0.1/"), "unsupported method 'PATCH'"),
            (.init(url: "ftp://127.0.0.1/"), "is not an http:// or https:// URL"),
            (.init(url: "http:///path"), "has no host"),
            (.init(url: "http://127.0.0.1/", headers: ["Host": "x"]), "header 'Host' is set by the http kind"),
            (.init(url: "http://127.0.0.1/", headers: ["X": "a\r\nB: c"]), "contains a line break"),
            (.init(url: "http://127.0.0.1/", timeout: 301), "timeout must be more than 0 and at most 300"),
            (.init(url: "http://127.0.0.1/", maxResponseBytes: 0), "max_response_bytes must be positive"),
        ]
        for (args, message) in cases {
            await #expect {
                _ = try await kind.run(args, context: context(kind: "http"))
            } throws: { error in
                (error as? FailPermanently)?.message.contains(message) == true
            }
        }
        let broken = HTTPKind(configuration: HTTPKindConfiguration(allowlist: ["10.0.0.0/99"]))
        await #expect {
            _ = try await broken.run(.init(url: "http://8.8.8.8/"), context: context(kind: "http"))
        } throws: { error in
            (error as? FailPermanently)?.message.hasPrefix("http kind misconfigured: http allowlist entry '10.0.0.0/99'") == true
        }
    }

    /// A name is resolved once, by the kind, and the connection goes to the checked address:
    /// `app.test` resolves nowhere but through the test's resolver, yet the request arrives,
    /// with the name in its Host header.
    @Test func namesConnectToTheCheckedAddressOnly() async throws {
        let server = try await HTTPKindServer.start()
        let resolver = HostResolver { host, _ in
            switch host {
            case "app.test": [.v4(0x7F00_0001)]
            case "rebind.test": [.v4(0x7F00_0001), .v4(0x0A00_0001)]
            case "dual.test": [.v6(1), .v4(0x7F00_0001)]
            default: throw HostResolutionError(host: host, reason: "unknown")
            }
        }
        let kind = HTTPKind(configuration: Self.loopback, resolver: resolver)
        let response = try await kind.run(.init(url: "http://app.test:\(server.port)/echo"), context: context(kind: "http"))
        #expect(response.status == 200)
        #expect(response.body == "GET /echo host=app.test:\(server.port) body=")

        // One refused address among several refuses the request.
        await #expect {
            _ = try await kind.run(.init(url: "http://rebind.test:\(server.port)/echo"), context: context(kind: "http"))
        } throws: { error in
            (error as? FailPermanently)?.message.contains("host 'rebind.test' resolves to 10.0.0.1, which is private (RFC 1918)") == true
        }
        await #expect {
            _ = try await kind.run(.init(url: "http://nowhere.test/"), context: context(kind: "http"))
        } throws: { error in
            error is HostResolutionError && !(error is FailPermanently)
        }
        // Nothing listens on [::1]:PORT: the next checked address is tried.
        let both = HTTPKind(configuration: HTTPKindConfiguration(allowlist: ["127.0.0.1/32", "::1/128"]), resolver: resolver)
        let fallback = try await both.run(.init(url: "http://dual.test:\(server.port)/echo"), context: context(kind: "http"))
        #expect(fallback.body == "GET /echo host=dual.test:\(server.port) body=")
        #expect(server.requestCount == 2)
        await server.stop()
    }

    /// A host named in the allowlist may resolve to loopback; the system resolver is used, and
    /// if `localhost` gives ::1 first (where nothing listens) the next address is tried.
    @Test func allowlistedHostName() async throws {
        let server = try await HTTPKindServer.start()
        let kind = HTTPKind(configuration: HTTPKindConfiguration(allowlist: ["localhost"]))
        let response = try await kind.run(.init(url: "http://localhost:\(server.port)/echo", timeout: 5), context: context(kind: "http"))
        #expect(response.body == "GET /echo host=localhost:\(server.port) body=")
        await #expect {
            _ = try await kind.run(.init(url: "http://127.0.0.1:\(server.port)/echo"), context: context(kind: "http"))
        } throws: { error in
            (error as? FailPermanently)?.message.hasPrefix("refused") == true
        }
        #expect(server.requestCount == 1)
        await server.stop()
    }
}
