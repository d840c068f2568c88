/// The reason codes a dead letter carries (PROTOCOL.md, `IngestResponse.dead_letters`): stable
/// strings, stored with each letter and used as a metric dimension. Kept here, below the
/// mapping module that produces them, so that a client can check a `--reason` filter: a
/// misspelt reason matches no letter, and an empty list looks like "no dead letters".
public enum DeadLetterReason {
    /// No mapping was ever loaded for the record's provider.
    public static let unknownProvider = "unknown_provider"
    /// The provider has mappings, but none is active (or the version asked for is not loaded).
    public static let noActiveMapping = "no_active_mapping"
    /// The record has no vehicle id or no timestamp (0, the wire's "absent").
    public static let missingVehicleOrTimestamp = "missing_vehicle_or_timestamp"
    /// A field marked `error_handling: fail_record` failed.
    public static let functionErrorFatal = "function_error_fatal"

    /// Every reason, in the order the documents list them.
    public static let all = [unknownProvider, noActiveMapping, missingVehicleOrTimestamp, functionErrorFatal]
}
