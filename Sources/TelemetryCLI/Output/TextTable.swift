import Foundation
import TelemetryCore
import TelemetryMapping

/// Rows of text cells, rendered as an aligned table or as CSV.
///
/// Kept separate from what the rows mean so every result type shares one notion of
/// alignment and quoting.
struct TextTable {
    var columns: [String]
    var rows: [[String]] = []

    /// Column widths that fit the header and every row.
    func widths() -> [Int] {
        var widths = columns.map(\.count)
        for row in rows {
            for (index, cell) in row.enumerated() where index < widths.count {
                widths[index] = max(widths[index], cell.count)
            }
        }
        return widths
    }

    /// The header line, padded to `widths`.
    func tableHeader(widths: [Int]) -> String {
        Self.tableLine(columns, widths: widths)
    }

    /// The rows, padded to `widths`.
    func tableRows(widths: [Int]) -> String {
        var text = ""
        for row in rows { text += Self.tableLine(row, widths: widths) }
        return text
    }

    /// Header and rows, aligned: the whole table in one go.
    func tableText() -> String {
        let widths = widths()
        return tableHeader(widths: widths) + tableRows(widths: widths)
    }

    /// Cells separated by two spaces and padded to their column's width, without
    /// trailing blanks (a row may end in blank cells).
    private static func tableLine(_ cells: [String], widths: [Int]) -> String {
        var line = ""
        for (index, cell) in cells.enumerated() {
            if index > 0 { line += "  " }
            line += cell
            if index < widths.count && cell.count < widths[index] {
                line += String(repeating: " ", count: widths[index] - cell.count)
            }
        }
        while line.last == " " { line.removeLast() }
        return line + "\n"
    }

    /// The header as a CSV line.
    func csvHeader() -> String {
        Self.csvLine(columns)
    }

    /// The rows as CSV lines.
    func csvRows() -> String {
        var text = ""
        for row in rows { text += Self.csvLine(row) }
        return text
    }

    /// Cells joined by commas, quoted per RFC 4180 when they hold a comma, quote or line
    /// break. Lines end in `\n`, not RFC 4180's CRLF, as Unix tools expect.
    private static func csvLine(_ cells: [String]) -> String {
        cells.map(csvCell).joined(separator: ",") + "\n"
    }

    private static func csvCell(_ cell: String) -> String {
        let needsQuotes = cell.utf8.contains {
            $0 == UInt8(ascii: ",") || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\n") || $0 == UInt8(ascii: "\r")
        }
        guard needsQuotes else { return cell }
        return "\"" + cell.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}

extension FieldValue {
    /// `cellText(for:)` of a named field: in a table, a canonical datetime field (an integer
    /// of milliseconds, as the store keeps `*_last_changed_at` and the like) reads as RFC 3339
    /// time. CSV and JSON lines keep the integer, which reads back as stored.
    func cellText(for format: OutputFormat, field: String) -> String {
        if format == .table, case .int(let milliseconds) = self, CanonicalTimes.fields.contains(field) {
            return RFC3339.format(milliseconds: milliseconds)
        }
        return cellText(for: format)
    }

    /// The value as a table or CSV cell.
    ///
    /// Doubles use Swift's shortest round-trip text (`nan`, `inf` included); bytes are
    /// base64; arrays are JSON. Null is `null` in a table, where a blank cell means the
    /// field is absent, and blank in CSV, which has no null (and whose blank cells
    /// `telemetryctl ingest` reads as absent).
    func cellText(for format: OutputFormat) -> String {
        switch self {
        case .null: return format == .table ? "null" : ""
        case .bool(let flag): return flag ? "true" : "false"
        case .int(let integer): return String(integer)
        case .double(let double): return double.description
        case .string(let text): return format == .table ? Self.tableSafe(text) : text
        case .bytes(let bytes): return Data(bytes).base64EncodedString()
        case .array: return JSONText.value(self)
        }
    }

    /// Text with control characters escaped, so a value cannot break a table's lines.
    static func tableSafe(_ text: String) -> String {
        guard text.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F }) else { return text }
        var result = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F:
                result += "\\u{\(String(scalar.value, radix: 16))}"
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result
    }
}

/// The canonical fields whose catalog type is `datetime` (milliseconds since 1970).
enum CanonicalTimes {
    static let fields: Set<String> = {
        // The catalog is compiled in and checked by the mapping tests, and the server refuses
        // to start without it. Were it ever broken, a table would show these fields as the
        // integers they are, which is still correct output: no reason to stop a query for it.
        guard let catalog = try? FieldCatalog.bundled() else { return [] }
        return Set(catalog.entries.filter { $0.dataType == .datetime }.map(\.name))
    }()
}
