import BatonCore
import NIOCore

/// Reads `POST /v1/tasks` bodies without `JSONDecoder`, straight from the request's bytes
/// and checking their syntax in the same pass: ``NewTaskWireDecoder`` (BatonCore) does the
/// work; `nil` means "check and decode with ``JSONBodyReader/decodeChecked(_:from:)``".
enum FastNewTaskDecoder {
    /// The tasks of a batch body (`[...]`); `nil`: use `JSONDecoder`.
    static func decodeBatch(_ buffer: ByteBuffer, maxDepth: Int = Limits.defaultMaxJSONDepth) -> [NewTask]? {
        buffer.withUnsafeReadableBytes { NewTaskWireDecoder.decodeBatch($0, maxDepth: maxDepth) }
    }

    /// The task of a single-task body (`{...}`); `nil`: use `JSONDecoder`.
    static func decodeOne(_ buffer: ByteBuffer, maxDepth: Int = Limits.defaultMaxJSONDepth) -> NewTask? {
        buffer.withUnsafeReadableBytes { NewTaskWireDecoder.decodeOne($0, maxDepth: maxDepth) }
    }

    /// Whether compact JSON text is already what `RawJSON(JSONValue)` writes (see ``CanonicalJSON``).
    static func isCanonical(_ text: String) -> Bool { CanonicalJSON.isCanonical(text) }
}
