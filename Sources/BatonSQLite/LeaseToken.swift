import Foundation

/// The SQLite store's lease tokens: a random prefix drawn once per claim statement, then the
/// task's `seq` (`"<random UUID>.<seq>"`).
///
/// A token still names one lease only: a task claimed again gets a new prefix. It also tells
/// the store where the row is, so an ack updates the row by rowid instead of searching the id
/// index (measured with `Benchmarks/rawsql.py`). Tokens are fences against stale workers, not
/// secrets between workers; workers authenticate to the node with its API token.
enum LeaseToken {
    /// A fresh prefix for one claim statement: a random (version 4) UUID and a dot.
    static func prefix() -> String {
        UUID().uuidString.lowercased() + "."
    }

    /// Characters before the dot: a UUID's text form.
    private static let uuidLength = 36

    /// The `seq` a token carries, or nil for a token not made this way (one an older Baton
    /// made with a random token only, or a forged one).
    static func seq(of token: String) -> Int64? {
        let utf8 = token.utf8
        guard let dot = utf8.lastIndex(of: UInt8(ascii: ".")), utf8.distance(from: utf8.startIndex, to: dot) == uuidLength
        else { return nil }
        let digits = utf8[utf8.index(after: dot)...]
        guard !digits.isEmpty, digits.count <= 18 else { return nil }
        var value: Int64 = 0
        for byte in digits {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            value = value * 10 + Int64(byte - UInt8(ascii: "0"))
        }
        return value
    }
}
