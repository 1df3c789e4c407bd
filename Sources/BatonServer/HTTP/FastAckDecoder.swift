import BatonCore
import NIOCore

/// Reads `POST /v1/workers/ack` bodies without `JSONDecoder`, straight from the request's
/// bytes and checking their syntax in the same pass: ``AckWireDecoder`` (BatonCore) does the
/// work; `nil` means "check and decode with ``JSONBodyReader/decodeChecked(_:from:)``".
enum FastAckDecoder {
    static func decode(_ buffer: ByteBuffer, maxDepth: Int = Limits.defaultMaxJSONDepth) -> [TaskAck]? {
        buffer.withUnsafeReadableBytes { AckWireDecoder.decode($0, maxDepth: maxDepth) }
    }
}
