import TelemetryCore

extension StandardFunctions {
    /// Bit extraction, ignition, installation offsets, scaling, heading, DTC codes, geofences.
    static let basic: [MappingFunction] = [
        extractBit, ignitionValue,
        installationOffset(name: "add_installation_offset_odometer", unit: "km") { $0.installation.initialOdometer },
        installationOffset(name: "add_installation_offset_engine_hours", unit: "hours") {
            $0.installation.initialEngineHours
        },
        divideBy10, cardinalDirection.fast(.cardinalDirection), dtcCodes, geofences.fast(.geofences), geocodedAddress,
    ].map { $0.nullWithoutInputs() }  // each returns null first thing when its inputs are null

    /// `extract_bit_from_bitmask`: bit N of an integer bitmask, `(v >> N) & 1 == 1`.
    /// N is `static.bit_position`; files before 1.0.5 omit it, and then N is the field name's
    /// trailing number minus one (`inputs_individual_input_4` reads bit 3).
    static let extractBit = MappingFunction(
        name: "extract_bit_from_bitmask", outputTypes: [.boolean, .number], fleetiParameters: 0...1,
        providerParameters: 0...1,
        check: { call, field in
            if let p = call.staticParameters["bit_position"] {
                guard let n = p.asInt64, (0...63).contains(n) else { return "static.bit_position must be 0 to 63" }
                return nil
            }
            guard let n = trailingNumber(field), n >= 1 else {
                return "needs static.bit_position (the field name \(field) ends with no input number)"
            }
            return nil
        },
        body: { ctx, _ throws(MappingFunctionError) in
            let input = ctx.provider.first ?? ctx.fleeti(0)
            if input.isNull { return .null }
            guard let mask = input.asInt64 else { throw MappingFunctionError("bitmask \(input) is not an integer") }
            let bit = ctx.call.bitPosition
            let set = (UInt64(bitPattern: mask) >> UInt64(bit)) & 1 == 1
            return MappingFunctionOutput(ctx.dataType == .number ? .int(set ? 1 : 0) : .bool(set))
        })

    /// `derive_ignition_value`: digital input N, N = `installation.ignition_input_number`
    /// (default 1, SPEC's default when the asset has no such fact). A configured number that
    /// names no input the mapping reads is a function error: reading input 1 instead would
    /// report another wire's state as the ignition, silently.
    static let ignitionValue = MappingFunction(
        name: "derive_ignition_value", outputTypes: [.boolean], fleetiParameters: 1...8
    ) { ctx, _ throws(MappingFunctionError) in
        let n = ctx.asset.installation.effectiveIgnitionInput
        // No input at all is no information, whatever N (the engine skips such calls).
        if ctx.fleeti.allSatisfy(\.isNull) { return .null }
        guard n >= 1 && n <= ctx.fleeti.count else {
            throw MappingFunctionError(
                "installation.ignition_input_number \(n) names no input this mapping reads (inputs 1 to \(ctx.fleeti.count))")
        }
        let v = ctx.fleeti[n - 1]
        if v.isNull { return .null }
        guard let b = v.asBool else { throw MappingFunctionError("input \(n) value \(v) is not boolean") }
        return MappingFunctionOutput(.bool(b))
    }

    /// `add_installation_offset_*`: a relative counter converted from the source's unit to the
    /// target unit, plus the installation's initial value (default 0).
    static func installationOffset(
        name: String, unit: String, offset: @escaping @Sendable (AssetFacts) -> Double?
    ) -> MappingFunction {
        MappingFunction(name: name, outputTypes: [.number], fleetiParameters: 0...1, providerParameters: 0...1) {
            ctx, _ throws(MappingFunctionError) in
            let input = ctx.provider.first ?? ctx.fleeti(0)
            if input.isNull { return .null }
            guard let raw = input.asDouble else { throw MappingFunctionError("counter \(input) is not a number") }
            let natural = MeasurementUnit.named(unit)!
            let target = ctx.targetUnit.isNone ? natural : ctx.targetUnit
            let source = ctx.sourceUnit ?? target
            guard let converted = MeasurementUnit.convert(raw, from: source, to: target),
                let base = MeasurementUnit.convert(offset(ctx.asset) ?? 0, from: natural, to: target)
            else { throw MappingFunctionError("unit \(source) does not convert to \(target)") }
            return MappingFunctionOutput(.double(converted + base))
        }
    }

    /// `divide_by_10`: v / 10 (Teltonika's 0.1 multipliers, e.g. decilitres to litres).
    static let divideBy10 = MappingFunction(
        name: "divide_by_10", outputTypes: [.number], fleetiParameters: 0...1, providerParameters: 0...1
    ) { ctx, _ throws(MappingFunctionError) in
        let input = ctx.provider.first ?? ctx.fleeti(0)
        if input.isNull { return .null }
        guard let v = input.asDouble else { throw MappingFunctionError("\(input) is not a number") }
        return MappingFunctionOutput(.double(v / 10))
    }

    static let compassPoints = ["N", "NE", "E", "SE", "S", "SW", "W", "NW"]

    /// `derive_cardinal_direction`: `dirs[floor(((h + 22.5) mod 360) / 45)]` over N NE E SE S SW W NW.
    static let cardinalDirection = MappingFunction(
        name: "derive_cardinal_direction", outputTypes: [.string], fleetiParameters: 1...1
    ) { ctx, _ throws(MappingFunctionError) in
        let h = ctx.fleeti(0)
        if h.isNull { return .null }
        guard let heading = h.asDouble else { throw MappingFunctionError("heading \(h) is not a number") }
        return MappingFunctionOutput(.string(cardinal(heading)))
    }

    /// The compass point of a heading in degrees (any real value; negative headings wrap).
    static func cardinal(_ heading: Double) -> String {
        var m = (heading + 22.5).truncatingRemainder(dividingBy: 360)
        if m < 0 { m += 360 }
        return compassPoints[min(7, Int(m / 45))]
    }

    /// `derive_dtc_codes_combined`: the codes of every source, concatenated in source order.
    /// A source is an array or comma-separated text (Teltonika's `avl_io_281`); codes are trimmed,
    /// empties and repeats dropped. Null when no source is present.
    static let dtcCodes = MappingFunction(
        name: "derive_dtc_codes_combined", outputTypes: [.array], fleetiParameters: 0...4, providerParameters: 0...8
    ) { ctx, _ throws(MappingFunctionError) in
        let inputs = ctx.provider + ctx.fleeti
        guard inputs.contains(where: { !$0.isNull }) else { return .null }
        var codes: [String] = []
        var seen = Set<String>()
        func add(_ v: FieldValue) {
            switch v {
            case .string(let s):
                for part in s.split(separator: ",") {
                    let code = String(part).trimmingSpaces
                    if !code.isEmpty, seen.insert(code).inserted { codes.append(code) }
                }
            case .array(let items): items.forEach(add)
            case .int(let i) where i != 0: add(.string(String(i)))
            default: break
            }
        }
        inputs.forEach(add)
        return MappingFunctionOutput(.array(codes.map { .string($0) }))
    }

    /// The position of a `[latitude, longitude, ...]` fleeti parameter list, when valid.
    static func position(_ ctx: MappingFunctionContext) throws(MappingFunctionError) -> Coordinate? {
        let lat = ctx.fleeti(0)
        let lng = ctx.fleeti(1)
        if lat.isNull || lng.isNull { return nil }
        guard let la = lat.asDouble, let lo = lng.asDouble, (-90...90).contains(la), (-180...180).contains(lo) else {
            throw MappingFunctionError("position (\(lat), \(lng)) is not a valid latitude/longitude")
        }
        return Coordinate(latitude: la, longitude: lo)
    }

    /// `derive_geofences`: `[{geofence_id, geofence_name}]` of every registry geofence containing
    /// the position (overlaps allowed); an empty array outside all of them.
    static let geofences = MappingFunction(
        name: "derive_geofences", outputTypes: [.array], fleetiParameters: 2...2
    ) { ctx, _ throws(MappingFunctionError) in
        guard let p = try position(ctx) else { return .null }
        let inside = ctx.assets.geofences(containing: p, vehicle: ctx.vehicle)
        return MappingFunctionOutput(
            .array(
                inside.map { g in
                    .keyed([
                        ("geofence_id", Int64(g.id).map(FieldValue.int) ?? .string(g.id)),
                        ("geofence_name", .string(g.name)),
                    ])
                }))
    }

    /// `derive_geocoded_address` (mappings 1.0.1 and 1.0.2): the Fleeti pipeline asks Google; this
    /// pure module answers with the `address` of the first registry geofence containing the
    /// position, else null.
    static let geocodedAddress = MappingFunction(
        name: "derive_geocoded_address", outputTypes: [.string], fleetiParameters: 2...2
    ) { ctx, _ throws(MappingFunctionError) in
        guard let p = try position(ctx) else { return .null }
        let address = ctx.assets.geofences(containing: p, vehicle: ctx.vehicle).lazy.compactMap(\.address).first
        return MappingFunctionOutput(address.map(FieldValue.string) ?? .null)
    }
}
