/// How `telemetryctl` prints results.
///
/// The raw values are the names the command line accepts (`--format csv`).
public enum OutputFormat: String, Sendable, Hashable, CaseIterable {
    /// Aligned columns under a header line, like `column -t`, for people.
    case table
    /// RFC 4180 CSV with a header row, for spreadsheets.
    case csv
    /// One JSON object per line with a fixed key order, for `jq` and for `telemetryctl ingest`.
    case jsonl
}
