import TelemetryCore

/// Reads InfluxDB line protocol, one point per line:
///
/// ```
/// measurement[,tag=value...] field=value[,field=value...] timestamp
/// telemetry,vehicle=veh-000762 lat=44.758037,engine_rpm=1436i,ignition=true,note="a \"b\"" 1704067200001
/// ```
///
/// - Escapes: in the measurement, tag keys, tag values and field keys a backslash makes
///   the next comma, space or equals sign literal; before any other character it is kept.
///   In a double-quoted string value, `\"` is a quote and `\\` a backslash.
/// - Field values follow Influx's types: a bare number (`1`, `1.5`, `-2e3`) is a double,
///   `1i` an int, `1u` an unsigned int (stored as an int, so it must fit `Int64`),
///   `t`, `T`, `true`, `True`, `TRUE` (and the `f`/`false` forms) a bool, and a quoted
///   value a string.
/// - The tag named by `InputOptions.vehicleKey` is the vehicle id; other tags become
///   string fields. The provider is `InputOptions.provider`, else the measurement.
/// - Unlike Influx, the timestamp is required: a store keyed by device time has no use
///   for the time of arrival. It is an integer in `InputOptions.precision`.
/// - Blank lines and lines starting with `#` are skipped.
struct LineProtocolRecordParser: LineRecordParser {
    private let options: InputOptions
    /// The previous line's measurement and its text: with one measurement per file,
    /// as in the benchmark dataset, this saves a string per line.
    private var lastMeasurement: (bytes: [UInt8], text: String) = ([], "")

    init(options: InputOptions) {
        self.options = options
    }

    private static let space = UInt8(ascii: " ")
    private static let tab = UInt8(ascii: "\t")
    private static let comma = UInt8(ascii: ",")
    private static let equals = UInt8(ascii: "=")
    private static let quote = UInt8(ascii: "\"")
    private static let backslash = UInt8(ascii: "\\")

    mutating func finish() throws(ParseProblem) {}

    mutating func parse(line: ArraySlice<UInt8>, lineNumber: Int) throws(ParseProblem) -> ProviderRecord? {
        let end = line.endIndex
        var i = line.startIndex
        while i < end && (line[i] == Self.space || line[i] == Self.tab) { i += 1 }
        if i == end || line[i] == UInt8(ascii: "#") { return nil }

        // Measurement: up to the first unescaped comma or space.
        let measurementRange = Self.scanName(line, from: &i, stoppingAtEquals: false)
        guard !measurementRange.range.isEmpty else { throw ParseProblem("missing measurement") }
        let measurement = try measurementText(line, measurementRange)

        var vehicleText: String?
        var fields: [Field] = []
        fields.reserveCapacity(16)

        // Tag set: `,key=value` pairs up to the first unescaped space.
        while i < end && line[i] == Self.comma {
            i += 1
            let key = try Self.name(line, Self.scanName(line, from: &i, stoppingAtEquals: true), what: "tag key")
            guard !key.isEmpty else { throw ParseProblem("tag with an empty key") }
            guard i < end && line[i] == Self.equals else { throw ParseProblem("tag \"\(key)\" has no value") }
            i += 1
            let value = try Self.name(
                line,
                Self.scanName(line, from: &i, stoppingAtEquals: false),
                what: "tag \"\(key)\""
            )
            guard !value.isEmpty else { throw ParseProblem("tag \"\(key)\" has no value") }
            if key == options.vehicleKey {
                guard vehicleText == nil else { throw ParseProblem("duplicate tag \"\(key)\"") }
                vehicleText = value
            } else {
                try Self.append(Field(key, .string(value)), to: &fields)
            }
        }

        guard i < end && line[i] == Self.space else {
            throw ParseProblem(i < end ? "unexpected character after the measurement" : "missing fields")
        }
        while i < end && line[i] == Self.space { i += 1 }
        guard i < end else { throw ParseProblem("missing fields") }

        // Field set: `key=value` pairs separated by commas, up to the next space.
        while true {
            let key = try Self.name(line, Self.scanName(line, from: &i, stoppingAtEquals: true), what: "field key")
            guard !key.isEmpty else { throw ParseProblem("field with an empty key") }
            guard i < end && line[i] == Self.equals else { throw ParseProblem("field \"\(key)\" has no value") }
            i += 1
            let value: FieldValue
            if i < end && line[i] == Self.quote {
                value = .string(try Self.quotedString(line, from: &i, key: key))
                guard i == end || line[i] == Self.comma || line[i] == Self.space else {
                    throw ParseProblem("field \"\(key)\": text after the closing quote")
                }
            } else {
                let start = i
                while i < end && line[i] != Self.comma && line[i] != Self.space { i += 1 }
                value = try Self.fieldValue(line[start..<i], key: key)
            }
            try Self.append(Field(key, value), to: &fields)
            guard i < end && line[i] == Self.comma else { break }
            i += 1
        }

        while i < end && line[i] == Self.space { i += 1 }
        guard i < end else { throw ParseProblem("missing timestamp") }
        let timestampStart = i
        while i < end && line[i] != Self.space { i += 1 }
        let timestampBytes = line[timestampStart..<i]
        while i < end && line[i] == Self.space { i += 1 }
        guard i == end else { throw ParseProblem("unexpected text after the timestamp") }
        let timestamp = try RecordParsing.timestamp(timestampBytes, precision: options.precision, allowText: false)

        guard let vehicleText else { throw ParseProblem("missing tag \"\(options.vehicleKey)\"") }
        let vehicle = try RecordParsing.vehicleID(vehicleText)
        return ProviderRecord(
            vehicle: vehicle,
            timestamp: timestamp,
            provider: options.provider ?? measurement,
            fields: fields
        )
    }

    // MARK: - Names

    private mutating func measurementText(
        _ line: ArraySlice<UInt8>,
        _ scanned: (range: Range<Int>, escaped: Bool)
    ) throws(ParseProblem) -> String {
        let bytes = line[scanned.range]
        if !scanned.escaped && bytes.elementsEqual(lastMeasurement.bytes) { return lastMeasurement.text }
        let text = try Self.name(line, scanned, what: "measurement")
        lastMeasurement = (Array(bytes), text)
        return text
    }

    /// Scans a measurement, tag key, tag value or field key, stopping at an unescaped
    /// comma or space (and equals sign for keys).
    /// - Returns: the range scanned and whether it holds a backslash to unescape.
    private static func scanName(
        _ line: ArraySlice<UInt8>,
        from i: inout Int,
        stoppingAtEquals: Bool
    ) -> (range: Range<Int>, escaped: Bool) {
        let start = i
        var escaped = false
        while i < line.endIndex {
            let byte = line[i]
            if byte == backslash {
                escaped = true
                i = min(i + 2, line.endIndex)
                continue
            }
            if byte == comma || byte == space || (stoppingAtEquals && byte == equals) { break }
            i += 1
        }
        return (start..<i, escaped)
    }

    /// The text of a scanned name, with `\,`, `\ ` and `\=` unescaped.
    private static func name(
        _ line: ArraySlice<UInt8>,
        _ scanned: (range: Range<Int>, escaped: Bool),
        what: @autoclosure () -> String
    ) throws(ParseProblem) -> String {
        let bytes = line[scanned.range]
        guard scanned.escaped else { return try RecordParsing.string(bytes, what: what()) }
        var unescaped: [UInt8] = []
        unescaped.reserveCapacity(bytes.count)
        var i = bytes.startIndex
        while i < bytes.endIndex {
            if bytes[i] == backslash, i + 1 < bytes.endIndex,
                bytes[i + 1] == comma || bytes[i + 1] == space || bytes[i + 1] == equals
            {
                unescaped.append(bytes[i + 1])
                i += 2
            } else {
                unescaped.append(bytes[i])
                i += 1
            }
        }
        return try RecordParsing.string(unescaped, what: what())
    }

    // MARK: - Field values

    /// A double-quoted string value starting at `i`; leaves `i` after the closing quote.
    private static func quotedString(
        _ line: ArraySlice<UInt8>,
        from i: inout Int,
        key: String
    ) throws(ParseProblem) -> String {
        i += 1
        var bytes: [UInt8] = []
        while true {
            guard i < line.endIndex else { throw ParseProblem("field \"\(key)\": unterminated string") }
            let byte = line[i]
            if byte == quote {
                i += 1
                return try RecordParsing.string(bytes, what: "field \"\(key)\"")
            }
            if byte == backslash, i + 1 < line.endIndex, line[i + 1] == quote || line[i + 1] == backslash {
                bytes.append(line[i + 1])
                i += 2
                continue
            }
            bytes.append(byte)
            i += 1
        }
    }

    /// The value of an unquoted field token.
    static func fieldValue(_ token: ArraySlice<UInt8>, key: String) throws(ParseProblem) -> FieldValue {
        guard let last = token.last else { throw ParseProblem("field \"\(key)\" has no value") }
        if last == UInt8(ascii: "i") || last == UInt8(ascii: "u") {
            let digits = token.dropLast()
            if last == UInt8(ascii: "i") && NumberLiteral.isInteger(digits) {
                guard let value = NumberLiteral.int64(digits) else {
                    throw ParseProblem("field \"\(key)\": integer \(text(token)) is out of range")
                }
                return .int(value)
            }
            if last == UInt8(ascii: "u") && !digits.isEmpty && digits.allSatisfy(NumberLiteral.isDigit) {
                guard let value = NumberLiteral.uint64(digits), let signed = Int64(exactly: value) else {
                    throw ParseProblem("field \"\(key)\": unsigned \(text(token)) does not fit in a signed 64-bit int")
                }
                return .int(signed)
            }
        }
        if let value = NumberLiteral.double(token) { return .double(value) }
        switch text(token) {
        case "t", "T", "true", "True", "TRUE": return .bool(true)
        case "f", "F", "false", "False", "FALSE": return .bool(false)
        case let other:
            if NumberLiteral.isDecimal(token) {
                throw ParseProblem("field \"\(key)\": number \(other) is out of range")
            }
            throw ParseProblem("field \"\(key)\": invalid value \"\(other)\" (strings must be double-quoted)")
        }
    }

    private static func text(_ bytes: some Collection<UInt8>) -> String {
        String(decoding: bytes, as: UTF8.self)
    }

    /// Appends a field, refusing a second one of the same name (a tag may clash with a field).
    private static func append(_ field: Field, to fields: inout [Field]) throws(ParseProblem) {
        // A linear scan: lines hold a dozen fields, where hashing costs more than comparing.
        // Comparing lengths first skips most string comparisons.
        let length = field.name.utf8.count
        guard !fields.contains(where: { $0.name.utf8.count == length && $0.name == field.name }) else {
            throw ParseProblem("duplicate field \"\(field.name)\"")
        }
        fields.append(field)
    }
}
