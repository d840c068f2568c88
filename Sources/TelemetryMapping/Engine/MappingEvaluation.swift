import TelemetryCore

/// The evaluation of one record by one engine.
struct MappingEvaluation {
    // Only what evaluation reads is kept (not the engine: copying it retains every array of
    // the mapping file and the asset registry, and destroying it releases them, per record).
    let plan: MappingPlan
    let record: ProviderRecord
    let emitNullFields: Bool
    let environment: MappingRecordEnvironment
    /// The record's values by provider slot (the last one wins when a name repeats).
    var provided: [FieldValue]
    /// Whether each record field fills a slot (passthrough copies the others).
    var consumed: [Bool]
    /// Computed values by slot (file index).
    var values: [FieldValue]
    var output: [Field] = []
    var errors: [FieldMappingError] = []
    /// Argument buffers reused by every function call of the record: a call's context holds
    /// them only while the function runs, so they are uniquely referenced again at the next
    /// call and refilling them allocates nothing.
    var fleetiArguments: [FieldValue] = []
    var providerArguments: [FieldValue] = []

    init(engine: MappingEngine, record: ProviderRecord, receivedAt: Int64) {
        self.plan = engine.plan
        self.record = record
        self.emitNullFields = engine.options.emitNullFields
        self.environment = MappingRecordEnvironment(
            vehicle: record.vehicle, asset: engine.assets.facts(for: record.vehicle), assets: engine.assets,
            recordTime: record.timestamp, now: receivedAt, options: engine.options)
        var provided = [FieldValue](repeating: .null, count: plan.providerSlots.count)
        var consumed = plan.passthrough ? [Bool](repeating: false, count: record.fields.count) : []
        for (i, f) in record.fields.enumerated() {
            if let slot = plan.providerSlots.slot(f.name) {
                provided[slot] = f.value
                if plan.passthrough { consumed[i] = true }
            }
        }
        self.provided = provided
        self.consumed = consumed
        self.values = Array(repeating: .null, count: plan.slotCount)
        output.reserveCapacity(plan.steps.count)
        fleetiArguments.reserveCapacity(plan.maxFleetiArguments)
        providerArguments.reserveCapacity(plan.maxProviderArguments)
    }

    enum SourceResult {
        case value(FieldValue, unit: String?)
        case missing
        case failed(String)
    }

    /// Runs every step; returns a failure when a `fail_record` field failed.
    mutating func run(state: inout VehicleMappingState) -> MappingFailure? {
        let emitNulls = emitNullFields
        for step in plan.steps {
            var result: FieldValue = .null
            var unit: String?
            var failures: [String] = []
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

            if result.isNull, !failures.isEmpty {
                let reason = failures.joined(separator: "; ")
                if step.errorHandling == .failRecord {
                    return MappingFailure(
                        reason: .functionErrorFatal, message: "field \(step.name) failed: \(reason)",
                        provider: record.provider,
                        mappingVersion: plan.versionText)
                }
                errors.append(FieldMappingError(field: step.name, reason: reason))
            }
            if step.errorHandling == .useFallback {
                let key = step.fallbackKey
                if result.isNull {
                    result = state.memory[key]?.output ?? .null
                } else {
                    state.memory[key] = FieldMemory(output: result)
                }
            }
            values[step.slot] = result
            if !result.isNull || emitNulls { output.append(Field(step.name, result)) }
            if step.unitCompanion, let unit, !result.isNull { output.append(Field(step.unitFieldName, .string(unit))) }
        }
        if plan.passthrough {
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
        let packetTime = plan.lastUpdatedSlot.flatMap { values[$0].asInt64 } ?? record.timestamp
        state.lastPacketAt = max(state.lastPacketAt ?? packetTime, packetTime)
        return nil
    }

    func installationNumber(_ fact: String) -> Int? {
        switch fact {
        case "ignition_input_number": return environment.asset.installation.ignitionInputNumber
        case "immobilizer_output_number": return environment.asset.installation.immobilizerOutputNumber
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
        fleetiArguments.removeAll(keepingCapacity: true)
        for slot in call.fleetiSlots { fleetiArguments.append(values[slot]) }
        providerArguments.removeAll(keepingCapacity: true)
        for candidates in call.providerCandidates { providerArguments.append(lookup(candidates) ?? .null) }
        let out: MappingFunctionOutput
        do {
            out = try body(
                MappingFunctionContext(
                    fleeti: fleetiArguments, provider: providerArguments, call: call.info, record: environment),
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
        for candidates in call.providerCandidates where lookup(candidates) != nil { return true }
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
