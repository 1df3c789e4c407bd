import Foundation

// The libFuzzer target over Baton's hand-written JSON readers: the strict scanner
// (`JSONScanner`: its whole-text check `validate`, its readers and the canonical-form notes
// behind `CanonicalJSON`),
// `RawJSON(validating:)` and the four wire decoders (`NewTaskWireDecoder`, `AckWireDecoder`,
// `ClaimResponseWireDecoder`, `AckResponseWireDecoder`). Each input goes through all of
// them, and each answer is checked against Foundation: `JSONSerialization` for accept/reject
// and values, `JSONDecoder` on the Codable types for the decoders (what the node and the
// worker fall back to). A disagreement that is not one of the known divergences
// (`Divergence`, each pinned by `Tests/BatonCoreTests/JSONDivergenceTests.swift`), or a
// crash, stops the run with the input in the message. Built by `scripts/fuzz.sh` with
// `swiftc -sanitize=fuzzer` over BatonCore's sources and this file (one module).

@_cdecl("LLVMFuzzerTestOneInput")
func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    JSONFuzz.check(UnsafeRawBufferPointer(start: size > 0 ? data : nil, count: size))
    return 0
}

@_cdecl("LLVMFuzzerInitialize")
func fuzzInitialize(
    _ argc: UnsafeMutablePointer<Int32>?, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>?
)
    -> Int32
{
    if ProcessInfo.processInfo.environment["BATON_FUZZ_STATS"] != nil { atexit { Stats.report() } }
    return 0
}

/// A disagreement with Foundation that is known and intended.
enum Divergence: String, CaseIterable {
    /// `[1,]`, `{"a":1,}`: Foundation accepts, Baton refuses (RFC 8259 has no trailing commas).
    case trailingComma = "trailing comma"
    /// `{"a":1,"a":2}`: everyone accepts; `JSONSerialization` keeps the last value, `JSONDecoder`
    /// (and so `RawJSON`'s normalised text) the first. Baton's decoders leave a repeated
    /// field to `JSONDecoder`.
    case duplicateKey = "duplicate key"
    /// Nesting deeper than Baton's limit (64 for bodies and arguments) but within
    /// Foundation's (512): Foundation accepts, Baton refuses.
    case depth = "nesting deeper than Baton's limit"
    /// A long number (`9223372036854775808`, `0.000000000000000000001`): `JSONSerialization`
    /// keeps it exact (`NSDecimalNumber`, or `UInt64`); `RawJSON` normalises numbers as `JSONDecoder` reads
    /// them (`Int64`, else the nearest `Double`). Text kept as sent (the scanner's) keeps every
    /// digit. `JSONDecoder` even reads a long number with a fraction whose nearest `Double` is
    /// whole as the integer before its point (`12345678901235565.9` → `12345678901235565`).
    /// The values are still compared, to a few units in the last place of a `Double`.
    case numberPrecision = "long number (exact in JSONSerialization, a Double in JSONDecoder)"
    /// `0e1`, `0E2`: a zero with an unsigned exponent. Valid JSON, which `JSONSerialization`
    /// and Baton read as 0; Foundation's `JSONDecoder` refuses it where it decodes a `Double`
    /// (a Foundation bug: `0e+1`, `0.0e1` and `1e1` are fine). Baton's decoders answer 0.
    case zeroExponent = "zero with an unsigned exponent"
    /// U+FEFF (ZERO WIDTH NO-BREAK SPACE, the BOM character) as UTF-8 bytes at the start of a
    /// string or right after an escape: `JSONSerialization` drops it (a Foundation bug; escaped
    /// as `\ufeff` it is kept); `JSONDecoder` and Baton keep it. `RawJSON` writes it unescaped.
    case leadingFEFF = "U+FEFF starting a string or following an escape"
    /// A byte order mark, or UTF-16/UTF-32 text: Foundation detects the encoding, Baton reads
    /// UTF-8 only (RFC 8259 §8.1).
    case encoding = "not UTF-8 without a BOM"
}

enum JSONFuzz {
    static let maxDepth = Limits.defaultMaxJSONDepth
    /// What the worker reads a node's answers with.
    static let decoder = BatonJSON.decoder()
    /// What the node reads request bodies with (`JSONBodyReader`): stricter on retry policies.
    static let requestDecoder = BatonJSON.requestDecoder()

    static func check(_ raw: UnsafeRawBufferPointer) {
        let input = Input(raw)
        let reference = try? JSONSerialization.jsonObject(with: input.data, options: [.fragmentsAllowed])
        let syntax = Result { () throws(JSONScanner.Failure) in try JSONScanner.validate(raw, maxDepth: maxDepth) }
        if case .failure(let failure) = syntax, !(0...raw.count).contains(failure.offset) {
            input.fail("JSONScanner.validate names byte \(failure.offset) of \(raw.count)")
        }
        let syntaxOK = (try? syntax.get()) != nil
        checkSyntax(input, syntaxOK: syntaxOK, reference: reference)
        checkScanner(input, syntaxOK: syntaxOK, reference: reference)
        checkRawJSON(input, reference: reference)
        checkCanonical(input, reference: reference)
        // The node's decoders read bodies unchecked, checking the syntax in the same pass:
        // they never accept what the check refuses.
        checkNewTasks(input, syntaxOK: syntaxOK)
        checkAcks(input, syntaxOK: syntaxOK)
        // The worker's readers. Its fallback, `HTTPTaskSource.decodeResponse`, refuses text
        // nested deeper than 512 before `JSONDecoder`, which traps on some of it.
        if input.tooDeepForJSONDecoder {
            Stats.count("worker: nested deeper than 512, not given to JSONDecoder")
            if ClaimResponseWireDecoder.decode(raw) != nil || AckResponseWireDecoder.decode(raw) != nil {
                input.fail("a worker decoder accepts text nested deeper than 512")
            }
            return
        }
        checkClaimResponse(input)
        checkAckResponse(input)
    }

    // MARK: Syntax

    /// `JSONScanner.validate` accepts what `JSONSerialization` accepts, known divergences aside.
    static func checkSyntax(_ input: Input, syntaxOK: Bool, reference: Any?) {
        switch (syntaxOK, reference != nil) {
        case (false, true):
            input.explain(
                "JSONScanner.validate refuses what JSONSerialization accepts", by: [.trailingComma, .depth, .encoding, .duplicateKey])
        case (true, false):
            input.explain("JSONScanner.validate accepts what JSONSerialization refuses", by: [])
        default:
            break
        }
    }

    // MARK: Scanner

    /// The scanner, reading one whole value, agrees with its whole-text check; its compact
    /// text is the same JSON; its scalars are Foundation's.
    static func checkScanner(_ input: Input, syntaxOK: Bool, reference: Any?) {
        var s = JSONScanner(input.raw, maxDepth: maxDepth)
        let text = s.rawValue(depth: 0)
        s.skipWhitespace()
        let scannerOK = text != nil && s.atEnd
        if scannerOK != syntaxOK { input.fail("JSONScanner.rawValue and JSONScanner.validate disagree") }
        guard scannerOK, let text else { return }
        Stats.count("scanner.accepted")
        guard let reference else { return input.explain("JSONScanner accepts what JSONSerialization refuses", by: []) }
        guard let compact = try? JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed]) else {
            input.fail("JSONScanner's compact text \(String(reflecting: text)) is not JSON to JSONSerialization")
        }
        if !same(compact, reference) { input.fail("JSONScanner's compact text \(String(reflecting: text)) is other JSON") }

        // Scalars read by the typed readers.
        var str = JSONScanner(input.raw, maxDepth: maxDepth)
        if let value = str.string(), str.atEndAfterWhitespace {
            guard let expected = reference as? String else {
                input.fail("JSONScanner.string() read \(String(reflecting: value)), JSONSerialization \(reference)")
            }
            if !value.unicodeScalars.elementsEqual(expected.unicodeScalars) {
                input.explain("JSONScanner.string() read \(String(reflecting: value)), JSONSerialization \(reference)", by: [.leadingFEFF])
            }
        }
        var num = JSONScanner(input.raw, maxDepth: maxDepth)
        if let value = num.double(), num.atEndAfterWhitespace {
            // `NSDecimalNumber.doubleValue` is not correctly rounded; its text read as a `Double` is.
            guard let expected = reference as? NSNumber, expected.doubleValue == value || Double(expected.description) == value else {
                input.fail("JSONScanner.double() read \(value), JSONSerialization \(reference)")
            }
        }
        var int = JSONScanner(input.raw, maxDepth: maxDepth)
        if let value = int.int(), int.atEndAfterWhitespace {
            guard let expected = try? input.decoded(Int.self, by: decoder), expected == value else {
                input.fail(
                    "JSONScanner.int() read \(value), JSONDecoder \(String(describing: try? input.decoded(Int.self, by: decoder)))")
            }
        }
    }

    // MARK: RawJSON and the canonical form

    /// `RawJSON(validating:)` (the syntax check, then `JSONDecoder`, then the canonical
    /// encoding): accepts what Foundation accepts, and its text is the same JSON.
    static func checkRawJSON(_ input: Input, reference: Any?) {
        let raw = try? RawJSON(validating: input.data, maxDepth: maxDepth)
        switch (raw, reference) {
        case (nil, .some):
            // With a repeated key, each reads a value the other drops (`1e400` there is refused
            // by one only).
            input.explain("RawJSON refuses what JSONSerialization accepts", by: [.trailingComma, .depth, .encoding, .duplicateKey])
        case (.some, nil):
            // JSONDecoder keeps a repeated key's first value and never reads the others', so a
            // lone surrogate or `1e400` there goes unnoticed (the syntax check saw it was JSON).
            input.explain("RawJSON accepts what JSONSerialization refuses", by: [.duplicateKey])
        case (.some(let raw), .some(let reference)):
            Stats.count("rawjson.accepted")
            guard let again = try? JSONSerialization.jsonObject(with: Data(raw.text.utf8), options: [.fragmentsAllowed]) else {
                input.fail("RawJSON's text \(String(reflecting: raw.text)) is not JSON to JSONSerialization")
            }
            if !same(again, reference) {
                let what = "RawJSON's text \(String(reflecting: raw.text)) is other JSON"
                if same(again, reference, numbers: closeAsDoubles) {
                    // The long number may be RawJSON's (`-2345678901234567e8` is written
                    // `-2.345678901234567e+23`, which JSONSerialization keeps as a decimal).
                    input.explain(what, by: [.numberPrecision, .duplicateKey, .leadingFEFF], alsoIn: raw.text)
                } else {
                    // RawJSON writes `"\ufeff"` as the character itself, which JSONSerialization drops.
                    input.explain(what, by: [.duplicateKey, .leadingFEFF], alsoIn: raw.text)
                }
            }
        default:
            break
        }
    }

    /// Text `CanonicalJSON` calls canonical is exactly what `RawJSON(JSONValue)` writes.
    static func checkCanonical(_ input: Input, reference: Any?) {
        guard let text = input.text, CanonicalJSON.isCanonical(text) else { return }
        Stats.count("canonical")
        guard reference != nil, let value = try? input.decoded(JSONValue.self, by: JSONDecoder()) else {
            input.fail("CanonicalJSON calls text canonical that Foundation refuses")
        }
        let written = RawJSON(value).text
        if !written.utf8.elementsEqual(text.utf8) {
            input.fail("CanonicalJSON calls text canonical that RawJSON writes as \(String(reflecting: written))")
        }
    }

    // MARK: The node's decoders

    /// `POST /v1/tasks`: where the fast decoder answers, `JSONDecoder` gives the same tasks.
    static func checkNewTasks(_ input: Input, syntaxOK: Bool) {
        if let fast = NewTaskWireDecoder.decodeBatch(input.raw, maxDepth: maxDepth) {
            Stats.count("newtask.batch.fast")
            if !syntaxOK { input.fail("NewTaskWireDecoder.decodeBatch accepts what JSONScanner.validate refuses") }
            guard let slow = try? input.decoded([NewTask].self, by: requestDecoder) else {
                return input.explain("NewTaskWireDecoder.decodeBatch accepts what JSONDecoder refuses", by: [.zeroExponent])
            }
            if !sameTasks(fast, slow) { input.fail("NewTaskWireDecoder.decodeBatch read \(fast), JSONDecoder \(slow)") }
        } else if (try? input.decoded([NewTask].self, by: requestDecoder)) != nil {
            Stats.count("newtask.batch.fallback")
        }
        if let fast = NewTaskWireDecoder.decodeOne(input.raw, maxDepth: maxDepth) {
            Stats.count("newtask.one.fast")
            if !syntaxOK { input.fail("NewTaskWireDecoder.decodeOne accepts what JSONScanner.validate refuses") }
            guard let slow = try? input.decoded(NewTask.self, by: requestDecoder) else {
                return input.explain("NewTaskWireDecoder.decodeOne accepts what JSONDecoder refuses", by: [.zeroExponent])
            }
            if !sameTasks([fast], [slow]) { input.fail("NewTaskWireDecoder.decodeOne read \(fast), JSONDecoder \(slow)") }
        } else if (try? input.decoded(NewTask.self, by: requestDecoder)) != nil {
            Stats.count("newtask.one.fallback")
        }
    }

    /// `NewTask` equality, with the arguments' text and every string also compared byte for
    /// byte, through the description (`String`'s `==` is canonical equivalence).
    static func sameTasks(_ a: [NewTask], _ b: [NewTask]) -> Bool {
        a == b && "\(a)".utf8.elementsEqual("\(b)".utf8)
    }

    /// `POST /v1/workers/ack`: where the fast decoder answers, `JSONDecoder` and `toAck` give
    /// the same acks (results equal as JSON: the fast decoder keeps their text as sent).
    static func checkAcks(_ input: Input, syntaxOK: Bool) {
        let slow = Result { try input.decoded(AckBody.self, by: requestDecoder).acks.map { try $0.toAck() } }
        guard let fast = AckWireDecoder.decode(input.raw, maxDepth: maxDepth) else {
            if case .success = slow { Stats.count("ack.fallback") }
            return
        }
        Stats.count("ack.fast")
        if !syntaxOK { input.fail("AckWireDecoder accepts what JSONScanner.validate refuses") }
        guard case .success(let slow) = slow else {
            return input.explain("AckWireDecoder accepts what JSONDecoder refuses", by: [])
        }
        guard fast.count == slow.count else { input.fail("AckWireDecoder read \(fast), JSONDecoder \(slow)") }
        for (a, b) in zip(fast, slow) {
            switch (a, b) {
            case (.complete(let x), .complete(let y)) where x.lease == y.lease && sameJSON(x.result, y.result):
                continue
            case (.fail(let x), .fail(let y)) where x == y && x.message.utf8.elementsEqual(y.message.utf8):
                continue
            default:
                input.fail("AckWireDecoder read \(a), JSONDecoder \(b)")
            }
        }
    }

    // MARK: The worker's decoders

    /// Claim answers: where the fast decoder answers, `JSONDecoder` gives the same tasks
    /// (arguments and results equal as JSON).
    static func checkClaimResponse(_ input: Input) {
        let slow = Result { try input.decoded(ClaimResponse.self, by: decoder) }
        guard let fast = ClaimResponseWireDecoder.decode(input.raw) else {
            if case .success = slow { Stats.count("claim.fallback") }
            return
        }
        Stats.count("claim.fast")
        guard case .success(let slow) = slow else {
            return input.explain("ClaimResponseWireDecoder accepts what JSONDecoder refuses", by: [.zeroExponent])
        }
        guard fast.tasks.count == slow.tasks.count else {
            input.fail("ClaimResponseWireDecoder read \(fast), JSONDecoder \(slow)")
        }
        for (a, b) in zip(fast.tasks, slow.tasks) {
            var x = a
            var y = b
            let argsSame = sameJSON(x.task.args, y.task.args)
            let resultSame =
                switch (x.task.result, y.task.result) {
                case (nil, nil): true
                case (.some(let r), .some(let s)): sameJSON(r, s)
                default: false
                }
            (x.task.args, y.task.args, x.task.result, y.task.result) = (.null, .null, nil, nil)
            guard argsSame, resultSame, x == y, "\(x)".utf8.elementsEqual("\(y)".utf8) else {
                input.fail("ClaimResponseWireDecoder read \(a), JSONDecoder \(b)")
            }
        }
    }

    /// Ack answers: where the fast decoder answers, `JSONDecoder` gives the same results.
    static func checkAckResponse(_ input: Input) {
        let slow = Result { try input.decoded(AckResponse.self, by: decoder) }
        guard let fast = AckResponseWireDecoder.decode(input.raw) else {
            if case .success = slow { Stats.count("ackresponse.fallback") }
            return
        }
        Stats.count("ackresponse.fast")
        guard case .success(let slow) = slow else {
            return input.explain("AckResponseWireDecoder accepts what JSONDecoder refuses", by: [])
        }
        if fast != slow || !"\(fast)".utf8.elementsEqual("\(slow)".utf8) {
            input.fail("AckResponseWireDecoder read \(fast), JSONDecoder \(slow)")
        }
    }

    // MARK: Comparing values

    /// Two `RawJSON` texts are the same JSON as `JSONValue` reads them (as the tests compare
    /// them), a number being the same whether read as `.int` or `.double`: `JSONValue` reads
    /// `922337000000000000.3` as a `Double`, which `RawJSON` writes `9.22337e+17` and
    /// `JSONValue` then reads as an `Int64`.
    static func sameJSON(_ a: RawJSON, _ b: RawJSON) -> Bool {
        guard let x = try? a.parsed(), let y = try? b.parsed() else { return false }
        return equivalent(x, y)
    }

    static func equivalent(_ a: JSONValue, _ b: JSONValue) -> Bool {
        switch (a, b) {
        case (.int(let x), .double(let y)), (.double(let y), .int(let x)):
            return Double(x) == y
        case (.array(let x), .array(let y)):
            return x.count == y.count && zip(x, y).allSatisfy { equivalent($0, $1) }
        case (.object(let x), .object(let y)):
            return x.count == y.count && x.allSatisfy { k, v in y[k].map { equivalent(v, $0) } ?? false }
        case (.string(let x), .string(let y)):
            return x.unicodeScalars.elementsEqual(y.unicodeScalars)
        default:
            return a == b
        }
    }

    /// Numbers equal to a few units in the last place of a `Double`, read from their text
    /// (`NSDecimalNumber.doubleValue` is not correctly rounded). `JSONDecoder` reads a long
    /// number with a fraction whose nearest `Double` is whole as that integer (its digits
    /// before the point: `12345678901235565.9` is `12345678901235565`), so `RawJSON` may be
    /// off by more than the rounding to a `Double`, but not by more than this.
    static func closeAsDoubles(_ a: NSNumber, _ b: NSNumber) -> Bool {
        guard a != b else { return true }
        guard let x = Double(a.description), let y = Double(b.description) else { return false }
        return x == y || abs(x - y) <= 1e-15 * max(abs(x), abs(y))
    }

    /// Deep equality of `JSONSerialization` values; strings compared scalar by scalar,
    /// numbers by `numbers` (by default `NSNumber`'s equality, exact for decimals).
    static func same(_ a: Any, _ b: Any, numbers: (NSNumber, NSNumber) -> Bool = { $0 == $1 }) -> Bool {
        switch (a, b) {
        case (let x as [String: Any], let y as [String: Any]):
            guard x.count == y.count else { return false }
            for (k, v) in x {
                guard let w = y[k], same(v, w, numbers: numbers) else { return false }
            }
            return true
        case (let x as [Any], let y as [Any]):
            return x.count == y.count && zip(x, y).allSatisfy { same($0, $1, numbers: numbers) }
        case (let x as String, let y as String):
            return x.unicodeScalars.elementsEqual(y.unicodeScalars)
        case (let x as NSNumber, let y as NSNumber):
            return numbers(x, y)
        case (is NSNull, is NSNull):
            return true
        default:
            return false
        }
    }
}

extension JSONScanner {
    /// Whether only whitespace is left.
    var atEndAfterWhitespace: Bool {
        mutating get {
            skipWhitespace()
            return atEnd
        }
    }
}

/// One fuzz input, its views, and how a disagreement on it is reported.
struct Input {
    let raw: UnsafeRawBufferPointer
    let data: Data
    /// The input as text, when it is UTF-8.
    let text: String?

    /// Whether the input nests deeper than 512: Foundation's `JSONDecoder` traps on some such
    /// text (513 `[` stop the process), so no check hands it any. Baton never does either: the
    /// node validates bodies to a depth of 64 first, the worker's fallback
    /// refuses text nested deeper than 512.
    let tooDeepForJSONDecoder: Bool

    init(_ raw: UnsafeRawBufferPointer) {
        self.raw = raw
        data = Data(raw)
        text = String(validating: raw, as: UTF8.self)
        tooDeepForJSONDecoder = JSONNesting.exceeds(ClaimResponseWireDecoder.maxDepth, in: raw)
    }

    struct TooDeep: Error {}

    /// `decoder.decode(type, from: data)`, unless the input is too deep for it.
    func decoded<T: Decodable>(_ type: T.Type, by decoder: JSONDecoder) throws -> T {
        if tooDeepForJSONDecoder { throw TooDeep() }
        return try decoder.decode(type, from: data)
    }

    /// A disagreement that only the listed divergences may explain: counted if one of them
    /// is present in the input (or in `output`, the text Baton made of it), else the run stops.
    func explain(_ what: String, by allowed: [Divergence], alsoIn output: String? = nil) {
        var present = Divergences.find(in: raw)
        if var output {
            output.withUTF8 { present.formUnion(Divergences.find(in: UnsafeRawBufferPointer($0))) }
        }
        guard let reason = allowed.first(where: present.contains) else {
            let found = present.isEmpty ? "" : " (divergences present but not allowed here: \(present.map(\.rawValue)))"
            fail(what + found)
        }
        Stats.count("divergence: \(reason.rawValue)")
    }

    func fail(_ what: String) -> Never {
        fatalError("\(what)\ninput: \(description)")
    }

    var description: String {
        if let text { return String(reflecting: text) }
        let hex = raw.map { String($0, radix: 16) }.joined(separator: " ")
        return "\(raw.count) bytes, not UTF-8: \(hex)"
    }
}

/// Finds the known divergences present in an input by a lenient pass over its bytes.
enum Divergences {
    static func find(in raw: UnsafeRawBufferPointer) -> Set<Divergence> {
        var found: Set<Divergence> = []
        let b = Array(raw)
        // Encoding: a BOM, or a NUL among the first four bytes (UTF-16/32 detection).
        if b.starts(with: [0xEF, 0xBB, 0xBF]) || b.starts(with: [0xFE, 0xFF]) || b.starts(with: [0xFF, 0xFE]) || b.prefix(4).contains(0) {
            found.insert(.encoding)
        }
        var i = 0
        var depth = 0
        // Per open container: the keys seen so far (objects) or nil (arrays).
        var keys: [Set<String>?] = []
        var expectKey = false
        while i < b.count {
            let c = b[i]
            switch c {
            case UInt8(ascii: "\""):
                let start = i
                i += 1
                var closed = false
                // U+FEFF, as its UTF-8 bytes or escaped, first or right after an escape.
                func feffAt(_ i: Int) -> Bool {
                    b[i...].starts(with: [0xEF, 0xBB, 0xBF])
                        || (b[i...].starts(with: Array(#"\u"#.utf8))
                            && String(decoding: b[(i + 2)..<min(i + 6, b.count)], as: UTF8.self).lowercased() == "feff")
                }
                if feffAt(i) { found.insert(.leadingFEFF) }
                while i < b.count {
                    if b[i] == UInt8(ascii: "\"") {
                        closed = true
                        break
                    }
                    if b[i] == UInt8(ascii: "\\"), i + 1 < b.count {
                        if b[i + 1] == UInt8(ascii: "u"), i + 6 <= b.count {
                            i += 6
                            if feffAt(i) { found.insert(.leadingFEFF) }
                            continue
                        }
                        i += 2
                        if feffAt(i) { found.insert(.leadingFEFF) }
                        continue
                    }
                    i += 1
                }
                if closed, expectKey, let top = keys.last, var set = top {
                    let token = Data(b[start...i])
                    if let key = try? JSONSerialization.jsonObject(with: token, options: [.fragmentsAllowed]) as? String {
                        if set.contains(key) { found.insert(.duplicateKey) }
                        set.insert(key)
                        keys[keys.count - 1] = set
                    }
                }
                expectKey = false
                i += 1
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                depth += 1
                if depth > JSONFuzz.maxDepth { found.insert(.depth) }
                keys.append(c == UInt8(ascii: "{") ? [] : nil)
                expectKey = c == UInt8(ascii: "{")
                i += 1
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                depth -= 1
                if !keys.isEmpty { keys.removeLast() }
                expectKey = false
                i += 1
            case UInt8(ascii: ","):
                var j = i + 1
                while j < b.count, b[j] == 0x20 || b[j] == 0x0A || b[j] == 0x0D || b[j] == 0x09 { j += 1 }
                if j < b.count, b[j] == UInt8(ascii: "]") || b[j] == UInt8(ascii: "}") { found.insert(.trailingComma) }
                expectKey = keys.last.map { $0 != nil } ?? false
                i += 1
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                var j = i
                while j < b.count,
                    b[j] == UInt8(ascii: "-") || b[j] == UInt8(ascii: "+") || b[j] == UInt8(ascii: ".") || b[j] == UInt8(ascii: "e")
                        || b[j] == UInt8(ascii: "E") || (b[j] >= 0x30 && b[j] <= 0x39)
                {
                    j += 1
                }
                let token = String(decoding: b[i..<j], as: UTF8.self)
                if let zero = token.utf8.drop(while: { $0 == UInt8(ascii: "-") }).first, zero == 0x30,
                    let e = token.utf8.drop(while: { $0 == UInt8(ascii: "-") }).dropFirst().first,
                    e == UInt8(ascii: "e") || e == UInt8(ascii: "E")
                {
                    found.insert(.zeroExponent)
                }
                // What JSONSerialization keeps exactly and JSONDecoder reads as a `Double`: a
                // decimal it keeps as `NSDecimalNumber`, or an integer beyond `Int64`.
                let exact = try? JSONSerialization.jsonObject(with: Data(token.utf8), options: [.fragmentsAllowed])
                if exact is NSDecimalNumber || (Int64(token) == nil && (UInt64(token) != nil || exact is NSDecimalNumber)) {
                    found.insert(.numberPrecision)
                }
                i = j
            default:
                i += 1
            }
        }
        return found
    }
}

/// Counts of what the inputs exercised, written at exit when `BATON_FUZZ_STATS` is set.
enum Stats {
    nonisolated(unsafe) static var counts: [String: Int] = [:]

    static func count(_ what: String) { counts[what, default: 0] += 1 }

    static func report() {
        let lines = counts.sorted { $0.key < $1.key }.map { "  \($0.key): \($0.value)" }
        FileHandle.standardError.write(Data(("JSONFuzz: what the inputs exercised\n" + lines.joined(separator: "\n") + "\n").utf8))
    }
}
