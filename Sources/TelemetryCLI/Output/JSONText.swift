import Foundation
import TelemetryCore

/// JSON text for the JSON lines renderers, written by hand so key order is fixed
/// and doubles keep Swift's shortest round-trip form (`JSONEncoder` sorts or scrambles
/// keys, and would print 0.1 as 0.10000000000000001 on some platforms).
enum JSONText {
    /// A JSON string literal, escaping quotes, backslashes and control characters.
    static func string(_ text: String) -> String {
        let needsEscaping = text.utf8.contains { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }
        guard needsEscaping else { return "\"" + text + "\"" }
        var result = "\""
        result.reserveCapacity(text.utf8.count + 8)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            case "\u{08}": result += "\\b"
            case "\u{0C}": result += "\\f"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                result += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result + "\""
    }

    /// The one key of the object that holds a bytes value in JSON.
    static let bytesKey = "base64"

    /// A JSON number for a double: Swift's shortest round-trip text, or `null` for
    /// NaN and infinities, which JSON cannot express.
    static func number(_ value: Double) -> String {
        value.isFinite ? value.description : "null"
    }

    /// The JSON form of a field value. Bytes become `{"base64":"..."}`: a bare base64 string
    /// would read back as a string, and JSON lines keep each value's type (ingest reads that
    /// object back as bytes; no other object is a field value).
    static func value(_ value: FieldValue) -> String {
        switch value {
        case .null: return "null"
        case .bool(let flag): return flag ? "true" : "false"
        case .int(let integer): return String(integer)
        case .double(let double): return number(double)
        case .string(let text): return string(text)
        case .bytes(let bytes): return "{\"\(bytesKey)\":" + string(Data(bytes).base64EncodedString()) + "}"
        case .array(let elements): return "[" + elements.map(Self.value).joined(separator: ",") + "]"
        }
    }
}

/// Builds one JSON object, keys in the order they are added.
struct JSONObjectBuilder {
    private var text = "{"
    private var isEmpty = true

    /// Adds a member whose value is already JSON text.
    mutating func add(_ key: String, json: String) {
        if !isEmpty { text += "," }
        isEmpty = false
        text += JSONText.string(key)
        text += ":"
        text += json
    }

    /// Adds a string member.
    mutating func add(_ key: String, string: String) {
        add(key, json: JSONText.string(string))
    }

    /// The object's text.
    var json: String { text + "}" }
}
