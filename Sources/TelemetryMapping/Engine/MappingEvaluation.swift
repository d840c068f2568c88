import TelemetryCore

/// The evaluation of records by one engine, with buffers reused from record to record.
///
/// `map(_:state:receivedAt:)` of the engine evaluates one record with a fresh evaluation; a
/// `MappingSet.Batch` keeps one per engine for a whole batch, so the per-record arrays
/// (provider values, computed values, function arguments) are allocated once per batch.
struct MappingEvaluation {
    // Only what evaluation reads is kept: the engine is one reference.
    let engine: MappingEngine
    let plan: MappingPlan
    let emitNullFields: Bool
    /// The record being evaluated (set by `begin`).
    var record: ProviderRecord
    var receivedAt: Int64 = 0
    /// The vehicle whose asset facts `asset` holds (facts are looked up once per vehicle run).
    var assetVehicle: VehicleID?
    var asset: AssetFacts
    /// What the function calls of the record share, built at the first call that needs it.
    var environmentCache: MappingRecordEnvironment?
    /// The record's values by provider slot (the last one wins when a name repeats).
    var provided: [FieldValue]
    /// The field names of the previous record, by position, and their provider slots (-1: none).
    var fieldNames: [String] = []
    var fieldSlots: [Int] = []
    /// The provider slots the current record filled (reset to null after it).
    var filled: [Int] = []
    /// Whether each record field fills a slot (passthrough copies the others).
    var consumed: [Bool] = []
    /// Computed values by slot (file index).
    var values: [FieldValue]
    var output: [Field] = []
    var outputCapacity = 16
    var errors: [FieldMappingError] = []
    /// Argument buffers of each call (by `Call.index`), sized at first use: a call's context holds
    /// them only while the function runs, so they are uniquely referenced again at the next
    /// record and refilling them is a store per argument.
    var fleetiArguments: [[FieldValue]]
    var providerArguments: [[FieldValue]]

    /// An evaluation ready to run its first record (`begin` places the next ones).
    init(engine: MappingEngine, record: ProviderRecord, receivedAt: Int64) {
        self.engine = engine
        self.plan = engine.plan
        self.emitNullFields = engine.options.emitNullFields
        self.record = record
        self.asset = engine.assets.facts(for: record.vehicle)
        self.assetVehicle = record.vehicle
        self.provided = [FieldValue](repeating: .null, count: plan.providerSlots.count)
        self.values = Array(repeating: .null, count: plan.slotCount)
        self.fleetiArguments = Array(repeating: [], count: plan.callCount)
        self.providerArguments = Array(repeating: [], count: plan.callCount)
        begin(record, receivedAt: receivedAt)
    }

    /// The per-record facts of the function calls.
    var environment: MappingRecordEnvironment {
        mutating get {
            if let e = environmentCache { return e }
            let e = MappingRecordEnvironment(
                vehicle: record.vehicle, asset: asset, assets: engine.assets, recordTime: record.timestamp,
                now: receivedAt, options: engine.options)
            environmentCache = e
            return e
        }
    }

    /// Places a record's fields in their slots and clears what the previous record left.
    mutating func begin(_ record: ProviderRecord, receivedAt: Int64) {
        for slot in filled { provided[slot] = .null }
        filled.removeAll(keepingCapacity: true)
        for i in values.indices { values[i] = .null }
        if assetVehicle != record.vehicle {
            asset = engine.assets.facts(for: record.vehicle)
            assetVehicle = record.vehicle
        }
        environmentCache = nil
        self.record = record
        self.receivedAt = receivedAt
        let passthrough = plan.passthrough
        consumed.removeAll(keepingCapacity: true)
        if passthrough { consumed.append(contentsOf: repeatElement(false, count: record.fields.count)) }
        // A provider sends the same fields in the same order record after record: the slot of
        // the name seen at each position last time is reused when the name is equal (a string
        // comparison, often of the same storage), and looked up in the table otherwise.
        let fields = record.fields
        if fieldNames.count != fields.count {
            fieldNames = fields.map(\.name)
            fieldSlots = fields.map { plan.providerSlots.slot($0.name) ?? -1 }
        }
        for i in fields.indices {
            let name = fields[i].name
            var slot = fieldSlots[i]
            if name != fieldNames[i] {
                slot = plan.providerSlots.slot(name) ?? -1
                fieldNames[i] = name
                fieldSlots[i] = slot
            }
            if slot >= 0 {
                provided[slot] = fields[i].value
                filled.append(slot)
                if passthrough { consumed[i] = true }
            }
        }
        // The output array goes to the mapped record; the next one starts with the most any
        // record of the batch needed so far (growing it would copy every field).
        output = []
        output.reserveCapacity(outputCapacity)
        errors = []
    }

    enum SourceResult {
        case value(FieldValue, unit: String?)
        case missing
        case failed(String)
    }

    /// Runs every step; returns a failure when a `fail_record` field failed.
    mutating func run(state: inout VehicleMappingState) -> MappingFailure? {
        let emitNulls = emitNullFields
        // The loop reads the steps' trivial parts (`Core`: no reference to retain) and their
        // names; the step objects only on the general path and for errors.
        let cores = plan.cores
        let names = plan.stepNames
        for i in cores.indices {
            let core = cores[i]
            var result: FieldValue
            var unit: String?
            var failures: [String] = []
            if let fast = core.fast, let v = evaluate(fast, dataType: core.dataType, unit: &unit, state: &state) {
                result = v
            } else {
                result = evaluateGeneral(plan.steps[i], unit: &unit, failures: &failures, state: &state)
            }
            if result.isNull, !failures.isEmpty {
                let reason = failures.joined(separator: "; ")
                if core.errorHandling == .failRecord {
                    return MappingFailure(
                        reason: .functionErrorFatal, message: "field \(names[i]) failed: \(reason)",
                        provider: record.provider,
                        mappingVersion: plan.versionText)
                }
                errors.append(FieldMappingError(field: names[i], reason: reason))
            }
            if core.fallbackMemory >= 0 {
                // `<name>#fallback` (the state is bound to the plan's memory layout while it maps).
                if result.isNull {
                    result = state.memorySlots[core.fallbackMemory]?.output ?? .null
                } else {
                    state.memorySlots[core.fallbackMemory] = FieldMemory(output: result)
                }
            }
            if core.unitCompanion, let unit, !result.isNull {
                values[core.slot] = result
                output.append(Field(names[i], result))
                output.append(Field(plan.steps[i].unitFieldName, .string(unit)))
            } else if !result.isNull || emitNulls {
                output.append(Field(names[i], result))
                values[core.slot] = result
            } else {
                values[core.slot] = result
            }
        }
        if plan.passthrough, !appendPassthroughFields() {
            // A provider field no source reads is stored as it came, unless a mapping already
            // produced a value under that name (a mapped value wins over a copied one).
            var produced: [String: Int] = [:]
            for (i, f) in output.enumerated() { produced[f.name] = i }
            for (i, f) in record.fields.enumerated() where !consumed[i] {
                if let i = produced[f.name] {
                    if output[i].value.isNull { output[i] = f }  // only with emitNullFields
                } else {
                    produced[f.name] = output.count
                    output.append(f)
                }
            }
        }
        outputCapacity = max(outputCapacity, output.count)
        let packetTime = plan.lastUpdatedSlot.flatMap { values[$0].asInt64 } ?? record.timestamp
        state.lastPacketAt = max(state.lastPacketAt ?? packetTime, packetTime)
        return nil
    }

    /// The outcome of `run`: the mapped record (the output moves into it), or the failure,
    /// with the state restored to `saved`.
    mutating func finish(
        _ failure: MappingFailure?, saved: VehicleMappingState?, state: inout VehicleMappingState
    ) -> MappingOutcome {
        if let failure {
            if let saved { state = saved }
            return .failed(failure)
        }
        let fields = output
        output = []
        return .mapped(
            MappedRecord(fields: fields, fieldErrors: errors, provider: plan.provider, mappingVersion: plan.versionText))
    }

    /// A step by its sources, call or I/O family (the general path); failures and the
    /// source's unit go to the caller.
    mutating func evaluateGeneral(
        _ step: MappingPlan.Step, unit: inout String?, failures: inout [String], state: inout VehicleMappingState
    ) -> FieldValue {
        var result: FieldValue = .null
        switch step.kind {
        case .direct, .prioritized:
            sources: for source in step.sources {
                switch evaluate(source, step: step, state: &state) {
                case .value(let v, let u):
                    result = v
                    unit = u
                    break sources
                case .missing:
                    continue
                case .failed(let why):
                    failures.append(why)
                }
            }
        case .calculated:
            if let call = step.call {
                switch evaluate(call, step: step, asSource: false, state: &state) {
                case .value(let v, let u):
                    result = v
                    unit = u
                case .missing:
                    break
                case .failed(let why):
                    failures.append(why)
                }
            }
        case .ioMapped:
            if let io = step.io {
                let n = installationNumber(io.fact) ?? io.defaultNumber
                if let slot = io.slots[n] ?? io.slots[io.defaultNumber] {
                    switch Self.coerce(values[slot], to: step.dataType, conversion: .identity, exactTime: true) {
                    case .success(let v): result = v
                    case .failure(let why): failures.append(why.message)
                    }
                }
            }
        case .transformed:
            failures.append("type transformed is not supported")
        }
        return result
    }

    /// The value of a fleeti argument slot (null when the call names no such field).
    @inline(__always)
    func value(_ slot: Int) -> FieldValue { slot >= 0 ? values[slot] : .null }

    /// The time a timestamp rule stamps (`StandardFunctions.stampTime`).
    @inline(__always)
    func stampTime(_ slot: Int) -> Int64 {
        if slot >= 0, let t = values[slot].asInt64 { return t }
        return record.timestamp
    }

    /// A remembered output as the rule's coercion would leave it, nil when coercion would
    /// change or refuse it (then the general path runs: nothing was changed yet).
    @inline(__always)
    func remembered(_ memory: Int, in state: borrowing VehicleMappingState) -> FieldValue? {
        let v = state.memorySlots[memory]?.output ?? .null
        switch v {
        case .int, .null: return v
        default: return nil
        }
    }

    /// A specialised standard rule: the same result as its function, without a context, a
    /// closure call or a coercion (the validator fixed the output type). nil: the case it does
    /// not cover (an unusable input, an unusual remembered value), for the general path.
    mutating func evaluate(
        _ fast: MappingPlan.FastRule, dataType: MappingDataType, unit: inout String?, state: inout VehicleMappingState
    ) -> FieldValue? {
        switch fast.op {
        case .changedAt:
            let valueSlot = fast.a
            let timeSlot = fast.b
            let memory = fast.c
            let value = value(valueSlot)
            if value.isNull { return remembered(memory, in: state) }
            if let previous = state.memorySlots[memory], previous.input.isIdentical(to: value) {
                return remembered(memory, in: state)
            }
            let time = FieldValue.int(stampTime(timeSlot))
            state.memorySlots[memory] = FieldMemory(input: value, output: time)
            return time
        case .updatedAt:
            let first = fast.a
            let count = fast.b
            let timeSlot = fast.c
            let memory = fast.d
            var present = false
            for i in first..<(first + count) where !values[plan.fastArguments[i]].isNull {
                present = true
                break
            }
            if present {
                let time = FieldValue.int(stampTime(timeSlot))
                state.memorySlots[memory] = FieldMemory(input: .null, output: time)
                return time
            }
            return remembered(memory, in: state)
        case .locationChangedAt:
            let latSlot = fast.a
            let lngSlot = fast.b
            let timeSlot = fast.c
            let memory = fast.d
            let lat = value(latSlot)
            let lng = value(lngSlot)
            if lat.isNull || lng.isNull { return remembered(memory, in: state) }
            guard let la = lat.asDouble, let lo = lng.asDouble, (-90...90).contains(la), (-180...180).contains(lo)
            else { return nil }  // the function's error, from the general path
            let p = Coordinate(latitude: la, longitude: lo)
            if let previous = state.memorySlots[memory], case .array(let anchor) = previous.input, anchor.count == 2,
                let lat = anchor[0].asDouble, let lng = anchor[1].asDouble,
                Geodesy.distance(Coordinate(latitude: lat, longitude: lng), p) <= engine.options.locationChangeThreshold
            {
                return remembered(memory, in: state)
            }
            let time = FieldValue.int((timeSlot >= 0 ? values[timeSlot].asInt64 : nil) ?? record.timestamp)
            state.memorySlots[memory] = FieldMemory(input: .array([.double(p.latitude), .double(p.longitude)]), output: time)
            return time
        case .sources:
            let first = fast.a
            let count = fast.b
            return evaluateSources(first, count, dataType: dataType)
        case .tripStartedAt:
            let codeSlot = fast.a
            let timeSlot = fast.b
            let memory = fast.c
            let code = value(codeSlot).asString
            if code == "in_transit" {
                if state.memorySlots[memory]?.input.asString == "parked" {
                    state.trip = OngoingTrip(startedAt: stampTime(timeSlot))
                }
            } else {
                state.trip = nil
            }
            if let code { state.memorySlots[memory] = FieldMemory(input: .string(code)) }
            return state.trip.map { .int($0.startedAt) } ?? .null
        case .withoutDriverKey:
            let keySlot = fast.a
            let memory = fast.b
            let name = fast.c != 0
            guard value(keySlot).isNull else { return nil }
            if !name { return remembered(memory, in: state) }
            let v = state.memorySlots[memory]?.output ?? .null
            switch v {
            case .string, .null: return v
            default: return nil
            }
        case .immobilizationCode:
            let first = fast.a
            let count = fast.b
            let a = plan.fastArguments
            let compatible = values[a[first]].asBool ?? StatusRules.isCompatible(.immobilization, asset: asset)
            let n = asset.installation.effectiveImmobilizerOutput
            // An output the call does not read: the general path names it as an error.
            if compatible, !(n >= 1 && n < count), (first + 1..<first + count).contains(where: { !values[a[$0]].isNull }) { return nil }
            let output = n >= 1 && n < count ? values[a[first + n]].asBool : nil
            let code = StatusRules.immobilizationCode(
                compatible: compatible, output: output, command: &state.immobilizerCommand, now: receivedAt,
                timeout: engine.options.immobilizerCommandTimeout)
            return code.map(FieldValue.string) ?? .null
        case .withoutTrip:
            let startedSlot = fast.a
            let waypoints = fast.b != 0
            guard values[startedSlot].isNull || state.trip == nil else { return nil }
            return waypoints ? .array([]) : .null
        case .withoutGeofences:
            let latSlot = fast.a
            let lngSlot = fast.b
            guard engine.assets.geofences.isEmpty else { return nil }
            let lat = values[latSlot]
            let lng = values[lngSlot]
            if lat.isNull || lng.isNull { return .null }
            guard let la = lat.asDouble, let lo = lng.asDouble, (-90...90).contains(la), (-180...180).contains(lo)
            else { return nil }  // the function's error, from the general path
            return .array([])
        case .fuelLevel:
            let first = fast.a
            let count = fast.b
            return fuelLevel(first, count, unit: &unit)
        case .cardinalDirection:
            let headingSlot = fast.a
            let h = values[headingSlot]
            switch h {
            case .null: return .null
            case .int(let i): return .string(StandardFunctions.cardinal(Double(i)))
            case .double(let d) where d.isFinite: return .string(StandardFunctions.cardinal(d))
            default: return nil
            }
        case .compatible:
            let family = StatusFamily.allCases[fast.a]
            return .bool(StatusRules.isCompatible(family, asset: asset))
        case .connectivityCode:
            let packetSlot = fast.a
            let packet = (packetSlot >= 0 ? values[packetSlot].asInt64 : nil) ?? record.timestamp
            let newest = max(packet, state.lastPacketAt ?? packet)
            let code = StatusRules.connectivityCode(lastPacketAt: newest, now: receivedAt, asset: asset)
            state.connectivityCode = code
            return .string(code)
        case .engineCode:
            let compatibleSlot = fast.a
            let ignitionSlot = fast.b
            let compatible = value(compatibleSlot).asBool ?? StatusRules.isCompatible(.engine, asset: asset)
            let code = StatusRules.engineCode(compatible: compatible, ignition: value(ignitionSlot).asBool)
            return code.map(FieldValue.string) ?? .null
        case .transitCode:
            let compatibleSlot = fast.a
            let ignitionSlot = fast.b
            let movingSlot = fast.c
            let speedSlot = fast.d
            guard value(compatibleSlot).asBool ?? StatusRules.isCompatible(.transit, asset: asset) else { return .null }
            let speed = value(speedSlot)
            var machine = TransitStateMachine(state: state.transit)
            let code = machine.recordReceived(
                time: record.timestamp, ignition: value(ignitionSlot).asBool, moving: value(movingSlot).asBool,
                speed: speed.isNull ? nil : speed.asDouble)
            state.transit = machine.state
            return .string(code.name)
        case .topStatus:
            let first = fast.a
            let code = fast.b != 0
            let a = plan.fastArguments
            let known = StatusRules.knownCodes(
                immobilization: values[a[first + 1]], engine: values[a[first + 2]], memory: &state.memorySlots[fast.c])
            let top = StatusRules.topStatus(
                connectivity: values[a[first]].asString, immobilization: known.immobilization,
                engine: known.engine, transit: values[a[first + 3]].asString, asset: asset)
            if code { return top.code.map(FieldValue.string) ?? .null }
            return top.code == nil && top.family == .connectivity ? .null : .string(top.family.rawValue)
        }
    }

    /// The sources of a direct or prioritized mapping, inline: the first present one, typed.
    /// nil when a source needs the general path (a call with inputs, a value whose typing is
    /// not one of the plain cases below, which may fail): sources have no side effects, so
    /// the general path then evaluates the mapping from its first source to the same end.
    func evaluateSources(_ first: Int, _ count: Int, dataType: MappingDataType) -> FieldValue? {
        for i in first..<(first + count) {
            let source = plan.fastSources[i]
            switch source.kind {
            case .field(let slot, let alternate, let messageTime):
                var v = provided[slot]
                if v.isNull, alternate >= 0 { v = provided[alternate] }
                if v.isNull {
                    guard messageTime else { continue }
                    // The record's own time stands in for a missing msg_time (exact milliseconds).
                    return dataType == .datetime ? .int(record.timestamp) : nil
                }
                return Self.plainCoercion(v, to: dataType, conversion: source.conversion)
            case .skippableCall(let first, let fleeti, let provider):
                let a = plan.fastArguments
                for k in first..<(first + fleeti) where !values[a[k]].isNull { return nil }
                for k in (first + fleeti)..<(first + fleeti + provider) where !provided[a[k]].isNull { return nil }
                continue
            case .general:
                return nil
            }
        }
        return .null
    }

    /// `derive_fuel_levels` (number) for the default tank, as `StandardFunctions.tankLevel`
    /// computes it: the first present fuel field with a valid reading; nil for registry
    /// tanks and for a reading the general path must judge (not finite).
    func fuelLevel(_ first: Int, _ count: Int, unit: inout String?) -> FieldValue? {
        guard asset.fuelTanks.isEmpty else { return nil }
        let capacity = asset.fuelTankCapacity
        for i in first..<(first + count) {
            let field = plan.fuelArguments[i]
            var v = provided[field.slot]
            if v.isNull, field.alternate >= 0 { v = provided[field.alternate] }
            guard let raw = v.asDouble, let reading = field.reading else { continue }
            guard raw.isFinite else { return nil }
            switch reading {
            case .percent:
                guard (0...100).contains(raw) else { continue }
                if let c = capacity, c > 0 {
                    unit = "l"
                    return Self.finite(StandardFunctions.rounded(raw / 100 * c))
                }
                unit = "%"
                return .double(raw)
            case .liters:
                let l = raw * field.scale
                guard l >= 0, capacity.map({ l <= $0 * 1.1 }) ?? true else { continue }
                unit = "l"
                return Self.finite(StandardFunctions.rounded(l))
            case .levelSensor:
                // The default tank reports steps and has no calibration table: no level.
                continue
            }
        }
        return .null
    }

    /// A double the number coercion keeps, nil when it would refuse it.
    static func finite(_ d: Double) -> FieldValue? { d.isFinite ? .double(d) : nil }

    /// `coerce` for the values it passes through or converts without failing; nil otherwise.
    @inline(__always)
    static func plainCoercion(_ v: FieldValue, to type: MappingDataType, conversion: UnitConversion) -> FieldValue? {
        switch (type, v) {
        case (.number, .int(let i)): return conversion.isIdentity ? v : .double(conversion.apply(Double(i)))
        case (.number, .double(let d)):
            guard d.isFinite else { return nil }
            return conversion.isIdentity ? v : .double(conversion.apply(d))
        case (.boolean, .bool): return v
        case (.boolean, .int(let i)): return .bool(i != 0)
        case (.string, .string): return v
        case (.datetime, .int), (.datetime, .double): return DateTimeParsing.milliseconds(v).map { .int($0) }
        default: return nil
        }
    }

    /// Passthrough for the usual record: when no field left to copy has a name a mapping
    /// can produce and no two of them share a name, they are all appended as they came, which
    /// is what the general passthrough below does then, without hashing every name into a
    /// dictionary. Returns false (nothing appended) for any other record.
    mutating func appendPassthroughFields() -> Bool {
        let fields = record.fields
        var hashes: [(index: Int, hash: Int)] = []
        hashes.reserveCapacity(fields.count)
        for i in fields.indices where !consumed[i] {
            let name = fields[i].name
            guard plan.outputNames.slot(name) == nil, let h = FieldNameTable.asciiHash(name) else { return false }
            for earlier in hashes where earlier.hash == h && fields[earlier.index].name == name { return false }
            hashes.append((i, h))
        }
        for (i, _) in hashes { output.append(fields[i]) }
        return true
    }

    func installationNumber(_ fact: String) -> Int? {
        switch fact {
        case "ignition_input_number": return asset.installation.ignitionInputNumber
        case "immobilizer_output_number": return asset.installation.immobilizerOutputNumber
        default: return nil
        }
    }

    /// The first non-null value among the slots.
    func lookup(_ slots: [Int]) -> FieldValue? {
        for s in slots {
            let v = provided[s]
            if !v.isNull { return v }
        }
        return nil
    }

    mutating func evaluate(
        _ source: MappingPlan.Source, step: MappingPlan.Step, state: inout VehicleMappingState
    ) -> SourceResult {
        switch source {
        case .field(let source):
            if let provider = source.provider, provider != record.provider { return .missing }
            let raw: FieldValue
            var exact = false
            if let v = lookup(source.slots) {
                raw = v
            } else if source.isMessageTime {
                // The record's own timestamp stands in for a missing msg_time (it is device time too).
                raw = .int(record.timestamp)
                exact = true
            } else {
                return .missing
            }
            switch Self.coerce(raw, to: step.dataType, conversion: source.conversion, exactTime: exact) {
            case .success(let v):
                // A conditional target keeps the source's value and unit (stored as `<field>_unit`).
                return .value(v, unit: step.unitCompanion ? source.unit : nil)
            case .failure(let why):
                return .failed("\(source.label): \(why.message)")
            }
        case .function(let call):
            return evaluate(call, step: step, asSource: true, state: &state)
        }
    }

    /// Runs a function call.
    /// - Parameter asSource: the call is a source of a prioritized mapping (failures say which).
    mutating func evaluate(
        _ call: MappingPlan.Call, step: MappingPlan.Step, asSource: Bool, state: inout VehicleMappingState
    ) -> SourceResult {
        guard let body = call.body else {
            return .failed("\(asSource ? call.sourcePrefix : "")function \(call.name) is not registered")
        }
        if call.isNullWithoutInputs, !hasInput(call) { return .missing }
        let c = call.index
        // Sized at the call's first use (an evaluation of one record allocates only for the
        // calls it makes), then refilled in place.
        if fleetiArguments[c].count != call.fleetiSlots.count {
            fleetiArguments[c] = [FieldValue](repeating: .null, count: call.fleetiSlots.count)
        }
        if providerArguments[c].count != call.providerCandidates.count {
            providerArguments[c] = [FieldValue](repeating: .null, count: call.providerCandidates.count)
        }
        for (i, slot) in call.fleetiSlots.enumerated() { fleetiArguments[c][i] = values[slot] }
        for (i, candidates) in call.providerCandidates.enumerated() {
            providerArguments[c][i] = lookup(candidates) ?? .null
        }
        let out: MappingFunctionOutput
        do {
            out = try body(
                MappingFunctionContext(
                    fleeti: fleetiArguments[c], provider: providerArguments[c], call: call.info, record: environment),
                &state)
        } catch {
            return .failed("\(asSource ? call.sourcePrefix : "")\(call.name): \(error.message)")
        }
        if out.value.isNull { return .missing }
        switch Self.coerce(out.value, to: step.dataType, conversion: .identity, exactTime: true) {
        case .success(let v): return .value(v, unit: out.unit)
        case .failure(let why): return .failed("\(asSource ? call.sourcePrefix : "")\(call.name): \(why.message)")
        }
    }

    /// Whether any argument of the call is non-null.
    func hasInput(_ call: MappingPlan.Call) -> Bool {
        for slot in call.fleetiSlots where !values[slot].isNull { return true }
        for slot in call.providerInputSlots where !provided[slot].isNull { return true }
        return false
    }

    struct CoercionError: Error {
        let message: String
    }

    /// A value typed per `data_type`, with the unit conversion applied to numbers.
    /// - Parameter exactTime: integers are already milliseconds (function outputs, record time).
    static func coerce(
        _ v: FieldValue, to type: MappingDataType, conversion: UnitConversion, exactTime: Bool
    ) -> Result<FieldValue, CoercionError> {
        func fail(_ what: String) -> Result<FieldValue, CoercionError> {
            .failure(CoercionError(message: "value \(describe(v)) is not \(what)"))
        }
        switch type {
        case .number:
            if conversion.isIdentity {
                switch v {
                case .int: return .success(v)
                case .double(let d): return d.isFinite ? .success(v) : fail("a finite number")
                case .bool(let b): return .success(.int(b ? 1 : 0))
                case .string(let s):
                    let t = s.trimmingSpaces
                    if let i = Int64(t) { return .success(.int(i)) }
                    if let d = Double(t), d.isFinite { return .success(.double(d)) }
                    return fail("a number")
                case .null, .bytes, .array: return fail("a number")
                }
            }
            guard case .bool = v else {
                guard let d = v.asDouble else { return fail("a number") }
                return .success(.double(conversion.apply(d)))
            }
            return fail("a number")
        case .boolean:
            guard let b = v.asBool else { return fail("a boolean") }
            return .success(.bool(b))
        case .string:
            switch v {
            case .string: return .success(v)
            case .int(let i): return .success(.string(String(i)))
            case .double(let d):
                if let i = v.asInt64 { return .success(.string(String(i))) }
                return .success(.string("\(d)"))
            case .bool(let b): return .success(.string(b ? "true" : "false"))
            case .null, .bytes, .array: return fail("text")
            }
        case .datetime:
            if exactTime, case .int = v { return .success(v) }
            guard let ms = DateTimeParsing.milliseconds(v) else { return fail("a date and time") }
            return .success(.int(ms))
        case .array:
            guard case .array = v else { return fail("an array") }
            return .success(v)
        case .object:
            return .success(v)
        }
    }

    static func describe(_ v: FieldValue) -> String {
        switch v {
        case .string(let s): return "\"\(s.count > 40 ? String(s.prefix(40)) + "..." : s)\""
        case .int(let i): return String(i)
        case .double(let d): return "\(d)"
        case .bool(let b): return b ? "true" : "false"
        case .null: return "null"
        case .bytes(let b): return "\(b.count) bytes"
        case .array(let a): return "an array of \(a.count)"
        }
    }
}
