public import ArgumentParser
import TelemetryClient
import TelemetryCore

extension TelemetryCommand {
    /// `telemetryctl query VEHICLE`: one vehicle's records over a time range.
    struct Query: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print one vehicle's records in [--from, --to).",
            discussion: """
                Times: milliseconds since 1970, RFC 3339, now, or now-1h. Digits beyond the millisecond round \
                up (ingest drops them instead), so a bound written with a record's own sub-millisecond input \
                time can leave that record out; give milliseconds. \
                With --limit, the last line on standard error gives the cursor of the next page. A range \
                with no record prints the header only, exits 0, and says so on standard error.

                Table and CSV output has one header, made from the fields of the first page (the server's \
                records_per_frame, 5000 by default): \
                a field that first appears later has no column. The command then names it on standard error \
                and exits with 3, so that a script does not take the export for complete; name the fields \
                with --fields, or use --format jsonl, which leaves nothing out. With --fields, JSON lines \
                leave out the records that have none of them (every line is a record ingest reads back); \
                a table or CSV prints them with empty cells. --limit counts the records of the range before \
                that, so such a page can print fewer lines than --limit, or none: follow the cursor.

                A table shows the canonical datetime fields (milliseconds, such as ignition_last_changed_at) \
                as RFC 3339 times; CSV and JSON lines keep the milliseconds.

                JSON lines keep each value's type; bytes, which JSON has not, are written {"base64": "..."}, \
                which ingest reads back as bytes (tables and CSV show a bytes value as its bare base64 text, \
                and an array as its JSON).
                """)

        @OptionGroup var connection: ConnectionOptions

        @OptionGroup var range: VehicleRangeOptions

        @Option(name: .long, help: "Comma-separated fields to print (default: all).")
        var fields: String?

        @Option(name: .long, parsing: .unconditional, help: "Most records to print.")
        var limit: Int?

        @Flag(name: .long, help: "Newest first.")
        var desc = false

        @Option(name: .long, help: "Continue after a previous page (its cursor).")
        var cursor: String?

        @Option(name: .long, help: "table, csv or jsonl.")
        var format: OutputFormat = .table

        func validate() throws {
            if let limit, limit <= 0 { throw ValidationError("--limit must be positive") }
        }

        func run() async throws {
            let (vehicle, from, to) = try range.resolved()
            let query = RangeQuery(
                vehicle: vehicle, from: from, to: to, fields: try splitList(fields), limit: limit,
                order: desc ? .descending : .ascending, cursor: cursor)
            let format = self.format
            let fieldList = try splitList(fields)
            let (dropped, next, received) = try await connection.withClient { client in
                var writer = RecordWriter(format: format, fields: fieldList)
                var next: String? = nil
                var received = 0
                try await client.range(query) { records, cursor in
                    write(writer.write(records))
                    next = cursor
                    received += records.count
                }
                write(writer.finish())
                return (writer.droppedFields, next, received)
            }
            // An empty answer exits 0, as an empty result should; said on standard error, so
            // that a mistyped vehicle id or range does not pass for a quiet vehicle.
            if received == 0 { printError(emptyRangeNote(vehicle: vehicle, from: from, to: to, afterCursor: cursor != nil)) }
            if !dropped.isEmpty {
                printError("fields first seen after the header were left out: \(dropped.joined(separator: ", ")); name them with --fields or use --format jsonl")
            }
            if let next { printError("more records: continue with --cursor \(next)") }
            if !dropped.isEmpty { throw ExitCode(ExitCodes.fieldsLeftOut) }
        }
    }
}

extension OutputFormat: ExpressibleByArgument {}
