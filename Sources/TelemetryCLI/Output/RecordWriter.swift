public import TelemetryCore

/// Renders a range query page by page, so `telemetryctl query` can print each page as
/// it arrives instead of holding the whole range.
///
/// ```swift
/// var writer = RecordWriter(format: .table, fields: nil)
/// for try await page in pages { print(writer.write(page.records), terminator: "") }
/// print(writer.finish(), terminator: "")
/// ```
///
/// Table and CSV output has one header, so its columns are fixed by the first page that
/// has records: `vehicle`, `timestamp` (RFC 3339, UTC, milliseconds), then `fields` if
/// given, else every field name of that page in first-seen order. A field that first
/// appears on a later page has no column; it is listed in `droppedFields` so the caller
/// can warn and suggest `fields`. Table columns are as wide as the header and the first
/// page need; a later page with wider cells widens the columns from that page on.
/// A blank table or CSV cell means the record lacks the field.
///
/// JSON lines output needs no header and drops nothing: each record is
/// `{"vehicle":…,"timestamp":…,"fields":{…},"provenance":{…}}`, the provenance holding
/// `provider`, `mapping_version` and `received_at`, with the fields sorted by name (or in the
/// order of `fields`, leaving out those the record lacks, and leaving out a record that has
/// none of them): a record prints the same whichever
/// page or direction it came in, so two exports can be compared line by line.
/// `telemetryctl ingest` reads this format back.
///
/// Every chunk of text ends with a newline or is empty.
public struct RecordWriter: Sendable {
    /// The output format.
    public let format: OutputFormat
    /// The field columns asked for, or nil for every field.
    public let fields: [String]?
    /// Fields seen after the columns were fixed, which table and CSV output left out,
    /// in first-seen order.
    public private(set) var droppedFields: [String] = []

    private var columns: [String]?
    private var widths: [Int] = []

    /// Creates a writer.
    /// - Parameters:
    ///   - format: the output format.
    ///   - fields: the fields to print, in order; nil prints every field.
    public init(format: OutputFormat, fields: [String]? = nil) {
        self.format = format
        self.fields = fields
    }

    /// Renders one page of records, with the header before the first records.
    /// - Parameter records: the page.
    /// - Returns: text ending in a newline, or empty when there is nothing to print yet.
    public mutating func write(_ records: [TelemetryRecord]) -> String {
        guard !records.isEmpty else { return "" }
        switch format {
        case .jsonl:
            var text = ""
            for record in records {
                // With `fields`, a record that has none of them carries nothing asked for: a line
                // with empty fields is no record, and `ingest` could not read the export back.
                if let fields, !fields.contains(where: { record[$0] != nil }) { continue }
                text += jsonLine(record) + "\n"
            }
            return text
        case .table, .csv:
            let isFirstPage = columns == nil
            let columns = self.columns ?? fields ?? Self.fieldNames(of: records)
            self.columns = columns
            if !isFirstPage { noteDroppedFields(records, columns: columns) }
            var table = TextTable(columns: headerNames(columns))
            table.rows = records.map { row($0, columns: columns) }
            if format == .csv { return (isFirstPage ? table.csvHeader() : "") + table.csvRows() }
            let pageWidths = table.widths()
            widths = isFirstPage ? pageWidths : zip(widths, pageWidths).map { max($0, $1) }
            return (isFirstPage ? table.tableHeader(widths: widths) : "") + table.tableRows(widths: widths)
        }
    }

    /// Ends the output: prints the header alone when no page had records, so an empty
    /// result still names its columns. JSON lines prints nothing for an empty result.
    /// - Returns: the remaining text, possibly empty.
    public mutating func finish() -> String {
        guard format != .jsonl, columns == nil else { return "" }
        let columns = fields ?? []
        self.columns = columns
        let table = TextTable(columns: headerNames(columns))
        return format == .csv ? table.csvHeader() : table.tableText()
    }

    private func headerNames(_ columns: [String]) -> [String] {
        let names = ["vehicle", "timestamp"] + columns
        return format == .table ? names.map(FieldValue.tableSafe) : names
    }

    private func row(_ record: TelemetryRecord, columns: [String]) -> [String] {
        var cells = [record.vehicle.rawValue, RFC3339.format(milliseconds: record.timestamp)]
        cells.reserveCapacity(columns.count + 2)
        for name in columns { cells.append(record[name]?.cellText(for: format, field: name) ?? "") }
        return cells
    }

    private func jsonLine(_ record: TelemetryRecord) -> String {
        var object = JSONObjectBuilder()
        object.add("vehicle", string: record.vehicle.rawValue)
        object.add("timestamp", string: RFC3339.format(milliseconds: record.timestamp))
        var fieldsObject = JSONObjectBuilder()
        if let fields {
            for name in fields {
                if let value = record[name] { fieldsObject.add(name, json: JSONText.value(value)) }
            }
        } else {
            // The columnar answer orders a record's fields by their first appearance on its page.
            for field in record.fields.sorted(by: { $0.name < $1.name }) {
                fieldsObject.add(field.name, json: JSONText.value(field.value))
            }
        }
        object.add("fields", json: fieldsObject.json)
        var provenance = JSONObjectBuilder()
        provenance.add("provider", string: record.provenance.provider)
        provenance.add("mapping_version", string: record.provenance.mappingVersion)
        provenance.add("received_at", string: RFC3339.format(milliseconds: record.provenance.receivedAt))
        object.add("provenance", json: provenance.json)
        return object.json
    }

    private mutating func noteDroppedFields(_ records: [TelemetryRecord], columns: [String]) {
        // With explicit `fields` the caller chose the columns; nothing is dropped by surprise.
        guard fields == nil else { return }
        for record in records {
            for field in record.fields where !columns.contains(field.name) && !droppedFields.contains(field.name) {
                droppedFields.append(field.name)
            }
        }
    }

    /// Every field name in the records, in first-seen order.
    static func fieldNames(of records: [TelemetryRecord]) -> [String] {
        var names: [String] = []
        var seen = Set<String>()
        for record in records {
            for field in record.fields where seen.insert(field.name).inserted { names.append(field.name) }
        }
        return names
    }
}
