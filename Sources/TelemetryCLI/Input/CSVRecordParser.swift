import TelemetryCore

/// Reads RFC 4180 CSV: a header row naming the columns, then one record per row.
///
/// ```
/// vehicle,timestamp,speed,ignition,note
/// truck-1,2024-01-01T00:00:00Z,42.5,true,"stopped, then ""parked"""
/// ```
///
/// - The vehicle column is `vehicle` or `vehicle_id` (or `InputOptions.vehicleKey`),
///   the timestamp column `timestamp`, `time` or `ts` (or `InputOptions.timestampKey`),
///   and an optional `provider` column names the provider per row (`InputOptions.provider`,
///   when given, wins over it). Every other column
///   is a field. Header names are trimmed of spaces; cells are not (RFC 4180 keeps them).
/// - Quoting only escapes: `"42"` is the number 42, as many tools quote every cell.
/// - A quoted cell may span lines. Its line ends read as `\n`, since the line reader
///   drops the `\r` of CRLF.
/// - Cell typing: empty leaves the field out; `true`/`false` (also `True`, `TRUE`, ...)
///   is a bool; an integer that fits `Int64` is an int; a decimal or exponent number is
///   a double; anything else, including integers too long for `Int64` (such as
///   20-digit ICCIDs, whose digits must survive), is a string.
struct CSVRecordParser: LineRecordParser {
    private struct Header {
        var names: [String]
        var vehicle: Int
        var timestamp: Int
        var provider: Int?
        var fields: [(index: Int, name: String)]
    }

    /// A syntax error in one row, at a 0-based column.
    private struct SyntaxError: Error {
        var column: Int
        var message: String
    }

    /// The longest record accepted: a runaway quote would otherwise pull the rest of the file into memory.
    static let maxRecordBytes = 16 << 20

    private let options: InputOptions
    private var header: Header?
    /// The lines read so far of a record whose quoted cell is still open, joined by `\n`.
    private var pending: [UInt8] = []
    private var pendingStartLine: Int?

    init(options: InputOptions) {
        self.options = options
    }

    mutating func parse(line: ArraySlice<UInt8>, lineNumber: Int) throws(ParseProblem) -> ProviderRecord? {
        let startLine: Int
        let cells: [String]?
        if let pendingStartLine {
            pending.append(UInt8(ascii: "\n"))
            pending.append(contentsOf: line)
            startLine = pendingStartLine
            guard pending.count <= Self.maxRecordBytes else {
                throw ParseProblem(
                    "quoted cell still open after \(Self.maxRecordBytes >> 20) MiB (unbalanced quote?)",
                    line: startLine,
                    isFatal: true
                )
            }
            // Only a quote can close the open cell; skip re-splitting until one comes.
            guard line.contains(UInt8(ascii: "\"")) else { return nil }
            cells = try split(pending[...], line: startLine)
        } else {
            // Blank lines between records carry nothing; RFC 4180 has no use for them.
            if line.isEmpty { return nil }
            startLine = lineNumber
            cells = try split(line, line: startLine)
        }
        guard let cells else {
            if pendingStartLine == nil {
                pending = Array(line)
                pendingStartLine = lineNumber
            }
            return nil
        }
        pending.removeAll(keepingCapacity: true)
        pendingStartLine = nil

        guard let header else {
            header = try makeHeader(cells, line: startLine)
            return nil
        }
        return try makeRecord(cells, header: header, line: startLine)
    }

    mutating func finish() throws(ParseProblem) {
        if let pendingStartLine {
            throw ParseProblem("unterminated quoted cell", line: pendingStartLine)
        }
        if header == nil {
            throw ParseProblem("missing header row", isFatal: true)
        }
    }

    // MARK: - Rows

    private func split(_ bytes: ArraySlice<UInt8>, line: Int) throws(ParseProblem) -> [String]? {
        do {
            return try Self.split(bytes)
        } catch {
            throw ParseProblem("\(columnLabel(error.column)): \(error.message)", line: line, isFatal: header == nil)
        }
    }

    /// `column "speed"` once the header is known, `column 3` before.
    private func columnLabel(_ index: Int) -> String {
        if let header, index < header.names.count { return "column \"\(header.names[index])\"" }
        return "column \(index + 1)"
    }

    /// Splits one record into cells.
    /// - Returns: the cells, or nil when a quoted cell is still open at the end.
    private static func split(_ bytes: ArraySlice<UInt8>) throws(SyntaxError) -> [String]? {
        let quote = UInt8(ascii: "\"")
        let comma = UInt8(ascii: ",")
        var cells: [String] = []
        var i = bytes.startIndex
        let end = bytes.endIndex
        var cell: [UInt8] = []
        while true {
            let column = cells.count
            if i < end && bytes[i] == quote {
                cell.removeAll(keepingCapacity: true)
                i += 1
                while true {
                    guard i < end else { return nil }
                    if bytes[i] == quote {
                        if i + 1 < end && bytes[i + 1] == quote {
                            cell.append(quote)
                            i += 2
                            continue
                        }
                        i += 1
                        break
                    }
                    cell.append(bytes[i])
                    i += 1
                }
                cells.append(try text(cell, column: column))
                if i == end { return cells }
                guard bytes[i] == comma else {
                    throw SyntaxError(column: column, message: "text after the closing quote")
                }
                i += 1
            } else {
                let start = i
                while i < end && bytes[i] != comma {
                    // RFC 4180: a cell holding a quote must be quoted. A stray quote usually
                    // means a broken quoted cell, which would shift every later column.
                    if bytes[i] == quote {
                        throw SyntaxError(column: column, message: "quote in an unquoted cell")
                    }
                    i += 1
                }
                cells.append(try text(bytes[start..<i], column: column))
                if i == end { return cells }
                i += 1
            }
        }
    }

    private static func text(_ bytes: some Collection<UInt8>, column: Int) throws(SyntaxError) -> String {
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw SyntaxError(column: column, message: "not valid UTF-8")
        }
        return text
    }

    // MARK: - Header

    private func makeHeader(_ cells: [String], line: Int) throws(ParseProblem) -> Header {
        func fail(_ message: String) -> ParseProblem { ParseProblem(message, line: line, isFatal: true) }
        let names = cells.map { $0.trimmingSpaces }
        var seen = Set<String>()
        for (index, name) in names.enumerated() {
            guard !name.isEmpty else { throw fail("column \(index + 1) has no name") }
            guard name.utf8.count <= RecordParsing.maxFieldNameBytes else {
                throw fail("column \(index + 1)'s name \"\(name.prefix(40))...\" is longer than \(RecordParsing.maxFieldNameBytes) bytes")
            }
            guard seen.insert(name).inserted else { throw fail("duplicate column \"\(name)\"") }
        }
        func column(_ candidates: [String]) throws(ParseProblem) -> Int {
            let found = candidates.filter { names.contains($0) }
            guard let first = found.first else { throw fail("missing column \"\(candidates[0])\"") }
            guard found.count == 1 else {
                throw fail("columns \"\(found[0])\" and \"\(found[1])\" both name the \(candidates[0])")
            }
            return names.firstIndex(of: first)!
        }
        let vehicle = try column(options.vehicleKeys)
        let timestamp = try column(options.timestampKeys)
        let provider = names.firstIndex(of: "provider")
        let fields = names.indices
            .filter { $0 != vehicle && $0 != timestamp && $0 != provider }
            .map { (index: $0, name: names[$0]) }
        return Header(names: names, vehicle: vehicle, timestamp: timestamp, provider: provider, fields: fields)
    }

    // MARK: - Records

    private func makeRecord(_ cells: [String], header: Header, line: Int) throws(ParseProblem) -> ProviderRecord {
        func fail(_ message: String) -> ParseProblem { ParseProblem(message, line: line) }
        guard cells.count == header.names.count else {
            throw fail("expected \(header.names.count) columns, found \(cells.count)")
        }
        let vehicle: VehicleID
        do {
            vehicle = try RecordParsing.vehicleID(cells[header.vehicle])
        } catch {
            throw fail(error.message)
        }
        let timestamp: Int64
        do {
            timestamp = try RecordParsing.timestamp(
                cells[header.timestamp].utf8,
                precision: options.precision,
                allowText: true
            )
        } catch {
            throw fail("column \"\(header.names[header.timestamp])\": \(error.message)")
        }
        var provider = InputOptions.defaultProvider
        if let index = header.provider, !cells[index].isEmpty { provider = cells[index] }
        if let chosen = options.provider { provider = chosen }

        var fields: [Field] = []
        fields.reserveCapacity(header.fields.count)
        for (index, name) in header.fields {
            if let value = Self.value(ofCell: cells[index]) { fields.append(Field(name, value)) }
        }
        guard !fields.isEmpty else { throw fail("record has no fields") }
        return ProviderRecord(vehicle: vehicle, timestamp: timestamp, provider: provider, fields: fields)
    }

    /// The typed value of a cell, or nil for an empty cell (see the type's documentation).
    static func value(ofCell cell: String) -> FieldValue? {
        switch cell {
        case "": return nil
        case "true", "True", "TRUE": return .bool(true)
        case "false", "False", "FALSE": return .bool(false)
        default: break
        }
        let bytes = cell.utf8
        if NumberLiteral.isInteger(bytes) {
            return NumberLiteral.int64(bytes).map(FieldValue.int) ?? .string(cell)
        }
        return NumberLiteral.double(bytes).map(FieldValue.double) ?? .string(cell)
    }
}

extension String {
    /// The string without leading and trailing spaces and tabs.
    fileprivate var trimmingSpaces: String {
        let isBlank: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        guard let first = firstIndex(where: { !isBlank($0) }), let last = lastIndex(where: { !isBlank($0) }) else {
            return ""
        }
        return String(self[first...last])
    }
}
