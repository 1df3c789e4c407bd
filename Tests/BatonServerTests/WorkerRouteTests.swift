import BatonCore
import BatonServer
import BatonTesting
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

@Suite("Worker protocol routes")
struct WorkerRouteTests {
    @Test func claimHandsOutLeasedTasks() async throws {
        try await withTestApp { client, _ in
            let submitted = try await client.submit((0..<3).map { echoTask($0) })
            let claimed = try await client.claim(2, worker: "w-a", leaseMS: 5000)
            #expect(claimed.count == 2)
            #expect(claimed.allSatisfy { $0.task.state == .running && !$0.leaseToken.isEmpty })
            #expect(claimed.allSatisfy { $0.task.attempt == 1 && $0.task.leaseOwner == "w-a" })
            #expect(Set(claimed.map(\.task.id)).isSubset(of: submitted.map(\.id)))
            let rest = try await client.claim(5)
            #expect(rest.count == 1)
            #expect(try await client.claim(5).isEmpty)
        }
    }

    @Test func claimDefaultsAndLimits() async throws {
        try await withTestApp { client, _ in
            _ = try await client.submit((0..<3).map { echoTask($0) })
            // Defaults: queue "default", max 1.
            let response = try await client.send(.post, "/v1/workers/claim", json: #"{"worker":"w"}"#)
            #expect(response.status == .ok)
            #expect(try response.decode(ClaimResponse.self).tasks.count == 1)

            for body in [
                #"{"worker":"w","max":0}"#, #"{"worker":"w","max":1001}"#, #"{"worker":""}"#, #"{"worker":"w","queues":[]}"#,
                #"{"worker":"w","wait_ms":-1}"#, #"{"worker":"w","lease_ms":0}"#, #"{"worker":"w","queues":["bad queue"]}"#,
            ] {
                let bad = try await client.send(.post, "/v1/workers/claim", json: body)
                #expect(bad.status == .badRequest, "\(body)")
                #expect(try bad.errorBody().code == "invalid_argument")
            }
            let missing = try await client.send(.post, "/v1/workers/claim", json: #"{"max":1}"#)
            #expect(missing.status == .badRequest)
            #expect(try missing.errorBody().message.contains("worker"))
        }
    }

    @Test func claimLongPollWakesOnSubmit() async throws {
        try await withTestApp { client, _ in
            let start = ContinuousClock.now
            async let claimed = client.send(
                .post, "/v1/workers/claim", body: ClaimBody(worker: "w", queues: ["default"], max: 1, waitMS: 5000))
            try await Task.sleep(for: .milliseconds(150))
            let task = try await client.submit(echoTask(1))
            let response = try await claimed
            #expect(try response.decode(ClaimResponse.self).tasks.map(\.task.id) == [task.id])
            #expect(ContinuousClock.now - start < .seconds(3))
        }
    }

    @Test func claimWaitIsCapped() async throws {
        try await withTestApp(configuration: ServerConfiguration(maxWait: .milliseconds(200))) { client, _ in
            let start = ContinuousClock.now
            let response = try await client.send(
                .post, "/v1/workers/claim", body: ClaimBody(worker: "w", queues: ["default"], max: 1, waitMS: 30_000))
            #expect(response.status == .ok)
            #expect(try response.decode(ClaimResponse.self).tasks.isEmpty)
            #expect(ContinuousClock.now - start < .seconds(3))
        }
    }

    @Test func completeWithStaleTokenIs409AndChangesNothing() async throws {
        try await withTestApp { client, node in
            let task = try await client.submit(echoTask(1))
            let claimed = try #require(try await client.claim(1).first)
            let before = try #require(try await node.store.taskGet(task.id))

            let stale = try await client.send(
                .post, "/v1/tasks/\(task.id)/complete", body: CompleteBody(leaseToken: "not-the-token", result: .null))
            #expect(stale.status == .conflict)
            #expect(try stale.errorBody().code == "stale_lease")
            #expect(try await node.store.taskGet(task.id) == before)

            let failStale = try await client.send(.post, "/v1/tasks/\(task.id)/fail", body: FailBody(leaseToken: "nope", error: "x"))
            #expect(failStale.status == .conflict)
            #expect(try await node.store.taskGet(task.id) == before)

            let ok = try await client.send(
                .post, "/v1/tasks/\(task.id)/complete", body: CompleteBody(leaseToken: claimed.leaseToken, result: RawJSON(.int(42))))
            #expect(ok.status == .ok)
            let done = try ok.decode(TaskRecord.self)
            #expect(done.state == .succeeded)
            #expect(done.result == RawJSON(.int(42)))

            // A second completion with the same token: the task is no longer running.
            let twice = try await client.send(
                .post, "/v1/tasks/\(task.id)/complete", body: CompleteBody(leaseToken: claimed.leaseToken, result: .null))
            #expect(twice.status == .conflict)
            #expect(try await node.store.taskGet(task.id)?.result == RawJSON(.int(42)))
        }
    }

    @Test func completingTaskNeverClaimedIs409() async throws {
        try await withTestApp { client, node in
            let task = try await client.submit(echoTask(1))
            let response = try await client.send(
                .post, "/v1/tasks/\(task.id)/complete", body: CompleteBody(leaseToken: "guess", result: .null))
            #expect(response.status == .conflict)
            #expect(try response.errorBody().code == "stale_lease")
            #expect(try await node.store.taskGet(task.id)?.state == .ready)

            let unknown = try await client.send(
                .post, "/v1/tasks/\(TaskID.generate())/complete", body: CompleteBody(leaseToken: "guess", result: .null))
            #expect(unknown.status == .notFound)
        }
    }

    @Test func failRetriesThenDies() async throws {
        try await withTestApp { client, _ in
            var new = echoTask(1)
            new.maxAttempts = 2
            let task = try await client.submit(new)

            let first = try #require(try await client.claim(1).first)
            let retried = try await client.send(
                .post, "/v1/tasks/\(task.id)/fail", body: FailBody(leaseToken: first.leaseToken, error: "boom", retryAfterMS: 0))
            #expect(retried.status == .ok)
            let pending = try retried.decode(TaskRecord.self)
            #expect(pending.state == .pending)
            #expect(pending.lastError == "boom")

            try await Task.sleep(for: .milliseconds(20))
            let second = try #require(try await client.claim(1).first)
            #expect(second.task.attempt == 2)
            let dead = try await client.send(
                .post, "/v1/tasks/\(task.id)/fail", body: FailBody(leaseToken: second.leaseToken, error: "boom again"))
            #expect(dead.status == .ok)
            let failed = try dead.decode(TaskRecord.self)
            #expect(failed.state == .failed)
            #expect(failed.errors.count == 2)
        }
    }

    @Test func failPermanently() async throws {
        try await withTestApp { client, _ in
            let task = try await client.submit(echoTask(1))
            let claimed = try #require(try await client.claim(1).first)
            let response = try await client.send(
                .post, "/v1/tasks/\(task.id)/fail", body: FailBody(leaseToken: claimed.leaseToken, error: "bad input", retryable: false))
            #expect(try response.decode(TaskRecord.self).state == .failed)
            let negative = try await client.send(
                .post, "/v1/tasks/\(task.id)/fail", json: #"{"lease_token":"x","error":"e","retry_after_ms":-5}"#)
            #expect(negative.status == .badRequest)
        }
    }

    @Test func heartbeatExtendsAndReportsCancel() async throws {
        try await withTestApp { client, _ in
            let task = try await client.submit(echoTask(1))
            let claimed = try #require(try await client.claim(1, leaseMS: 1000).first)
            let response = try await client.send(
                .post, "/v1/tasks/\(task.id)/heartbeat", body: HeartbeatBody(leaseToken: claimed.leaseToken, leaseMS: 60_000))
            #expect(response.status == .ok)
            let beat = try response.decode(HeartbeatResponse.self)
            #expect(!beat.cancelled)
            let until = try #require(beat.leaseExpiresAt)
            #expect(until > Date().addingTimeInterval(50))

            let stale = try await client.send(.post, "/v1/tasks/\(task.id)/heartbeat", body: HeartbeatBody(leaseToken: "other"))
            #expect(stale.status == .conflict)
            #expect(try stale.errorBody().code == "stale_lease")

            _ = try await client.send(.post, "/v1/tasks/\(task.id)/cancel")
            let cancelled = try await client.send(
                .post, "/v1/tasks/\(task.id)/heartbeat", body: HeartbeatBody(leaseToken: claimed.leaseToken))
            #expect(cancelled.status == .ok)
            #expect(try cancelled.decode(HeartbeatResponse.self).cancelled)

            let unknown = try await client.send(.post, "/v1/tasks/\(TaskID.generate())/heartbeat", body: HeartbeatBody(leaseToken: "x"))
            #expect(unknown.status == .notFound)
        }
    }

    @Test func batchedAckReportsPerItem() async throws {
        try await withTestApp { client, node in
            let tasks = try await client.submit((0..<3).map { echoTask($0) })
            let claimed = try await client.claim(3)
            #expect(claimed.count == 3)
            let byID = Dictionary(uniqueKeysWithValues: claimed.map { ($0.task.id, $0) })
            let a = try #require(byID[tasks[0].id])
            let b = try #require(byID[tasks[1].id])
            let body = AckBody(acks: [
                AckItem(.complete(TaskCompletion(lease: a.lease, result: RawJSON(.string("A"))))),
                AckItem(.fail(TaskFailure(lease: b.lease, message: "no", retryable: false))),
                AckItem(.complete(TaskCompletion(lease: LeaseRef(id: tasks[2].id, token: "stale"), result: .null))),
                AckItem(.complete(TaskCompletion(lease: LeaseRef(id: TaskID.generate(), token: "x"), result: .null))),
            ])
            let response = try await client.send(.post, "/v1/workers/ack", body: body)
            #expect(response.status == .ok)
            let results = try response.decode(AckResponse.self).results
            #expect(results.map(\.status) == ["applied", "applied", "stale_lease", "not_found"])
            #expect(results[0].state == .succeeded)
            #expect(results[1].state == .failed)
            #expect(try await node.store.taskGet(tasks[0].id)?.result == RawJSON(.string("A")))
            #expect(try await node.store.taskGet(tasks[2].id)?.state == .running)

            let bad = try await client.send(
                .post, "/v1/workers/ack", json: #"{"acks":[{"id":"\#(tasks[2].id)","lease_token":"t","outcome":"maybe"}]}"#)
            #expect(bad.status == .badRequest)
            #expect(try bad.errorBody().message.contains("acks[0]"))

            // An ack body is read and checked in one pass; a syntax error anywhere, a result
            // included, is named with its byte and applies nothing.
            let broken = #"{"acks":[{"id":"\#(tasks[2].id)","lease_token":"t","outcome":"succeeded","result":{"a":01}}]}"#
            let refused = try await client.send(.post, "/v1/workers/ack", json: broken)
            #expect(refused.status == .badRequest)
            let offset = broken.utf8.count - 5  // the "1" of "01"
            #expect(try refused.errorBody().message == "malformed JSON: expected ',' or '}' at byte \(offset)")
            #expect(try await node.store.taskGet(tasks[2].id)?.state == .running)
        }
    }

    @Test func largeAckBatchGoesStraightToTheStore() async throws {
        try await withTestApp { client, node in
            _ = try await client.submit((0..<100).map { echoTask($0) })
            let claimed = try await client.claim(100)
            #expect(claimed.count == 100)
            let body = AckBody(acks: claimed.map { AckItem(.complete(TaskCompletion(lease: $0.lease, result: $0.task.args))) })
            let before = node.store.stats.ackTransactions
            let response = try await client.send(.post, "/v1/workers/ack", body: body)
            #expect(try response.decode(AckResponse.self).results.allSatisfy { $0.status == "applied" })
            #expect(node.store.stats.ackTransactions == before + 1)
            let done = try await node.store.taskList(TaskListParams(states: [.succeeded], limit: 1000)).tasks
            #expect(done.count == 100)
            #expect(done.allSatisfy { $0.result == $0.args })
        }
    }

    @Test func batchedHeartbeatAndRelease() async throws {
        try await withTestApp { client, node in
            let tasks = try await client.submit((0..<2).map { echoTask($0) })
            let claimed = try await client.claim(2)
            let leases = claimed.map { HeartbeatItem($0.lease) } + [HeartbeatItem(LeaseRef(id: tasks[0].id, token: "stale"))]
            let beat = try await client.send(
                .post, "/v1/workers/heartbeat", body: HeartbeatManyBody(worker: "w1", leases: leases, leaseMS: 60_000))
            #expect(beat.status == .ok)
            let results = try beat.decode(HeartbeatManyResponse.self).results
            #expect(results.map(\.status) == ["extended", "extended", "lost"])

            let release = try await client.send(
                .post, "/v1/workers/release", body: ReleaseBody(leases: claimed.map { LeaseItem($0.lease) }))
            #expect(release.status == .ok)
            #expect(try release.decode(ReleaseResponse.self).released == 2)
            for task in tasks {
                let stored = try #require(try await node.store.taskGet(task.id))
                #expect(stored.state == .ready)
            }
            // Released tasks are claimable again.
            #expect(try await client.claim(2).count == 2)
        }
    }
}
