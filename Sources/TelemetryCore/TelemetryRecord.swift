/// One named value of a record.
public struct Field: Sendable, Hashable {
    public var name: String
    public var value: FieldValue

    public init(_ name: String, _ value: FieldValue) {
        self.name = name
        self.value = value
    }
}

/// Where a stored record came from.
public struct Provenance: Sendable, Hashable {
    /// The provider whose record this was mapped from (e.g. `navixy`).
    public var provider: String
    /// The version of the mapping that produced the canonical fields (`identity` when none).
    public var mappingVersion: String
    /// When the store received the record, in milliseconds since 1970 UTC.
    public var receivedAt: Int64

    public init(provider: String, mappingVersion: String, receivedAt: Int64) {
        self.provider = provider
        self.mappingVersion = mappingVersion
        self.receivedAt = receivedAt
    }
}

/// One vehicle at one instant: the unit the store keys, stores and returns.
public struct TelemetryRecord: Sendable, Hashable {
    public var vehicle: VehicleID
    /// Milliseconds since 1970-01-01T00:00:00Z; any Int64, negative values included.
    public var timestamp: Int64
    /// The fields, at most one per name. Order carries no meaning.
    public var fields: [Field]
    public var provenance: Provenance

    public init(vehicle: VehicleID, timestamp: Int64, fields: [Field], provenance: Provenance) {
        self.vehicle = vehicle
        self.timestamp = timestamp
        self.fields = fields
        self.provenance = provenance
    }

    /// The value of the named field, if the record has it.
    public subscript(name: String) -> FieldValue? {
        fields.first(where: { $0.name == name })?.value
    }
}

/// The time order of a range query's results (not `SortOrder`, which Foundation already names).
public enum TimeOrder: String, Sendable, Hashable, CaseIterable {
    case ascending
    case descending
}

/// How far a write is durable when it is acknowledged.
public enum Durability: String, Sendable, Hashable, CaseIterable {
    /// Written to the operating system: survives a crash of the process, not of the machine.
    case buffered
    /// fsync'ed before returning: survives power loss.
    case sync
}
