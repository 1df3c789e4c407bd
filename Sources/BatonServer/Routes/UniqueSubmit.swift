import BatonCore
import BatonNode
import HTTPTypes
import Hummingbird

/// Unique tasks and idempotent submits for `POST /v1/tasks` (and `idempotency_key` in
/// JSON-RPC): the enqueue, the `Idempotency-Key` header, and the `duplicate` flag.
enum UniqueSubmit {
    static let headerName = HTTPField.Name("Idempotency-Key")!
    static let maxKeyLength = 255

    /// The request's `Idempotency-Key`, checked.
    static func idempotencyKey(_ request: Request) throws -> String? {
        guard let key = request.headers[headerName] else { return nil }
        return try checkKey(key, field: "Idempotency-Key")
    }

    /// An idempotency key is 1…255 visible ASCII characters (`!` to `~`), as a header
    /// value can carry it unchanged.
    static func checkKey(_ key: String, field: String) throws -> String {
        guard !key.isEmpty, key.utf8.count <= maxKeyLength, key.utf8.allSatisfy({ (0x21...0x7E).contains($0) }) else {
            throw BatonError.invalidArgument("\(field) must be 1 to \(maxKeyLength) visible ASCII characters (! to ~)")
        }
        return key
    }

    /// 201 when a task was created, 200 when the one task was a duplicate.
    static func status(_ outcome: TaskEnqueueOutcome) -> HTTPResponse.Status {
        outcome.duplicate.allSatisfy { $0 } && !outcome.duplicate.isEmpty ? .ok : .created
    }

    /// A task's JSON with `"duplicate": true|false` added.
    static func taskJSON(_ record: TaskRecord, duplicate: Bool) -> [UInt8] {
        var bytes = TaskJSONWriter.task(record)
        guard bytes.last == UInt8(ascii: "}") else { return bytes }
        bytes.removeLast()
        bytes += Array((duplicate ? #","duplicate":true}"# : #","duplicate":false}"#).utf8)
        return bytes
    }

    /// `{"tasks": [...]}` with each task's `duplicate` flag.
    static func taskListJSON(_ outcome: TaskEnqueueOutcome) -> [UInt8] {
        var bytes = Array(#"{"tasks":["#.utf8)
        for (i, task) in outcome.tasks.enumerated() {
            if i > 0 { bytes.append(UInt8(ascii: ",")) }
            bytes += taskJSON(task, duplicate: i < outcome.duplicate.count && outcome.duplicate[i])
        }
        bytes += Array("]}".utf8)
        return bytes
    }
}
