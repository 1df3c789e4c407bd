// baton-test-worker: a remote worker for the multi-node end-to-end tests.
//
//   baton-test-worker --server URL [--server URL2 | URL,URL2] --record FILE
//                     [--concurrency N] [--id ID] [--lease SECONDS] [--queues q1,q2]
//
// Serves kind `record`: appends "<task id> <attempt>\n" to FILE with one write(2) on an
// O_APPEND descriptor (atomic for short lines, also across processes), then succeeds with
// `null` (or with `i` when the args give `{"i": N}`). Args `{"ms": N}` make the handler sleep N
// milliseconds before recording. Kind `gather` (a chord body with `pass: prepend`) appends
// "<task id> <attempt> gather <parents> <in-order>" where <in-order> says whether its arguments
// are the integers 0, 1, … in order (its parents' results) and its `ctx.parents()` agree. Built from
// the same parts as `baton worker`: HTTPTaskSource (with failover over every --server),
// WorkerRuntime, and a ServiceGroup that drains on SIGTERM.

import BatonCore
import BatonWorker
import Foundation
import Logging
import ServiceLifecycle

struct Options {
    var servers: [URL] = []
    var record = ""
    var concurrency = 16
    var id = "test-worker-\(ProcessInfo.processInfo.processIdentifier)"
    var lease = 30.0
    var queues = [Defaults.queue]
    var grace = 5.0
}

func usage(_ message: String) -> Never {
    FileHandle.standardError.write(Data("baton-test-worker: \(message)\n".utf8))
    exit(64)
}

func parse(_ arguments: [String]) -> Options {
    var options = Options()
    var i = 0
    func value() -> String {
        i += 1
        guard i < arguments.count else { usage("\(arguments[i - 1]) needs a value") }
        return arguments[i]
    }
    while i < arguments.count {
        switch arguments[i] {
        case "--server":
            for text in value().split(separator: ",") {
                guard let url = URL(string: String(text)), url.host != nil else { usage("bad server URL '\(text)'") }
                options.servers.append(url)
            }
        case "--record": options.record = value()
        case "--concurrency": options.concurrency = Int(value()) ?? 0
        case "--id": options.id = value()
        case "--lease": options.lease = Double(value()) ?? 0
        case "--queues": options.queues = value().split(separator: ",").map(String.init)
        case "--shutdown-grace": options.grace = Double(value()) ?? -1
        default: usage("unknown argument \(arguments[i])")
        }
        i += 1
    }
    if options.servers.isEmpty { usage("give at least one --server") }
    if options.record.isEmpty { usage("give --record FILE") }
    if options.concurrency < 1 { usage("--concurrency must be at least 1") }
    if !(options.lease > 0) { usage("--lease must be positive") }
    if options.grace < 0 { usage("--shutdown-grace must not be negative") }
    return options
}

/// The record file, opened once for appending; each line is one `write(2)`.
final class RecordFile: Sendable {
    let fd: Int32

    init(path: String) {
        fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        if fd < 0 { usage("cannot open \(path): errno \(errno)") }
    }

    func append(_ line: String) throws {
        let bytes = Array(line.utf8)
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard written == bytes.count else {
            throw BatonError(.internal, "short write to the record file (\(written) of \(bytes.count), errno \(errno))")
        }
    }
}

struct RecordArgs: Decodable, Sendable {
    var ms: Int?
    var i: Int?
}

let options = parse(Array(CommandLine.arguments.dropFirst()))
LogfmtLogHandler.bootstrap(level: .info)
let logger = Logger(label: "baton.test-worker")
let file = RecordFile(path: options.record)

let registry = HandlerRegistry()
registry.register("record") { (args: RecordArgs, context: TaskContext) -> RawJSON in
    if let ms = args.ms, ms > 0 { try await Task.sleep(for: .milliseconds(ms)) }
    try file.append("\(context.taskID) \(context.attempt)\n")
    return args.i.map { RawJSON(.int(Int64($0))) } ?? .null
}
registry.register("gather") { (args: [Int], context: TaskContext) -> RawJSON in
    let parents = try await context.parents()
    let inOrder = args == Array(0..<args.count) && parents.map { $0.result?.text } == args.map { "\($0)" }
    try file.append("\(context.taskID) \(context.attempt) gather \(parents.count) \(inOrder)\n")
    return RawJSON(.int(Int64(args.count)))
}

let config = WorkerConfiguration(
    id: options.id, queues: options.queues, kinds: ["record", "gather"], concurrency: options.concurrency,
    lease: .seconds(options.lease), shutdownGrace: .seconds(options.grace))

let source = HTTPTaskSource(servers: options.servers, logger: logger)
let runtime = WorkerRuntime(source: source, registry: registry, configuration: config, logger: logger)
var groupConfig = ServiceGroupConfiguration(services: [runtime], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
groupConfig.maximumGracefulShutdownDuration = config.shutdownGrace + .seconds(5)
do {
    try await ServiceGroup(configuration: groupConfig).run()
} catch {
    FileHandle.standardError.write(Data("baton-test-worker: \(error)\n".utf8))
    exit(1)
}
