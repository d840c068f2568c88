public import TelemetryCore

/// A loaded mapping version (`admin mappings list`).
public struct MappingFileInfo: Sendable, Hashable {
    public var provider: String
    public var version: String
    /// The file it came from (for operator files, the name in the server's mapping folder).
    public var file: String
    /// How many canonical fields it maps.
    public var mappings: Int
    /// When the server loaded it, ms since 1970.
    public var loadedAt: Int64
    /// `default` (built into the server), `folder` or `admin`.
    public var origin: String
    /// Whether it maps the provider's new records.
    public var active: Bool
}

/// A problem in a mapping file.
public struct MappingFileProblem: Sendable, Hashable, CustomStringConvertible {
    public var file: String
    /// The mapping's key, or nil for the file as a whole.
    public var mapping: String?
    /// `error` (blocks the file) or `warning`.
    public var severity: String
    public var message: String

    public init(file: String, mapping: String?, severity: String, message: String) {
        self.file = file
        self.mapping = mapping
        self.severity = severity
        self.message = message
    }

    /// One line, as the server's own reports: `file: [warning: ][mapping M: ][line N: ]reason`.
    public var description: String {
        "\(file): \(severity == "warning" ? "warning: " : "")\(mapping.map { "mapping \($0): " } ?? "")\(message)"
    }
}

/// What `mappings load` did.
public struct MappingsLoadResult: Sendable, Hashable {
    /// The versions the files hold (now loaded; `active` says whether each maps new records).
    public var loaded: [MappingFileInfo]
    public var warnings: [MappingFileProblem]
}

/// One record of a dry run: its canonical record, or why it would be dead-lettered.
public struct DryRunOutcome: Sendable, Hashable {
    public var index: Int
    public var record: TelemetryRecord?
    /// The dead-letter reason code, when the record fails.
    public var reason: String?
    public var message: String?
    /// Fields that failed and followed their error_handling.
    public var fieldErrors: [String]
}

/// What the asset registry now holds.
public struct AssetsSummary: Sendable, Hashable {
    public var assets: Int
    public var drivers: Int
    public var geofences: Int
}

/// A stored dead letter.
public struct DeadLetterEntry: Sendable, Hashable {
    /// `<received ms>-<sequence>`: names it for show, replay and purge.
    public var id: String
    /// The vehicle id as sent (may be empty: that can be the reason).
    public var vehicleID: String
    public var timestamp: Int64?
    public var provider: String
    public var fields: [Field]
    public var gatewaySequence: UInt64?
    public var receivedAt: Int64
    /// A stable reason code, e.g. `unknown_provider`.
    public var reason: String
    public var message: String
    /// The mapping version involved; empty when none was.
    public var mappingVersion: String
}

/// Which dead letters to list, replay or purge; nil parts select everything.
public struct DeadLetterSelection: Sendable, Hashable {
    public var provider: String?
    public var reason: String?
    public var vehicleID: String?
    /// Received in [receivedFrom, receivedTo), ms since 1970.
    public var receivedFrom: Int64?
    public var receivedTo: Int64?

    public init(provider: String? = nil, reason: String? = nil, vehicleID: String? = nil, receivedFrom: Int64? = nil, receivedTo: Int64? = nil) {
        self.provider = provider
        self.reason = reason
        self.vehicleID = vehicleID
        self.receivedFrom = receivedFrom
        self.receivedTo = receivedTo
    }
}

/// A page of dead letters.
public struct DeadLetterPage: Sendable, Hashable {
    public var entries: [DeadLetterEntry]
    /// Pass as `after` for the next page; nil on the last.
    public var next: String?
}

/// What a replay did.
public struct ReplayResult: Sendable, Hashable {
    /// Stored (or, in a dry run, would be) and removed from the dead letters.
    public var replayed: UInt64
    /// Still failing: kept as they are.
    public var stillFailing: UInt64
    /// Already stored; removed.
    public var duplicates: UInt64
    /// Reason code -> how many still fail for it.
    public var failingByReason: [String: UInt64]
    public var dryRun: Bool
}

/// One field's change in a re-mapped record.
public struct FieldChange: Sendable, Hashable {
    public var field: String
    /// nil: the field was absent.
    public var before: FieldValue?
    /// nil: the field is gone.
    public var after: FieldValue?

    public init(field: String, before: FieldValue?, after: FieldValue?) {
        self.field = field
        self.before = before
        self.after = after
    }
}

/// One re-mapped record that changed.
public struct RecordChange: Sendable, Hashable {
    public var timestamp: Int64
    public var mappingVersionBefore: String
    public var mappingVersionAfter: String
    public var changes: [FieldChange]
}

/// What `remap` did (or, in a dry run, would do).
public struct RemapResult: Sendable, Hashable {
    /// Raw records in the range.
    public var rawRecords: UInt64
    public var changed: UInt64
    public var unchanged: UInt64
    /// Raw records the mapping now refuses; their stored records are left as they are.
    public var failed: UInt64
    /// The first changed records, described.
    public var changes: [RecordChange]
    public var dryRun: Bool
    /// The first refusals: `<timestamp ms>: <reason code>: <message>`.
    public var failures: [String] = []
    /// Raw records before the range mapped to bring the rules' state forward (the warm-up).
    public var warmupRecords: UInt64 = 0
    /// Raw records of another provider than the `provider@version` asked for: left as stored.
    public var otherProvider: UInt64 = 0
}
