import BatonAMQP
import BatonClient
import BatonCore
import BatonTesting
import Foundation
import Testing

extension EndToEnd {
    /// A Machinery program with RabbitMQ as its broker, played by Python's pika (from PyPI, in
    /// .build-venv) publishing as Machinery's AMQP broker does, against `baton standalone`
    /// processes (`--amqp-url`, `--amqp-ingest`) whose in-process workers run the built-in
    /// kinds; the node is SIGKILLed while it takes the messages in and started again.
    @Suite(.serialized) struct AMQPMachineryTests {
        static let onCI = ProcessInfo.processInfo.environment["CI"] == "true"
        static let python = BuildVenv.python(importing: ["pika"])

        /// Machinery's `Publish` with a direct exchange, for signatures read one per line from
        /// stdin: declares the exchange (durable) and a queue named after the routing key,
        /// bound with it, and publishes persistent JSON, each confirmed.
        static let producer = #"""
            import sys, pika
            url, exchange, routing_key = sys.argv[1:4]
            connection = pika.BlockingConnection(pika.URLParameters(url))
            channel = connection.channel()
            channel.exchange_declare(exchange=exchange, exchange_type="direct", durable=True, auto_delete=False)
            channel.queue_declare(queue=routing_key, durable=True)
            channel.queue_bind(queue=routing_key, exchange=exchange, routing_key=routing_key)
            channel.confirm_delivery()
            sent = 0
            for line in sys.stdin:
                line = line.strip()
                if not line:
                    continue
                channel.basic_publish(exchange=exchange, routing_key=routing_key, body=line.encode(),
                    properties=pika.BasicProperties(content_type="application/json", delivery_mode=2, headers={}, priority=0))
                sent += 1
            channel.queue_delete(queue=routing_key)
            connection.close()
            print(sent)
            """#

        static func publish(_ signatures: [String], url: String, exchange: String, routingKey: String, python: String) throws {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: python)
            p.arguments = ["-c", producer, url, exchange, routingKey]
            let input = Pipe()
            let out = Pipe()
            let err = Pipe()
            p.standardInput = input
            p.standardOutput = out
            p.standardError = err
            try p.run()
            input.fileHandleForWriting.write(Data((signatures.joined(separator: "\n") + "\n").utf8))
            try input.fileHandleForWriting.close()
            let sent = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            let errors = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            p.waitUntilExit()
            try #require(p.terminationStatus == 0, "the producer failed: \(errors)")
            #expect(sent.trimmingCharacters(in: .whitespacesAndNewlines) == String(signatures.count))
        }

        @Test(.enabled(if: python != nil || onCI, "pika not in .build-venv (scripts/python-venv.sh; CI=true makes this a failure)"))
        func machineryProducersTasksRunOnceEachThroughANodeKilledMidway() async throws {
            guard let url = TestServer.amqpURL() else { return }
            let python = try #require(Self.python, "pika is required when CI=true (scripts/python-venv.sh)")
            let suffix = UUID().uuidString.prefix(8).lowercased()
            let (queue, exchange, bindingKey) = ("machinery_tasks.\(suffix)", "machinery_exchange.\(suffix)", "machinery_task.\(suffix)")
            let dir = try TempDir()
            let arguments = [
                "standalone", "--db", dir.path("baton.db"), "--port", "0", "--amqp-url", url, "--amqp-ingest", queue,
                "--amqp-exchange", exchange, "--amqp-binding-key", bindingKey, "--amqp-prefetch", "16", "--lease", "3",
                "--rescue-interval", "0.3", "--retry", "fixed", "--backoff", "0.1",
            ]
            let first = try BatonProcess(arguments)
            let firstURL = try await first.url()
            // The node declares and binds its queue before the producer publishes (as Machinery's
            // workers, started first, do).
            try await eventually("the node's consumer", within: .seconds(30), every: .milliseconds(50)) { () -> Bool? in
                let probe = try await AMQPConnection.connect(try AMQPConfiguration(url: url))
                defer { Task { await probe.close() } }
                return (try? await probe.declareQueue(queue, passive: true).consumerCount) == 1 ? true : nil
            }

            // 400 `echo` signatures and a chain of two; the node is killed once it has stored some.
            // Each may be tried twice more (RetryCount): one running when the node is killed is
            // rescued, and runs again, as Machinery runs again a message whose worker died.
            let uuids = (0..<400).map { _ in UUID().uuidString.lowercased() }
            let (head, next) = (UUID().uuidString.lowercased(), UUID().uuidString.lowercased())
            var signatures = uuids.enumerated().map { i, uuid in goSignature("task_\(uuid)", "echo", args: [i], retryCount: 2) }
            signatures.append(goSignature("task_\(head)", "echo", args: [1], onSuccess: [goSignature("task_\(next)", "echo", args: [2])]))
            // Published while the node takes them in: it is killed with messages delivered and not
            // yet acknowledged, and others still to come.
            let producing = Task.detached { [signatures] in
                try Self.publish(signatures, url: url, exchange: exchange, routingKey: bindingKey, python: python)
            }
            let client = BatonClient(servers: [URL(string: firstURL)!])
            _ = try await eventually("some tasks stored", within: .seconds(30), every: .milliseconds(5)) { () -> Bool? in
                (try? await client.get(try #require(TaskID(uuids[40]))))?.state != nil ? true : nil
            }
            first.signal(SIGKILL)
            try await first.waitForExit()
            try await producing.value

            let second = try BatonProcess(arguments)
            defer { Task { await second.stop() } }
            let again = BatonClient(servers: [URL(string: try await second.url())!])
            for (i, uuid) in uuids.enumerated() {
                let task = try await again.wait(try #require(TaskID(uuid)), timeout: .seconds(60))
                #expect(
                    task.state == .succeeded && task.result?.text.contains("\"Value\":\(i)}") == true,
                    "\(uuid): \(task.state) \(task.lastError ?? "")")
            }
            #expect(try await again.wait(try #require(TaskID(next)), timeout: .seconds(60)).state == .succeeded)
            // Each signature once: 402 tasks in all.
            var params = TaskListParams()
            params.limit = 1000
            #expect(try await again.list(params).tasks.count == 402)
        }

        /// A Machinery program with RabbitMQ as its broker and its result backend: for each task
        /// it sends, Machinery's `SetStatePending` (the task's own queue, named by its UUID, not
        /// durable, deleted when unused, `x-message-ttl` and `x-expires` of its `ResultsExpireIn`,
        /// bound to the exchange with the UUID, and `PENDING` published there), then the
        /// signature through the exchange; then, for each task waited on, `AsyncResult.Get()`:
        /// `basic.get` on that queue until a state is `SUCCESS` or `FAILURE`, then
        /// `PurgeState` (the queue deleted). Reads `{"send": [[uuid, name, signature, pending]],
        /// "wait": [uuid]}` on stdin and prints `{uuid: [states read]}`.
        static let resultsProducer = #"""
            import sys, json, time, pika
            url, exchange, routing_key, expires = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
            plan = json.load(sys.stdin)
            connection = pika.BlockingConnection(pika.URLParameters(url))
            channel = connection.channel()
            channel.exchange_declare(exchange=exchange, exchange_type="direct", durable=True, auto_delete=False)
            channel.confirm_delivery()
            arguments = {"x-message-ttl": expires, "x-expires": expires}
            def declare(uuid):
                channel.queue_declare(queue=uuid, durable=False, auto_delete=True, arguments=arguments)
                channel.queue_bind(queue=uuid, exchange=exchange, routing_key=uuid)
            persistent = pika.BasicProperties(content_type="application/json", delivery_mode=2)
            for uuid, name, signature, pending in plan["send"]:
                if pending:
                    declare(uuid)
                    state = {"TaskUUID": uuid, "TaskName": name, "State": "PENDING", "Results": None, "Error": "",
                             "CreatedAt": "2026-12-06T00:00:00Z", "TTL": 0}
                    channel.basic_publish(exchange=exchange, routing_key=uuid, body=json.dumps(state).encode(), properties=persistent)
                channel.basic_publish(exchange=exchange, routing_key=routing_key, body=signature.encode(),
                    properties=pika.BasicProperties(content_type="application/json", delivery_mode=2, headers={}, priority=0))
            deadline = time.time() + 60
            read = {}
            for uuid in plan["wait"]:
                seen = []
                while time.time() < deadline:
                    declare(uuid)
                    method, properties, body = channel.basic_get(queue=uuid, auto_ack=False)
                    if method is None:
                        time.sleep(0.05)
                        continue
                    channel.basic_ack(method.delivery_tag)
                    seen.append(json.loads(body))
                    if seen[-1]["State"] in ("SUCCESS", "FAILURE"):
                        break
                channel.queue_delete(queue=uuid)
                read[uuid] = seen
            connection.close()
            print(json.dumps(read))
            """#

        @Test(.enabled(if: python != nil || onCI, "pika not in .build-venv (scripts/python-venv.sh; CI=true makes this a failure)"))
        func aMachineryProducerGetsItsChordsResultAndItsChainsFailureFromRabbitMQ() async throws {
            guard let url = TestServer.amqpURL() else { return }
            let python = try #require(Self.python, "pika is required when CI=true (scripts/python-venv.sh)")
            let suffix = UUID().uuidString.prefix(8).lowercased()
            let (queue, exchange) = ("machinery_tasks.\(suffix)", "machinery_exchange.\(suffix)")
            let dir = try TempDir()
            let node = try BatonProcess([
                "standalone", "--db", dir.path("baton.db"), "--port", "0", "--amqp-url", url, "--amqp-ingest", queue,
                "--amqp-exchange", exchange, "--amqp-binding-key", queue, "--amqp-results", "--amqp-results-expire-in", "600",
            ])
            defer { Task { await node.stop() } }
            _ = try await node.url()
            try await eventually("the node's consumer", within: .seconds(30), every: .milliseconds(50)) { () -> Bool? in
                let probe = try await AMQPConnection.connect(try AMQPConfiguration(url: url))
                defer { Task { await probe.close() } }
                return (try? await probe.declareQueue(queue, passive: true).consumerCount) == 1 ? true : nil
            }
            func uuid() -> String { UUID().uuidString.lowercased() }
            // A chord of three `echo` members (Machinery's `SendChord` writes their PENDING, not
            // the callback's), and a chain whose first task fails (`SendChain` writes the first
            // task's PENDING only).
            let group = "group_\(uuid())"
            let callbackUUID = "chord_\(uuid())"
            let callback = goSignature(callbackUUID, "echo", args: [100])
            let members = (0..<3).map { _ in "task_\(uuid())" }
            var send: [[Any]] = members.enumerated().map { i, member in
                [
                    member, "echo", goSignature(member, "echo", args: [i], chordCallback: callback, groupUUID: group, groupTaskCount: 3),
                    true,
                ]
            }
            let (failing, next) = ("task_\(uuid())", "task_\(uuid())")
            send.append([failing, "fail", goSignature(failing, "fail", args: [1], onSuccess: [goSignature(next, "echo", args: [2])]), true])
            let plan = try JSONSerialization.data(withJSONObject: ["send": send, "wait": members + [callbackUUID, failing, next]])

            let p = Process()
            p.executableURL = URL(fileURLWithPath: python)
            p.arguments = ["-c", Self.resultsProducer, url, exchange, queue, "600000"]
            let (input, out, err) = (Pipe(), Pipe(), Pipe())
            p.standardInput = input
            p.standardOutput = out
            p.standardError = err
            try p.run()
            input.fileHandleForWriting.write(plan)
            try input.fileHandleForWriting.close()
            let printed = out.fileHandleForReading.readDataToEndOfFile()
            let errors = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            p.waitUntilExit()
            try #require(p.terminationStatus == 0, "the producer failed: \(errors)")
            let read = try #require(try JSONSerialization.jsonObject(with: printed) as? [String: [[String: Any]]])
            func states(_ uuid: String) -> [String] { (read[uuid] ?? []).compactMap { $0["State"] as? String } }

            for (i, member) in members.enumerated() {
                #expect(states(member).first == "PENDING" && states(member).last == "SUCCESS", "\(member): \(states(member))")
                let results = try #require(read[member]?.last?["Results"] as? [[String: Any]])
                #expect(results.count == 1 && results[0]["Type"] as? String == "int64" && results[0]["Value"] as? Int == i)
            }
            // The callback's queue was first declared by the node or by the reader, whichever came
            // first: its states are there either way.
            #expect(states(callbackUUID).last == "SUCCESS", "\(states(callbackUUID))")
            let chord = try #require(read[callbackUUID]?.last)
            let values = try #require(chord["Results"] as? [[String: Any]]).compactMap { $0["Value"] as? Int }
            #expect(Set(values.dropLast()) == Set(0..<3) && values.count == 4 && values.last == 100, "\(values)")
            #expect(chord["TaskName"] as? String == "echo" && chord["TaskUUID"] as? String == callbackUUID)

            #expect(states(failing).first == "PENDING" && states(failing).last == "FAILURE", "\(states(failing))")
            #expect((read[failing]?.last?["Error"] as? String)?.isEmpty == false)
            // The chain's next task, cancelled by its parent's failure: FAILURE, naming the parent.
            #expect(states(next).last == "FAILURE", "\(states(next))")
            #expect((read[next]?.last?["Error"] as? String)?.contains(failing.dropFirst("task_".count)) == true)
            // The node's expiry matches the producer's: no queue had to be written to undeclared.
            #expect(!node.stderr.contains("exists with another expiry") && !node.stdout.contains("exists with another expiry"))
        }
    }
}
