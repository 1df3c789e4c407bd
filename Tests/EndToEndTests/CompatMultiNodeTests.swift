import BatonCore
import BatonTesting
import Foundation
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

extension EndToEnd {
    /// Both drop-in APIs (docs/compat.md) on two `baton serve` nodes of one PostgreSQL
    /// database: what one node hands out, the other completes by id alone, because the lease
    /// is read from the store, not from the memory of the node that handed it out. Without
    /// `BATON_TEST_POSTGRES_URL` the test prints why it is skipped (under `CI=true` it fails).
    @Suite(.serialized) struct CompatMultiNodeTests {
        /// One request as a drop-in client sends it: status and JSON body (`nil` when empty).
        static func send(_ method: String, _ url: String, _ body: String? = nil) async throws -> (status: Int, json: JSONValue?) {
            var request = URLRequest(url: try #require(URL(string: url)))
            request.httpMethod = method
            request.timeoutInterval = 20
            if let body {
                request.httpBody = Data(body.utf8)
                request.setValue("application/json", forHTTPHeaderField: "Content-Type")
            }
            let (data, response) = try await URLSession.shared.data(for: request)
            let status = try #require(response as? HTTPURLResponse).statusCode
            return (status, data.isEmpty ? nil : try JSONDecoder().decode(JSONValue.self, from: data))
        }

        static let sleepJob = #"{"type": "sleep", "payload": {"duration": 0}, "priority": 7}"#
        static let processor = #"{"host": "mark42", "pid": 12345, "name": "Issac Newton"}"#

        static func update(_ uuid: String, success: Bool, processor: String = processor) -> String {
            #"{"processor": \#(processor), "result": {"count": 1061}, "success": \#(success), "uuid": "\#(uuid)"}"#
        }

        @Test func dropInAPIsAcrossTwoNodesOnPostgres() async throws {
            guard let store = TestPostgres.storeURL(for: "dropInAPIsAcrossTwoNodesOnPostgres") else { return }
            let started = ContinuousClock.now
            let nodes = try await MultiNodeTests.startNodes(
                2, store: store, extra: ["--rescue-interval", "0.2", "--retry", "fixed", "--backoff", "0.1"])
            defer { for n in nodes { n.process.signal(SIGKILL) } }
            let (a, b) = (nodes[0].url, nodes[1].url)

            // The Go scheduler's jobs: submitted through A, taken from B, completed by id through A.
            var jobs: [String] = []
            for _ in 0..<3 {
                let created = try await Self.send("POST", "\(a)/jobs", Self.sleepJob)
                #expect(created.status == 201)
                jobs.append(try #require(created.json?["id"]?.stringValue))
            }
            let taken = try await Self.send("GET", "\(b)/next-job?worker_id=worker-b")
            #expect(taken.status == 200 && taken.json?["worker_id"] == "worker-b" && taken.json?["status"] == "running")
            let first = try #require(taken.json?["id"]?.stringValue)
            let stranger = try await Self.send("POST", "\(a)/jobs/\(first)/complete", #"{"worker_id": "worker-x"}"#)
            #expect(stranger.status == 409, "another worker's completion is fenced off on the other node too")
            let done = try await Self.send("POST", "\(a)/jobs/\(first)/complete", #"{"worker_id": "worker-b", "result": {"ok": true}}"#)
            #expect(done.status == 200 && done.json?["status"] == "completed", "\(String(describing: done.json))")
            #expect(try await Self.send("GET", "\(b)/jobs/\(first)").json?["result"] == .object(["ok": .bool(true)]))
            #expect(try await Self.send("POST", "\(b)/jobs/\(first)/complete").status == 409, "completed: nothing runs")

            // By id alone (no body), and a reported failure retried, then taken again from B.
            let second = try #require(try await Self.send("GET", "\(b)/next-job").json?["id"]?.stringValue)
            let byID = try await Self.send("POST", "\(a)/jobs/\(second)/complete")
            #expect(byID.status == 200 && byID.json?["status"] == "completed")
            let third = try #require(try await Self.send("GET", "\(b)/next-job?worker_id=worker-b").json?["id"]?.stringValue)
            let failed = try await Self.send("POST", "\(a)/jobs/\(third)/complete", #"{"success": false, "error": "disk full"}"#)
            #expect(failed.status == 200 && failed.json?["status"] == "pending" && failed.json?["error"] == "disk full")
            let retaken = try await eventually("the failed job to be taken again", within: .seconds(10)) { () -> JSONValue? in
                let next = try await Self.send("GET", "\(b)/next-job?worker_id=worker-b2")
                return next.status == 200 ? next.json : nil
            }
            #expect(retaken["id"] == .string(third) && retaken["attempts"] == 2)
            #expect(try await Self.send("POST", "\(a)/jobs/\(third)/complete", #"{"worker_id": "worker-b2"}"#).status == 200)
            #expect(Set(jobs) == [first, second, third])

            // A worker that vanishes: its job is rescued when its lease runs out and taken again
            // through the other node; its late completion is refused, the new worker's applies.
            let lost = try #require(try await Self.send("POST", "\(a)/jobs", Self.sleepJob).json?["id"]?.stringValue)
            let vanished = try await Self.send("GET", "\(b)/next-job?worker_id=vanishing&lease=0.5")
            #expect(vanished.json?["id"] == .string(lost))
            let rescued = try await eventually("the job to be rescued and taken again", within: .seconds(15)) { () -> JSONValue? in
                let next = try await Self.send("GET", "\(a)/next-job?worker_id=rescuer")
                return next.status == 200 ? next.json : nil
            }
            #expect(rescued["id"] == .string(lost) && rescued["attempts"] == 2)
            #expect(try await Self.send("POST", "\(b)/jobs/\(lost)/complete", #"{"worker_id": "vanishing"}"#).status == 409)
            let finished = try await Self.send("POST", "\(b)/jobs/\(lost)/complete", #"{"worker_id": "rescuer"}"#)
            #expect(finished.status == 200 && finished.json?["status"] == "completed")

            // taskq: enqueued on A, dequeued on B, updated on A.
            let enqueue = #"{"name": "calculate-prime-number", "schedule": 1499938282, "config": {"start": 100, "stop": 10000}}"#
            let dequeue = #"{"processor": \#(Self.processor), "capabilities": ["calculate-prime-number"]}"#
            let ok = try #require(try await Self.send("POST", "\(a)/v1/tasks/enqueue", enqueue).json?["uuid"]?.stringValue)
            let dequeued = try await Self.send("POST", "\(b)/v1/tasks/dequeue", dequeue)
            #expect(dequeued.status == 200 && dequeued.json?["uuid"] == .string(ok))
            let other = Self.update(ok, success: true, processor: #"{"host": "other", "pid": 1, "name": "Marie Curie"}"#)
            #expect(try await Self.send("POST", "\(a)/v1/tasks/update", other).status == 409, "another processor's update")
            let updated = try await Self.send("POST", "\(a)/v1/tasks/update", Self.update(ok, success: true))
            let sent = try JSONDecoder().decode(JSONValue.self, from: Data(Self.update(ok, success: true).utf8))
            #expect(updated.status == 200 && updated.json == sent, "the request as sent")
            let stored = try await nodes[1].client.get(try #require(TaskID(ok)))
            #expect(stored.state == .succeeded && stored.attempt == 1 && stored.result?.text.contains("1061") == true)

            // A failed update on A makes the task available to the next dequeue on B at once.
            let retried = try #require(try await Self.send("POST", "\(a)/v1/tasks/enqueue", enqueue).json?["uuid"]?.stringValue)
            #expect(try await Self.send("POST", "\(b)/v1/tasks/dequeue", dequeue).json?["uuid"] == .string(retried))
            #expect(try await Self.send("POST", "\(a)/v1/tasks/update", Self.update(retried, success: false)).status == 200)
            let again = try await Self.send("POST", "\(b)/v1/tasks/dequeue", dequeue)
            #expect(again.status == 200 && again.json?["uuid"] == .string(retried), "due again at once, no backoff")
            #expect(try await Self.send("POST", "\(a)/v1/tasks/update", Self.update(retried, success: true)).status == 200)
            let twice = try await nodes[0].client.get(try #require(TaskID(retried)))
            #expect(twice.state == .succeeded && twice.attempt == 2 && twice.errors.count == 1)
            #expect(try await Self.send("POST", "\(b)/v1/tasks/dequeue", dequeue).status == 404, "nothing left")

            print("compat on two nodes: \(ContinuousClock.now - started) (incl. start-up)")
            for n in nodes { await n.process.stop() }
        }
    }
}
