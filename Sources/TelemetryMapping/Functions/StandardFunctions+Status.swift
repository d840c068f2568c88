import TelemetryCore

extension StandardFunctions {
    /// The four status families (compatible, code) and the top status (family, code).
    static let status: [MappingFunction] = [
        compatible(.connectivity), compatible(.engine), compatible(.transit), compatible(.immobilization),
        connectivityCode.fast(.connectivityCode), engineCode.nullWithoutInputs().fast(.engineCode),
        immobilizationCode.fast(.immobilizationCode),
        transitCode.fast(.transitCode), topStatusFamily.fast(.topStatusFamily), topStatusCode.fast(.topStatusCode),
    ]

    /// `derive_statuses_<family>_compatible`: the compatibility matrix over the asset's facts.
    static func compatible(_ family: StatusFamily) -> MappingFunction {
        MappingFunction(
            name: "derive_statuses_\(family.rawValue)_compatible", outputTypes: [.boolean], fleetiParameters: 0...0
        ) {
            ctx, _ throws(MappingFunctionError) in
            MappingFunctionOutput(.bool(StatusRules.isCompatible(family, asset: ctx.asset)))
        }.fast(.compatible(family))
    }

    /// A family's `compatible` parameter, or the matrix when the parameter is absent.
    static func isCompatible(_ v: FieldValue, _ family: StatusFamily, _ ctx: MappingFunctionContext) -> Bool {
        v.asBool ?? StatusRules.isCompatible(family, asset: ctx.asset)
    }

    /// `derive_statuses_connectivity_code`: online while the newest packet (this one or an
    /// earlier newer one) is younger than 24 h (1 h for a Site.Coldroom), measured at `now`.
    static let connectivityCode = MappingFunction(
        name: "derive_statuses_connectivity_code", outputTypes: [.string], fleetiParameters: 0...1, isStateful: true
    ) { ctx, state throws(MappingFunctionError) in
        let packet = ctx.fleeti(0).asInt64 ?? ctx.recordTime
        let newest = max(packet, state.lastPacketAt ?? packet)
        let code = StatusRules.connectivityCode(lastPacketAt: newest, now: ctx.now, asset: ctx.asset)
        state.connectivityCode = code
        return MappingFunctionOutput(.string(code))
    }

    /// `derive_statuses_engine_code`: ignition true -> running, false -> standby, null -> null.
    static let engineCode = MappingFunction(
        name: "derive_statuses_engine_code", outputTypes: [.string], fleetiParameters: 1...2
    ) { ctx, _ throws(MappingFunctionError) in
        let compatible = isCompatible(ctx.fleeti.count >= 2 ? ctx.fleeti(0) : .null, .engine, ctx)
        let ignition = ctx.fleeti(ctx.fleeti.count - 1)
        let code = StatusRules.engineCode(compatible: compatible, ignition: ignition.asBool)
        return MappingFunctionOutput(code.map(FieldValue.string) ?? .null)
    }

    /// `derive_statuses_immobilization_code`: output N (`immobilizer_output_number`, default 1)
    /// 1 -> immobilized, 0 -> free; a pending command (state) reports immobilizing/releasing until
    /// the output confirms it or `immobilizerCommandTimeout` passes.
    static let immobilizationCode = MappingFunction(
        name: "derive_statuses_immobilization_code", outputTypes: [.string], fleetiParameters: 2...4, isStateful: true
    ) { ctx, state throws(MappingFunctionError) in
        let compatible = isCompatible(ctx.fleeti(0), .immobilization, ctx)
        let n = ctx.asset.installation.effectiveImmobilizerOutput
        // As for the ignition input: a configured output the call does not read is named, not
        // read as "no output state" (outputs all absent are no information, whatever N).
        if compatible, !(n >= 1 && n < ctx.fleeti.count), ctx.fleeti.dropFirst().contains(where: { !$0.isNull }) {
            throw MappingFunctionError(
                "installation.immobilizer_output_number \(n) names no output this mapping reads (outputs 1 to \(ctx.fleeti.count - 1))")
        }
        let output = n >= 1 && n < ctx.fleeti.count ? ctx.fleeti[n].asBool : nil
        let code = StatusRules.immobilizationCode(
            compatible: compatible, output: output, command: &state.immobilizerCommand, now: ctx.now,
            timeout: ctx.options.immobilizerCommandTimeout)
        return MappingFunctionOutput(code.map(FieldValue.string) ?? .null)
    }

    /// `derive_statuses_transit_code`: the transit state machine (`TransitStateMachine`) fed
    /// with ignition, movement and speed, timed by the record's time.
    static let transitCode = MappingFunction(
        name: "derive_statuses_transit_code", outputTypes: [.string], fleetiParameters: 4...4, isStateful: true
    ) { ctx, state throws(MappingFunctionError) in
        guard isCompatible(ctx.fleeti(0), .transit, ctx) else { return .null }
        let speed = ctx.fleeti(3)
        var machine = TransitStateMachine(state: state.transit)
        let code = machine.recordReceived(
            time: ctx.recordTime, ignition: ctx.fleeti(1).asBool, moving: ctx.fleeti(2).asBool,
            speed: speed.isNull ? nil : speed.asDouble)
        state.transit = machine.state
        return MappingFunctionOutput(.string(code.name))
    }

    static func top(_ ctx: MappingFunctionContext, _ state: inout VehicleMappingState) -> (family: StatusFamily, code: String?) {
        var memory = state[memory: ctx.memoryKey]
        let known = StatusRules.knownCodes(immobilization: ctx.fleeti(1), engine: ctx.fleeti(2), memory: &memory)
        state[memory: ctx.memoryKey] = memory
        return StatusRules.topStatus(
            connectivity: ctx.fleeti(0).asString, immobilization: known.immobilization, engine: known.engine,
            transit: ctx.fleeti(3).asString, asset: ctx.asset)
    }

    /// `derive_top_status_family`: the family of the first matching rule (SPEC section 4).
    static let topStatusFamily = MappingFunction(
        name: "derive_top_status_family", outputTypes: [.string], fleetiParameters: 4...4, isStateful: true
    ) { ctx, state throws(MappingFunctionError) in
        let t = top(ctx, &state)
        return MappingFunctionOutput(t.code == nil && t.family == .connectivity ? .null : .string(t.family.rawValue))
    }

    /// `derive_top_status_code`: the code of that family.
    static let topStatusCode = MappingFunction(
        name: "derive_top_status_code", outputTypes: [.string], fleetiParameters: 4...4, isStateful: true
    ) { ctx, state throws(MappingFunctionError) in
        MappingFunctionOutput(top(ctx, &state).code.map(FieldValue.string) ?? .null)
    }
}
