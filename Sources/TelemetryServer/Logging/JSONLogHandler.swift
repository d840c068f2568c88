import Foundation
public import Logging
import Synchronization

/// Writes each log entry as one JSON object on a line (JSON lines), the shape log
/// collectors ingest: `timestamp`, `level`, `service`, `message`, `source`, and the entry's
/// metadata (connection id, request kind, ...) as keys of their own.
public struct JSONLogHandler: LogHandler {
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    private let label: String
    private let sink: @Sendable (String) -> Void

    /// - Parameters:
    ///   - label: the logger's label, written as `service`.
    ///   - sink: receives each line (without the newline); defaults to standard error.
    public init(label: String, sink: @escaping @Sendable (String) -> Void = JSONLogHandler.standardError) {
        self.label = label
        self.sink = sink
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { _, new in new } }
        if let extra = event.metadata { merged.merge(extra) { _, new in new } }
        var object: [String: Any] = [
            "timestamp": Self.timestamp(),
            "level": event.level.rawValue,
            "service": label,
            "message": event.message.description,
            "source": event.source,
        ]
        for (key, value) in merged where object[key] == nil { object[key] = Self.json(value) }
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]) else {
            sink("{\"level\":\"error\",\"message\":\"log entry could not be encoded as JSON\"}")
            return
        }
        sink(String(decoding: data, as: UTF8.self))
    }

    private static func json(_ value: Logger.MetadataValue) -> Any {
        switch value {
        case .string(let s): return s
        case .stringConvertible(let c): return c.description
        case .array(let a): return a.map(json)
        case .dictionary(let d): return d.mapValues(json)
        }
    }

    private static func timestamp() -> String {
        var t = timespec()
        clock_gettime(CLOCK_REALTIME, &t)
        var tm = tm()
        var seconds = t.tv_sec
        gmtime_r(&seconds, &tm)
        return String(
            format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
            tm.tm_sec, t.tv_nsec / 1_000_000)
    }

    /// Writes a line to standard error, whole: one write per line, so lines from threads never interleave.
    public static let standardError: @Sendable (String) -> Void = { line in
        var bytes = Array(line.utf8)
        bytes.append(0x0A)
        bytes.withUnsafeBytes { _ = write(2, $0.baseAddress, $0.count) }
    }
}
