import TelemetryCore

/// The functions mapping files may call, by name.
///
/// `standard` holds every function the Fleeti Navixy mappings 1.0.1 to 1.0.6 name
/// (docs/mapping.md lists them with their semantics). A registry is a value: add functions
/// with `register(_:)` before building engines.
public struct MappingFunctionRegistry: Sendable {
    private var functions: [String: MappingFunction]

    /// An empty registry.
    public init() {
        functions = [:]
    }

    /// The standard functions.
    public static let standard: MappingFunctionRegistry = {
        var r = MappingFunctionRegistry()
        for f in StandardFunctions.basic + StandardFunctions.status + StandardFunctions.timestamps
            + StandardFunctions.sensors + StandardFunctions.tripAndDriver
        {
            r.register(f)
        }
        return r
    }()

    /// Adds or replaces a function.
    public mutating func register(_ function: MappingFunction) {
        functions[function.name] = function
    }

    /// The function with this name.
    ///
    /// A name following the Fleeti timestamp patterns that no function claims gets the generic
    /// rule: `derive_<x>_last_changed_at` the change time of its first parameter,
    /// `derive_<x>_last_updated_at` the freshness time (SPEC "timestamp patterns"), so new
    /// mapping versions that add such fields load without a code change.
    public func function(named name: String) -> MappingFunction? {
        if let f = functions[name] { return f }
        guard name.hasPrefix("derive_"), name.count > "derive__last_changed_at".count else { return nil }
        if name.hasSuffix("_last_changed_at") { return StandardFunctions.changedAt(name: name) }
        if name.hasSuffix("_last_updated_at") { return StandardFunctions.updatedAt(name: name) }
        return nil
    }

    /// Every registered name, sorted.
    public var names: [String] { functions.keys.sorted() }
}

/// Helpers shared by the standard functions.
enum StandardFunctions {
    /// The time a timestamp rule stamps: its last fleeti parameter when that is a datetime
    /// (`last_updated_at`), else the record's time.
    static func stampTime(_ ctx: MappingFunctionContext) -> Int64 {
        if ctx.fleeti.count >= 2, let t = ctx.fleeti[ctx.fleeti.count - 1].asInt64 { return t }
        return ctx.recordTime
    }

    /// `last_changed_at`: the stamp time when `value` differs from the remembered one, else the
    /// remembered time. A null value is no information: the previous time is returned and
    /// nothing is remembered.
    static func lastChangedAt(
        _ ctx: MappingFunctionContext, _ state: inout VehicleMappingState, value: FieldValue, time: Int64
    ) -> FieldValue {
        let previous = state[memory: ctx.memoryKey]
        if value.isNull { return previous?.output ?? .null }
        if let previous, previous.input.isIdentical(to: value) { return previous.output }
        state[memory: ctx.memoryKey] = FieldMemory(input: value, output: .int(time))
        return .int(time)
    }

    /// `last_updated_at`: the stamp time when a value is present, else the remembered time.
    static func lastUpdatedAt(
        _ ctx: MappingFunctionContext, _ state: inout VehicleMappingState, present: Bool, time: Int64
    ) -> FieldValue {
        if present {
            state[memory: ctx.memoryKey] = FieldMemory(input: .null, output: .int(time))
            return .int(time)
        }
        return state[memory: ctx.memoryKey]?.output ?? .null
    }

    /// A boolean input: bools, 0/1 numbers; nil when absent or not boolean-like.
    static func bool(_ v: FieldValue) -> Bool? { v.asBool }

    /// The trailing number of a field name (`inputs_individual_input_3` -> 3).
    static func trailingNumber(_ name: String) -> Int? {
        let digits = name.reversed().prefix(while: { $0.isASCII && $0.isNumber })
        guard !digits.isEmpty, digits.count < name.count else { return nil }
        return Int(String(digits.reversed()))
    }
}
