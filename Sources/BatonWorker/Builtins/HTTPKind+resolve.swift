import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Turns a host name into addresses, once: the `http` kind checks what this returns and
/// then connects to a checked address, never resolving the name again.
struct HostResolver: Sendable {
    let resolve: @Sendable (_ host: String, _ timeout: Duration) async throws -> [IPAddress]

    /// `getaddrinfo(3)` on a thread of its own (it blocks, and cannot be interrupted), so the
    /// cooperative pool is never blocked; the caller stops waiting after `timeout` and the
    /// thread finishes on its own.
    static let system = HostResolver { host, timeout in
        try await withoutBlocking(timeout: timeout, what: "resolving '\(host)'") { try getAddresses(host) }
    }

    /// Runs `body` on a new thread; returns its value, or throws `HTTPKindTimeout` after
    /// `timeout` or `CancellationError` when the calling task is cancelled, whichever is first.
    static func withoutBlocking<T: Sendable>(
        timeout: Duration, what: String, _ body: @escaping @Sendable () throws -> T
    ) async throws -> T {
        let slot = Mutex(ResolverSlot<T>())
        let finish: @Sendable (Result<T, any Error>) -> Void = { result in
            let (continuation, timer) = slot.withLock { s in
                s.done = true
                defer {
                    s.continuation = nil
                    s.timer = nil
                }
                return (s.continuation, s.timer)
            }
            timer?.cancel()
            continuation?.resume(with: result)
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
                slot.withLock { $0.continuation = continuation }
                if Task.isCancelled {
                    finish(.failure(CancellationError()))
                    return
                }
                let thread = Thread { finish(Result { try body() }) }
                thread.name = "baton-resolver"
                thread.start()
                let timer = Task {
                    guard (try? await Task.sleep(for: timeout)) != nil else { return }
                    finish(.failure(HTTPKindTimeout(what: what, after: timeout)))
                }
                let finished = slot.withLock { s in
                    if !s.done { s.timer = timer }
                    return s.done
                }
                if finished { timer.cancel() }
            }
        } onCancel: {
            finish(.failure(CancellationError()))
        }
    }

    /// The addresses `getaddrinfo` gives for a stream socket to `host`, in its order, without
    /// duplicates.
    static func getAddresses(_ host: String) throws -> [IPAddress] {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        #if canImport(Glibc) || canImport(Musl)
            hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        #else
            hints.ai_socktype = SOCK_STREAM
        #endif
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, nil, &hints, &list)
        guard status == 0 else {
            throw HostResolutionError(host: host, reason: String(cString: gai_strerror(status)))
        }
        defer { freeaddrinfo(list) }
        var addresses: [IPAddress] = []
        var next = list
        while let info = next {
            next = info.pointee.ai_next
            guard let socketAddress = info.pointee.ai_addr else { continue }
            let address: IPAddress
            switch info.pointee.ai_family {
            case AF_INET:
                let raw = socketAddress.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_addr.s_addr }
                address = .v4(UInt32(bigEndian: raw))
            case AF_INET6:
                var raw = socketAddress.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee.sin6_addr }
                address = .v6(withUnsafeBytes(of: &raw) { $0.reduce(UInt128(0)) { ($0 << 8) | UInt128($1) } })
            default:
                continue
            }
            if !addresses.contains(address) { addresses.append(address) }
        }
        guard !addresses.isEmpty else { throw HostResolutionError(host: host, reason: "no IPv4 or IPv6 address") }
        return addresses
    }
}

/// The waiter of ``HostResolver/withoutBlocking(timeout:what:_:)``: resumed once, by the
/// thread, the timer or a cancellation.
struct ResolverSlot<T: Sendable> {
    var continuation: CheckedContinuation<T, any Error>?
    var timer: Task<Void, Never>?
    var done = false
}

/// A host name that did not resolve (retryable: DNS may answer later).
struct HostResolutionError: Error, CustomStringConvertible {
    var host: String
    var reason: String
    var description: String { "cannot resolve host '\(host)': \(reason)" }
}

/// A request, or its name resolution, that ran out of time (retryable).
struct HTTPKindTimeout: Error, CustomStringConvertible {
    var what: String
    var after: Duration
    var description: String { "timed out after \(HTTPKind.formatSeconds(after)) \(what)" }
}
