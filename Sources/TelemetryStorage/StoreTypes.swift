public import TelemetryCore

/// A provider record as received, kept in the raw keyspace (the cold tier) so that
/// history can be re-mapped.
public struct RawRecord: Sendable, Hashable {
    public var record: ProviderRecord
    public var receivedAt: Int64
    /// The mapping version that was active when it arrived.
    public var mappingVersion: String

    public init(record: ProviderRecord, receivedAt: Int64, mappingVersion: String) {
        self.record = record
        self.receivedAt = receivedAt
        self.mappingVersion = mappingVersion
    }
}

/// A record that could not be stored as canonical telemetry, kept with why.
public struct DeadLetter: Sendable, Hashable {
    /// The vehicle id as sent; may be empty or invalid (that can be the reason).
    public var vehicleID: String
    public var timestamp: Int64?
    public var provider: String
    public var fields: [Field]
    public var gatewaySequence: UInt64?
    public var receivedAt: Int64
    /// A stable, machine-readable reason code (e.g. `unknown_provider`).
    public var reason: String
    /// What exactly failed, for a person.
    public var message: String
    public var mappingVersion: String

    public init(
        vehicleID: String, timestamp: Int64?, provider: String, fields: [Field], gatewaySequence: UInt64? = nil,
        receivedAt: Int64, reason: String, message: String, mappingVersion: String
    ) {
        self.vehicleID = vehicleID
        self.timestamp = timestamp
        self.provider = provider
        self.fields = fields
        self.gatewaySequence = gatewaySequence
        self.receivedAt = receivedAt
        self.reason = reason
        self.message = message
        self.mappingVersion = mappingVersion
    }
}

/// A dead letter as stored, with the id that names it for show / replay / purge.
public struct StoredDeadLetter: Sendable, Hashable {
    /// `<received at ms>-<sequence>`.
    public var id: String
    public var letter: DeadLetter
}

/// Everything one write applies atomically: one LevelDB batch.
public struct StoreWrite: Sendable {
    /// Canonical records.
    public var records: [TelemetryRecord]
    /// Raw records (cold tier).
    public var raw: [RawRecord]
    public var deadLetters: [DeadLetter]
    /// Gateway id -> highest sequence committed by this write.
    public var gatewaySequences: [String: UInt64]
    /// Per-vehicle opaque state of the mapping layer's state machines.
    public var derivedStates: [VehicleID: [UInt8]]

    public init(
        records: [TelemetryRecord] = [], raw: [RawRecord] = [], deadLetters: [DeadLetter] = [],
        gatewaySequences: [String: UInt64] = [:], derivedStates: [VehicleID: [UInt8]] = [:]
    ) {
        self.records = records
        self.raw = raw
        self.deadLetters = deadLetters
        self.gatewaySequences = gatewaySequences
        self.derivedStates = derivedStates
    }
}

/// What a write did.
public struct WriteSummary: Sendable, Hashable {
    /// Canonical records written (new, or replacing a different record at the same instant).
    public var written = 0
    /// Identical re-writes of a stored record: skipped, counted here.
    public var duplicates = 0
    /// Of `written`, how many replaced a different record with the same vehicle and timestamp.
    public var replaced = 0
    /// Of `written`, how many were older than their vehicle's newest record.
    public var late = 0
    /// Records kept as dead letters, by this write or (counted in `deadLettersAlreadyKept`
    /// too) by an earlier one: an identical failing record is kept once.
    public var deadLettered = 0
    /// Of `deadLettered`, how many were already kept (a re-sent batch): not added again.
    public var deadLettersAlreadyKept = 0
    public var durability: Durability = .buffered

    public init() {}
}

/// Whether the store takes writes.
public enum StoreHealth: Sendable, Hashable {
    case ready
    /// A write failed; no write is accepted until the store is reopened.
    case degraded(reason: String)
    case closed
}
