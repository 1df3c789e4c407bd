import BatonClient
import BatonCore
import BatonTesting
import Foundation
import Testing

extension EndToEnd {
    /// Issue 7 on PostgreSQL: two `baton serve` nodes on one schema, a schedule every second
    /// created on the node that is not the leader, the leader SIGKILLed partway. Every tick
    /// from the first to the last has exactly one task (`catch-up` misfire: none may be missing,
    /// not even those of the leaderless gap).
    @Suite(.serialized) struct MultiNodeScheduleTests {
        /// A node's process, URL and client.
        struct Node {
            let process: BatonProcess
            let client: BatonClient
            var isLeader: Bool { process.stderr.contains("became leader") }
        }

        /// The schedule's ticks, from the `tick:` tag of each task, sorted.
        static func ticks(_ client: BatonClient, schedule: String) async throws -> (ticks: [Date], tasks: Int) {
            let tasks = try await client.list(TaskListParams(limit: TaskListParams.maxLimit)).tasks.filter {
                $0.tags.contains("schedule:\(schedule)")
            }
            let ticks = tasks.compactMap { t in
                t.tags.first { $0.hasPrefix("tick:") }.flatMap { BatonJSON.parseDate(String($0.dropFirst(5))) }
            }
            return (ticks.sorted(), tasks.count)
        }

        @Test func everySecondScheduleFiresEachTickOnceAcrossALeaderKill() async throws {
            guard let store = TestPostgres.storeURL(for: "everySecondScheduleFiresEachTickOnceAcrossALeaderKill") else { return }
            let processes = try (0..<2).map { _ in try BatonProcess(["serve", "--store", store, "--port", "0"]) }
            defer { for p in processes { p.signal(SIGKILL) } }
            var nodes: [Node] = []
            for p in processes {
                let url = try await p.url(timeout: .seconds(60))
                nodes.append(Node(process: p, client: BatonClient(servers: [URL(string: url)!], requestTimeout: .seconds(10))))
            }
            let leaderIndex = try await eventually("a node to become leader", within: .seconds(20)) { () -> Int? in
                nodes.firstIndex { $0.isLeader }
            }
            #expect(nodes.filter(\.isLeader).count == 1, "exactly one leader")
            let leader = nodes[leaderIndex]
            let other = nodes[1 - leaderIndex]

            // Created on the node that is not the leader: the leader's firer must see it.
            let definition = ScheduleDefinition(name: "tick", every: "1s", misfire: "catch-up", task: NewTask(kind: "noop", queue: "ticks"))
            // A node serves as soon as it listens, while its store may still be migrating.
            try await eventually("the schema to be migrated", within: .seconds(20)) { () -> Bool? in
                do {
                    _ = try await other.client.scheduleUpsert(definition)
                    return true
                } catch let error as BatonError where error.code == .storeIncompatible || error.code == .unavailable {
                    return nil
                }
            }
            let created = ContinuousClock.now
            try await eventually("the first tick's task", within: .seconds(8)) { () -> Bool? in
                try await Self.ticks(other.client, schedule: "tick").tasks > 0 ? true : nil
            }
            let firstAfter = ContinuousClock.now - created
            print("MultiNodeSchedule: first task visible \(firstAfter) after the schedule was created on the other node")
            #expect(firstAfter < .seconds(4), "the first task took \(firstAfter)")

            // The leader dies mid-run; the other node takes over and catches up.
            try await Task.sleep(until: created.advanced(by: .seconds(8)))
            let beforeKill = try await Self.ticks(other.client, schedule: "tick").ticks
            leader.process.signal(SIGKILL)
            let killedAt = ContinuousClock.now
            let killedWall = Date()
            try await leader.process.waitForExit(timeout: .seconds(10))
            try await eventually("the other node to become leader", within: .seconds(10)) { other.isLeader ? true : nil }
            let failover = ContinuousClock.now - killedAt
            print("MultiNodeSchedule: leadership moved \(failover) after the SIGKILL")
            #expect(failover < .seconds(5))

            try await Task.sleep(until: created.advanced(by: .seconds(20)))
            let (ticks, count) = try await Self.ticks(other.client, schedule: "tick")
            print(
                "MultiNodeSchedule: \(count) tasks, ticks \(ticks.first.map(BatonJSON.formatDate) ?? "-") … \(ticks.last.map(BatonJSON.formatDate) ?? "-")"
            )
            #expect(ticks.count == count, "every task records its tick")
            #expect(Set(ticks).count == ticks.count, "no tick fired twice: \(ticks.map(BatonJSON.formatDate))")
            for (a, b) in zip(ticks, ticks.dropFirst()) {
                #expect(b.timeIntervalSince(a) == 1, "tick missing between \(BatonJSON.formatDate(a)) and \(BatonJSON.formatDate(b))")
            }
            #expect(ticks.count >= 18, "only \(ticks.count) ticks in 20 s")
            #expect(beforeKill.count >= 6, "the first leader fired \(beforeKill.count) ticks")
            let last = try #require(ticks.last)
            #expect(last > killedWall.addingTimeInterval(8), "the survivor keeps firing after the takeover")
            #expect(Set(beforeKill).isSubset(of: Set(ticks)))
            let schedule = try await other.client.scheduleGet("tick")
            #expect(schedule.record.lastFired.map { $0 >= last } == true)
        }
    }
}
