import TelemetryCore

/// A validated mapping compiled for evaluation: steps in dependency order, provider field
/// names resolved to the names records may carry, unit conversions precomputed.
final class MappingPlan: Sendable {
    // Steps, sources and calls are classes: evaluation walks them for every record, and a
    // reference costs one retain where a struct copy retains every array and string inside.
    final class Step: Sendable {
        /// The slot of this mapping's value (its index in the file).
        let slot: Int
        /// The canonical field name stored.
        let name: String
        let kind: MappingKind
        let sources: [Source]
        let call: Call?
        let io: IO?
        let dataType: MappingDataType
        let errorHandling: ErrorHandling
        /// Store the function's unit beside the value (`<name>_unit`): the target unit is conditional.
        let unitCompanion: Bool
        /// `<name>#fallback`, the state key of the last known value (`use_fallback`).
        let fallbackKey: String
        /// `<name>_unit`, the companion field's name.
        let unitFieldName: String

        init(
            slot: Int, name: String, kind: MappingKind, sources: [Source], call: Call?, io: IO?,
            dataType: MappingDataType,
            errorHandling: ErrorHandling, unitCompanion: Bool
        ) {
            self.slot = slot
            self.name = name
            self.kind = kind
            self.sources = sources
            self.call = call
            self.io = io
            self.dataType = dataType
            self.errorHandling = errorHandling
            self.unitCompanion = unitCompanion
            self.fallbackKey = name + "#fallback"
            self.unitFieldName = name + "_unit"
        }
    }

    enum Source: Sendable {
        case field(FieldSourcePlan)
        case function(Call)
    }

    /// A provider field: the provider slots of the names it may have in a record (in
    /// preference order), and its conversion to the target unit.
    final class FieldSourcePlan: Sendable {
        let label: String
        let slots: [Int]
        let isMessageTime: Bool
        let provider: String?
        let conversion: UnitConversion
        let unit: String?

        init(
            label: String, slots: [Int], isMessageTime: Bool, provider: String?, conversion: UnitConversion,
            unit: String?
        ) {
            self.label = label
            self.slots = slots
            self.isMessageTime = isMessageTime
            self.provider = provider
            self.conversion = conversion
            self.unit = unit
        }
    }

    final class Call: Sendable {
        typealias Body =
            @Sendable (MappingFunctionContext, inout VehicleMappingState) throws(MappingFunctionError) ->
            MappingFunctionOutput

        let name: String
        /// The function's body, nil when the function is not registered. Kept alone (not the
        /// whole `MappingFunction`) so a call costs one closure, not a struct of sets and closures.
        let body: Body?
        /// The function returns null when every argument is null (`isNullWithoutInputs`).
        let isNullWithoutInputs: Bool
        let fleetiSlots: [Int]
        /// Per provider parameter, the provider slots of its possible names.
        let providerCandidates: [[Int]]
        let info: MappingCallInfo
        /// `source NAME: `, the start of a failure message when the call is a source of a
        /// prioritized mapping (built once, not per record).
        let sourcePrefix: String

        init(
            name: String, function: MappingFunction?, fleetiSlots: [Int], providerCandidates: [[Int]],
            info: MappingCallInfo
        ) {
            self.name = name
            self.body = function?.body
            self.isNullWithoutInputs = function?.isNullWithoutInputs ?? false
            self.fleetiSlots = fleetiSlots
            self.providerCandidates = providerCandidates
            self.info = info
            self.sourcePrefix = "source \(name): "
        }
    }

    struct IO: Sendable {
        /// `ignition_input_number`, `immobilizer_output_number`, ...
        let fact: String
        let defaultNumber: Int
        let slots: [Int: Int]
    }

    /// Field names the connectivity sweep writes, when the mapping has those rules.
    struct SweepFields: Sendable {
        var connectivityCode: String?
        var connectivityChanged: String?
        var topFamily: String?
        var topCode: String?
        var topChanged: String?
    }

    let steps: [Step]
    let slotCount: Int
    let passthrough: Bool
    /// Every provider field name the plan reads, to its provider slot: a record's fields are
    /// placed in slots once, and sources read slots, so evaluation hashes each record field
    /// once instead of each candidate name of each source.
    let providerSlots: FieldNameTable
    /// The mapping version as text (stored with every record).
    let versionText: String
    /// The provider whose records the plan maps.
    let provider: String
    /// The slot of `last_updated_at`, whose value is the packet time.
    let lastUpdatedSlot: Int?
    let canFailRecord: Bool
    let sweepFields: SweepFields
    /// The most fleeti and provider arguments of any call (the evaluation's buffers hold them).
    let maxFleetiArguments: Int
    let maxProviderArguments: Int

    init(mapping: ValidatedMapping, catalog: FieldCatalog, functions: MappingFunctionRegistry) {
        let file = mapping.file
        let names = mapping.fieldNames
        var slotByName: [String: Int] = [:]
        for (i, m) in file.mappings.enumerated() {
            slotByName[names[i]] = slotByName[names[i]] ?? i
            slotByName[m.key] = slotByName[m.key] ?? i
        }
        var providerSlots: [String: Int] = [:]
        func slots(_ names: [String]) -> [Int] {
            names.map { name in
                if let s = providerSlots[name] { return s }
                providerSlots[name] = providerSlots.count
                return providerSlots.count - 1
            }
        }

        func candidates(path: String) -> [String] {
            // `params.can_speed` matches a record field named `params.can_speed` or `can_speed`.
            if path.hasPrefix("params.") { return [path, String(path.dropFirst("params.".count))] }
            return [path]
        }
        func candidates(parameter name: String) -> [String] {
            // A function parameter names the field (`avl_io_83`, `inputs`): plain or under `params.`.
            if name.hasPrefix("params.") { return candidates(path: name) }
            return [name, "params." + name]
        }
        func compile(_ call: FunctionCall, target: MeasurementUnit, field: String, dataType: MappingDataType) -> Call {
            let providerNames = call.providerParameters[file.provider] ?? []
            let providerCandidates = providerNames.map { slots(candidates(parameter: $0)) }
            return Call(
                name: call.function, function: functions.function(named: call.function),
                fleetiSlots: call.fleetiParameters.compactMap { slotByName[$0] },
                providerCandidates: providerCandidates,
                info: MappingCallInfo(
                    field: field, providerNames: providerNames, staticParameters: call.staticParameters,
                    targetUnit: target,
                    sourceUnit: call.unit.flatMap(MeasurementUnit.named), dataType: dataType))
        }

        var steps: [Step] = []
        var sweep = SweepFields()
        for slot in mapping.evaluationOrder {
            let m = file.mappings[slot]
            let name = names[slot]
            let target = MeasurementUnit.named(m.unit) ?? .none
            var sources: [Source] = []
            var call: Call?
            var io: IO?
            switch m.kind {
            case .direct, .prioritized:
                for (n, s) in m.sources.enumerated() {
                    switch s {
                    case .field(let f):
                        let names = candidates(path: f.path)
                        let unit = MeasurementUnit.named(f.unit) ?? .none
                        sources.append(
                            .field(
                                FieldSourcePlan(
                                    label: "source \(n + 1) (\(f.path))", slots: slots(names),
                                    isMessageTime: names.first == "msg_time",
                                    provider: f.provider,
                                    conversion: MeasurementUnit.conversion(from: unit, to: target) ?? .identity,
                                    unit: unit.isNone ? nil : unit.name)))
                    case .calculated(let c):
                        sources.append(.function(compile(c, target: target, field: name, dataType: m.dataType)))
                    }
                }
            case .calculated:
                if let c = m.call { call = compile(c, target: target, field: name, dataType: m.dataType) }
            case .ioMapped:
                if let spec = m.ioMapping, let family = IOFamily(defaultSource: spec.defaultSource) {
                    let members = family.members(
                        in: file.mappings.indices.map { (catalog.entry(named: names[$0])?.path, $0) })
                    io = IO(
                        fact: String(spec.installationMetadata.split(separator: ".").last ?? ""),
                        defaultNumber: family.defaultNumber, slots: members)
                }
            case .transformed:
                break
            }
            switch call?.name {
            case "derive_statuses_connectivity_code": sweep.connectivityCode = name
            case "derive_statuses_connectivity_last_changed_at": sweep.connectivityChanged = name
            case "derive_top_status_family": sweep.topFamily = name
            case "derive_top_status_code": sweep.topCode = name
            case "derive_top_status_last_changed_at": sweep.topChanged = name
            default: break
            }
            let conditional = ["conditionnal", "conditional"].contains(m.unit)
            steps.append(
                Step(
                    slot: slot, name: name, kind: m.kind, sources: sources, call: call, io: io, dataType: m.dataType,
                    errorHandling: m.errorHandling, unitCompanion: conditional))
        }
        self.steps = steps
        self.slotCount = file.mappings.count
        self.passthrough = file.passthrough
        self.providerSlots = FieldNameTable(providerSlots)
        self.versionText = file.version.description
        self.provider = file.provider
        self.lastUpdatedSlot = slotByName["last_updated_at"]
        self.canFailRecord = steps.contains { $0.errorHandling == .failRecord }
        self.sweepFields = sweep
        let calls = steps.flatMap { step in
            (step.call.map { [$0] } ?? [])
                + step.sources.compactMap { source -> Call? in
                    if case .function(let c) = source { return c }
                    return nil
                }
        }
        self.maxFleetiArguments = calls.map(\.fleetiSlots.count).max() ?? 0
        self.maxProviderArguments = calls.map(\.providerCandidates.count).max() ?? 0
    }
}
