import BatonCore
import Foundation

@testable import BatonServer

/// Validates JSON values against the JSON Schema subset Baton's OpenAPI document uses (`type`,
/// `properties`, `required`, `additionalProperties`, `items`, `minItems`/`maxItems`, `enum`,
/// `minimum`/`maximum`/`exclusiveMinimum`, `minLength`/`maxLength`, `pattern`,
/// `propertyNames`, `anyOf`/`oneOf`/`allOf`/`not`, and `$ref` into the components). A keyword
/// it does not know fails the validation, so that the document cannot outgrow the checks
/// without a test noticing. `format` is not checked: its syntax is in each schema's `pattern`.
struct SchemaValidator {
    let schemas: [String: JSONValue]

    static let known: Set<String> = [
        "type", "properties", "required", "additionalProperties", "items", "minItems", "maxItems", "enum", "minimum", "maximum",
        "exclusiveMinimum", "minLength", "maxLength", "pattern", "propertyNames", "anyOf", "oneOf", "allOf", "not", "$ref",
        "format", "description",
    ]

    /// The problems of `value` against `schema` (empty: valid), each with its JSON path.
    func problems(_ value: JSONValue, _ schema: JSONValue, at path: String = "$") -> [String] {
        guard case .object(let s) = schema else { return ["\(path): schema is not an object"] }
        var out: [String] = []
        for key in s.keys where !Self.known.contains(key) { out.append("\(path): unknown schema keyword '\(key)'") }
        if case .string(let name)? = s["$ref"] {
            let short = String(name.split(separator: "/").last ?? "")
            guard let target = schemas[short] else { return ["\(path): no schema \(name)"] }
            out += problems(value, target, at: path)
        }
        if let type = s["type"] {
            let types: [String] =
                switch type {
                case .string(let t): [t]
                case .array(let ts): ts.compactMap(\.stringValue)
                default: []
                }
            if !types.contains(where: { Self.has(value, type: $0) }) {
                out.append("\(path): \(Self.describe(value)) is not of type \(types.joined(separator: "|"))")
                return out
            }
        }
        if case .array(let allowed)? = s["enum"], !allowed.contains(where: { Self.equal($0, value) }) {
            out.append("\(path): \(Self.describe(value)) is not one of \(allowed.compactMap(\.stringValue))")
        }
        switch value {
        case .object(let members):
            if case .array(let required)? = s["required"] {
                for case .string(let name) in required where members[name] == nil { out.append("\(path): '\(name)' is missing") }
            }
            let properties = s["properties"]?.objectValue ?? [:]
            for (name, member) in members {
                if let property = properties[name] {
                    out += problems(member, property, at: "\(path).\(name)")
                } else if let additional = s["additionalProperties"] {
                    if additional == .bool(false) {
                        out.append("\(path): '\(name)' is not allowed")
                    } else if additional != .bool(true) {
                        out += problems(member, additional, at: "\(path).\(name)")
                    }
                }
                if let names = s["propertyNames"] { out += problems(.string(name), names, at: "\(path)[key \(name)]") }
            }
        case .array(let items):
            if let min = s["minItems"]?.intValue, items.count < min { out.append("\(path): fewer than \(min) items") }
            if let max = s["maxItems"]?.intValue, items.count > max { out.append("\(path): more than \(max) items") }
            if let item = s["items"] {
                for (i, element) in items.enumerated() { out += problems(element, item, at: "\(path)[\(i)]") }
            }
        case .string(let text):
            if s["format"] == "date-time", !Self.isCalendarDate(text) { out.append("\(path): '\(text)' is not a calendar date") }
            let length = text.unicodeScalars.count
            if let min = s["minLength"]?.intValue, length < min { out.append("\(path): shorter than \(min)") }
            if let max = s["maxLength"]?.intValue, length > max { out.append("\(path): longer than \(max)") }
            if case .string(let pattern)? = s["pattern"] {
                if let regex = try? NSRegularExpression(pattern: pattern) {
                    let range = NSRange(text.startIndex..., in: text)
                    if regex.firstMatch(in: text, range: range) == nil { out.append("\(path): '\(text)' does not match \(pattern)") }
                } else {
                    out.append("\(path): pattern \(pattern) does not compile")
                }
            }
        case .int, .double:
            let number = value.doubleValue ?? .nan
            if let min = s["minimum"]?.doubleValue, number < min { out.append("\(path): \(number) is below \(min)") }
            if let max = s["maximum"]?.doubleValue, number > max { out.append("\(path): \(number) is above \(max)") }
            if let min = s["exclusiveMinimum"]?.doubleValue, number <= min { out.append("\(path): \(number) is not above \(min)") }
        default:
            break
        }
        if case .array(let all)? = s["allOf"] {
            for part in all { out += problems(value, part, at: path) }
        }
        if case .array(let any)? = s["anyOf"], !any.contains(where: { problems(value, $0, at: path).isEmpty }) {
            out.append("\(path): matches none of anyOf")
        }
        if case .array(let one)? = s["oneOf"] {
            let matching = one.filter { problems(value, $0, at: path).isEmpty }.count
            if matching != 1 { out.append("\(path): matches \(matching) of oneOf, not exactly 1") }
        }
        if let not = s["not"], problems(value, not, at: path).isEmpty { out.append("\(path): matches what 'not' excludes") }
        return out
    }

    /// Whether a date-time's `YYYY-MM-DD` is a day of the (proleptic Gregorian) calendar.
    static func isCalendarDate(_ text: String) -> Bool {
        let parts = text.prefix(10).split(separator: "-").compactMap { Int($0) }
        guard parts.count == 3, (1...12).contains(parts[1]) else { return false }
        let (y, m, d) = (parts[0], parts[1], parts[2])
        let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)
        let days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][m - 1]
        return (1...days).contains(d)
    }

    static func has(_ value: JSONValue, type: String) -> Bool {
        switch (type, value) {
        case ("object", .object), ("array", .array), ("string", .string), ("boolean", .bool), ("null", .null): true
        case ("integer", .int): true
        case ("integer", .double(let d)): d.rounded() == d
        case ("number", .int), ("number", .double): true
        default: false
        }
    }

    static func equal(_ a: JSONValue, _ b: JSONValue) -> Bool {
        if let x = a.doubleValue, let y = b.doubleValue { return x == y }
        return a == b
    }

    static func describe(_ value: JSONValue) -> String {
        String(decoding: (try? JSONEncoder().encode(value)) ?? Data(), as: UTF8.self).prefix(80).description
    }
}

extension JSONValue {
    fileprivate var intValue: Int? {
        switch self {
        case .int(let i): Int(i)
        case .double(let d) where d.rounded() == d && abs(d) < 1e15: Int(d)
        default: nil
        }
    }
}
