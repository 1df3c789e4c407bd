import BatonCore
import NIOCore

/// Reads `POST /v1/tasks` bodies without `JSONDecoder`, straight from the request's bytes:
/// ``NewTaskWireDecoder`` (BatonCore) does the work; `nil` means "decode with `JSONDecoder`".
enum FastNewTaskDecoder {
    /// The tasks of a batch body (`[...]`); `nil`: use `JSONDecoder`.
    static func decodeBatch(_ buffer: ByteBuffer) -> [NewTask]? {
        buffer.withUnsafeReadableBytes { NewTaskWireDecoder.decodeBatch($0) }
    }

    /// The task of a single-task body (`{...}`); `nil`: use `JSONDecoder`.
    static func decodeOne(_ buffer: ByteBuffer) -> NewTask? {
        buffer.withUnsafeReadableBytes { NewTaskWireDecoder.decodeOne($0) }
    }

    /// Whether compact JSON text is already what `RawJSON(JSONValue)` writes (see ``CanonicalJSON``).
    static func isCanonical(_ text: String) -> Bool { CanonicalJSON.isCanonical(text) }
}
