import TelemetryCore
import TelemetryWire

/// Turns the lines of one input format into records, one line at a time.
///
/// A parser keeps state across lines (the CSV header, a quoted CSV field that spans
/// lines), so it is fed every line of a file in order.
protocol LineRecordParser {
    /// Parses one line (without its line end).
    /// - Returns: the record the line completes, or nil for a skipped line (blank,
    ///   comment, header) or a record that continues on the next line.
    mutating func parse(line: ArraySlice<UInt8>, lineNumber: Int) throws(ParseProblem) -> ProviderRecord?

    /// Called once after the last line: reports input that ended in the middle of a record.
    mutating func finish() throws(ParseProblem)

    /// What the parser left out of the records without refusing a line, for the user to read
    /// (each note once, naming its first line).
    var notes: [String] { get }
}

extension LineRecordParser {
    var notes: [String] { [] }
}

/// Helpers the three parsers share.
enum RecordParsing {
    /// Validates a vehicle id, reporting `VehicleIDError`'s own text.
    static func vehicleID(_ text: String) throws(ParseProblem) -> VehicleID {
        do {
            return try VehicleID(text)
        } catch {
            throw ParseProblem(error.description)
        }
    }

    /// The longest field name the protocol takes, in UTF-8 bytes (PROTOCOL.md, section 7.3).
    static let maxFieldNameBytes = WireLimits.maxFieldNameBytes

    /// Checks what the server would refuse for the whole batch (a batch's field names travel
    /// as its columns): here the problem is named with its line, before anything is sent.
    static func checkFieldNames(_ fields: [Field]) throws(ParseProblem) {
        for field in fields {
            if field.name.isEmpty { throw ParseProblem("a field name is empty") }
            if field.name.utf8.count > maxFieldNameBytes {
                throw ParseProblem("field name \"\(field.name.prefix(40))...\" is longer than \(maxFieldNameBytes) bytes")
            }
        }
    }

    /// Parses a timestamp given as an integer in `precision` or, if `allowText`, as RFC 3339.
    /// - Returns: milliseconds since 1970 UTC.
    static func timestamp(
        _ bytes: some Collection<UInt8>,
        precision: TimestampPrecision,
        allowText: Bool
    ) throws(ParseProblem) -> Int64 {
        guard !bytes.isEmpty else { throw ParseProblem("timestamp is empty") }
        if NumberLiteral.isInteger(bytes) {
            guard let value = NumberLiteral.int64(bytes), let milliseconds = precision.milliseconds(from: value)
            else {
                throw ParseProblem(
                    "timestamp \(String(decoding: bytes, as: UTF8.self)) \(precision.rawValue) is out of range"
                )
            }
            return milliseconds
        }
        if allowText, let milliseconds = RFC3339.milliseconds(parsing: bytes) { return milliseconds }
        let expected =
            allowText
            ? "an integer (\(precision.rawValue)) or RFC 3339 text" : "an integer (\(precision.rawValue))"
        throw ParseProblem("invalid timestamp \"\(String(decoding: bytes, as: UTF8.self))\": expected \(expected)")
    }

    /// Text from bytes that must be UTF-8; the hot path of the line-protocol parser.
    static func string(_ bytes: ArraySlice<UInt8>, what: @autoclosure () -> String) throws(ParseProblem) -> String {
        // ASCII is valid UTF-8, and `String(decoding:)` on a slice is specialised, whereas
        // `String(validating:)` goes through generic metadata lookups on every call.
        if bytes.allSatisfy({ $0 < 0x80 }) { return String(decoding: bytes, as: UTF8.self) }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw ParseProblem("\(what()) is not valid UTF-8")
        }
        return text
    }

    /// Text from bytes that must be UTF-8.
    static func string(
        _ bytes: some Collection<UInt8>,
        what: @autoclosure () -> String
    ) throws(ParseProblem)
        -> String
    {
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw ParseProblem("\(what()) is not valid UTF-8")
        }
        return text
    }
}
