import BatonRedis
import Testing

@Suite("Redis URLs")
struct RedisConfigurationTests {
    @Test func theFormsRedisToolsTake() throws {
        let plain = try RedisConfiguration(url: "redis://cache.internal")
        #expect(plain.host == "cache.internal" && plain.port == 6379 && plain.database == 0 && !plain.tls && plain.password == nil)
        let full = try RedisConfiguration(url: "rediss://app:p%40ss%3Aword@10.0.0.5:6380/2")
        #expect(full.username == "app" && full.password == "p@ss:word" && full.port == 6380 && full.database == 2 && full.tls)
        #expect(full.description == "rediss://app:***@10.0.0.5:6380/2")
        let passwordOnly = try RedisConfiguration(url: "redis://:hunter2@[::1]:7000")
        #expect(passwordOnly.username == nil && passwordOnly.password == "hunter2" && passwordOnly.host == "::1")
        #expect(passwordOnly.address == "[::1]:7000" && passwordOnly.description == "redis://:***@[::1]:7000")
    }

    @Test(arguments: [
        ("http://host", "a Redis URL starts with redis:// or rediss:// (TLS), got 'http://'"),
        ("redis:///0", "'redis:///0' names no host"),
        ("redis://host/db", "the path of a Redis URL is a database number, got '/db'"),
        ("redis://u:hunter2@host:0", "port 0 is out of range"),
        ("not a url at all", "'not a url at all' is not a URL (redis://HOST:PORT/DATABASE)"),
    ])
    func badURLsAreRefusedWithoutThePassword(_ url: String, _ message: String) {
        #expect(throws: RedisError(.invalidArgument, message)) { try RedisConfiguration(url: url) }
    }
}
