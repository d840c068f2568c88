import TelemetryCore

extension StandardFunctions {
    /// `*_last_changed_at` and `*_last_updated_at` rules.
    static let timestamps: [MappingFunction] =
        [
            "statuses_connectivity", "statuses_engine", "statuses_transit", "statuses_immobilization", "top_status",
            "ignition",
        ]
        .map { changedAt(name: "derive_\($0)_last_changed_at") }
        + [
            // Named "updated" but specified (and stored at motion.is_moving.last_changed_at) as a change time.
            changedAt(name: "derive_is_moving_last_updated_at"),
            driverLastChangedAt.fast(.driverChangedAt), locationLastChangedAt,
        ]
        + ["movement", "odometer", "engine_hours", "fuel_tank_level"].map {
            updatedAt(name: "derive_\($0)_last_updated_at")
        }

    /// `derive_<x>_last_changed_at(value, last_updated_at)`: the packet time when `value`
    /// differs from the previous record's, else the previous time (SPEC "timestamp patterns").
    static func changedAt(name: String) -> MappingFunction {
        MappingFunction(name: name, outputTypes: [.datetime], fleetiParameters: 1...2, isStateful: true) {
            ctx, state throws(MappingFunctionError) in
            MappingFunctionOutput(lastChangedAt(ctx, &state, value: ctx.fleeti(0), time: stampTime(ctx)))
        }.fast(.changedAt)
    }

    /// `derive_<x>_last_updated_at(value..., last_updated_at)`: the packet time whenever one of
    /// the values is present, else the previous time.
    static func updatedAt(name: String) -> MappingFunction {
        MappingFunction(name: name, outputTypes: [.datetime], fleetiParameters: 1...4, isStateful: true) {
            ctx, state throws(MappingFunctionError) in
            let values = ctx.fleeti.count >= 2 ? ctx.fleeti.dropLast() : ctx.fleeti[...]
            let present = values.contains { !$0.isNull }
            return MappingFunctionOutput(lastUpdatedAt(ctx, &state, present: present, time: stampTime(ctx)))
        }.fast(.updatedAt)
    }

    /// `derive_driver_last_changed_at(driver_key, last_updated_at)`: changes when a new,
    /// non-empty key arrives; an empty key keeps the previous time.
    static let driverLastChangedAt = MappingFunction(
        name: "derive_driver_last_changed_at", outputTypes: [.datetime], fleetiParameters: 1...2, isStateful: true
    ) { ctx, state throws(MappingFunctionError) in
        // Compared as the catalog compares keys (case, spaces, ':' and '-' aside): one key
        // spelled two ways is one driver, not a change.
        let key = driverKey(ctx.fleeti(0)).map(AssetRegistry.normalizedKey)
        return MappingFunctionOutput(
            lastChangedAt(ctx, &state, value: key.map { .string($0) } ?? .null, time: stampTime(ctx)))
    }

    /// `derive_location_last_changed_at(lat, lng, last_updated_at)`: the packet time when the
    /// position moved more than `Options.locationChangeThreshold` metres from the position of
    /// the last change (the first fix counts as a change); else the previous time.
    static let locationLastChangedAt = MappingFunction(
        name: "derive_location_last_changed_at", outputTypes: [.datetime], fleetiParameters: 2...3, isStateful: true
    ) { ctx, state throws(MappingFunctionError) in
        let previous = state[memory: ctx.memoryKey]
        guard let p = try position(ctx) else { return MappingFunctionOutput(previous?.output ?? .null) }
        let time = ctx.fleeti.count >= 3 ? (ctx.fleeti(2).asInt64 ?? ctx.recordTime) : ctx.recordTime
        if let previous, case .array(let anchor) = previous.input, anchor.count == 2,
            let lat = anchor[0].asDouble, let lng = anchor[1].asDouble,
            Geodesy.distance(Coordinate(latitude: lat, longitude: lng), p) <= ctx.options.locationChangeThreshold
        {
            return MappingFunctionOutput(previous.output)
        }
        state[memory: ctx.memoryKey] = FieldMemory(
            input: .array([.double(p.latitude), .double(p.longitude)]), output: .int(time))
        return MappingFunctionOutput(.int(time))
    }.fast(.locationChangedAt)

    /// A driver key, or nil for "no key": null, empty text, or zero (Teltonika sends 0 when no
    /// key is attached).
    static func driverKey(_ v: FieldValue) -> String? {
        switch v {
        case .string(let s):
            let t = s.trimmingSpaces
            return t.isEmpty || t.allSatisfy({ $0 == "0" }) ? nil : t
        case .int(let i): return i == 0 ? nil : String(i)
        case .double(let d): return d == 0 || !d.isFinite ? nil : FieldValue.double(d).asInt64.map { String($0) }
        default: return nil
        }
    }
}
