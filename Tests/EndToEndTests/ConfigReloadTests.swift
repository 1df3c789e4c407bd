import BatonCore
import BatonTesting
import Foundation
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

extension EndToEnd {
    /// Live reload of the settings file under a running `baton serve` and `baton worker`: each
    /// reloadable setting is changed in the file (re-read every 0.2 s, or on SIGHUP) and its
    /// effect observed over HTTP or in the logs, without a restart.
    @Suite(.serialized) struct ConfigReloadTests {
        /// A node's HTTP API, as a test calls it.
        struct API {
            let url: String

            @discardableResult
            func call(_ method: String, _ path: String, token: String?, body: String? = nil) async throws -> (Int, String) {
                var request = URLRequest(url: URL(string: "\(url)\(path)")!)
                request.httpMethod = method
                if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
                if let body {
                    request.setValue("application/json", forHTTPHeaderField: "Content-Type")
                    request.httpBody = Data(body.utf8)
                }
                let (data, response) = try await URLSession.shared.data(for: request)
                return ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data, as: UTF8.self))
            }

            func status(_ path: String, token: String?) async throws -> Int {
                try await call("GET", path, token: token).0
            }

            /// Submits tasks, returning their ids.
            func submit(_ tasks: [String], token: String) async throws -> [String] {
                let (status, body) = try await call("POST", "/v1/tasks", token: token, body: "[\(tasks.joined(separator: ","))]")
                guard status == 201 else { throw BatonError.invalidArgument("submit answered \(status): \(body)") }
                let object = try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]
                return (object?["tasks"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
            }

            func task(_ id: String, token: String) async throws -> [String: Any]? {
                let (status, body) = try await call("GET", "/v1/tasks/\(id)", token: token)
                guard status == 200 else { return nil }
                return try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]
            }

            /// The counts of `queue` by state.
            func counts(_ queue: String, token: String) async throws -> [String: Int] {
                let (_, body) = try await call("GET", "/v1/queues", token: token)
                let object = try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]
                let queues = object?["queues"] as? [[String: Any]] ?? []
                return queues.first { $0["name"] as? String == queue }?["counts"] as? [String: Int] ?? [:]
            }
        }

        static func write(_ text: String, to path: String) throws {
            try text.write(toFile: path, atomically: true, encoding: .utf8)
        }

        static func serveFile(
            interval: Double = 0.2, tokens: String = "admin:old-admin,worker:wtok", extra: String = ""
        ) -> String {
            """
            config:
              reloadInterval: \(interval)
            auth:
              tokens: \(tokens)
            \(extra)
            """
        }

        /// Tokens, limits, the log level, a setting that needs a restart, and refused files.
        @Test func serveReloadsTokensLimitsAndLogLevelAndRefusesBadFiles() async throws {
            let dir = try TempDir()
            let file = dir.path("baton.yaml")
            let limits = "limits:\n  maxBatch: 5\n  maxBodyBytes: 100000"
            try Self.write(Self.serveFile(extra: limits), to: file)
            let node = try BatonProcess(["serve", "--db", dir.path("baton.db"), "--port", "0", "--config", file])
            defer { Task { await node.stop() } }
            let api = API(url: try await node.url())
            let three = Array(repeating: #"{"kind":"noop","queue":"idle"}"#, count: 3)

            #expect(try await api.status("/v1/queues", token: "old-admin") == 200)
            #expect(try await api.status("/v1/queues", token: "new-admin") == 401)
            #expect(try await api.call("POST", "/v1/tasks", token: "old-admin", body: "[\(three.joined(separator: ","))]").0 == 201)
            #expect(!node.stderr.contains("level=debug"))

            // New token accepted, removed one refused; smaller batch and body limits; debug logs.
            try Self.write(
                Self.serveFile(
                    tokens: "admin:new-admin,worker:wtok", extra: "limits:\n  maxBatch: 2\n  maxBodyBytes: 2000\nlog:\n  level: debug"),
                to: file)
            #expect(await eventually(within: .seconds(10)) { (try? await api.status("/v1/queues", token: "new-admin")) == 200 })
            #expect(try await api.status("/v1/queues", token: "old-admin") == 401)
            let batch = try await api.call("POST", "/v1/tasks", token: "new-admin", body: "[\(three.joined(separator: ","))]")
            #expect(batch.0 == 413, "\(batch.1)")
            #expect(batch.1.contains("limit of 2"))
            let big = #"{"kind":"noop","queue":"idle","args":{"pad":"\#(String(repeating: "x", count: 3000))"}}"#
            #expect(try await api.call("POST", "/v1/tasks", token: "new-admin", body: big).0 == 413)
            #expect(await eventually(within: .seconds(10)) { node.stderr.contains("level=debug") })
            #expect(node.stderr.contains("settings reloaded"))
            #expect(node.stderr.contains("auth.tokens=<redacted>"))
            #expect(!node.stderr.contains("new-admin"), "a token is never logged")

            // A setting that needs a restart is named in a warning; the reloadable ones still apply.
            try Self.write(
                Self.serveFile(tokens: "admin:new-admin,worker:wtok", extra: "limits:\n  maxBatch: 3\nhttp:\n  host: localhost"), to: file)
            #expect(await eventually(within: .seconds(10)) { node.stderr.contains("need a restart") })
            #expect(node.stderr.contains("keys=http.host"))
            // So is a changed `schedules:` section.
            try Self.write(
                Self.serveFile(
                    tokens: "admin:new-admin,worker:wtok",
                    extra: "limits:\n  maxBatch: 3\nhttp:\n  host: localhost\nschedules:\n  tick:\n    every: 1h\n    task: {kind: noop}"),
                to: file)
            #expect(await eventually(within: .seconds(10)) { node.stderr.contains("keys=schedules") }, "\(node.stderr)")
            #expect(try await api.call("POST", "/v1/tasks", token: "new-admin", body: "[\(three.joined(separator: ","))]").0 == 201)

            // A misspelt key: the file is refused whole, with the key's name; the settings stay.
            try Self.write(
                Self.serveFile(tokens: "admin:third-admin", extra: "limits:\n  maxBatchh: 1"), to: file)
            #expect(await eventually(within: .seconds(10)) { node.stderr.contains("limits.maxBatchh (did you mean limits.maxBatch?)") })
            #expect(node.stderr.contains("config file refused"))
            #expect(try await api.status("/v1/queues", token: "new-admin") == 200)
            #expect(try await api.status("/v1/queues", token: "third-admin") == 401)

            // A value out of range: refused whole too (the token in the same file is not taken).
            try Self.write(Self.serveFile(tokens: "admin:fourth-admin", extra: "limits:\n  maxBatch: 0"), to: file)
            #expect(await eventually(within: .seconds(10)) { node.stderr.contains("limits.maxBatch must be a whole number") })
            #expect(try await api.status("/v1/queues", token: "fourth-admin") == 401)
            #expect(try await api.status("/v1/queues", token: "new-admin") == 200)
            #expect(try await api.call("POST", "/v1/tasks", token: "new-admin", body: "[\(three.joined(separator: ","))]").0 == 201)

            // Not YAML at all.
            try Self.write("auth: [unclosed", to: file)
            #expect(await eventually(within: .seconds(10)) { node.stderr.contains("not valid YAML") })
            #expect(try await api.status("/v1/queues", token: "new-admin") == 200)
            #expect(node.isRunning)
        }

        /// The maintenance settings (rescue interval, retention, default lease) and the retry
        /// policy, observed on tasks.
        @Test func serveReloadsMaintenanceAndRetrySettings() async throws {
            let dir = try TempDir()
            let file = dir.path("baton.yaml")
            let slow = "node:\n  rescueInterval: 3600\n  retention: 3600\n  cleanInterval: 0.2\nretry:\n  policy: fixed\n  backoff: 3600"
            try Self.write(Self.serveFile(extra: slow), to: file)
            let node = try BatonProcess(["serve", "--db", dir.path("baton.db"), "--port", "0", "--config", file])
            defer { Task { await node.stop() } }
            let api = API(url: try await node.url())
            let admin = "old-admin"
            let claim = { (lease: String) async throws -> String in
                let (status, body) = try await api.call(
                    "POST", "/v1/workers/claim", token: "wtok", body: #"{"worker":"w1","queues":["r"],"max":1\#(lease)}"#)
                #expect(status == 200, "\(body)")
                let object = try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]
                return (object?["tasks"] as? [[String: Any]])?.first?["lease_token"] as? String ?? ""
            }
            let state = { (id: String) async throws -> String? in try await api.task(id, token: admin)?["state"] as? String }

            // An expired lease stays running while the rescue interval is an hour...
            let first = try await api.submit([#"{"kind":"noop","queue":"r"}"#], token: admin)[0]
            #expect(try await !claim(#","lease_ms":100"#).isEmpty)
            try await Task.sleep(for: .seconds(1.5))
            #expect(try await state(first) == "running")
            // ... and is rescued once it is 0.2 s; the fixed 3600 s backoff keeps it pending.
            try Self.write(
                Self.serveFile(extra: slow.replacingOccurrences(of: "rescueInterval: 3600", with: "rescueInterval: 0.2")), to: file)
            #expect(await eventually(within: .seconds(10)) { (try? await state(first)) == "pending" })

            // A claim without lease_ms gets the reloaded default lease (0.3 s), so it is rescued at once;
            // with the retry policy now `none` the rescue fails it for good.
            try Self.write(
                Self.serveFile(
                    extra:
                        "node:\n  rescueInterval: 0.2\n  retention: 3600\n  cleanInterval: 0.2\nretry:\n  policy: none\nlimits:\n  defaultLease: 0.3"
                ), to: file)
            #expect(await eventually(within: .seconds(10)) { node.stderr.contains("limits.defaultLease=0.3") })
            let second = try await api.submit([#"{"kind":"noop","queue":"r"}"#], token: admin)[0]
            #expect(try await !claim("").isEmpty)
            #expect(await eventually(within: .seconds(10)) { (try? await state(second)) == "failed" })
            #expect(try await state(second) == "failed")

            // Retention: the failed task stays while it is an hour, and goes once it is 0.
            try await Task.sleep(for: .seconds(0.5))
            #expect(try await api.task(second, token: admin) != nil)
            try Self.write(Self.serveFile(extra: "node:\n  rescueInterval: 0.2\n  retention: 0\n  cleanInterval: 0.2"), to: file)
            #expect(await eventually(within: .seconds(10)) { (try? await api.status("/v1/tasks/\(second)", token: admin)) == 404 })
        }

        /// `worker.concurrency` under a running `baton worker`: raised, more tasks run at once;
        /// lowered, the running ones finish and fewer start. Also the node's retry policy for
        /// failures acknowledged by the worker.
        @Test func workerReloadsConcurrencyAndNodeReloadsRetryPolicy() async throws {
            let dir = try TempDir()
            let serveYAML = dir.path("serve.yaml")
            try Self.write(Self.serveFile(extra: "retry:\n  policy: fixed\n  backoff: 3600"), to: serveYAML)
            let node = try BatonProcess(["serve", "--db", dir.path("baton.db"), "--port", "0", "--config", serveYAML])
            defer { Task { await node.stop() } }
            let url = try await node.url()
            let api = API(url: url)
            let admin = "old-admin"
            let workerYAML = dir.path("worker.yaml")
            let workerFile = { (concurrency: Int) in
                "config:\n  reloadInterval: 0.2\nserver: \(url)\ntoken: wtok\nworker:\n  queues: w\n  concurrency: \(concurrency)\n"
            }
            try Self.write(workerFile(1), to: workerYAML)
            let worker = try BatonProcess(["worker", "--config", workerYAML])
            defer { Task { await worker.stop() } }

            let ids = try await api.submit(
                Array(repeating: #"{"kind":"sleep","queue":"w","args":{"seconds":1.2}}"#, count: 10), token: admin)
            #expect(await eventually(within: .seconds(10)) { (try? await api.counts("w", token: admin)["running"]) == 1 })
            var most = 0
            for _ in 0..<5 {
                most = max(most, try await api.counts("w", token: admin)["running"] ?? 0)
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(most == 1)

            try Self.write(workerFile(3), to: workerYAML)
            #expect(await eventually(within: .seconds(10)) { (try? await api.counts("w", token: admin)["running"]) == 3 })

            try Self.write(workerFile(1), to: workerYAML)
            #expect(
                await eventually(within: .seconds(10)) {
                    worker.stderr.contains("worker concurrency changed") && worker.stderr.contains("to=1")
                })
            // The three running tasks finish; then one at a time while others wait.
            #expect(
                await eventually(within: .seconds(10)) {
                    let c = (try? await api.counts("w", token: admin)) ?? [:]
                    return c["running"] == 1 && (c["ready"] ?? 0) > 0
                })
            #expect(await eventually(within: .seconds(30)) { (try? await api.counts("w", token: admin)["succeeded"]) == 10 })
            for id in ids {
                #expect(try await api.task(id, token: admin)?["attempt"] as? Int == 1, "a lowered concurrency lets running tasks finish")
            }

            // Failures acknowledged by the worker: backed off an hour, then (policy none) failed at once.
            let fail = #"{"kind":"fail","queue":"w","max_attempts":3}"#
            let first = try await api.submit([fail], token: admin)[0]
            #expect(await eventually(within: .seconds(10)) { (try? await api.task(first, token: admin)?["state"] as? String) == "pending" })
            try Self.write(Self.serveFile(extra: "retry:\n  policy: none"), to: serveYAML)
            #expect(await eventually(within: .seconds(10)) { node.stderr.contains("retry.policy=none") })
            let second = try await api.submit([fail], token: admin)[0]
            #expect(await eventually(within: .seconds(10)) { (try? await api.task(second, token: admin)?["state"] as? String) == "failed" })
        }

        /// With a long reload interval, a change is taken on SIGHUP, by the node and by the worker.
        @Test func sighupReloadsAtOnce() async throws {
            let dir = try TempDir()
            let serveYAML = dir.path("serve.yaml")
            try Self.write(Self.serveFile(interval: 3600), to: serveYAML)
            let node = try BatonProcess(["serve", "--db", dir.path("baton.db"), "--port", "0", "--config", serveYAML])
            defer { Task { await node.stop() } }
            let url = try await node.url()
            let api = API(url: url)
            let workerYAML = dir.path("worker.yaml")
            let workerFile = { (concurrency: Int) in
                "config:\n  reloadInterval: 3600\nserver: \(url)\ntoken: wtok\nworker:\n  queues: h\n  concurrency: \(concurrency)\n"
            }
            try Self.write(workerFile(1), to: workerYAML)
            let worker = try BatonProcess(["worker", "--config", workerYAML])
            defer { Task { await worker.stop() } }
            // The worker has read its file before the file changes.
            #expect(await eventually(within: .seconds(10)) { worker.stderr.contains("worker started") })

            try Self.write(Self.serveFile(interval: 3600, tokens: "admin:new-admin,worker:wtok"), to: serveYAML)
            try Self.write(workerFile(2), to: workerYAML)
            try await Task.sleep(for: .seconds(1))
            #expect(try await api.status("/v1/queues", token: "old-admin") == 200, "not re-read before the signal")
            node.signal(SIGHUP)
            #expect(await eventually(within: .seconds(10)) { (try? await api.status("/v1/queues", token: "new-admin")) == 200 })
            #expect(try await api.status("/v1/queues", token: "old-admin") == 401)

            _ = try await api.submit(
                Array(repeating: #"{"kind":"sleep","queue":"h","args":{"seconds":1.5}}"#, count: 4), token: "new-admin")
            #expect(await eventually(within: .seconds(10)) { (try? await api.counts("h", token: "new-admin")["running"]) == 1 })
            worker.signal(SIGHUP)
            #expect(await eventually(within: .seconds(10)) { (try? await api.counts("h", token: "new-admin")["running"]) == 2 })
            #expect(node.isRunning && worker.isRunning)
        }

        /// At start, a misspelt key stops the command with the key's name (exit 64).
        @Test func unknownKeyAtStartIsAUsageError() async throws {
            let dir = try TempDir()
            let file = dir.path("baton.yaml")
            try Self.write("worker:\n  concurency: 4\n", to: file)
            let result = try await baton(["serve", "--db", dir.path("baton.db"), "--port", "0", "--config", file])
            #expect(result.status == 64)
            #expect(result.stderr.contains("worker.concurency (did you mean worker.concurrency?)"), "\(result.stderr)")
        }
    }
}
