import BatonClient
import BatonCore
import BatonTesting
import Foundation
import Testing

/// Settings that take effect at start, each set once through a settings file and once through
/// its `BATON_*` variable, and observed on the running `baton` process: the address it serves,
/// the store it opened and how, the worker it registered, what its built-in kinds may do.
/// The reloadable settings are set here at start too (tokens, limits, retry policy), and
/// observed changing under a running process by `ConfigReloadTests`; what every key parses
/// to, by `ConfigurationKeysTests`. Not yet observed here: `tls.cert`/`tls.key` (TLSTests
/// start nodes with the flags), `httpKind.maxRedirects`, `node.*` and `retry.backoff`/`cap`
/// through the environment, and the CLI's own keys.
extension EndToEnd {
    @Suite(.serialized) struct ConfigKeysOnProcessesTests {
        enum Source: String, CaseIterable, Sendable {
            case file, environment
        }

        /// A running process started with the key under test.
        struct Running: Sendable {
            let process: BatonProcess
            let url: String
            let dir: TempDir
            let value: String
            /// The key's source, for a CLI command that reads it too: `--config FILE`, or variables.
            let sourceArguments: [String]
            let sourceEnvironment: [String: String]

            /// Runs `baton` against the process.
            func cli(_ arguments: [String]) async throws -> CommandResult {
                try await baton(arguments + ["--server", url])
            }

            /// Runs `baton` with the key's source (the file or the variables) and nothing else.
            func cliWithSource(_ arguments: [String]) async throws -> CommandResult {
                try await baton(arguments + sourceArguments, environment: sourceEnvironment)
            }

            /// The worker the node lists (the in-process one), once it has announced itself.
            func worker() async throws -> WorkerInfo {
                let client = BatonClient(servers: [URL(string: url)!])
                return try await eventually("the in-process worker in GET /v1/workers") { try await client.workers().first }
            }

            /// Submits a task with `--wait --json` and returns it as it ended.
            func run(_ kind: String, _ args: String) async throws -> TaskRecord {
                let result = try await cli(["submit", kind, "--args", args, "--max-attempts", "1", "--wait", "--json"])
                return try BatonJSON.decoder().decode(TaskRecord.self, from: Data(result.stdout.utf8))
            }
        }

        struct Case: Sendable, CustomTestStringConvertible {
            var key: String
            /// The process: `serve` or `standalone` (in-process workers).
            var command: String
            /// Flags besides the key; `--db` and `--port 0` are added unless the key is about them.
            var flags: [String] = []
            /// The value; `$DIR` stands for the test's directory, `$PORT` for a free port.
            var value: String
            /// Runs against a fresh schema of the test PostgreSQL server (skipped without one,
            /// except under CI).
            var postgres = false
            /// Other keys set through the same source, that the observation needs.
            var companions: [String: String] = [:]
            var observe: @Sendable (Running) async throws -> Void
            var testDescription: String { key }
        }

        static let cases: [Case] = [
            Case(key: "http.host", command: "serve", value: "localhost") { (r: Running) async throws in
                #expect(r.url.hasPrefix("http://localhost:"), "\(r.url)")
            },
            Case(key: "http.port", command: "serve", value: "$PORT") { (r: Running) async throws in
                #expect(r.url.hasSuffix(":\(r.value)"), "\(r.url)")
            },
            Case(key: "insecure", command: "serve", flags: ["--host", "0.0.0.0"], value: "true") { (r: Running) async throws in
                // Without it a node on a non-loopback address without tokens refuses to start.
                #expect(r.url.hasPrefix("http://0.0.0.0:"), "\(r.url)")
            },
            Case(key: "store", command: "serve", value: "sqlite:$DIR/chosen.db") { (r: Running) async throws in
                #expect(FileManager.default.fileExists(atPath: r.dir.path("chosen.db")))
                #expect(r.process.stderr.contains("store=sqlite:"), "\(r.process.stderr)")
            },
            Case(key: "log.level", command: "standalone", value: "debug") { (r: Running) async throws in
                _ = try await r.run("echo", "{}")
                #expect(await eventually { r.process.stderr.contains("level=debug") }, "\(r.process.stderr)")
            },
            Case(key: "sqlite.synchronous", command: "serve", value: "full") { (r: Running) async throws in
                #expect(r.process.stderr.contains("synchronous=full"), "\(r.process.stderr)")
            },
            Case(key: "sqlite.busyTimeout", command: "serve", value: "0.75") { (r: Running) async throws in
                #expect(r.process.stderr.contains("busy_timeout=\"0.75 seconds\""), "\(r.process.stderr)")
            },
            Case(key: "worker.queues", command: "standalone", value: "mailq") { (r: Running) async throws in
                let worker = try await r.worker()
                #expect(worker.queues == ["mailq"])
            },
            Case(key: "worker.kinds", command: "standalone", value: "echo") { (r: Running) async throws in
                let worker = try await r.worker()
                #expect(worker.kinds.map(\.name) == ["echo"])
            },
            Case(key: "worker.id", command: "standalone", value: "w-7") { (r: Running) async throws in
                let worker = try await r.worker()
                #expect(worker.worker == "w-7")
            },
            Case(key: "worker.concurrency", command: "standalone", value: "3") { (r: Running) async throws in
                let worker = try await r.worker()
                #expect(worker.concurrency == 3)
            },
            Case(key: "worker.lease", command: "standalone", value: "9") { (r: Running) async throws in
                // A 10 s task heartbeats every third of the 9 s lease, so while it runs its lease
                // ends at most 9 s ahead (the default lease, 30 s, would put it 20 s or more
                // ahead); less by however long the status took to come back.
                let id = try await r.cli(["submit", "sleep", "--args", #"{"seconds":10}"#]).stdout.trimmingCharacters(
                    in: .whitespacesAndNewlines)
                let (task, read) = try await eventually("the task running with a lease", within: .seconds(20)) {
                    () -> (TaskRecord, Date)? in
                    let status = try await r.cli(["status", id, "--json"])
                    let task = try BatonJSON.decoder().decode(TaskRecord.self, from: Data(status.stdout.utf8))
                    return task.state == .running && task.leaseExpiresAt != nil ? (task, Date()) : nil
                }
                let left = try #require(task.leaseExpiresAt).timeIntervalSince(read)
                #expect((0...9.5).contains(left), "the lease ends \(left) s after it was read")
            },
            Case(key: "worker.shutdownGrace", command: "standalone", value: "4") { (r: Running) async throws in
                r.process.signal(SIGTERM)
                #expect(
                    await eventually(within: .seconds(10)) { r.process.stderr.contains("grace=\"4.0 seconds\"") }, "\(r.process.stderr)")
            },
            Case(
                key: "files.root", command: "standalone",
                value: "$DIR/files"
            ) { (r: Running) async throws in
                let task = try await r.run("file", #"{"op":"write","path":"note.txt","content":"hi"}"#)
                #expect(task.state == .succeeded, "\(task)")
                #expect(try String(contentsOfFile: r.value + "/note.txt", encoding: .utf8) == "hi")
            },
            Case(key: "httpKind.allowlist", command: "standalone", value: "127.0.0.1") { (r: Running) async throws in
                // Loopback is refused unless allowed: the node's own health check answers.
                let task = try await r.run("http", #"{"method":"GET","url":"\#(r.url)/health"}"#)
                #expect(task.state == .succeeded, "\(task)")
            },
            Case(key: "compat.prefix", command: "serve", value: "/compat/{token}", companions: ["auth.tokens": "producer:p1"]) {
                (r: Running) async throws in
                let api = ConfigReloadTests.API(url: r.url)
                let job = #"{"type":"sleep","payload":{"duration":1}}"#
                #expect(try await api.call("POST", "/compat/p1/jobs", token: nil, body: job).0 == 201)
                #expect(try await api.call("POST", "/compat/p2/jobs", token: nil, body: job).0 == 401)
                #expect(try await api.call("POST", "/jobs", token: "p1", body: job).0 == 404)
            },
            Case(key: "compat.jobs", command: "serve", value: "false") { (r: Running) async throws in
                let api = ConfigReloadTests.API(url: r.url)
                #expect(try await api.call("POST", "/jobs", token: nil, body: #"{"type":"sleep","payload":{"duration":1}}"#).0 == 404)
                #expect(try await api.status("/v1/about", token: nil) == 200)
            },
            Case(key: "compat.taskq", command: "serve", value: "false") { (r: Running) async throws in
                let api = ConfigReloadTests.API(url: r.url)
                #expect(try await api.status("/v1/about", token: nil) == 404)
                #expect(try await api.status("/next-job", token: nil) == 204)
            },
            Case(key: "httpKind.maxResponseBytes", command: "standalone", flags: ["--http-allowlist", "127.0.0.1"], value: "5") {
                (r: Running) async throws in
                let task = try await r.run("http", #"{"method":"GET","url":"\#(r.url)/health"}"#)
                #expect(task.state == .failed)
                #expect(task.lastError?.contains("response larger than 5 bytes") == true, "\(task)")
            },
            Case(key: "httpKind.timeout", command: "standalone", flags: ["--http-allowlist", "127.0.0.1"], value: "0.5") {
                (r: Running) async throws in
                // A long poll on a task that waits an hour answers after 10 s: the kind gives up first.
                let later = try await r.cli(["submit", "later", "--delay", "3600"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
                let started = ContinuousClock.now
                let task = try await r.run("http", #"{"method":"GET","url":"\#(r.url)/v1/tasks/\#(later)/wait?timeout=10"}"#)
                #expect(task.state == .failed, "\(task)")
                #expect(ContinuousClock.now - started < .seconds(8))
            },
        ]

        /// The reloadable settings, here set at start through the environment and the file
        /// (`ConfigReloadTests` changes them in the file under a running process).
        static let startCases: [Case] = [
            Case(key: "auth.tokens", command: "serve", value: "admin:k1") { (r: Running) async throws in
                let api = ConfigReloadTests.API(url: r.url)
                #expect(try await api.status("/v1/tasks", token: nil) == 401)
                #expect(try await api.status("/v1/tasks", token: "k2") == 401)
                #expect(try await api.status("/v1/tasks", token: "k1") == 200)
            },
            Case(key: "limits.maxBatch", command: "serve", value: "2") { (r: Running) async throws in
                let api = ConfigReloadTests.API(url: r.url)
                let task = #"{"kind":"k","delay":3600}"#
                #expect(try await api.call("POST", "/v1/tasks", token: nil, body: "[\(task),\(task),\(task)]").0 == 413)
                #expect(try await api.call("POST", "/v1/tasks", token: nil, body: "[\(task),\(task)]").0 == 201)
            },
            Case(key: "limits.maxBodyBytes", command: "serve", value: "1024") { (r: Running) async throws in
                let api = ConfigReloadTests.API(url: r.url)
                let padded = #"{"kind":"k","delay":3600,"args":{"pad":"\#(String(repeating: "x", count: 1100))"}}"#
                #expect(try await api.call("POST", "/v1/tasks", token: nil, body: padded).0 == 413)
                #expect(try await api.call("POST", "/v1/tasks", token: nil, body: #"{"kind":"k","delay":3600}"#).0 == 201)
            },
            Case(key: "limits.maxArgsBytes", command: "serve", value: "16") { (r: Running) async throws in
                let api = ConfigReloadTests.API(url: r.url)
                let (status, body) = try await api.call(
                    "POST", "/v1/tasks", token: nil, body: #"{"kind":"k","args":{"text":"more than sixteen bytes"}}"#)
                #expect(status == 413, "\(body)")
                #expect(try await api.call("POST", "/v1/tasks", token: nil, body: #"{"kind":"k","args":{"a":1}}"#).0 == 201)
            },
            Case(key: "limits.maxWait", command: "serve", value: "0.5") { (r: Running) async throws in
                let api = ConfigReloadTests.API(url: r.url)
                let id = try await api.submit([#"{"kind":"k","delay":3600}"#], token: "")[0]
                let started = ContinuousClock.now
                #expect(try await api.status("/v1/tasks/\(id)/wait?timeout=10", token: nil) == 200)
                #expect(ContinuousClock.now - started < .seconds(3))
            },
            Case(key: "limits.defaultLease", command: "serve", value: "7") { (r: Running) async throws in
                let api = ConfigReloadTests.API(url: r.url)
                _ = try await api.submit([#"{"kind":"k"}"#], token: "")
                let (status, body) = try await api.call(
                    "POST", "/v1/workers/claim", token: nil, body: #"{"worker":"w","queues":["default"],"max":1}"#)
                #expect(status == 200, "\(body)")
                let answer = try BatonJSON.decoder().decode(ClaimResponse.self, from: Data(body.utf8))
                let task = try #require(answer.tasks.first?.task)
                let lease = try #require(task.leaseExpiresAt).timeIntervalSince(try #require(task.startedAt))
                #expect((6...8).contains(lease), "lease \(lease) s")
            },
            Case(key: "retry.policy", command: "standalone", value: "none") { (r: Running) async throws in
                let task = try await r.cli(["submit", "fail", "--args", #"{"message":"boom"}"#, "--max-attempts", "5", "--wait", "--json"])
                let ended = try BatonJSON.decoder().decode(TaskRecord.self, from: Data(task.stdout.utf8))
                #expect(ended.state == .failed && ended.attempt == 1, "no retry: \(ended)")
            },
            Case(key: "node.retention", command: "standalone", value: "0.5", companions: ["node.cleanInterval": "0.2"]) {
                (r: Running) async throws in
                let done = try await r.run("echo", "{}")
                #expect(done.state == .succeeded)
                #expect(await eventually(within: .seconds(5)) { (try? await r.cli(["status", done.id.description]))?.status == 3 })
            },
            Case(key: "node.cleanInterval", command: "standalone", value: "0.2", companions: ["node.retention": "0.5"]) {
                (r: Running) async throws in
                let done = try await r.run("echo", "{}")
                #expect(await eventually(within: .seconds(5)) { (try? await r.cli(["status", done.id.description]))?.status == 3 })
            },
            Case(key: "node.rescueInterval", command: "serve", value: "0.2") { (r: Running) async throws in
                // A claim whose worker vanished: its 0.3 s lease expires and the task is rescued
                // within a second or two (the default interval is 5 s).
                let api = ConfigReloadTests.API(url: r.url)
                let id = try await api.submit([#"{"kind":"k","max_attempts":5}"#], token: "")[0]
                let (status, _) = try await api.call(
                    "POST", "/v1/workers/claim", token: nil, body: #"{"worker":"gone","queues":["default"],"max":1,"lease_ms":300}"#)
                #expect(status == 200)
                let started = ContinuousClock.now
                #expect(await eventually(within: .seconds(3)) { (try? await api.task(id, token: ""))?["state"] as? String != "running" })
                #expect(ContinuousClock.now - started < .seconds(3))
            },
            Case(key: "retry.backoff", command: "standalone", value: "30") { (r: Running) async throws in
                // After a failed first attempt the retry waits 15-30 s (the default: 0.5-1 s).
                let id = try await r.cli(["submit", "fail", "--args", #"{"message":"boom"}"#, "--max-attempts", "2"]).stdout
                    .trimmingCharacters(in: .whitespacesAndNewlines)
                let task = try await eventually("the task backing off after its first attempt") { () -> TaskRecord? in
                    let status = try await r.cli(["status", id, "--json"])
                    let task = try BatonJSON.decoder().decode(TaskRecord.self, from: Data(status.stdout.utf8))
                    return task.state == .pending && task.attempt == 1 ? task : nil
                }
                #expect(task.runAt.timeIntervalSinceNow > 10, "run at \(task.runAt)")
            },
            Case(key: "retry.cap", command: "standalone", value: "0.2", companions: ["retry.backoff": "30"]) {
                (r: Running) async throws in
                // Capped at 0.2 s, the 30 s backoff does not hold the second attempt back.
                let ended = try await r.cli([
                    "submit", "fail", "--args", #"{"message":"boom"}"#, "--max-attempts", "2", "--wait", "--wait-timeout", "10", "--json",
                ])
                let task = try BatonJSON.decoder().decode(TaskRecord.self, from: Data(ended.stdout.utf8))
                #expect(task.state == .failed && task.attempt == 2, "\(task)")
            },
            Case(key: "tls.cert", command: "serve", value: "$DIR/cert.pem", companions: ["tls.key": "$DIR/key.pem"]) {
                (r: Running) async throws in
                #expect(r.url.hasPrefix("https://"), "\(r.url)")
                let listed = try await r.cli(["list", "--ca-file", r.dir.path("cert.pem")])
                #expect(listed.status == 0, "\(listed.stderr)")
            },
            Case(key: "tls.key", command: "serve", value: "$DIR/key.pem", companions: ["tls.cert": "$DIR/cert.pem"]) {
                (r: Running) async throws in
                #expect(r.url.hasPrefix("https://"), "\(r.url)")
            },
            Case(
                key: "caFile", command: "serve", value: "$DIR/cert.pem",
                companions: ["tls.cert": "$DIR/cert.pem", "tls.key": "$DIR/key.pem"]
            ) { (r: Running) async throws in
                // The CLI trusts the node's certificate through the setting (without it: refused).
                let listed = try await r.cliWithSource(["list", "--server", r.url])
                #expect(listed.status == 0, "\(listed.stderr)")
                #expect(try await r.cli(["list"]).status == 4)
            },
            Case(key: "server", command: "serve", value: "http://127.0.0.1:$PORT", companions: ["http.port": "$PORT"]) {
                (r: Running) async throws in
                let submitted = try await r.cliWithSource(["submit", "k", "--delay", "60"])
                #expect(submitted.status == 0, "\(submitted.stderr)")
                let id = try #require(TaskID(submitted.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
                #expect(try await r.cli(["status", id.description]).status == 0, "the task is on this node")
            },
            Case(key: "token", command: "serve", value: "t9", companions: ["auth.tokens": "admin:t9"]) { (r: Running) async throws in
                #expect(try await r.cliWithSource(["list", "--server", r.url]).status == 0)
                #expect(try await baton(["list", "--server", r.url]).status != 0, "refused without the token")
            },
            Case(key: "httpKind.maxRedirects", command: "standalone", flags: ["--http-allowlist", "127.0.0.1"], value: "0") {
                (r: Running) async throws in
                let redirector = try RedirectServer()
                defer { redirector.stop() }
                let task = try await r.run("http", #"{"method":"GET","url":"\#(try await redirector.url())/start"}"#)
                #expect(task.state == .failed, "by default the redirect is followed: \(task)")
                #expect(task.lastError?.contains("redirect") == true, "\(task)")
            },
            Case(key: "node.fallbackPoll", command: "standalone", value: "0.05") { (r: Running) async throws in
                // Tasks written to the database by another process wake no one: the node finds
                // them at its next poll, every 0.05 s here (the default: 1 s, a median wait of
                // 0.5 s). Measured from the task's creation to its end, by the store's clock.
                var waits: [Double] = []
                for _ in 0..<5 {
                    let added = try await baton(["submit", "echo", "--db", r.dir.path("baton.db")])
                    let id = added.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
                    let done = try await eventually("the task done", within: .seconds(10)) { () -> TaskRecord? in
                        let status = try await r.cli(["status", id, "--json"])
                        let task = try BatonJSON.decoder().decode(TaskRecord.self, from: Data(status.stdout.utf8))
                        return task.state == .succeeded ? task : nil
                    }
                    waits.append(try #require(done.finishedAt).timeIntervalSince(done.createdAt))
                }
                #expect(waits.sorted()[2] < 0.3, "creation to end: \(waits)")
            },
            Case(key: "config.reloadInterval", command: "serve", value: "0.2") { (r: Running) async throws in
                // The settings file is re-read every 0.2 s (the default: 10 s): a new log level
                // shows within a second or two.
                let file = r.dir.path("baton.yaml")
                let keep = r.sourceArguments.isEmpty ? "" : SettingsKeyText.yaml("config.reloadInterval", r.value)
                try (keep + SettingsKeyText.yaml("log.level", "debug")).write(toFile: file, atomically: true, encoding: .utf8)
                #expect(await eventually(within: .seconds(6)) { r.process.stderr.contains("level=debug") }, "\(r.process.stderr)")
            },
            Case(key: "postgres.poolSize", command: "serve", value: "3", postgres: true) { (r: Running) async throws in
                #expect(r.process.stderr.contains("pool_size=3"), "\(r.process.stderr)")
            },
            Case(key: "postgres.callTimeout", command: "serve", value: "2.5", postgres: true) { (r: Running) async throws in
                #expect(r.process.stderr.contains("call_timeout=\"2.5 seconds\""), "\(r.process.stderr)")
            },
        ]

        @Test(arguments: cases + startCases, Source.allCases)
        func keyTakesEffect(_ c: Case, _ source: Source) async throws {
            let dir = try TempDir()
            try FileManager.default.createDirectory(atPath: dir.path("files"), withIntermediateDirectories: true)
            if c.key.hasPrefix("tls.") || c.key == "caFile" {
                try TestCertificate.make(certificate: dir.path("cert.pem"), key: dir.path("key.pem"))
            }
            let port = String(try unusedLocalPort())
            func resolve(_ text: String) -> String {
                text.replacingOccurrences(of: "$DIR", with: dir.url.path).replacingOccurrences(of: "$PORT", with: port)
            }
            let value = resolve(c.value)
            let companions = c.companions.mapValues(resolve)
            var arguments = [c.command] + c.flags
            if c.postgres {
                guard let store = TestPostgres.storeURL(for: "keyTakesEffect(\(c.key))") else { return }
                arguments += ["--store", store]
            } else if c.key != "store" {
                arguments += ["--db", dir.path("baton.db")]
            }
            if c.key != "http.port" && companions["http.port"] == nil { arguments += ["--port", "0"] }
            var environment: [String: String] = [:]
            var sourceArguments: [String] = []
            switch source {
            case .file:
                let file = dir.path("baton.yaml")
                let yaml = SettingsKeyText.yaml([(c.key, value)] + companions.map { ($0.key, $0.value) })
                try yaml.write(toFile: file, atomically: true, encoding: .utf8)
                sourceArguments = ["--config", file]
                arguments += sourceArguments
            case .environment:
                environment[SettingsKeyText.environmentVariable(c.key)] = value
                if c.key.hasPrefix("config.") {
                    // A settings file for the setting to act on.
                    try "{}\n".write(toFile: dir.path("baton.yaml"), atomically: true, encoding: .utf8)
                    arguments += ["--config", dir.path("baton.yaml")]
                }
                for (key, value) in companions { environment[SettingsKeyText.environmentVariable(key)] = value }
            }
            let process = try BatonProcess(arguments, environment: environment)
            defer { process.signal(SIGKILL) }
            let url = try await process.url()
            try await c.observe(
                Running(
                    process: process, url: url, dir: dir, value: value, sourceArguments: sourceArguments,
                    sourceEnvironment: environment))
        }
    }
}

/// An HTTP server that answers `GET /start` with a redirect to `/end`, and `/end` with 200:
/// `python3`'s standard library, on a free loopback port.
final class RedirectServer: Sendable {
    let process: BatonProcess

    init() throws {
        let script = """
            import http.server, sys
            class Handler(http.server.BaseHTTPRequestHandler):
                def do_GET(self):
                    if self.path == "/start":
                        self.send_response(302)
                        self.send_header("Location", "/end")
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                    else:
                        body = b"ok"
                        self.send_response(200)
                        self.send_header("Content-Length", str(len(body)))
                        self.end_headers()
                        self.wfile.write(body)
                def log_message(self, *args):
                    pass
            server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
            print("http://127.0.0.1:%d" % server.server_address[1], flush=True)
            server.serve_forever()
            """
        process = try BatonProcess(["-c", script], executable: "/usr/bin/python3")
    }

    /// The server's base URL, once it listens.
    func url() async throws -> String { try await process.url() }

    func stop() { process.signal(SIGKILL) }
}
