/// The text formats `telemetryctl ingest` reads.
///
/// The raw values are the names the command line accepts (`--format lp`).
public enum InputFormat: String, Sendable, Hashable, CaseIterable {
    /// RFC 4180 comma-separated values with a header row.
    case csv
    /// One JSON object per line (also called NDJSON).
    case jsonl
    /// InfluxDB line protocol.
    case lineProtocol = "lp"

    /// The file extensions recognised for each format, lower case and without the dot.
    ///
    /// `.txt` means line protocol because that is what `influx export` and most
    /// line-protocol tooling write.
    public var fileExtensions: [String] {
        switch self {
        case .csv: return ["csv"]
        case .jsonl: return ["jsonl", "ndjson", "json"]
        case .lineProtocol: return ["lp", "txt", "influx"]
        }
    }

    /// Picks the format from a file name's extension, ignoring case.
    /// - Parameter path: a file path or name, e.g. `data/telemetry.LP`.
    /// - Returns: the format, or nil when the extension is missing or unknown.
    public init?(detectingFrom path: String) {
        let name = path.split(separator: "/", omittingEmptySubsequences: false).last ?? Substring(path)
        guard let dot = name.lastIndex(of: "."), dot != name.startIndex else { return nil }
        let ext = name[name.index(after: dot)...].lowercased()
        guard let format = Self.allCases.first(where: { $0.fileExtensions.contains(ext) }) else { return nil }
        self = format
    }
}
