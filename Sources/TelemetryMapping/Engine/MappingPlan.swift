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
        let fallbackKey: MemoryKey
        /// `<name>_unit`, the companion field's name.
        let unitFieldName: String
        /// The standard rule this calculated step is, evaluated inline (nil: the general path).
        let fast: FastRule?

        init(
            slot: Int, name: String, kind: MappingKind, sources: [Source], call: Call?, io: IO?,
            dataType: MappingDataType,
            errorHandling: ErrorHandling, unitCompanion: Bool, fallbackKey: MemoryKey, fast: FastRule?
        ) {
            self.fast = fast
            self.slot = slot
            self.name = name
            self.kind = kind
            self.sources = sources
            self.call = call
            self.io = io
            self.dataType = dataType
            self.errorHandling = errorHandling
            self.unitCompanion = unitCompanion
            self.fallbackKey = fallbackKey
            self.unitFieldName = name + "_unit"
        }
    }

    /// A standard rule compiled to its inputs' slots (-1: the call names no such field), for
    /// rules every record runs: no context, no closure, no name hashing, no coercion (the
    /// validator fixed the output type). Each computes exactly what its function's body does.
    ///
    /// An operation code and four integer operands (not an enum with payloads): the
    /// evaluation dispatches on one byte and reads its operands directly.
    struct FastRule: Sendable {
        enum Op: UInt8, Sendable {
            /// `derive_*_last_changed_at`: a value slot, b stamp time slot, c memory slot.
            case changedAt
            /// `derive_*_last_updated_at`: `b` value slots from `fastArguments[a]`, c time, d memory.
            case updatedAt
            /// `derive_location_last_changed_at`: a latitude, b longitude, c stamp time, d memory.
            case locationChangedAt
            /// `derive_statuses_<family>_compatible`: a = the family's index in `StatusFamily.allCases`.
            case compatible
            /// a packet time slot.
            case connectivityCode
            /// a compatible slot, b ignition slot.
            case engineCode
            /// a compatible, b ignition, c moving, d speed slots.
            case transitCode
            /// The four family codes from `fastArguments[a]`; b = 1: the code, 0: the family.
            case topStatus
            /// `derive_ongoing_trip_started_at`: a transit code slot, b stamp time slot, c memory.
            case tripStartedAt
            /// `derive_driver_last_changed_at` (c = 0) / `derive_driver_name` (c = 1) when the
            /// record has no driver key (a slot; b memory): the remembered output; a key goes
            /// to the general path.
            case withoutDriverKey
            /// `derive_cardinal_direction` of a numeric heading (a slot).
            case cardinalDirection
            /// `derive_statuses_immobilization_code`: `b` fleeti slots from `fastArguments[a]`.
            case immobilizationCode
            /// `derive_ongoing_trip_mileage` (b = 0) / `_waypoints` (b = 1) without a trip (a
            /// started-at slot): null / an empty array; during a trip the general path runs.
            case withoutTrip
            /// `derive_geofences` when the registry has no geofence (a latitude, b longitude):
            /// an empty array at a valid position; with geofences the general path runs.
            case withoutGeofences
            /// `derive_fuel_levels` as a number, for an asset without registry tanks (one
            /// default tank): its provider fields are `fuelArguments[a..<a+b]`.
            case fuelLevel
            /// A direct or prioritized mapping: its sources are `fastSources[a..<a+b]`.
            case sources
        }

        let op: Op
        // Operands kept as 32-bit: the evaluation loop copies each step's `Core`, and a small
        // one is copied in registers (a large one went through memmove, once per step).
        private let ra: Int32
        private let rb: Int32
        private let rc: Int32
        private let rd: Int32
        var a: Int { Int(ra) }
        var b: Int { Int(rb) }
        var c: Int { Int(rc) }
        var d: Int { Int(rd) }

        init(_ op: Op, _ a: Int, _ b: Int = 0, _ c: Int = 0, _ d: Int = 0) {
            self.op = op
            self.ra = Int32(a)
            self.rb = Int32(b)
            self.rc = Int32(c)
            self.rd = Int32(d)
        }

        static func changedAt(value: Int, time: Int, memory: Int) -> FastRule {
            FastRule(.changedAt, value, time, memory)
        }
        static func updatedAt(first: Int, count: Int, time: Int, memory: Int) -> FastRule {
            FastRule(.updatedAt, first, count, time, memory)
        }
        static func locationChangedAt(latitude: Int, longitude: Int, time: Int, memory: Int) -> FastRule {
            FastRule(.locationChangedAt, latitude, longitude, time, memory)
        }
        static func compatible(_ family: StatusFamily) -> FastRule {
            FastRule(.compatible, StatusFamily.allCases.firstIndex(of: family)!)
        }
        static func connectivityCode(packet: Int) -> FastRule { FastRule(.connectivityCode, packet) }
        static func engineCode(compatible: Int, ignition: Int) -> FastRule {
            FastRule(.engineCode, compatible, ignition)
        }
        static func transitCode(compatible: Int, ignition: Int, moving: Int, speed: Int) -> FastRule {
            FastRule(.transitCode, compatible, ignition, moving, speed)
        }
        static func topStatus(first: Int, code: Bool, memory: Int) -> FastRule { FastRule(.topStatus, first, code ? 1 : 0, memory) }
        static func tripStartedAt(code: Int, time: Int, memory: Int) -> FastRule {
            FastRule(.tripStartedAt, code, time, memory)
        }
        static func withoutDriverKey(key: Int, memory: Int, name: Bool) -> FastRule {
            FastRule(.withoutDriverKey, key, memory, name ? 1 : 0)
        }
        static func cardinalDirection(heading: Int) -> FastRule { FastRule(.cardinalDirection, heading) }
        static func immobilizationCode(first: Int, count: Int) -> FastRule {
            FastRule(.immobilizationCode, first, count)
        }
        static func withoutTrip(startedAt: Int, waypoints: Bool) -> FastRule {
            FastRule(.withoutTrip, startedAt, waypoints ? 1 : 0)
        }
        static func withoutGeofences(latitude: Int, longitude: Int) -> FastRule {
            FastRule(.withoutGeofences, latitude, longitude)
        }
        static func fuelLevel(first: Int, count: Int) -> FastRule { FastRule(.fuelLevel, first, count) }
        static func sources(first: Int, count: Int) -> FastRule { FastRule(.sources, first, count) }
    }

    /// A provider field of `derive_fuel_levels`: its slots and how it reads (nil: not a fuel field).
    struct FuelArgument: Sendable {
        let slot: Int
        let alternate: Int
        let reading: StandardFunctions.FuelReading?
        let scale: Double
    }

    /// A source of a direct or prioritized mapping in the inline form: trivial fields only, so
    /// reading one retains nothing.
    struct FastSource: Sendable {
        enum Kind: Sendable {
            /// A provider field in `slot` (else `alternate`, -1 for none); `messageTime`: the
            /// record's time stands in when it is absent.
            case field(slot: Int, alternate: Int, messageTime: Bool)
            /// A call that returns null without inputs: skipped when the record has none of
            /// `fastArguments[first..<first+fleeti]` (computed values) and of the next
            /// `provider` (provider slots); with one, the general path evaluates the mapping.
            case skippableCall(first: Int, fleeti: Int, provider: Int)
            /// Anything else: the general path evaluates the mapping when it is reached.
            case general
        }

        let kind: Kind
        let conversion: UnitConversion
    }

    /// What the evaluation loop reads of every step: trivial fields only, so reading one
    /// retains nothing (the `Step` object is read only on the general path).
    struct Core: Sendable {
        private let slot32: Int32
        /// The memory slot of `<name>#fallback` for `use_fallback`, else -1.
        private let fallback32: Int32
        let fast: FastRule?
        let dataType: MappingDataType
        let errorHandling: ErrorHandling
        let unitCompanion: Bool
        var slot: Int { Int(slot32) }
        var fallbackMemory: Int { Int(fallback32) }

        init(
            slot: Int, fast: FastRule?, dataType: MappingDataType, errorHandling: ErrorHandling, unitCompanion: Bool,
            fallbackMemory: Int
        ) {
            self.slot32 = Int32(slot)
            self.fallback32 = Int32(fallbackMemory)
            self.fast = fast
            self.dataType = dataType
            self.errorHandling = errorHandling
            self.unitCompanion = unitCompanion
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
        /// The call's index in the plan (its argument buffers in an evaluation).
        let index: Int
        let fleetiSlots: [Int]
        /// Every provider slot of `providerCandidates`, for `hasInput`.
        let providerInputSlots: [Int]
        /// Per provider parameter, the provider slots of its possible names.
        let providerCandidates: [[Int]]
        let info: MappingCallInfo
        /// `source NAME: `, the start of a failure message when the call is a source of a
        /// prioritized mapping (built once, not per record).
        let sourcePrefix: String

        init(
            name: String, function: MappingFunction?, index: Int, fleetiSlots: [Int], providerCandidates: [[Int]],
            info: MappingCallInfo
        ) {
            self.name = name
            self.index = index
            self.providerInputSlots = providerCandidates.flatMap { $0 }
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
    /// Per step (same order): its trivial parts, and its field name.
    let cores: [Core]
    let stepNames: [String]
    let slotCount: Int
    /// The memory keys of the stateful rules and fallbacks, by slot (`VehicleMappingState.memory`).
    let memoryLayout: MemorySlotLayout
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
    /// Argument slots of fast rules with several (`FastRule.updatedAt`, `.topStatus`).
    let fastArguments: [Int]
    /// The sources of `FastRule.sources`.
    let fastSources: [FastSource]
    /// The fields of `FastRule.fuelLevel`.
    let fuelArguments: [FuelArgument]
    /// How many calls the plan has (`Call.index` runs from 0 to this).
    let callCount: Int
    /// Every name a step can store a value under (its field, its `<name>_unit`), for passthrough.
    let outputNames: FieldNameTable

    /// - Parameter inline: compile the inline forms (`FastRule`); false only to check them
    ///   against the general path (BatchAndFastRuleTests).
    init(mapping: ValidatedMapping, catalog: FieldCatalog, functions: MappingFunctionRegistry, inline: Bool = true) {
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
        // The memory keys: a stateful rule keeps its memory under its field name, a
        // `use_fallback` field its last value under `<name>#fallback`.
        var memoryNames: [String] = []
        var memorySlotByName: [String: Int] = [:]
        func addMemory(_ key: String) {
            if memorySlotByName[key] == nil {
                memorySlotByName[key] = memoryNames.count
                memoryNames.append(key)
            }
        }
        for slot in mapping.evaluationOrder {
            let m = file.mappings[slot]
            let calls = (m.call.map { [$0] } ?? [])
                + m.sources.compactMap { s -> FunctionCall? in
                    if case .calculated(let c) = s { return c }
                    return nil
                }
            if calls.contains(where: { functions.function(named: $0.function)?.isStateful == true }) {
                addMemory(names[slot])
            }
            if m.errorHandling == .useFallback { addMemory(names[slot] + "#fallback") }
        }
        let layout = MemorySlotLayout(names: memoryNames)
        func memoryKey(_ key: String) -> MemoryKey {
            memorySlotByName[key].map { layout.key($0) } ?? MemoryKey(name: key)
        }

        var callCount = 0
        func compile(_ call: FunctionCall, target: MeasurementUnit, field: String, dataType: MappingDataType) -> Call {
            let providerNames = call.providerParameters[file.provider] ?? []
            let providerCandidates = providerNames.map { slots(candidates(parameter: $0)) }
            callCount += 1
            return Call(
                name: call.function, function: functions.function(named: call.function), index: callCount - 1,
                fleetiSlots: call.fleetiParameters.compactMap { slotByName[$0] },
                providerCandidates: providerCandidates,
                info: MappingCallInfo(
                    field: field, providerNames: providerNames, staticParameters: call.staticParameters,
                    targetUnit: target,
                    sourceUnit: call.unit.flatMap(MeasurementUnit.named), dataType: dataType,
                    memoryKey: memoryKey(field)))
        }

        var fastArguments: [Int] = []
        /// The inline form of a calculated step's standard function, when it has one.
        func fastRule(_ call: Call?, function: MappingFunction?, field: String, dataType: MappingDataType) -> FastRule? {
            guard let call, let kind = function?.fastKind else { return nil }
            let s = call.fleetiSlots
            func at(_ i: Int) -> Int { i < s.count ? s[i] : -1 }
            switch kind {
            case .changedAt:
                guard dataType == .datetime, let memory = memorySlotByName[field] else { return nil }
                return .changedAt(value: at(0), time: s.count >= 2 ? s[s.count - 1] : -1, memory: memory)
            case .updatedAt:
                guard dataType == .datetime, let memory = memorySlotByName[field], !s.isEmpty else { return nil }
                let inputs = s.count >= 2 ? Array(s.dropLast()) : s
                fastArguments += inputs
                return .updatedAt(
                    first: fastArguments.count - inputs.count, count: inputs.count,
                    time: s.count >= 2 ? s[s.count - 1] : -1, memory: memory)
            case .locationChangedAt:
                guard dataType == .datetime, let memory = memorySlotByName[field] else { return nil }
                return .locationChangedAt(latitude: at(0), longitude: at(1), time: s.count >= 3 ? s[2] : -1, memory: memory)
            case .compatible(let family):
                return dataType == .boolean ? .compatible(family) : nil
            case .connectivityCode:
                return dataType == .string ? .connectivityCode(packet: at(0)) : nil
            case .engineCode:
                guard dataType == .string, !s.isEmpty else { return nil }
                return .engineCode(compatible: s.count >= 2 ? s[0] : -1, ignition: s[s.count - 1])
            case .transitCode:
                return dataType == .string ? .transitCode(compatible: at(0), ignition: at(1), moving: at(2), speed: at(3)) : nil
            case .tripStartedAt:
                guard dataType == .datetime, let memory = memorySlotByName[field] else { return nil }
                return .tripStartedAt(code: at(0), time: s.count >= 2 ? s[s.count - 1] : -1, memory: memory)
            case .driverChangedAt, .driverName:
                guard dataType == (kind == .driverName ? .string : .datetime), let memory = memorySlotByName[field]
                else { return nil }
                return .withoutDriverKey(key: at(0), memory: memory, name: kind == .driverName)
            case .cardinalDirection:
                return dataType == .string && s.count == 1 ? .cardinalDirection(heading: s[0]) : nil
            case .immobilizationCode:
                guard dataType == .string, !s.isEmpty else { return nil }
                fastArguments += s
                return .immobilizationCode(first: fastArguments.count - s.count, count: s.count)
            case .tripMileage:
                return dataType == .number && s.count == 2 ? .withoutTrip(startedAt: s[0], waypoints: false) : nil
            case .tripWaypoints:
                return dataType == .array && s.count == 3 ? .withoutTrip(startedAt: s[0], waypoints: true) : nil
            case .geofences:
                return dataType == .array && s.count == 2 ? .withoutGeofences(latitude: s[0], longitude: s[1]) : nil
            case .fuelLevels:
                let names = call.info.providerNames
                guard dataType == .number, call.fleetiSlots.isEmpty, names.count == call.providerCandidates.count,
                    call.providerCandidates.allSatisfy({ (1...2).contains($0.count) })
                else { return nil }
                let first = fuelArguments.count
                for (name, slots) in zip(names, call.providerCandidates) {
                    let info = StandardFunctions.fuelFields[name]
                    fuelArguments.append(
                        FuelArgument(
                            slot: slots[0], alternate: slots.count == 2 ? slots[1] : -1, reading: info?.kind,
                            scale: info?.scale ?? 1))
                }
                return .fuelLevel(first: first, count: names.count)
            case .topStatusFamily, .topStatusCode:
                guard dataType == .string, s.count == 4, let memory = memorySlotByName[field] else { return nil }
                fastArguments += s
                return .topStatus(first: fastArguments.count - 4, code: kind == .topStatusCode, memory: memory)
            }
        }

        var fastSources: [FastSource] = []
        var fuelArguments: [FuelArgument] = []
        /// The inline form of a direct or prioritized mapping's sources (sources of another
        /// provider are never read: the engine maps only its provider's records).
        func fastSourceRule(_ m: FieldMapping, _ compiled: [Source]) -> FastRule? {
            let first = fastSources.count
            for (definition, source) in zip(m.sources, compiled) {
                switch source {
                case .field(let f):
                    if let p = f.provider, p != file.provider { continue }
                    guard f.slots.count <= 2, let slot = f.slots.first else { return nil }
                    fastSources.append(
                        FastSource(
                            kind: .field(
                                slot: slot, alternate: f.slots.count == 2 ? f.slots[1] : -1,
                                messageTime: f.isMessageTime),
                            conversion: f.conversion))
                case .function(let call):
                    guard call.isNullWithoutInputs, call.body != nil, case .calculated = definition else {
                        fastSources.append(FastSource(kind: .general, conversion: .identity))
                        continue
                    }
                    fastArguments += call.fleetiSlots + call.providerInputSlots
                    fastSources.append(
                        FastSource(
                            kind: .skippableCall(
                                first: fastArguments.count - call.fleetiSlots.count - call.providerInputSlots.count,
                                fleeti: call.fleetiSlots.count, provider: call.providerInputSlots.count),
                            conversion: .identity))
                }
            }
            return .sources(first: first, count: fastSources.count - first)
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
            func stepRule(
                for m: FieldMapping, name: String, call: Call?, sources: [Source], unitCompanion: Bool
            ) -> FastRule? {
                switch m.kind {
                case .calculated:
                    return fastRule(
                        call, function: m.call.flatMap { functions.function(named: $0.function) }, field: name,
                        dataType: m.dataType)
                case .direct, .prioritized:
                    // A conditional unit is stored from the source: the general path keeps it.
                    return unitCompanion ? nil : fastSourceRule(m, sources)
                case .ioMapped, .transformed:
                    return nil
                }
            }
            steps.append(
                Step(
                    slot: slot, name: name, kind: m.kind, sources: sources, call: call, io: io, dataType: m.dataType,
                    errorHandling: m.errorHandling, unitCompanion: conditional,
                    fallbackKey: memoryKey(name + "#fallback"),
                    fast: inline
                        ? stepRule(for: m, name: name, call: call, sources: sources, unitCompanion: conditional) : nil))
        }
        self.steps = steps
        self.cores = steps.map { step in
            Core(
                slot: step.slot, fast: step.fast, dataType: step.dataType, errorHandling: step.errorHandling,
                unitCompanion: step.unitCompanion,
                fallbackMemory: step.errorHandling == .useFallback ? step.fallbackKey.slot : -1)
        }
        self.stepNames = steps.map(\.name)
        self.slotCount = file.mappings.count
        self.memoryLayout = layout
        self.fastArguments = fastArguments
        self.fastSources = fastSources
        self.fuelArguments = fuelArguments
        self.passthrough = file.passthrough
        self.providerSlots = FieldNameTable(providerSlots)
        self.versionText = file.version.description
        self.provider = file.provider
        self.lastUpdatedSlot = slotByName["last_updated_at"]
        self.canFailRecord = steps.contains { $0.errorHandling == .failRecord }
        self.sweepFields = sweep
        self.callCount = callCount
        var outputNames: [String: Int] = [:]
        for step in steps {
            outputNames[step.name] = outputNames.count
            if step.unitCompanion { outputNames[step.unitFieldName] = outputNames.count }
        }
        self.outputNames = FieldNameTable(outputNames)
    }
}
