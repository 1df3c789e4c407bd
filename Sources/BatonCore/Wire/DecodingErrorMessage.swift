import Foundation

/// Turns `DecodingError`s into messages that name the field, e.g.
/// `field 'priority': expected an integer`. Request bodies (BatonServer) and the task objects of
/// a workflow (``WorkflowSpec``) share it, so both name a bad field the same way.
package enum DecodingErrorMessage {
    package static func describe(_ error: DecodingError) -> String {
        switch error {
        case .typeMismatch(let type, let context):
            return "\(where_(context.codingPath))expected \(typeName(type))\(found(context))"
        case .valueNotFound(let type, let context):
            return "\(where_(context.codingPath))expected \(typeName(type)), got null"
        case .keyNotFound(let key, let context):
            return "field '\(path(context.codingPath + [key]))' is required"
        case .dataCorrupted(let context):
            let detail = context.debugDescription
            if detail.hasPrefix("unknown field") || context.codingPath.isEmpty {
                if context.codingPath.isEmpty {
                    let underlying = (context.underlyingError as NSError?)?.userInfo[NSDebugDescriptionErrorKey] as? String
                    return "malformed JSON: \(underlying ?? detail)"
                }
                let p = path(context.codingPath.dropLast())
                return p.isEmpty ? detail : "\(p): \(detail)"
            }
            return "\(where_(context.codingPath))\(detail)"
        @unknown default:
            return "invalid request body: \(error)"
        }
    }

    private static func where_(_ codingPath: [any CodingKey]) -> String {
        codingPath.isEmpty ? "request body: " : "field '\(path(codingPath))': "
    }

    private static func found(_ context: DecodingError.Context) -> String {
        // Foundation says e.g. "Expected to decode Int but found a string instead."
        let d = context.debugDescription
        guard let range = d.range(of: "but found ") else { return "" }
        var rest = String(d[range.upperBound...])
        if rest.hasSuffix(" instead.") { rest.removeLast(" instead.".count) }
        return rest.isEmpty ? "" : ", got \(rest)"
    }

    static func path(_ codingPath: some Collection<any CodingKey>) -> String {
        var out = ""
        for key in codingPath {
            if let i = key.intValue {
                out += "[\(i)]"
            } else {
                if !out.isEmpty { out += "." }
                out += key.stringValue
            }
        }
        return out
    }

    private static func typeName(_ type: Any.Type) -> String {
        switch type {
        case is String.Type, is Substring.Type: "a string"
        case is Bool.Type: "a boolean"
        case is Int.Type, is Int64.Type, is Int32.Type, is UInt.Type, is UInt64.Type: "an integer"
        case is Double.Type, is Float.Type: "a number"
        case is Date.Type: "an RFC 3339 time"
        default:
            if "\(type)".hasPrefix("Array") {
                "an array"
            } else if "\(type)".hasPrefix("Dictionary") {
                "an object"
            } else {
                "a value of type \(type)"
            }
        }
    }
}
