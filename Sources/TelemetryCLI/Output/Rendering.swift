public import TelemetryCore

// Pure renderers for each result type: value in, text out, so commands stay thin and
// tests need no server. Every text ends with a newline or is empty; print it with
// `print(text, terminator: "")`. Timestamps are RFC 3339 in UTC with milliseconds
// (`2024-01-01T00:00:00.000Z`). Doubles print in Swift's shortest round-trip form;
// in JSON lines NaN and infinities become null.

/// Renders records: one row per record, columns `vehicle`, `timestamp`, then the fields.
///
/// The same as one `RecordWriter` page followed by `finish()`; see `RecordWriter` for the
/// layout of each format. Without `fields`, the field columns are the union of the
/// records' field names in first-seen order.
/// - Parameters:
///   - records: the records, in the order to print.
///   - format: the output format.
///   - fields: the field columns to print, in order; nil for all.
/// - Returns: the text; a table or CSV of no records is its header alone.
public func render(records: [TelemetryRecord], format: OutputFormat, fields: [String]? = nil) -> String {
    var writer = RecordWriter(format: format, fields: fields)
    return writer.write(records) + writer.finish()
}

/// Renders latest states: one row per vehicle per field, as fields differ between
/// vehicles and each carries its own time.
///
/// Columns `vehicle`, `field`, `value`, `timestamp`, where `timestamp` is when that
/// field was last reported. Vehicles keep their order; fields are in `LatestState`'s
/// order (by name). A vehicle without fields still gets one row, with blank field and
/// value and the vehicle's newest timestamp, so it does not vanish from the output.
/// JSON lines: `{"vehicle":…,"field":…,"value":…,"timestamp":…}` per row (without
/// `field` and `value` for a vehicle without fields).
/// - Parameters:
///   - latest: the states, in the order to print.
///   - format: the output format.
/// - Returns: the text.
public func render(latest: [LatestState], format: OutputFormat) -> String {
    switch format {
    case .jsonl:
        var text = ""
        for state in latest {
            guard !state.fields.isEmpty else {
                var object = JSONObjectBuilder()
                object.add("vehicle", string: state.vehicle.rawValue)
                object.add("timestamp", string: RFC3339.format(milliseconds: state.timestamp))
                text += object.json + "\n"
                continue
            }
            for field in state.fields {
                var object = JSONObjectBuilder()
                object.add("vehicle", string: state.vehicle.rawValue)
                object.add("field", string: field.name)
                object.add("value", json: JSONText.value(field.value))
                object.add("timestamp", string: RFC3339.format(milliseconds: field.timestamp))
                text += object.json + "\n"
            }
        }
        return text
    case .table, .csv:
        var table = TextTable(columns: ["vehicle", "field", "value", "timestamp"])
        for state in latest {
            guard !state.fields.isEmpty else {
                table.rows.append([state.vehicle.rawValue, "", "", RFC3339.format(milliseconds: state.timestamp)])
                continue
            }
            for field in state.fields {
                let name = format == .table ? FieldValue.tableSafe(field.name) : field.name
                table.rows.append([
                    state.vehicle.rawValue, name, field.value.cellText(for: format, field: field.name),
                    RFC3339.format(milliseconds: field.timestamp),
                ])
            }
        }
        return text(of: table, format: format)
    }
}

/// Renders the buckets of an aggregate query: one row per bucket per field.
///
/// Columns `vehicle`, `bucket_start`, `field`, `count`, `min`, `max`, `avg`, `sum`,
/// `first`, `last`. The vehicle column repeats on every row so that outputs for several
/// vehicles can be concatenated. `avg` of an empty bucket is NaN (`nan`, or null in JSON lines).
/// A field whose samples were all integers prints `min`, `max`, `sum`, `first` and `last`
/// as integers (`FieldAggregate.integers`), as its values print in a query.
/// JSON lines uses the same keys in the same order. A bucket whose records hold no numeric
/// value of the fields (the server sends it with no fields) still gets one row, with a blank
/// field, count 0 and blank aggregates (in JSON lines: vehicle, bucket_start and count only):
/// records are there, and "no records" must look different.
/// - Parameters:
///   - buckets: the buckets, in the order to print.
///   - vehicle: the vehicle the buckets belong to.
///   - format: the output format.
/// - Returns: the text.
public func render(buckets: [AggregateBucket], vehicle: VehicleID, format: OutputFormat) -> String {
    let columns = ["vehicle", "bucket_start", "field", "count", "min", "max", "avg", "sum", "first", "last"]
    switch format {
    case .jsonl:
        var text = ""
        for bucket in buckets {
            guard !bucket.fields.isEmpty else {
                var object = JSONObjectBuilder()
                object.add("vehicle", string: vehicle.rawValue)
                object.add("bucket_start", string: RFC3339.format(milliseconds: bucket.start))
                object.add("count", json: "0")
                text += object.json + "\n"
                continue
            }
            for aggregate in bucket.fields {
                var object = JSONObjectBuilder()
                object.add("vehicle", string: vehicle.rawValue)
                object.add("bucket_start", string: RFC3339.format(milliseconds: bucket.start))
                object.add("field", string: aggregate.field)
                object.add("count", json: String(aggregate.count))
                let v = AggregateTexts(aggregate, number: JSONText.number)
                object.add("min", json: v.min)
                object.add("max", json: v.max)
                object.add("avg", json: v.avg)
                object.add("sum", json: v.sum)
                object.add("first", json: v.first)
                object.add("last", json: v.last)
                text += object.json + "\n"
            }
        }
        return text
    case .table, .csv:
        var table = TextTable(columns: columns)
        for bucket in buckets {
            if bucket.fields.isEmpty {
                table.rows.append([vehicle.rawValue, RFC3339.format(milliseconds: bucket.start), "", "0", "", "", "", "", "", ""])
            }
            for aggregate in bucket.fields {
                let name = format == .table ? FieldValue.tableSafe(aggregate.field) : aggregate.field
                let v = AggregateTexts(aggregate, number: \.description)
                table.rows.append([
                    vehicle.rawValue, RFC3339.format(milliseconds: bucket.start), name, String(aggregate.count),
                    v.min, v.max, v.avg, v.sum, v.first, v.last,
                ])
            }
        }
        return text(of: table, format: format)
    }
}

/// The printed aggregates of one field: exact integers when the server sent them (every
/// sample an integer), else the doubles; the average is always a double.
private struct AggregateTexts {
    var min, max, avg, sum, first, last: String

    init(_ a: FieldAggregate, number: (Double) -> String) {
        avg = number(a.average)
        if let exact = a.integers {
            (min, max, sum, first, last) = (String(exact.min), String(exact.max), String(exact.sum), String(exact.first), String(exact.last))
        } else {
            (min, max, sum, first, last) = (number(a.min), number(a.max), number(a.sum), number(a.first), number(a.last))
        }
    }
}

/// Renders vehicle summaries: one row per vehicle.
///
/// Columns `vehicle`, `first`, `last` (the oldest and newest record timestamps) and
/// `records` (the record count); JSON lines uses the same keys.
/// - Parameters:
///   - vehicles: the summaries, in the order to print.
///   - format: the output format.
/// - Returns: the text.
public func render(vehicles: [VehicleSummary], format: OutputFormat) -> String {
    switch format {
    case .jsonl:
        var text = ""
        for summary in vehicles {
            var object = JSONObjectBuilder()
            object.add("vehicle", string: summary.vehicle.rawValue)
            object.add("first", string: RFC3339.format(milliseconds: summary.firstTimestamp))
            object.add("last", string: RFC3339.format(milliseconds: summary.lastTimestamp))
            object.add("records", json: String(summary.recordCount))
            text += object.json + "\n"
        }
        return text
    case .table, .csv:
        var table = TextTable(columns: ["vehicle", "first", "last", "records"])
        table.rows = vehicles.map {
            [
                $0.vehicle.rawValue, RFC3339.format(milliseconds: $0.firstTimestamp),
                RFC3339.format(milliseconds: $0.lastTimestamp), String($0.recordCount),
            ]
        }
        return text(of: table, format: format)
    }
}

/// A finished table as table or CSV text.
private func text(of table: TextTable, format: OutputFormat) -> String {
    format == .csv ? table.csvHeader() + table.csvRows() : table.tableText()
}
