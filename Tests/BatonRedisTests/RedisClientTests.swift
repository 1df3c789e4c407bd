import BatonRedis
import BatonTesting
import Foundation
import Testing

/// The client against a real Redis server, started by `scripts/with-redis.sh`, which exports
/// `BATON_TEST_REDIS_URL`. Without it each test prints why it is skipped, and under `CI=true`
/// fails. Each test uses keys of its own.
@Suite("Redis client against redis-server")
struct RedisClientTests {

    /// A configuration for the test server, or `nil` (skipped, or an issue in CI).
    static func server(_ test: String = #function, sourceLocation: SourceLocation = #_sourceLocation) throws -> RedisConfiguration? {
        try TestServer.redisURL(for: test, sourceLocation: sourceLocation).map { try RedisConfiguration(url: $0) }
    }

    static func key(_ name: String) -> RedisArgument { RedisArgument("baton-test:\(name):\(UUID().uuidString.prefix(8))") }

    @Test func pingSetAndGetBinarySafeBytes() async throws {
        guard let server = try Self.server() else { return }
        let redis = try await RedisConnection.connect(server)
        defer { Task { await redis.close() } }
        #expect(try await redis.command(["PING"]) == .simpleString("PONG"))
        let key = Self.key("bytes")
        let bytes: [UInt8] = [0, 13, 10, 255, 36, 42] + Array("é".utf8)
        #expect(try await redis.command(["SET", key, RedisArgument(bytes: bytes), "PX", 60000]) == .simpleString("OK"))
        #expect(try await redis.command(["GET", key]) == .bulkString(bytes))
        #expect(try await redis.command(["GET", Self.key("missing")]).isNull)
    }

    /// 1,000 commands from 100 concurrent tasks on one connection: each gets its own reply.
    @Test func concurrentCommandsGetTheirOwnReplies() async throws {
        guard let server = try Self.server() else { return }
        let redis = try await RedisConnection.connect(server)
        defer { Task { await redis.close() } }
        let key = Self.key("counter")
        let replies = try await withThrowingTaskGroup(of: [Int64].self) { group in
            for _ in 0..<100 {
                group.addTask {
                    var seen: [Int64] = []
                    for _ in 0..<10 { seen.append(try #require(try await redis.command(["INCR", key]).int)) }
                    return seen
                }
            }
            return try await group.reduce(into: [Int64]()) { $0 += $1 }
        }
        #expect(Set(replies) == Set(1...1000) && replies.count == 1000)
        let pipelined = try await redis.sendAll((0..<50).map { _ in ["INCR", key] })
        #expect(pipelined.compactMap(\.int) == Array(1001...1050))
        _ = try await redis.command(["DEL", key])
    }

    @Test func anErrorReplyIsThrownWithItsCodeAndTheConnectionGoesOn() async throws {
        guard let server = try Self.server() else { return }
        let redis = try await RedisConnection.connect(server)
        defer { Task { await redis.close() } }
        let key = Self.key("list")
        _ = try await redis.command(["RPUSH", key, "a"])
        do {
            _ = try await redis.command(["INCR", key])
            Issue.record("INCR of a list succeeded")
        } catch {
            #expect(error.kind == .server && error.code == "WRONGTYPE", "\(error)")
        }
        let replies = try await redis.sendAll([["INCR", key], ["LLEN", key]])
        #expect(replies.count == 2 && replies[0].string == nil && replies[1] == .integer(1))
        if case .error(let message) = replies[0] { #expect(message.hasPrefix("WRONGTYPE")) } else { Issue.record("no error reply") }
        _ = try await redis.command(["DEL", key])
    }

    /// An ACL user with a password: the right one connects; a wrong one is refused with a
    /// message that names the server and not the password.
    @Test func credentialsAndDatabase() async throws {
        guard let server = try Self.server() else { return }
        let admin = try await RedisConnection.connect(server)
        defer { Task { await admin.close() } }
        let user = "baton-test-\(UUID().uuidString.prefix(8))"
        let password = "s3cret-\(UUID().uuidString)"
        _ = try await admin.command(["ACL", "SETUSER", RedisArgument(user), "on", RedisArgument(">" + password), "~*", "+@all"])
        defer { Task { _ = try? await admin.command(["ACL", "DELUSER", RedisArgument(user)]) } }

        let escaped = password.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
        var good = try RedisConfiguration(url: "redis://\(user):\(escaped)@\(server.address)/3")
        #expect(good.database == 3 && good.password == password && !good.description.contains(password))
        let redis = try await RedisConnection.connect(good)
        #expect(try await redis.command(["ACL", "WHOAMI"]).string == user)
        let key = Self.key("db3")
        _ = try await redis.command(["SET", key, "in 3", "PX", 60000])
        #expect(try await admin.command(["GET", key]).isNull, "database 0 does not have it")
        _ = try await admin.command(["SELECT", 3])
        #expect(try await admin.command(["GET", key]).string == "in 3")
        await redis.close()

        good.password = "wrong-\(password)"
        do {
            _ = try await RedisConnection.connect(good)
            Issue.record("a wrong password connected")
        } catch {
            #expect(error.kind == .auth && error.message.contains(server.address) && error.message.contains("WRONGPASS"), "\(error)")
            #expect(!error.message.contains(password), "the password is in the message")
        }
    }

    /// TLS (`rediss://`), verified against the CA that signed the server's certificate; with
    /// the system's trust store instead, the connect fails saying why.
    @Test func tlsVerifiedAgainstTheServersCA() async throws {
        guard try Self.server() != nil else { return }
        guard
            let url = TestServer.url(
                "BATON_TEST_REDIS_TLS_URL", server: "Redis over TLS", script: "scripts/with-redis.sh, which needs openssl",
                for: #function),
            let ca = ProcessInfo.processInfo.environment["BATON_TEST_REDIS_CA"]
        else { return }
        var config = try RedisConfiguration(url: url)
        config.caFile = ca
        #expect(config.tls && config.description.hasPrefix("rediss://localhost:"))
        let redis = try await RedisConnection.connect(config)
        let key = Self.key("tls")
        _ = try await redis.command(["SET", key, "over TLS", "PX", 60000])
        #expect(try await redis.command(["GET", key]).string == "over TLS")
        await redis.close()

        config.caFile = nil
        do {
            _ = try await RedisConnection.connect(config)
            Issue.record("a certificate signed by an unknown CA was accepted")
        } catch {
            #expect(error.kind == .connect && error.message.hasPrefix("cannot reach Redis at localhost:"), "\(error)")
            #expect(
                error.message.hasSuffix(
                    "TLS handshake failed: the server's certificate is not trusted (give the CA that signed it: "
                        + "RedisConfiguration.caFile)"), "\(error)")
        }
    }

    /// Needs no server: nothing listens on port 1 of the loopback address.
    @Test func noServerIsAClearConnectError() async throws {
        let config = RedisConfiguration(host: "127.0.0.1", port: 1, connectTimeout: .seconds(2))
        do {
            _ = try await RedisConnection.connect(config)
            Issue.record("connected to port 1")
        } catch {
            #expect(error.kind == .connect && error.message == "cannot reach Redis at 127.0.0.1:1: connection refused", "\(error)")
        }
    }

    /// A command with no reply in time fails with `timeout`, and the connection is closed (a
    /// late reply could not be matched any more).
    @Test func aCommandWithoutAReplyInTimeClosesTheConnection() async throws {
        guard let server = try Self.server() else { return }
        let redis = try await RedisConnection.connect(server)
        let started = ContinuousClock.now
        do {
            _ = try await redis.command(["BLPOP", Self.key("never"), 5], timeout: .milliseconds(200))
            Issue.record("BLPOP of an empty list returned")
        } catch {
            #expect(error.kind == .timeout, "\(error)")
        }
        #expect(ContinuousClock.now - started < .seconds(3))
        try await Task.sleep(for: .milliseconds(50))
        #expect(!redis.isActive)
        do {
            _ = try await redis.command(["PING"])
            Issue.record("a closed connection answered")
        } catch {
            #expect(error.kind == .closed, "\(error)")
        }
    }

    /// What the Redis transport will build on: a stream, a consumer group, a read that blocks
    /// until an entry comes, an acknowledgement, and an entry claimed from a consumer that
    /// stopped.
    @Test func streamsWithAConsumerGroup() async throws {
        guard let server = try Self.server() else { return }
        let redis = try await RedisConnection.connect(server)
        let reader = try await RedisConnection.connect(server)
        defer {
            Task {
                await redis.close()
                await reader.close()
            }
        }
        let stream = Self.key("work")
        _ = try await redis.command(["XGROUP", "CREATE", stream, "workers", "$", "MKSTREAM"])
        do {
            _ = try await redis.command(["XGROUP", "CREATE", stream, "workers", "$"])
        } catch {
            #expect(error.code == "BUSYGROUP")
        }
        async let read = reader.command(
            ["XREADGROUP", "GROUP", "workers", "w1", "COUNT", 10, "BLOCK", 5000, "STREAMS", stream, ">"], timeout: .seconds(10))
        try await Task.sleep(for: .milliseconds(100))
        let id = try #require(try await redis.command(["XADD", stream, "*", "task", #"{"kind":"echo"}"#]).string)
        let streams = try #require(try await read.array)
        let entries = try #require(streams.first?.array?[1].array)
        #expect(entries.count == 1 && entries[0].array?[0].string == id)
        #expect(entries[0].array?[1].array?.compactMap(\.string) == ["task", #"{"kind":"echo"}"#])

        // w1 never acknowledges: w2 claims it after it has been idle.
        try await Task.sleep(for: .milliseconds(20))
        let claimed = try await redis.command(["XAUTOCLAIM", stream, "workers", "w2", 10, "0-0", "COUNT", 10])
        #expect(claimed.array?[1].array?.first?.array?[0].string == id)
        #expect(try await redis.command(["XACK", stream, "workers", RedisArgument(id)]) == .integer(1))
        let pending = try await redis.command(["XPENDING", stream, "workers"])
        #expect(pending.array?[0] == .integer(0))
        _ = try await redis.command(["DEL", stream])
    }
}
