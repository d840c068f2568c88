/// The data type of a canonical field, as the mapping format's `data_type` key names it.
///
/// Values are stored as `FieldValue`s: `number` as `.int` (an integer source value that no
/// conversion changed) or `.double`; `string` as `.string`; `boolean` as `.bool`; `datetime`
/// as `.int` milliseconds since 1970 UTC; `array` as `.array`. `object` appears only in the
/// catalog (for Fleeti objects no mapping produces as a whole); an object value is a list of
/// key/value pairs (`FieldValue.keyed(_:)`).
public enum MappingDataType: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// An integer or a real number.
    case number
    /// Text.
    case string
    /// True or false.
    case boolean
    /// A point in time, stored as milliseconds since 1970 UTC.
    case datetime
    /// A list (of values, of objects as key/value pairs, of `[lat, lng]` pairs).
    case array
    /// A Fleeti object (catalog only).
    case object

    /// The name as the mapping format writes it.
    public var description: String { rawValue }
}

/// A field's priority code in the Fleeti catalog.
public enum FieldPriority: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// Core fields (map markers, top status).
    case p0 = "P0"
    /// Must-have fields.
    case p1 = "P1"
    /// Nice-to-have fields.
    case p2 = "P2"
    /// Not planned.
    case p3 = "P3"
    /// Super-admin troubleshooting only.
    case troubleshooting = "T"
    /// Internal, never exposed (e.g. raw I/O bits).
    case internalOnly = "BL"
    /// No priority stated by the Fleeti documents.
    case unspecified = "?"

    /// The code as the catalog writes it.
    public var description: String { rawValue }
}

/// What a mapping does when a field cannot be computed (`error_handling`).
public enum ErrorHandling: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// The field is null; the failure is reported with the record (the Fleeti default).
    case returnNull = "return_null"
    /// Every source is tried; when none gives a value the vehicle's last known value is kept.
    case useFallback = "use_fallback"
    /// TelemetryStore extension: a failure of this field fails the whole record, which goes
    /// to the dead letters with reason `function_error_fatal`.
    case failRecord = "fail_record"

    /// The value as the mapping format writes it.
    public var description: String { rawValue }
}
