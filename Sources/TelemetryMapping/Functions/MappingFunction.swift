public import TelemetryCore

/// A named function a `calculated` mapping (or a calculated source) calls.
///
/// The registry checks calls before activation: the function must exist, take as many
/// `parameters.fleeti` and `parameters.provider` fields as given, and return the mapping's
/// `data_type`.
public struct MappingFunction: Sendable {
    /// The name mapping files use (e.g. `derive_cardinal_direction`).
    public let name: String
    /// The data types the function can produce; the mapping's `data_type` must be one of them.
    public let outputTypes: Set<MappingDataType>
    /// How many `parameters.fleeti` fields the function takes.
    public let fleetiParameters: ClosedRange<Int>
    /// How many `parameters.provider` fields (for the file's provider) the function takes.
    public let providerParameters: ClosedRange<Int>
    /// True when the function keeps state between records (it reads or writes the vehicle's
    /// `VehicleMappingState`).
    public let isStateful: Bool
    /// True when the function returns null, and leaves the state alone, whenever every
    /// argument (fleeti and provider) is null. The engine then skips the call for a record
    /// that carries none of its inputs (most of a Navixy mapping's sources are absent from any
    /// one packet). Set only on standard functions whose body guarantees it (FastPathTests).
    var isNullWithoutInputs = false
    /// The standard rule this function is, when the engine evaluates it without calling
    /// `body` (`MappingPlan.FastRule`): set only on the standard functions, so a function an
    /// operator registers under the same name runs its own body.
    var fastKind: FastKind?
    /// Extra validation of a call (e.g. a required static parameter): returns a problem, or nil.
    /// The second argument is the canonical name of the field being computed.
    public let check: (@Sendable (FunctionCall, String) -> String?)?
    let body:
        @Sendable (MappingFunctionContext, inout VehicleMappingState) throws(MappingFunctionError) ->
            MappingFunctionOutput

    /// Creates a function.
    /// - Parameters:
    ///   - name: the name mapping files use.
    ///   - outputTypes: the data types it can produce.
    ///   - fleetiParameters: how many `parameters.fleeti` fields it takes.
    ///   - providerParameters: how many `parameters.provider` fields it takes.
    ///   - isStateful: whether it uses the vehicle state.
    ///   - check: extra validation of a call, returning a problem or nil.
    ///   - body: computes the value; throws `MappingFunctionError` when the inputs are unusable.
    public init(
        name: String, outputTypes: Set<MappingDataType>, fleetiParameters: ClosedRange<Int> = 0...0,
        providerParameters: ClosedRange<Int> = 0...0, isStateful: Bool = false,
        check: (@Sendable (FunctionCall, String) -> String?)? = nil,
        body:
            @escaping @Sendable (MappingFunctionContext, inout VehicleMappingState) throws(MappingFunctionError) ->
            MappingFunctionOutput
    ) {
        self.name = name
        self.outputTypes = outputTypes
        self.fleetiParameters = fleetiParameters
        self.providerParameters = providerParameters
        self.isStateful = isStateful
        self.check = check
        self.body = body
    }
}

/// The standard rules the engine evaluates inline (`MappingPlan.FastRule`).
enum FastKind: Sendable, Hashable {
    case changedAt
    case updatedAt
    case locationChangedAt
    case compatible(StatusFamily)
    case connectivityCode
    case engineCode
    case transitCode
    case topStatusFamily
    case topStatusCode
    case tripStartedAt
    case driverChangedAt
    case driverName
    case cardinalDirection
    case immobilizationCode
    case tripMileage
    case tripWaypoints
    case geofences
    case fuelLevels
}

extension MappingFunction {
    /// This function, marked as evaluated inline by the engine as `kind`.
    func fast(_ kind: FastKind) -> MappingFunction {
        var f = self
        f.fastKind = kind
        return f
    }

    /// This function, marked as returning null without touching the state when every
    /// argument is null (`isNullWithoutInputs`).
    func nullWithoutInputs() -> MappingFunction {
        var f = self
        f.isNullWithoutInputs = true
        return f
    }
}

/// A function's result: a value, and for mappings whose unit is conditional, its unit.
public struct MappingFunctionOutput: Sendable, Hashable {
    /// The value (`.null` for none).
    public var value: FieldValue
    /// The unit of `value` when the mapping's unit is `conditionnal` (e.g. `l` or `%` for fuel);
    /// stored beside the value as `<field>_unit`.
    public var unit: String?

    /// Creates an output.
    public init(_ value: FieldValue, unit: String? = nil) {
        self.value = value
        self.unit = unit
    }

    /// No value (the field is null; not an error).
    public static let null = MappingFunctionOutput(.null)
}

/// Why a function could not compute its value (the field then follows its `error_handling`).
public struct MappingFunctionError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Why the inputs are unusable, naming the value.
    public var message: String

    /// Creates an error.
    public init(_ message: String) {
        self.message = message
    }

    /// The message.
    public var description: String { message }
}

/// What a function sees when it runs for one record.
public struct MappingFunctionContext {
    /// The values of `parameters.fleeti`, in order (already computed, typed per their `data_type`).
    public let fleeti: [FieldValue]
    /// The values of `parameters.provider` for the record's provider, in order (`.null` when absent).
    public let provider: [FieldValue]
    /// What the call site fixes (compiled once per mapping).
    let call: MappingCallInfo
    /// What every function of one record shares (one allocation per record, not per call).
    let record: MappingRecordEnvironment

    /// The canonical name of the field being computed (also the key of its `FieldMemory`).
    public var field: String { call.field }
    /// Where the field's `FieldMemory` is kept (`state[memory:]`).
    var memoryKey: MemoryKey { call.memoryKey }
    /// The names of the provider fields, parallel to `provider`.
    public var providerNames: [String] { call.providerNames }
    /// `parameters.static`.
    public var staticParameters: [String: FieldValue] { call.staticParameters }
    /// The mapping's target unit.
    public var targetUnit: MeasurementUnit { call.targetUnit }
    /// The unit of the provider values, when a calculated source states one.
    public var sourceUnit: MeasurementUnit? { call.sourceUnit }
    /// The mapping's `data_type`.
    public var dataType: MappingDataType { call.dataType }

    /// The record's vehicle.
    public var vehicle: VehicleID { record.vehicle }
    /// The vehicle's asset facts.
    public var asset: AssetFacts { record.asset }
    /// The whole registry (driver catalog, geofences).
    public var assets: AssetRegistry { record.assets }
    /// The record's time (device time), ms.
    public var recordTime: Int64 { record.recordTime }
    /// The time the store received the record (or the sweep's time), ms: "now" for the rules.
    public var now: Int64 { record.now }
    /// Engine options (thresholds).
    public var options: MappingEngine.Options { record.options }

    /// A fleeti parameter by position, `.null` when absent.
    public func fleeti(_ i: Int) -> FieldValue { i < fleeti.count ? fleeti[i] : .null }

    /// A static parameter.
    public func staticParameter(_ name: String) -> FieldValue? { staticParameters[name] }
}

/// The facts of one call site, fixed when the mapping is compiled.
final class MappingCallInfo: Sendable {
    let field: String
    let providerNames: [String]
    let staticParameters: [String: FieldValue]
    let targetUnit: MeasurementUnit
    let sourceUnit: MeasurementUnit?
    let dataType: MappingDataType
    /// `extract_bit_from_bitmask`'s bit: `static.bit_position`, else the field name's trailing
    /// number minus one; resolved here once instead of a dictionary lookup per record.
    let bitPosition: Int64
    /// The memory of the field (its plan slot, when compiled in a plan).
    let memoryKey: MemoryKey

    init(
        field: String, providerNames: [String], staticParameters: [String: FieldValue], targetUnit: MeasurementUnit,
        sourceUnit: MeasurementUnit?, dataType: MappingDataType, memoryKey: MemoryKey? = nil
    ) {
        self.field = field
        self.memoryKey = memoryKey ?? MemoryKey(name: field)
        self.providerNames = providerNames
        self.staticParameters = staticParameters
        self.targetUnit = targetUnit
        self.sourceUnit = sourceUnit
        self.dataType = dataType
        self.bitPosition =
            staticParameters["bit_position"]?.asInt64 ?? Int64((StandardFunctions.trailingNumber(field) ?? 1) - 1)
    }
}

/// The per-record facts shared by every function call of one record.
final class MappingRecordEnvironment: Sendable {
    let vehicle: VehicleID
    let asset: AssetFacts
    let assets: AssetRegistry
    let recordTime: Int64
    let now: Int64
    let options: MappingEngine.Options

    init(
        vehicle: VehicleID, asset: AssetFacts, assets: AssetRegistry, recordTime: Int64, now: Int64,
        options: MappingEngine.Options
    ) {
        self.vehicle = vehicle
        self.asset = asset
        self.assets = assets
        self.recordTime = recordTime
        self.now = now
        self.options = options
    }
}
