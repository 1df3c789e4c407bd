import AsyncHTTPClient
import BatonCore
import Foundation
import NIOCore
import NIOHTTP1
import Synchronization

/// `--workers http`: a `baton serve` node (`--nodes` of them) and `--worker-processes` `baton
/// worker` processes, children of the given `baton` executable on loopback; tasks are submitted
/// over HTTP.
struct HTTPBench {
    let settings: BenchSettings
    let location: BenchStore
    let progress: ProgressReporter
    let cleanup: BenchCleanup

    func run() async throws -> BenchReport {
        guard let executable = settings.batonExecutable else {
            throw BenchError(.invalidSettings, "--workers http needs the path of the `baton` executable")
        }
        var servers: [BenchChild] = []
        for i in 0..<max(1, settings.nodes) {
            let server = try BenchChild(
                executable: executable, name: i == 0 ? "server" : "server-\(i)",
                arguments: ["serve", "--store", location.url, "--port", "0", "--log-level", "warning"]
                    + (settings.metrics ? [] : ["--no-metrics"]),
                directory: location.workDirectory)
            cleanup.track(server)
            servers.append(server)
        }
        var urls: [String] = []
        for server in servers { urls.append(try await server.firstLine(timeout: .seconds(30))) }
        let driver = HTTPDriver(
            executable: executable, servers: servers, urls: urls, settings: settings, queue: location.queue, cleanup: cleanup)
        do {
            let report = try await BenchRunner(settings: settings, store: location, driver: driver, progress: progress).run()
            await driver.stopWorkers()
            await driver.close()
            for server in servers { await server.stop(grace: .seconds(2)) }
            return report
        } catch {
            await driver.stopWorkers()
            await driver.close()
            for server in servers { await server.stop(grace: .seconds(2)) }
            throw error
        }
    }
}

/// Drives one or more nodes (on one store): batches of submissions go to the nodes in turn,
/// worker `i` prefers node `i mod nodes` (with the others as fail-over), and counts and
/// listings ask the first node.
final class HTTPDriver: BenchDriver {
    let executable: String
    let servers: [BenchChild]
    let urls: [String]
    let settings: BenchSettings
    let queue: String
    let cleanup: BenchCleanup
    private let workers = Mutex<[BenchChild]>([])
    private let client = HTTPClient(eventLoopGroupProvider: .singleton)

    init(executable: String, servers: [BenchChild], urls: [String], settings: BenchSettings, queue: String, cleanup: BenchCleanup) {
        self.executable = executable
        self.servers = servers
        self.urls = urls
        self.settings = settings
        self.queue = queue
        self.cleanup = cleanup
    }

    var server: BenchChild { servers[0] }
    var url: String { urls[0] }

    var driverIsNode: Bool { false }
    var pollIsCostly: Bool { true }
    var pollInterval: Duration { .milliseconds(50) }

    private func request(_ method: HTTPMethod, _ path: String, body: ByteBuffer? = nil, node: Int = 0) async throws -> (UInt, ByteBuffer) {
        var request = HTTPClientRequest(url: urls[node % urls.count] + path)
        request.method = method
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(body)
        }
        let response = try await client.execute(request, timeout: .seconds(120))
        let data = try await response.body.collect(upTo: 256 << 20)
        return (response.status.code, data)
    }

    private func expect(_ status: UInt, _ wanted: UInt, _ body: ByteBuffer, _ what: String) throws {
        guard status == wanted else {
            throw BenchError(.unreachable, "\(what): HTTP \(status): \(String(buffer: body).prefix(500))")
        }
    }

    /// One workflow of the settings' shape, through `POST /v1/workflows`.
    func submitShaped(_ count: Int) async throws {
        let body = ByteBuffer(
            data: try BatonJSON.encoder().encode(
                try settings.shape.workflowRequest(count: count, kind: "noop", queue: queue, args: settings.args)))
        let (status, data) = try await request(.POST, "/v1/workflows", body: body, node: 0)
        try expect(status, 201, data, "workflow submit")
    }

    /// The backlog as workflows (`--chains`, `--chords`), through `POST /v1/workflows`.
    private func enqueueWorkflows(count: Int, progress: ProgressReporter) async throws -> Double {
        let per = settings.shape.tasksPerSubmission(count)
        let body = ByteBuffer(
            data: try BatonJSON.encoder().encode(
                try settings.shape.workflowRequest(count: per, kind: "noop", queue: queue, args: settings.args)))
        return try await post("/v1/workflows", requests: count / per, total: count, progress: progress) { _ in (body, per) }
    }

    /// One batch as the body of `POST /v1/tasks`: the same task `count` times.
    private func batchBody(_ count: Int) -> ByteBuffer {
        let one = "{\"kind\":\"noop\",\"queue\":\"\(queue)\",\"max_attempts\":1,\"args\":\(settings.args.text)}"
        return ByteBuffer(string: "[" + Array(repeating: one, count: count).joined(separator: ",") + "]")
    }

    func enqueueBacklog(count: Int, progress: ProgressReporter) async throws -> Double {
        if settings.shape != .plain { return try await enqueueWorkflows(count: count, progress: progress) }
        let full = batchBody(min(1000, count))
        let rest = count % 1000 == 0 ? nil : batchBody(count % 1000)
        let batches = (count + 999) / 1000
        return try await post("/v1/tasks", requests: batches, total: count, progress: progress) { i in
            i == batches - 1 && rest != nil ? (rest!, count % 1000) : (full, min(1000, count))
        }
    }

    /// POSTs `requests` bodies (`body(i)`: the i-th body and how many tasks it holds),
    /// `enqueueConcurrency` at a time, spread over the nodes, each answered 201; returns the
    /// seconds it took.
    private func post(
        _ path: String, requests: Int, total: Int, progress: ProgressReporter, body: @escaping @Sendable (Int) -> (ByteBuffer, Int)
    ) async throws -> Double {
        let next = Locked((index: 0, done: 0))
        let start = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<settings.enqueueConcurrency {
                group.addTask {
                    while true {
                        let i = next.withLock { n -> Int in
                            defer { n.index += 1 }
                            return n.index
                        }
                        guard i < requests else { return }
                        let (buffer, tasks) = body(i)
                        let (status, data) = try await self.request(.POST, path, body: buffer, node: i)
                        try self.expect(status, 201, data, "submit")
                        let done = next.withLock { n -> Int in
                            n.done += tasks
                            return n.done
                        }
                        progress.update("enqueue", done: done, total: total)
                    }
                }
            }
            try await group.waitForAll()
        }
        return (ContinuousClock.now - start).seconds
    }

    private let submits = Atomic<Int>(0)

    func submit(_ tasks: [NewTask]) async throws {
        let data = try BatonJSON.encoder().encode(tasks)
        let node = submits.add(1, ordering: .relaxed).oldValue
        let (status, body) = try await request(.POST, "/v1/tasks", body: ByteBuffer(bytes: data), node: node)
        try expect(status, 201, body, "submit")
    }

    func startWorkers() async throws {
        for i in 0..<settings.startedWorkerProcesses {
            // Its own node first, the others as fail-over.
            let order = (0..<urls.count).map { urls[(i + $0) % urls.count] }
            let child = try BenchChild(
                executable: executable, name: "worker-\(i)",
                arguments: [
                    "worker", "--server", order.joined(separator: ","), "--concurrency", "\(settings.concurrency)", "--queues", queue,
                    "--kinds", "noop,probe",
                    "--log-level", "warning", "--shutdown-grace", "2", "--id", "bench-worker-\(i)",
                ],
                directory: server.stdoutPath.deletingLastPathComponent())
            cleanup.track(child)
            workers.withLock { $0.append(child) }
        }
    }

    /// Closes this driver's connections (so the node's graceful shutdown has none to wait for).
    func close() async {
        try? await client.shutdown()
    }

    func stopWorkers() async {
        let all = workers.withLock { w in
            defer { w = [] }
            return w
        }
        for child in all where child.isRunning { kill(child.pid, SIGTERM) }
        for child in all { await child.stop(grace: .seconds(5)) }
    }

    private struct Queues: Decodable { var queues: [QueueCounts] }

    func finishedCount() async throws -> Int {
        let (status, body) = try await request(.GET, "/v1/queues")
        try expect(status, 200, body, "queue counts")
        let queues = try BatonJSON.decoder().decode(Queues.self, from: Data(buffer: body)).queues
        guard let counts = queues.first(where: { $0.name == queue }) else { return 0 }
        return counts.count(.succeeded) + counts.count(.failed) + counts.count(.cancelled)
    }

    func finishedTasks() async throws -> [TaskRecord] {
        var all: [TaskRecord] = []
        var cursor: String?
        repeat {
            var path = "/v1/tasks?queue=\(queue)&state=succeeded,failed&limit=\(TaskListParams.maxLimit)"
            if let cursor { path += "&cursor=\(cursor)" }
            let (status, body) = try await request(.GET, path)
            try expect(status, 200, body, "list")
            let page = try BatonJSON.decoder().decode(TaskPage.self, from: Data(buffer: body))
            all += page.tasks
            cursor = page.nextCursor
        } while cursor != nil
        return all
    }

    func handlerStarts() -> [TaskID: ContinuousClock.Instant]? { nil }
    func fanInCommitDelays() -> (delays: [Double], early: Int)? { nil }
    var steadyKind: String { "probe" }
    func finishTimes() -> (first: ContinuousClock.Instant, last: ContinuousClock.Instant)? { nil }

    private struct Claimed: Decodable { var tasks: [ClaimedTask] }

    func timedClaim() async throws -> Duration {
        let claim = ByteBuffer(
            string: "{\"worker\":\"bench-claimer\",\"queues\":[\"\(queue)\"],\"kinds\":[\"noop\"],\"max\":1,\"wait_ms\":0}")
        let start = ContinuousClock.now
        let (status, body) = try await request(.POST, "/v1/workers/claim", body: claim)
        let elapsed = ContinuousClock.now - start
        try expect(status, 200, body, "claim")
        let tasks = try BatonJSON.decoder().decode(Claimed.self, from: Data(buffer: body)).tasks
        guard let task = tasks.first else { throw BenchError(.failed, "a claim found no ready task") }
        let ack = ByteBuffer(
            string:
                "{\"acks\":[{\"id\":\"\(task.task.id)\",\"lease_token\":\"\(task.leaseToken)\",\"outcome\":\"complete\",\"result\":null}]}")
        let (ackStatus, ackBody) = try await request(.POST, "/v1/workers/ack", body: ack)
        try expect(ackStatus, 200, ackBody, "ack")
        return elapsed
    }

    /// The nodes' CPU is their sum.
    func cpu() -> (server: Double?, workers: Double?, driver: Double) {
        let children = workers.withLock { $0 }
        let workerCPU = children.isEmpty ? nil : children.compactMap { ProcStats.cpuSeconds(pid: $0.pid) }.reduce(0, +)
        let serverCPU = servers.compactMap { ProcStats.cpuSeconds(pid: $0.pid) }
        return (serverCPU.isEmpty ? nil : serverCPU.reduce(0, +), workerCPU, ProcStats.selfCPUSeconds())
    }

    /// The largest node and the largest worker.
    func peakRSS() -> (server: Double?, workers: Double?) {
        let children = workers.withLock { $0 }
        return (
            servers.compactMap { ProcStats.peakRSSMB(pid: $0.pid) }.max(), children.compactMap { ProcStats.peakRSSMB(pid: $0.pid) }.max()
        )
    }
}
