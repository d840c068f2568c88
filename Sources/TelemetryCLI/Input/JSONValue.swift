/// A parsed JSON value that keeps what `JSONSerialization` loses.
///
/// `JSONSerialization` returns `NSNumber` for numbers and booleans alike; on Linux
/// there is no `CFBooleanGetTypeID` to tell them apart, and `12.0` may come back as the
/// integer 12. Keeping the number's literal text makes both distinctions exact:
/// `isInteger` is false for `12.0` and `1e3`, and integers beyond `Int64` keep every digit.
enum JSONValue: Hashable {
    case null
    case bool(Bool)
    case number(literal: String, isInteger: Bool)
    case string(String)
    case array([JSONValue])
    /// Members in file order; duplicates are kept so the caller can report them.
    case object([Member])

    struct Member: Hashable {
        var key: String
        var value: JSONValue
    }

    /// A JSON type name for error messages.
    var typeName: String {
        switch self {
        case .null: return "null"
        case .bool: return "a boolean"
        case .number: return "a number"
        case .string: return "a string"
        case .array: return "an array"
        case .object: return "an object"
        }
    }
}

/// A strict RFC 8259 parser for one line of JSON.
struct JSONScanner {
    struct SyntaxError: Error {
        /// 1-based byte column in the line.
        var column: Int
        var message: String
    }

    /// Nesting deeper than this is refused, so hostile input cannot exhaust the stack.
    static let maxDepth = 64

    private let bytes: ArraySlice<UInt8>
    private var index: Int

    /// Parses `bytes` as exactly one JSON value, with optional surrounding whitespace.
    static func parse(_ bytes: ArraySlice<UInt8>) throws(SyntaxError) -> JSONValue {
        var scanner = JSONScanner(bytes: bytes, index: bytes.startIndex)
        scanner.skipWhitespace()
        let value = try scanner.parseValue(depth: 0)
        scanner.skipWhitespace()
        guard scanner.index == bytes.endIndex else { throw scanner.error("unexpected text after the value") }
        return value
    }

    private init(bytes: ArraySlice<UInt8>, index: Int) {
        self.bytes = bytes
        self.index = index
    }

    private func error(_ message: String) -> SyntaxError {
        SyntaxError(column: index - bytes.startIndex + 1, message: message)
    }

    private var current: UInt8? { index < bytes.endIndex ? bytes[index] : nil }

    private mutating func skipWhitespace() {
        while let byte = current,
            byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") || byte == UInt8(ascii: "\n")
                || byte == UInt8(ascii: "\r")
        {
            index += 1
        }
    }

    private mutating func expect(_ byte: UInt8) throws(SyntaxError) {
        guard current == byte else {
            throw error("expected '\(Character(Unicode.Scalar(byte)))'")
        }
        index += 1
    }

    private mutating func parseValue(depth: Int) throws(SyntaxError) -> JSONValue {
        guard let byte = current else { throw error("unexpected end of line") }
        switch byte {
        case UInt8(ascii: "{"):
            guard depth < Self.maxDepth else { throw error("nested deeper than \(Self.maxDepth) levels") }
            return try parseObject(depth: depth + 1)
        case UInt8(ascii: "["):
            guard depth < Self.maxDepth else { throw error("nested deeper than \(Self.maxDepth) levels") }
            return try parseArray(depth: depth + 1)
        case UInt8(ascii: "\""):
            return .string(try parseString())
        case UInt8(ascii: "t"):
            try parseLiteral("true")
            return .bool(true)
        case UInt8(ascii: "f"):
            try parseLiteral("false")
            return .bool(false)
        case UInt8(ascii: "n"):
            try parseLiteral("null")
            return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return try parseNumber()
        default:
            throw error("unexpected character '\(Self.printable(byte))'")
        }
    }

    private mutating func parseLiteral(_ word: StaticString) throws(SyntaxError) {
        let start = index
        let expected = UnsafeBufferPointer(start: word.utf8Start, count: word.utf8CodeUnitCount)
        for byte in expected {
            guard current == byte else {
                index = start
                throw error("invalid literal (expected \(word))")
            }
            index += 1
        }
    }

    private mutating func parseObject(depth: Int) throws(SyntaxError) -> JSONValue {
        index += 1
        var members: [JSONValue.Member] = []
        skipWhitespace()
        if current == UInt8(ascii: "}") {
            index += 1
            return .object(members)
        }
        while true {
            skipWhitespace()
            guard current == UInt8(ascii: "\"") else { throw error("expected a string key") }
            let key = try parseString()
            skipWhitespace()
            try expect(UInt8(ascii: ":"))
            skipWhitespace()
            members.append(JSONValue.Member(key: key, value: try parseValue(depth: depth)))
            skipWhitespace()
            if current == UInt8(ascii: ",") {
                index += 1
                continue
            }
            guard current == UInt8(ascii: "}") else { throw error("expected ',' or '}'") }
            index += 1
            return .object(members)
        }
    }

    private mutating func parseArray(depth: Int) throws(SyntaxError) -> JSONValue {
        index += 1
        var elements: [JSONValue] = []
        skipWhitespace()
        if current == UInt8(ascii: "]") {
            index += 1
            return .array(elements)
        }
        while true {
            skipWhitespace()
            elements.append(try parseValue(depth: depth))
            skipWhitespace()
            if current == UInt8(ascii: ",") {
                index += 1
                continue
            }
            guard current == UInt8(ascii: "]") else { throw error("expected ',' or ']'") }
            index += 1
            return .array(elements)
        }
    }

    private mutating func parseNumber() throws(SyntaxError) -> JSONValue {
        let start = index
        func digits() -> Int {
            var count = 0
            while let byte = current, NumberLiteral.isDigit(byte) {
                index += 1
                count += 1
            }
            return count
        }
        if current == UInt8(ascii: "-") { index += 1 }
        // JSON forbids leading zeros ("012"), so a leading 0 stands alone.
        if current == UInt8(ascii: "0") {
            index += 1
        } else if digits() == 0 {
            throw error("invalid number")
        }
        var isInteger = true
        if current == UInt8(ascii: ".") {
            index += 1
            isInteger = false
            guard digits() > 0 else { throw error("invalid number") }
        }
        if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
            index += 1
            isInteger = false
            if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { index += 1 }
            guard digits() > 0 else { throw error("invalid number") }
        }
        if let byte = current, NumberLiteral.isDigit(byte) { throw error("invalid number") }
        return .number(literal: String(decoding: bytes[start..<index], as: UTF8.self), isInteger: isInteger)
    }

    private mutating func parseString() throws(SyntaxError) -> String {
        index += 1
        let start = index
        // Fast path: no escapes, so the string is the bytes between the quotes.
        while let byte = current, byte != UInt8(ascii: "\""), byte != UInt8(ascii: "\\"), byte >= 0x20 {
            index += 1
        }
        if current == UInt8(ascii: "\"") {
            let text = try validated(bytes[start..<index], at: start)
            index += 1
            return text
        }
        var buffer = Array(bytes[start..<index])
        while true {
            guard let byte = current else { throw error("unterminated string") }
            switch byte {
            case UInt8(ascii: "\""):
                let text = try validated(buffer[...], at: start)
                index += 1
                return text
            case UInt8(ascii: "\\"):
                index += 1
                try parseEscape(into: &buffer)
            case 0..<0x20:
                throw error("control character in a string (escape it)")
            default:
                buffer.append(byte)
                index += 1
            }
        }
    }

    private mutating func parseEscape(into buffer: inout [UInt8]) throws(SyntaxError) {
        guard let byte = current else { throw error("unterminated string") }
        index += 1
        switch byte {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): buffer.append(byte)
        case UInt8(ascii: "b"): buffer.append(0x08)
        case UInt8(ascii: "f"): buffer.append(0x0C)
        case UInt8(ascii: "n"): buffer.append(0x0A)
        case UInt8(ascii: "r"): buffer.append(0x0D)
        case UInt8(ascii: "t"): buffer.append(0x09)
        case UInt8(ascii: "u"):
            var scalar = try parseHex4()
            if (0xD800...0xDBFF).contains(scalar) {
                // A high surrogate must be followed by an escaped low one (RFC 8259 section 7).
                guard current == UInt8(ascii: "\\"), index + 1 < bytes.endIndex, bytes[index + 1] == UInt8(ascii: "u")
                else { throw error("unpaired surrogate in \\u escape") }
                index += 2
                let low = try parseHex4()
                guard (0xDC00...0xDFFF).contains(low) else { throw error("unpaired surrogate in \\u escape") }
                scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
            } else if (0xDC00...0xDFFF).contains(scalar) {
                throw error("unpaired surrogate in \\u escape")
            }
            guard let unicodeScalar = Unicode.Scalar(scalar) else { throw error("invalid \\u escape") }
            UTF8.encode(unicodeScalar) { buffer.append($0) }
        default:
            index -= 1
            throw error("invalid escape '\\\(Self.printable(byte))'")
        }
    }

    private mutating func parseHex4() throws(SyntaxError) -> UInt32 {
        var value: UInt32 = 0
        for _ in 0..<4 {
            guard let byte = current else { throw error("invalid \\u escape") }
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw error("invalid \\u escape")
            }
            value = value << 4 | UInt32(digit)
            index += 1
        }
        return value
    }

    private func validated(_ text: ArraySlice<UInt8>, at start: Int) throws(SyntaxError) -> String {
        guard let string = String(validating: text, as: UTF8.self) else {
            throw SyntaxError(column: start - bytes.startIndex + 1, message: "string is not valid UTF-8")
        }
        return string
    }

    /// The byte as a character for a message, or `\u{..}` when it is not printable ASCII.
    private static func printable(_ byte: UInt8) -> String {
        (0x21...0x7E).contains(byte) ? String(Character(Unicode.Scalar(byte))) : "\\u{\(String(byte, radix: 16))}"
    }
}
