public import TelemetryCore

/// A mapping file as written: the Fleeti YAML format, read without change.
///
/// ```yaml
/// version: "1.0.3"          # semantic version, unique per provider
/// provider: "navixy"        # default provider of every source
/// passthrough: false        # TelemetryStore extension (generic.yaml): copy unread provider fields
/// mappings:
///   speed:                  # the Fleeti field Name
///     type: prioritized
///     sources: [{priority: 1, field: can_speed, path: params.can_speed, unit: km/h}, ...]
///     unit: km/h
///     data_type: number
///     error_handling: return_null
/// ```
public struct MappingFile: Sendable, Hashable {
    /// The file name used in problem reports (e.g. `navixy.yaml`).
    public var fileName: String
    /// The file's version (`version`).
    public var version: SemanticVersion
    /// The provider whose records this file maps (e.g. `navixy`).
    public var provider: String
    /// TelemetryStore extension: provider fields no mapping reads are stored as they come.
    public var passthrough: Bool
    /// The mappings in file order (evaluation order comes from the dependencies).
    public var mappings: [FieldMapping]

    /// Creates a mapping file.
    public init(
        fileName: String, version: SemanticVersion, provider: String, passthrough: Bool = false,
        mappings: [FieldMapping]
    ) {
        self.fileName = fileName
        self.version = version
        self.provider = provider
        self.passthrough = passthrough
        self.mappings = mappings
    }

    /// True when both files define the same mappings (file names and line numbers aside).
    public func hasSameDefinition(as other: MappingFile) -> Bool {
        func stripped(_ f: MappingFile) -> MappingFile {
            var f = f
            f.fileName = ""
            for i in f.mappings.indices { f.mappings[i].line = nil }
            return f
        }
        return stripped(self) == stripped(other)
    }
}

/// How a mapping computes its field (`type`).
public enum MappingKind: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// One provider source.
    case direct
    /// The first source (in priority order) that gives a value.
    case prioritized
    /// A named function (`function`, `parameters`).
    case calculated
    /// A formula over telemetry and asset facts: recognised, not supported (validation error).
    case transformed
    /// An installation-numbered I/O field (`default_source`, `installation_metadata`).
    case ioMapped = "io_mapped"

    /// The name as the mapping format writes it.
    public var description: String { rawValue }
}

/// One mapping: how one canonical field is computed.
public struct FieldMapping: Sendable, Hashable {
    /// The key as written (normally the Fleeti Name; `environment[]` and paths are accepted).
    public var key: String
    /// How the field is computed (`type`).
    public var kind: MappingKind
    /// Sources of `direct` and `prioritized` mappings, in priority order (1 first).
    public var sources: [MappingSource]
    /// The function of a `calculated` mapping.
    public var call: FunctionCall?
    /// The `io_mapped` parameters.
    public var ioMapping: IOMapping?
    /// The target unit as written (`none` when absent).
    public var unit: String
    /// The field's data type (`data_type`).
    public var dataType: MappingDataType
    /// What a failure does (`error_handling`).
    public var errorHandling: ErrorHandling
    /// The line of the key in the file.
    public var line: Int?

    /// Creates a mapping.
    public init(
        key: String, kind: MappingKind, sources: [MappingSource] = [], call: FunctionCall? = nil,
        ioMapping: IOMapping? = nil, unit: String = "none", dataType: MappingDataType,
        errorHandling: ErrorHandling = .returnNull, line: Int? = nil
    ) {
        self.key = key
        self.kind = kind
        self.sources = sources
        self.call = call
        self.ioMapping = ioMapping
        self.unit = unit
        self.dataType = dataType
        self.errorHandling = errorHandling
        self.line = line
    }
}

/// One source of a direct or prioritized mapping.
public enum MappingSource: Sendable, Hashable {
    /// A provider field read from the record.
    case field(FieldSource)
    /// A function whose result is the source's value (e.g. `extract_bit_from_bitmask`).
    case calculated(FunctionCall)

    /// The source's priority, when written.
    public var priority: Int? {
        switch self {
        case .field(let s): return s.priority
        case .calculated(let c): return c.priority
        }
    }
}

/// A provider field source: `{field, path, unit, priority, provider}`.
public struct FieldSource: Sendable, Hashable {
    /// The provider field's name (e.g. `can_speed`); optional, derived from `path` when absent.
    public var field: String?
    /// Where the field is in the parsed packet (`params.can_speed`, `lat`).
    public var path: String
    /// The unit the provider sends (`none` when absent).
    public var unit: String
    /// The source's priority (1 is tried first), when written.
    public var priority: Int?
    /// A provider other than the file's (the source is used only for that provider's records).
    public var provider: String?

    /// Creates a source.
    public init(field: String?, path: String, unit: String = "none", priority: Int? = nil, provider: String? = nil) {
        self.field = field
        self.path = path
        self.unit = unit
        self.priority = priority
        self.provider = provider
    }
}

/// A call of a registered function: `function` with `parameters: {provider, fleeti, static}`.
public struct FunctionCall: Sendable, Hashable {
    /// The function's registered name.
    public var function: String
    /// `parameters.provider`: per provider, the provider fields the function reads.
    public var providerParameters: [String: [String]]
    /// `parameters.fleeti`: canonical fields the function reads (they are computed first).
    public var fleetiParameters: [String]
    /// `parameters.static`: constants.
    public var staticParameters: [String: FieldValue]
    /// The unit of the provider values, for a calculated source (`add_installation_offset_*`).
    public var unit: String?
    /// The priority, for a calculated source of a prioritized mapping.
    public var priority: Int?

    /// Creates a call.
    public init(
        function: String, providerParameters: [String: [String]] = [:], fleetiParameters: [String] = [],
        staticParameters: [String: FieldValue] = [:], unit: String? = nil, priority: Int? = nil
    ) {
        self.function = function
        self.providerParameters = providerParameters
        self.fleetiParameters = fleetiParameters
        self.staticParameters = staticParameters
        self.unit = unit
        self.priority = priority
    }
}

/// The parameters of an `io_mapped` mapping.
public struct IOMapping: Sendable, Hashable {
    /// The Fleeti path of the I/O field used by default, e.g. `inputs.individual.input_1`.
    public var defaultSource: String
    /// The asset fact giving the number, e.g. `asset.installation.ignition_input_number`.
    public var installationMetadata: String

    /// Creates the parameters.
    public init(defaultSource: String, installationMetadata: String) {
        self.defaultSource = defaultSource
        self.installationMetadata = installationMetadata
    }
}
