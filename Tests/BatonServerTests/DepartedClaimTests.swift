import BatonCore
import BatonServer
import BatonTesting
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Over real HTTP: a worker that leaves while its claim long-polls must not take tasks with it.
@Suite("Departed long-poll claims", .serialized)
struct DepartedClaimTests {
    @Test(.timeLimit(.minutes(1)))
    func aClaimWhoseWorkerLeftTakesNoTask() async throws {
        try await withTestApp(.live) { client, node in
            let port = try #require(client.port)
            let statements = node.store.stats.claimStatements
            // A worker long-polls an empty queue for 20 s...
            let ghost = try RawConnection(port: port)
            try ghost.post("/v1/workers/claim", json: #"{"worker":"ghost","queues":["q"],"max":5,"wait_ms":20000}"#)
            // ...its claim reached the store (and found nothing), so it now waits...
            try await waitUntil("the ghost's claim to reach the store") { node.store.stats.claimStatements > statements }
            // ...and the worker dies: its socket closes.
            ghost.close()
            try await Task.sleep(for: .milliseconds(300))

            let task = try await client.submit(echoTask(1, queue: "q"))
            // A live worker gets the task, on its first attempt: the ghost took nothing.
            let response = try await client.send(
                .post, "/v1/workers/claim", body: ClaimBody(worker: "alive", queues: ["q"], max: 5, waitMS: 5000))
            let claimed = try response.decode(ClaimResponse.self).tasks
            #expect(claimed.map(\.task.id) == [task.id])
            #expect(claimed.first?.task.attempt == 1)
            #expect(claimed.first?.task.leaseOwner == "alive")
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func aLongPollThatStaysAnswersWhenATaskArrives() async throws {
        // The watch must not mistake a waiting client for a departed one.
        try await withTestApp(.live) { client, node in
            let port = try #require(client.port)
            let statements = node.store.stats.claimStatements
            let worker = try RawConnection(port: port)
            defer { worker.close() }
            try worker.post("/v1/workers/claim", json: #"{"worker":"patient","queues":["q"],"max":5,"wait_ms":20000}"#)
            try await waitUntil("the claim to reach the store") { node.store.stats.claimStatements > statements }
            let task = try await client.submit(echoTask(2, queue: "q"))
            let answer = try await worker.readResponse()
            #expect(answer.hasPrefix("HTTP/1.1 200"))
            #expect(answer.contains(task.id.description))
            // The connection stays usable (keep-alive) for the next claim.
            try worker.post("/v1/workers/claim", json: #"{"worker":"patient","queues":["q"],"max":5,"wait_ms":0}"#)
            let second = try await worker.readResponse()
            #expect(second.hasPrefix("HTTP/1.1 200"))
            #expect(second.contains(#""tasks":[]"#))
        }
    }
}

private func waitUntil(_ what: String, timeout: Duration = .seconds(20), _ condition: () -> Bool) async throws {
    let deadline = ContinuousClock.now.advanced(by: timeout)
    while !condition() {
        if ContinuousClock.now >= deadline {
            Issue.record("timed out waiting for \(what)")
            return
        }
        try await Task.sleep(for: .milliseconds(10))
    }
}

/// A bare HTTP/1.1 client on a blocking socket: it can vanish mid-request, as a killed
/// process does, which a pooled HTTP client does not let a test do.
private final class RawConnection: @unchecked Sendable {
    private let fd: Int32

    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EIO) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let status = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard status == 0 else {
            Glibc.close(fd)
            throw POSIXError(.ECONNREFUSED)
        }
    }

    func post(_ path: String, json: String) throws {
        let body = Array(json.utf8)
        let head = "POST \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: \(body.count)\r\n\r\n"
        let bytes = Array(head.utf8) + body
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard written == bytes.count else { throw POSIXError(.EIO) }
    }

    /// Reads one response (headers and a `Content-Length` body) without blocking a
    /// cooperative thread for long: it polls the socket.
    func readResponse(timeout: Duration = .seconds(20)) async throws -> String {
        var received: [UInt8] = []
        let deadline = ContinuousClock.now.advanced(by: timeout)
        while ContinuousClock.now < deadline {
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            if poll(&poller, 1, 0) > 0 {
                var chunk = [UInt8](repeating: 0, count: 65536)
                let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                guard n > 0 else { break }
                received += chunk[..<n]
                let text = String(decoding: received, as: UTF8.self)
                if let end = text.range(of: "\r\n\r\n") {
                    let headers = text[..<end.lowerBound].lowercased()
                    let length =
                        headers.split(separator: "\r\n").first { $0.hasPrefix("content-length:") }
                        .flatMap { Int($0.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) } ?? 0
                    if text.utf8.distance(from: end.upperBound.samePosition(in: text.utf8)!, to: text.utf8.endIndex) >= length {
                        return text
                    }
                }
            } else {
                try await Task.sleep(for: .milliseconds(5))
            }
        }
        throw POSIXError(.ETIMEDOUT)
    }

    func close() { Glibc.close(fd) }
}
