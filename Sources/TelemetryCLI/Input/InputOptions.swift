/// The unit of integer timestamps in an input file.
///
/// Timestamps are stored in milliseconds; the other units are converted on read.
/// RFC 3339 text timestamps carry their own unit and ignore this setting.
public enum TimestampPrecision: String, Sendable, Hashable, CaseIterable {
    /// Nanoseconds (`ns`), Influx's default.
    case nanoseconds = "ns"
    /// Microseconds (`us`).
    case microseconds = "us"
    /// Milliseconds (`ms`), the store's own unit and the benchmark dataset's.
    case milliseconds = "ms"
    /// Seconds (`s`), as Unix time.
    case seconds = "s"

    /// Converts a timestamp in this unit to milliseconds since 1970 UTC.
    ///
    /// Finer units are floor-divided, so a negative (pre-1970) instant rounds
    /// towards the past like a positive one does, rather than towards 1970.
    /// - Parameter value: the timestamp in this unit.
    /// - Returns: milliseconds, or nil when the result does not fit in an `Int64`.
    public func milliseconds(from value: Int64) -> Int64? {
        switch self {
        case .nanoseconds: return Self.floorDivide(value, by: 1_000_000)
        case .microseconds: return Self.floorDivide(value, by: 1_000)
        case .milliseconds: return value
        case .seconds:
            let (result, overflow) = value.multipliedReportingOverflow(by: 1_000)
            return overflow ? nil : result
        }
    }

    private static func floorDivide(_ value: Int64, by divisor: Int64) -> Int64 {
        // Swift's `/` truncates towards zero; step down one for negative remainders.
        let quotient = value / divisor
        return value % divisor < 0 ? quotient - 1 : quotient
    }
}

/// How to read records from an input file.
public struct InputOptions: Sendable, Hashable {
    /// The provider of every record, whatever the input says.
    ///
    /// Given, it wins over the line-protocol measurement, a CSV `provider` column and a JSON
    /// lines `provider` key (or the `provenance.provider` of `query --format jsonl` output):
    /// an explicit choice is never overridden by the file. Not given, each record's own
    /// provider is used, and `generic` when it names none.
    public var provider: String?
    /// The column, key or line-protocol tag that holds the vehicle id.
    ///
    /// While this is `vehicle` (the default), CSV and JSON lines also accept `vehicle_id`.
    public var vehicleKey: String
    /// The CSV column or JSON key that holds the timestamp. Line protocol ignores it:
    /// there the timestamp is the last element of the line.
    ///
    /// While this is `timestamp` (the default), `time` and `ts` are accepted too.
    public var timestampKey: String
    /// The unit of integer timestamps.
    public var precision: TimestampPrecision
    /// Whether a JSON line's `sequence` is an error, naming its line: `ingest` without
    /// `--gateway-id`, where the server would refuse every record that has one.
    public var refusesSequences = false

    /// Creates options; every default matches the benchmark dataset and the JSON lines `query` output.
    /// - Parameters:
    ///   - provider: the provider of every record; nil to take each record's own.
    ///   - vehicleKey: the column, key or tag holding the vehicle id.
    ///   - timestampKey: the column or key holding the timestamp.
    ///   - precision: the unit of integer timestamps.
    public init(
        provider: String? = nil,
        vehicleKey: String = "vehicle",
        timestampKey: String = "timestamp",
        precision: TimestampPrecision = .milliseconds
    ) {
        self.provider = provider
        self.vehicleKey = vehicleKey
        self.timestampKey = timestampKey
        self.precision = precision
    }

    /// The provider used by CSV and JSON lines when a record names none.
    static let defaultProvider = "generic"

    /// The column or key names that hold the vehicle id, the configured one first.
    var vehicleKeys: [String] {
        vehicleKey == "vehicle" ? ["vehicle", "vehicle_id"] : [vehicleKey]
    }

    /// The column or key names that hold the timestamp, the configured one first.
    var timestampKeys: [String] {
        timestampKey == "timestamp" ? ["timestamp", "time", "ts"] : [timestampKey]
    }
}
