public import TelemetryCore

/// What mapping one provider record produced.
public enum MappingOutcome: Sendable, Hashable {
    /// Canonical fields (and per-field failures that followed their `error_handling`).
    case mapped(MappedRecord)
    /// The whole record failed: it goes to the dead letters with the reason.
    case failed(MappingFailure)
}

/// The canonical fields of one record.
public struct MappedRecord: Sendable, Hashable {
    /// Fields keyed by canonical Name, typed per their `data_type`, in evaluation order.
    /// Null fields are left out unless `MappingEngine.Options.emitNullFields` is set.
    public var fields: [Field]
    /// Fields that failed (a source value that did not convert, a function that threw) and
    /// were handled by their `error_handling`.
    public var fieldErrors: [FieldMappingError]
    /// The provider whose mapping produced this.
    public var provider: String
    /// The mapping version that produced it (stored as the record's provenance).
    public var mappingVersion: String

    /// Creates a mapped record.
    public init(fields: [Field], fieldErrors: [FieldMappingError] = [], provider: String, mappingVersion: String) {
        self.fields = fields
        self.fieldErrors = fieldErrors
        self.provider = provider
        self.mappingVersion = mappingVersion
    }

    /// The value of a field, if present.
    public subscript(name: String) -> FieldValue? {
        fields.first(where: { $0.name == name })?.value
    }

    /// The canonical record to store.
    /// - Parameters:
    ///   - source: the provider record it was mapped from (vehicle and timestamp).
    ///   - receivedAt: when the store received it, ms.
    public func telemetryRecord(from source: ProviderRecord, receivedAt: Int64) -> TelemetryRecord {
        TelemetryRecord(
            vehicle: source.vehicle, timestamp: source.timestamp, fields: fields,
            provenance: Provenance(provider: provider, mappingVersion: mappingVersion, receivedAt: receivedAt))
    }
}

/// One field that could not be computed.
public struct FieldMappingError: Sendable, Hashable, CustomStringConvertible {
    /// The canonical field name.
    public var field: String
    /// Why (e.g. `source 1: value "abc" of params.can_speed is not a number`).
    public var reason: String

    /// Creates a field error.
    public init(field: String, reason: String) {
        self.field = field
        self.reason = reason
    }

    /// `field: reason`.
    public var description: String { "\(field): \(reason)" }
}

/// A record that could not be mapped at all. It is dead-lettered with `reason.rawValue`.
public struct MappingFailure: Error, Sendable, Hashable, CustomStringConvertible, StatusCodeConvertible {
    /// A stable reason code (stored with dead letters and used as a metric dimension).
    public struct Reason: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
        /// The stable code, e.g. `no_active_mapping`.
        public let rawValue: String

        /// Wraps a code.
        public init(rawValue: String) {
            self.rawValue = rawValue
        }

        /// No mapping was ever loaded for the record's provider.
        public static let unknownProvider = Reason(rawValue: DeadLetterReason.unknownProvider)
        /// The provider has mappings, but none is active (or the version asked for is not loaded).
        public static let noActiveMapping = Reason(rawValue: DeadLetterReason.noActiveMapping)
        /// The record has no vehicle id or no usable timestamp.
        public static let missingVehicleOrTimestamp = Reason(rawValue: DeadLetterReason.missingVehicleOrTimestamp)
        /// A field marked `error_handling: fail_record` failed.
        public static let functionErrorFatal = Reason(rawValue: DeadLetterReason.functionErrorFatal)

        /// The code.
        public var description: String { rawValue }
    }

    /// Why the record failed.
    public var reason: Reason
    /// What happened, naming the provider, version and field.
    public var message: String
    /// The record's provider.
    public var provider: String
    /// The mapping version involved, when there is one.
    public var mappingVersion: String?

    /// Creates a failure.
    public init(reason: Reason, message: String, provider: String, mappingVersion: String? = nil) {
        self.reason = reason
        self.message = message
        self.provider = provider
        self.mappingVersion = mappingVersion
    }

    /// `reason: message`.
    public var description: String { "\(reason.rawValue): \(message)" }

    /// A record the mapping refuses is the client's input: `INVALID_ARGUMENT`, except a missing
    /// mapping, which the operator must fix: `FAILED_PRECONDITION`.
    public var statusCode: StatusCode {
        reason == .unknownProvider || reason == .noActiveMapping ? .failedPrecondition : .invalidArgument
    }

    /// The reason and message, for the client.
    public var statusMessage: String { description }
}

/// The offline transition the connectivity sweep produced for one vehicle.
public struct ConnectivityTransition: Sendable, Hashable {
    /// When the vehicle went offline: its last packet time plus the threshold, ms. Use it as
    /// the timestamp of the record that stores `fields`.
    public var at: Int64
    /// The changed status fields (connectivity code and last_changed_at, top status).
    public var fields: [Field]

    /// Creates a transition.
    public init(at: Int64, fields: [Field]) {
        self.at = at
        self.fields = fields
    }
}
