import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// An IPv4 or IPv6 address, as a number.
public enum IPAddress: Hashable, Sendable, CustomStringConvertible {
    case v4(UInt32)
    case v6(UInt128)

    /// Parses an address literal: IPv6 (square brackets optional), or IPv4 in any form the C
    /// resolver's `inet_aton` accepts — `127.0.0.1`, `2130706433`, `0x7f000001`,
    /// `0177.0.0.1`, `127.1`, `0x7f.1` all read as 127.0.0.1 — because `getaddrinfo` would
    /// read a URL's host that way.
    public init?(_ text: String) {
        if let v4 = Self.parseIPv4(text) {
            self = .v4(v4)
        } else if let v6 = Self.parseIPv6(text) {
            self = .v6(v6)
        } else {
            return nil
        }
    }

    /// Parses only the canonical forms: a dotted quad of four decimal numbers, or IPv6 text.
    public init?(strict text: String) {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            self = .v4(UInt32(bigEndian: v4.s_addr))
        } else if let v6 = Self.parseIPv6(text) {
            self = .v6(v6)
        } else {
            return nil
        }
    }

    /// `inet_aton(3)`: one to four parts separated by dots, each decimal, octal (a leading
    /// `0`) or hexadecimal (`0x`); the last part fills the remaining bytes (`a`, `a.b` with
    /// `b` 24 bits, `a.b.c` with `c` 16 bits, `a.b.c.d`). No whitespace, no trailing text.
    public static func parseIPv4(_ text: some StringProtocol) -> UInt32? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard (1...4).contains(parts.count) else { return nil }
        var values: [UInt64] = []
        for part in parts {
            guard let value = parseNumber(part) else { return nil }
            values.append(value)
        }
        // Every part but the last is one byte; the last fills the rest.
        for value in values.dropLast() where value > 0xFF { return nil }
        let lastBits = 8 * (5 - values.count)
        guard let last = values.last, last < (UInt64(1) << lastBits) else { return nil }
        var result: UInt64 = 0
        for (index, value) in values.dropLast().enumerated() { result |= value << (24 - 8 * index) }
        return UInt32(result | last)
    }

    /// One part of an `inet_aton` address: `0x1F`, `017`, `15` (at most 32 bits).
    private static func parseNumber(_ part: some StringProtocol) -> UInt64? {
        var digits = Substring(part)
        var radix: UInt64 = 10
        if digits.hasPrefix("0x") || digits.hasPrefix("0X") {
            radix = 16
            digits = digits.dropFirst(2)
            if digits.isEmpty { return 0 }  // glibc reads a bare "0x" as zero
        } else if digits.hasPrefix("0") && digits.count > 1 {
            radix = 8
            digits = digits.dropFirst()
        }
        guard !digits.isEmpty else { return nil }
        var value: UInt64 = 0
        for character in digits {
            guard let digit = character.hexDigitValue, UInt64(digit) < radix else { return nil }
            value = value * radix + UInt64(digit)
            if value > UInt64(UInt32.max) { return nil }
        }
        return value
    }

    /// IPv6 text (RFC 4291, a trailing dotted quad allowed), in square brackets or not.
    /// Zone identifiers (`%eth0`) are not accepted.
    public static func parseIPv6(_ text: some StringProtocol) -> UInt128? {
        var literal = String(text)
        if literal.hasPrefix("[") && literal.hasSuffix("]") { literal = String(literal.dropFirst().dropLast()) }
        guard literal.contains(":") else { return nil }
        var address = in6_addr()
        guard inet_pton(AF_INET6, literal, &address) == 1 else { return nil }
        return withUnsafeBytes(of: &address) { bytes in
            bytes.reduce(UInt128(0)) { ($0 << 8) | UInt128($1) }
        }
    }

    public var isIPv4: Bool {
        if case .v4 = self { return true }
        return false
    }

    /// The address as a URL host: a dotted quad, or IPv6 in square brackets.
    public var urlHost: String {
        switch self {
        case .v4: description
        case .v6: "[\(description)]"
        }
    }

    /// A dotted quad, or IPv6 in its canonical compressed form (`inet_ntop`).
    public var description: String {
        switch self {
        case .v4(let value):
            return [24, 16, 8, 0].map { String((value >> $0) & 0xFF) }.joined(separator: ".")
        case .v6(let value):
            var address = in6_addr()
            withUnsafeMutableBytes(of: &address) { bytes in
                for index in 0..<16 { bytes[index] = UInt8(truncatingIfNeeded: value >> (8 * (15 - index))) }
            }
            var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
            guard inet_ntop(AF_INET6, &address, &buffer, socklen_t(buffer.count)) != nil else { return "?" }
            return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
    }
}

/// A network in CIDR notation: `10.0.0.0/8`, `::1/128`; a bare address is a single host.
public struct IPNetwork: Hashable, Sendable, CustomStringConvertible {
    /// The network's first address (host bits cleared).
    public let address: IPAddress
    public let prefixLength: Int

    public init(_ address: IPAddress, prefixLength: Int) {
        let width = address.isIPv4 ? 32 : 128
        let length = min(max(prefixLength, 0), width)
        self.prefixLength = length
        switch address {
        case .v4(let value): self.address = .v4(length == 0 ? 0 : value & (UInt32.max << (32 - length)))
        case .v6(let value): self.address = .v6(length == 0 ? 0 : value & (UInt128.max << (128 - length)))
        }
    }

    /// Parses `address/length` or a bare address (canonical forms only).
    public init?(_ text: String) {
        let pieces = text.split(separator: "/", omittingEmptySubsequences: false)
        guard (1...2).contains(pieces.count), let address = IPAddress(strict: String(pieces[0])) else { return nil }
        let width = address.isIPv4 ? 32 : 128
        var length = width
        if pieces.count == 2 {
            guard let parsed = Int(pieces[1]), (0...width).contains(parsed), pieces[1].allSatisfy(\.isASCII) else { return nil }
            length = parsed
        }
        self.init(address, prefixLength: length)
    }

    /// Whether `other` is in this network. An IPv4 network also contains the IPv4-mapped
    /// IPv6 form of its addresses (`::ffff:a.b.c.d`), which the system connects to over IPv4.
    public func contains(_ other: IPAddress) -> Bool {
        switch (address, other) {
        case (.v4(let network), .v4(let value)):
            return prefixLength == 0 || value & (UInt32.max << (32 - prefixLength)) == network
        case (.v6(let network), .v6(let value)):
            return prefixLength == 0 || value & (UInt128.max << (128 - prefixLength)) == network
        case (.v4, .v6(let value)):
            guard value >> 32 == 0xFFFF else { return false }
            return contains(.v4(UInt32(truncatingIfNeeded: value)))
        case (.v6, .v4):
            return false
        }
    }

    public var description: String { "\(address)/\(prefixLength)" }
}

/// Whether the `http` kind may connect to an address.
///
/// Refused unless allowlisted: loopback, unspecified, private (RFC 1918), shared (CGNAT),
/// link-local, cloud metadata endpoints, unique local IPv6, multicast, broadcast, and
/// reserved, documentation and benchmarking ranges; IPv6 forms that carry an IPv4 address
/// (IPv4-mapped, IPv4-compatible, IPv4-translated, NAT64 `64:ff9b::/96`, 6to4 `2002::/16`) are
/// judged by that IPv4 address, and IPv6 outside global unicast `2000::/3` is refused.
///
/// The allowlist holds host names (`localhost`, `api.internal`; matched exactly, case
/// insensitively, a trailing dot ignored) and networks (`127.0.0.1/32`, `10.0.0.0/8`,
/// `::1/128`, or a bare address). A host named in it may resolve to anything; otherwise every
/// address must be public or in an allowlisted network.
public struct AddressPolicy: Sendable, Hashable {
    public let hosts: Set<String>
    public let networks: [IPNetwork]

    /// Fails on an entry that is neither a network nor a host name.
    public init(allowlist: [String]) throws(AddressPolicyError) {
        var hosts: Set<String> = []
        var networks: [IPNetwork] = []
        for raw in allowlist {
            let entry = raw.trimmingCharacters(in: .whitespaces)
            if let network = IPNetwork(entry) {
                networks.append(network)
            } else if entry.contains("/") || entry.contains(":") || IPAddress.parseIPv4(entry) != nil {
                throw AddressPolicyError(entry: raw, reason: "not a network such as 10.0.0.0/8 or ::1/128")
            } else if let host = Self.normalizedHostName(entry) {
                hosts.insert(host)
            } else {
                throw AddressPolicyError(entry: raw, reason: "not a host name or a network")
            }
        }
        self.hosts = hosts
        self.networks = networks
    }

    /// Nothing allowlisted: only public addresses.
    public static let publicOnly = AddressPolicy(hosts: [], networks: [])

    private init(hosts: Set<String>, networks: [IPNetwork]) {
        self.hosts = hosts
        self.networks = networks
    }

    /// Whether the allowlist names this host.
    public func allowsHost(_ host: String) -> Bool {
        guard let name = Self.normalizedHostName(host) else { return false }
        return hosts.contains(name)
    }

    /// `nil` if the address may be used; otherwise why not.
    public func refusal(for address: IPAddress) -> String? {
        if networks.contains(where: { $0.contains(address) }) { return nil }
        return Self.specialPurpose(address)
    }

    /// Lower-cased, without a trailing dot; `nil` if not a plausible DNS name.
    static func normalizedHostName(_ text: String) -> String? {
        var name = text.lowercased()
        if name.hasSuffix(".") { name.removeLast() }
        guard !name.isEmpty, name.utf8.count <= 253 else { return nil }
        let allowed = Set("abcdefghijklmnopqrstuvwxyz0123456789-_.")
        guard name.allSatisfy(allowed.contains), !name.hasPrefix("."), !name.contains("..") else { return nil }
        return name
    }

    /// What an address is reserved for, or `nil` for an ordinary public address.
    public static func specialPurpose(_ address: IPAddress) -> String? {
        switch address {
        case .v4(let value):
            return ipv4Ranges.first { $0.network.contains(.v4(value)) }?.name
        case .v6(let value):
            if let (embedded, form) = embeddedIPv4(value) {
                return specialPurpose(.v4(embedded)).map { "\(form) of \(IPAddress.v4(embedded)): \($0)" }
            }
            if let range = ipv6Ranges.first(where: { $0.network.contains(.v6(value)) }) { return range.name }
            return globalUnicast.contains(.v6(value)) ? nil : "reserved (outside 2000::/3)"
        }
    }

    /// The IPv4 address an IPv6 address stands for, and the form's name.
    static func embeddedIPv4(_ value: UInt128) -> (UInt32, String)? {
        let low = UInt32(truncatingIfNeeded: value)
        if value >> 32 == 0xFFFF { return (low, "IPv4-mapped address") }
        if value >> 32 == 0xFFFF_0000 { return (low, "IPv4-translated address") }
        if value >> 32 == 0 && value > 1 { return (low, "IPv4-compatible address") }
        if value >> 32 == 0x0064_FF9B_0000_0000_0000_0000 { return (low, "NAT64 address") }
        if value >> 112 == 0x2002 { return (UInt32(truncatingIfNeeded: value >> 80), "6to4 address") }
        return nil
    }

    struct SpecialRange: Sendable {
        var network: IPNetwork
        var name: String
        init(_ cidr: String, _ name: String) {
            network = IPNetwork(cidr)!
            self.name = name
        }
    }

    /// Most specific first.
    static let ipv4Ranges: [SpecialRange] = [
        SpecialRange("169.254.169.254/32", "cloud metadata endpoint"),
        SpecialRange("0.0.0.0/8", "unspecified (0.0.0.0/8)"),
        SpecialRange("10.0.0.0/8", "private (RFC 1918)"),
        SpecialRange("100.64.0.0/10", "shared address space (CGNAT, RFC 6598)"),
        SpecialRange("127.0.0.0/8", "loopback"),
        SpecialRange("169.254.0.0/16", "link-local"),
        SpecialRange("172.16.0.0/12", "private (RFC 1918)"),
        SpecialRange("192.0.0.0/24", "IETF protocol assignments (192.0.0.0/24)"),
        SpecialRange("192.0.2.0/24", "documentation (TEST-NET-1)"),
        SpecialRange("192.88.99.0/24", "6to4 relay anycast (reserved)"),
        SpecialRange("192.168.0.0/16", "private (RFC 1918)"),
        SpecialRange("198.18.0.0/15", "benchmarking (198.18.0.0/15)"),
        SpecialRange("198.51.100.0/24", "documentation (TEST-NET-2)"),
        SpecialRange("203.0.113.0/24", "documentation (TEST-NET-3)"),
        SpecialRange("224.0.0.0/4", "multicast"),
        SpecialRange("255.255.255.255/32", "broadcast"),
        SpecialRange("240.0.0.0/4", "reserved (240.0.0.0/4)"),
    ]

    static let ipv6Ranges: [SpecialRange] = [
        SpecialRange("::/128", "unspecified (::)"),
        SpecialRange("::1/128", "loopback"),
        SpecialRange("fd00:ec2::254/128", "cloud metadata endpoint"),
        SpecialRange("64:ff9b:1::/48", "local-use NAT64 (64:ff9b:1::/48)"),
        SpecialRange("100::/64", "discard-only (100::/64)"),
        SpecialRange("2001:db8::/32", "documentation (2001:db8::/32)"),
        SpecialRange("2001::/23", "IETF protocol assignments (2001::/23, Teredo included)"),
        SpecialRange("3fff::/20", "documentation (3fff::/20)"),
        SpecialRange("fc00::/7", "unique local (fc00::/7)"),
        SpecialRange("fe80::/10", "link-local"),
        SpecialRange("fec0::/10", "site-local (deprecated)"),
        SpecialRange("ff00::/8", "multicast"),
    ]

    static let globalUnicast = IPNetwork("2000::/3")!
}

/// An allowlist entry the `http` kind cannot use.
public struct AddressPolicyError: Error, Sendable, Hashable, CustomStringConvertible {
    public var entry: String
    public var reason: String
    public var description: String { "http allowlist entry '\(entry)': \(reason)" }
}
