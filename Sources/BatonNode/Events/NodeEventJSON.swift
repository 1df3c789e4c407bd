import BatonCore
import Foundation

/// A node event as the event stream carries it (docs/api.md#events): its type (`enqueued`,
/// `claimed`, `transitioned`, `progress`, `rescued`, `schedule_fired`, `leadership`) and its
/// members as a JSON object, keys sorted. ``decode(type:data:)`` reads that form back (the
/// cluster's event log stores events in it).
public enum NodeEventJSON {
    public static func encode(_ event: NodeEvent) -> (type: String, data: [UInt8])? {
        var w = JSONWriter(capacity: 160)
        let type: String
        switch event {
        case .enqueued(let ref):
            type = "enqueued"
            w.raw(#"{"kind":"#)
            w.string(ref.kind)
            w.raw(#","queue":"#)
            w.string(ref.queue)
            w.raw(#","task":""#)
            w.ascii(ref.id.description)
            w.byte(UInt8(ascii: "\""))
            if let workflow = ref.workflowID {
                w.raw(#","workflow_id":""#)
                w.ascii(workflow.description)
                w.byte(UInt8(ascii: "\""))
            }
            w.byte(UInt8(ascii: "}"))
        case .claimed(let ref, let attempt, let worker, let wait):
            type = "claimed"
            w.raw(#"{"attempt":"#)
            w.int(attempt)
            w.raw(#","kind":"#)
            w.string(ref.kind)
            w.raw(#","queue":"#)
            w.string(ref.queue)
            w.raw(#","task":""#)
            w.ascii(ref.id.description)
            w.raw(#"","wait_ms":"#)
            w.double(wait.seconds * 1000)
            w.raw(#","worker":"#)
            w.string(worker)
            w.byte(UInt8(ascii: "}"))
        case .transitioned(let move):
            type = "transitioned"
            w.byte(UInt8(ascii: "{"))
            if let attempt = move.attempt {
                w.raw(#""attempt":"#)
                w.int(attempt)
                w.byte(UInt8(ascii: ","))
            }
            if let from = move.from {
                w.raw(#""from":""#)
                w.ascii(from.rawValue)
                w.raw(#"","#)
            }
            if let kind = move.kind {
                w.raw(#""kind":"#)
                w.string(kind)
                w.byte(UInt8(ascii: ","))
            }
            if move.leaseExpired { w.raw(#""lease_expired":true,"#) }
            if let queue = move.queue {
                w.raw(#""queue":"#)
                w.string(queue)
                w.byte(UInt8(ascii: ","))
            }
            if let run = move.run {
                w.raw(#""run_ms":"#)
                w.double(run.seconds * 1000)
                w.byte(UInt8(ascii: ","))
            }
            w.raw(#""task":""#)
            w.ascii(move.id.description)
            w.raw(#"","to":""#)
            w.ascii(move.to.rawValue)
            w.raw(#""}"#)
        case .progressed(let id, let progress):
            type = "progress"
            w.raw(#"{"fraction":"#)
            w.double(progress.fraction)
            if let message = progress.message {
                w.raw(#","message":"#)
                w.string(message)
            }
            w.raw(#","task":""#)
            w.ascii(id.description)
            w.raw(#""}"#)
        case .rescued(let count):
            type = "rescued"
            w.raw(#"{"count":"#)
            w.int(count)
            w.byte(UInt8(ascii: "}"))
        case .scheduleFired(let schedule, let tasks):
            type = "schedule_fired"
            w.raw(#"{"schedule":"#)
            w.string(schedule)
            w.raw(#","tasks":"#)
            w.int(tasks)
            w.byte(UInt8(ascii: "}"))
        case .leadershipChanged(let isLeader):
            type = "leadership"
            w.raw(#"{"is_leader":"#)
            w.bool(isLeader)
            w.byte(UInt8(ascii: "}"))
        case .storeOperation:
            return nil
        }
        return (type, w.bytes)
    }

    /// The event `encode` wrote as `type` and `data`; `nil` for a type or data it did not write.
    public static func decode(type: String, data: String) -> NodeEvent? {
        guard let json = try? JSONDecoder().decode(JSONValue.self, from: Data(data.utf8)) else { return nil }
        func string(_ key: String) -> String? { json[key]?.stringValue }
        func int(_ key: String) -> Int? { json[key]?.doubleValue.flatMap { Int(exactly: $0) } }
        func milliseconds(_ key: String) -> Duration? { json[key]?.doubleValue.map { .nanoseconds(Int64(($0 * 1e6).rounded())) } }
        func id(_ key: String) -> TaskID? { string(key).flatMap(TaskID.init) }
        switch type {
        case "enqueued":
            guard let task = id("task"), let queue = string("queue"), let kind = string("kind") else { return nil }
            return .enqueued(TaskRef(id: task, queue: queue, kind: kind, workflowID: id("workflow_id")))
        case "claimed":
            guard let task = id("task"), let queue = string("queue"), let kind = string("kind"), let attempt = int("attempt"),
                let worker = string("worker")
            else { return nil }
            return .claimed(
                TaskRef(id: task, queue: queue, kind: kind), attempt: attempt, worker: worker, wait: milliseconds("wait_ms") ?? .zero)
        case "transitioned":
            guard let task = id("task"), let to = string("to").flatMap(TaskState.init(rawValue:)) else { return nil }
            return .transitioned(
                TaskTransition(
                    id: task, from: string("from").flatMap(TaskState.init(rawValue:)), to: to, attempt: int("attempt"),
                    queue: string("queue"),
                    kind: string("kind"), run: milliseconds("run_ms"), leaseExpired: json["lease_expired"] == .bool(true)))
        case "progress":
            guard let task = id("task"), let fraction = json["fraction"]?.doubleValue else { return nil }
            return .progressed(task, TaskProgress(fraction: fraction, message: string("message")))
        case "rescued":
            guard let count = int("count") else { return nil }
            return .rescued(count: count)
        case "schedule_fired":
            guard let schedule = string("schedule"), let tasks = int("tasks") else { return nil }
            return .scheduleFired(schedule: schedule, tasks: tasks)
        case "leadership":
            guard case .bool(let isLeader) = json["is_leader"] else { return nil }
            return .leadershipChanged(isLeader: isLeader)
        default:
            return nil
        }
    }
}
