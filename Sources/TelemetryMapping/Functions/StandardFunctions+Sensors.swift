import TelemetryCore

extension StandardFunctions {
    /// Environment sensors, magnet sensors and fuel levels.
    static let sensors: [MappingFunction] = [environment, magnet, fuelLevels].map {
        $0.nullWithoutInputs()  // each returns null, before any state access, when no input is present
    }

    // MARK: Environment

    enum Measure: Hashable { case temperature, humidity, battery }

    /// How one provider field measures: what, its multiplier, which physical sensor group it
    /// belongs to when the registry lists no sensors, and its error codes (raw values).
    struct SensorFieldInfo {
        var measure: Measure
        var scale: Double
        var group: String
        var errorCodes: Set<Int64>
        var isRaw: Bool

        init(measure: Measure, scale: Double, group: String, errorCodes: Set<Int64>) {
            self.measure = measure
            self.scale = scale
            self.group = group
            self.errorCodes = errorCodes
            self.isRaw = false
        }
    }

    /// The correspondence matrix: raw `avl_io_*` fields and Navixy's processed names of the
    /// same probe. Multipliers follow the Teltonika catalog (SPEC's "÷10 except 202/204" would
    /// put every valid BLE temperature, multiplier 0.01, out of range: docs/mapping.md).
    static let environmentFields: [String: SensorFieldInfo] = {
        var t: [String: SensorFieldInfo] = [:]
        let bleTemperatureErrors: Set<Int64> = [2000, 3000, 4000, 32765, 32766, 32767]
        let dallasErrors: Set<Int64> = [850, 2000, 3000, 4000, 5000]
        let humidityErrors: Set<Int64> = [65533, 65534, 65535]
        for (i, (temp, hum, batt)) in [(25, 86, 29), (26, 104, 20), (27, 106, 22), (28, 108, 23)].enumerated() {
            let g = "ble_\(i + 1)"
            t["avl_io_\(temp)"] = SensorFieldInfo(
                measure: .temperature, scale: 0.01, group: g, errorCodes: bleTemperatureErrors)
            t["avl_io_\(hum)"] = SensorFieldInfo(measure: .humidity, scale: 0.1, group: g, errorCodes: humidityErrors)
            t["avl_io_\(batt)"] = SensorFieldInfo(measure: .battery, scale: 1, group: g, errorCodes: [-128])
            t["ble_temp_sensor_\(i + 1)"] = SensorFieldInfo(measure: .temperature, scale: 1, group: g, errorCodes: [])
            t["ble_humidity_\(i + 1)"] = SensorFieldInfo(measure: .humidity, scale: 1, group: g, errorCodes: [])
            t["ble_battery_level_\(i + 1)"] = SensorFieldInfo(measure: .battery, scale: 1, group: g, errorCodes: [-128])
        }
        for i in 1...4 {
            t["avl_io_\(71 + i)"] = SensorFieldInfo(
                measure: .temperature, scale: 0.1, group: "dallas_\(i)", errorCodes: dallasErrors)
            t["ext_temp_sensor_\(i)"] = SensorFieldInfo(
                measure: .temperature, scale: 1, group: "dallas_\(i)", errorCodes: [])
        }
        t["avl_io_202"] = SensorFieldInfo(measure: .temperature, scale: 1, group: "lls_1", errorCodes: [-128])
        t["avl_io_204"] = SensorFieldInfo(measure: .temperature, scale: 1, group: "lls_2", errorCodes: [-128])
        t["lls_temperature_1"] = SensorFieldInfo(measure: .temperature, scale: 1, group: "lls_1", errorCodes: [-128])
        t["lls_temperature_2"] = SensorFieldInfo(measure: .temperature, scale: 1, group: "lls_2", errorCodes: [-128])
        t["temp_sensor"] = SensorFieldInfo(measure: .temperature, scale: 1, group: "temp_sensor", errorCodes: [-128])
        t["humidity_1"] = SensorFieldInfo(measure: .humidity, scale: 1, group: "humidity_1", errorCodes: [])
        t["humidity_2"] = SensorFieldInfo(measure: .humidity, scale: 1, group: "humidity_2", errorCodes: [])
        for key in t.keys { t[key]!.isRaw = key.hasPrefix("avl_io_") }
        return t
    }()

    static let environmentGroupOrder = [
        "ble_1", "ble_2", "ble_3", "ble_4", "dallas_1", "dallas_2", "dallas_3", "dallas_4", "lls_1", "lls_2",
        "temp_sensor", "humidity_1", "humidity_2",
    ]

    /// A measurement after scaling, or nil when it is an error code or out of range
    /// (temperature -120...120 °C, humidity 0...100 %, battery 0...100 %).
    static func validMeasurement(_ v: FieldValue, _ info: SensorFieldInfo) -> Double? {
        guard let raw = v.asDouble else { return nil }
        if let i = v.asInt64, info.errorCodes.contains(i) { return nil }
        let value = raw * info.scale
        switch info.measure {
        case .temperature: return (-120...120).contains(value) ? value : nil
        case .humidity, .battery: return (0...100).contains(value) ? value : nil
        }
    }

    /// Raw `avl_io_*` fields first, keeping the given order otherwise (SPEC: raw preferred).
    static func rawFirst(_ names: [String]) -> [String] {
        names.filter { $0.hasPrefix("avl_io_") } + names.filter { !$0.hasPrefix("avl_io_") }
    }

    /// `derive_sensors_environment`: one `{id, label, position, temperature, humidity, battery}`
    /// per physical probe. Probes come from the registry's sensors (type environment,
    /// temperature or humidity) and their `provider_field`s; without registry sensors, every
    /// probe group of the correspondence matrix with a valid value in the record is reported
    /// (ids `ble_1`..`ble_4`, `dallas_1`..`dallas_4`, `lls_1`, `lls_2`, `temp_sensor`,
    /// `humidity_1`, `humidity_2`). Per measurement the first valid field wins, raw first.
    /// Null when none of the mapping's provider fields is in the record.
    static let environment = MappingFunction(
        name: "derive_sensors_environment", outputTypes: [.array], fleetiParameters: 0...0, providerParameters: 0...64
    ) { ctx, _ throws(MappingFunctionError) in
        // Only the fields present in the record are looked at: most of the 39 are absent.
        var present: [(name: String, value: FieldValue)] = []
        for i in ctx.provider.indices where !ctx.provider[i].isNull {
            present.append((ctx.providerNames[i], ctx.provider[i]))
        }
        if present.isEmpty { return .null }

        struct Probe {
            var id: String
            var label: String?
            var position: Int?
            var measured: [Measure: (value: Double, raw: Bool)] = [:]

            /// Keeps the first valid value per measurement, a raw one over a processed one.
            mutating func offer(_ info: SensorFieldInfo, _ v: FieldValue) {
                if let current = measured[info.measure], current.raw || !info.isRaw { return }
                guard let m = validMeasurement(v, info) else { return }
                measured[info.measure] = (m, info.isRaw)
            }

            var value: FieldValue? {
                guard !measured.isEmpty else { return nil }
                var pairs: [(String, FieldValue)] = [("id", .string(id))]
                if let label { pairs.append(("label", .string(label))) }
                if let position { pairs.append(("position", .int(Int64(position)))) }
                if let t = measured[.temperature] { pairs.append(("temperature", .double(rounded(t.value)))) }
                if let h = measured[.humidity] { pairs.append(("humidity", .double(rounded(h.value)))) }
                if let b = measured[.battery] { pairs.append(("battery", .double(rounded(b.value)))) }
                return .keyed(pairs)
            }
        }

        let registered = ctx.asset.sensors.filter {
            ["environment", "temperature", "humidity"].contains($0.type.lowercased())
        }
        var probes: [Probe] = []
        if registered.isEmpty {
            probes = environmentGroupOrder.map { Probe(id: $0) }
            for (name, v) in present {
                guard let info = environmentFields[name], let g = environmentGroupIndex[info.group] else { continue }
                probes[g].offer(info, v)
            }
        } else {
            var values: [String: FieldValue] = [:]
            for (name, v) in present { values[name] = v }
            for sensor in registered {
                var probe = Probe(id: sensor.id, label: sensor.label, position: sensor.position)
                for name in sensor.providerFields {
                    if let info = environmentFields[name], let v = values[name] { probe.offer(info, v) }
                }
                probes.append(probe)
            }
        }
        return MappingFunctionOutput(.array(probes.compactMap(\.value)))
    }

    static let environmentGroupIndex: [String: Int] = Dictionary(
        uniqueKeysWithValues: environmentGroupOrder.enumerated().map { ($1, $0) })

    /// Scaled values rounded to 1e-6 so `185 * 0.1` stores as 18.5.
    static func rounded(_ v: Double) -> Double { (v * 1e6).rounded() / 1e6 }

    // MARK: Magnet

    /// `derive_sensors_magnet`: one `{id, label, position, state, last_updated_at, last_changed_at}`
    /// per magnet sensor; state 0 (no field) or 1 (field detected), any other value is invalid.
    /// Sensors come from the registry (type magnet) or, without them, the pairs
    /// `avl_io_10808`/`ble_magnet_sensor_1` .. `avl_io_10811`/`ble_magnet_sensor_4` (ids
    /// `magnet_1`..`magnet_4`), raw preferred. `last_changed_at` is kept per sensor in the state.
    static let magnet = MappingFunction(
        name: "derive_sensors_magnet", outputTypes: [.array], fleetiParameters: 0...0, providerParameters: 0...16,
        isStateful: true
    ) { ctx, state throws(MappingFunctionError) in
        var values: [String: FieldValue] = [:]
        for i in ctx.provider.indices where !ctx.provider[i].isNull { values[ctx.providerNames[i]] = ctx.provider[i] }
        if values.isEmpty { return .null }
        struct Probe {
            var id: String
            var label: String?
            var position: Int?
            var fields: [String]
        }
        let registered = ctx.asset.sensors.filter { $0.type.lowercased() == "magnet" }
        let probes: [Probe] =
            registered.isEmpty
            ? (1...4).map { Probe(id: "magnet_\($0)", fields: ["avl_io_\(10807 + $0)", "ble_magnet_sensor_\($0)"]) }
            : registered.map { Probe(id: $0.id, label: $0.label, position: $0.position, fields: $0.providerFields) }
        let time = ctx.recordTime
        var out: [FieldValue] = []
        for probe in probes {
            var reading: Int64?
            for name in rawFirst(probe.fields) {
                if let v = values[name]?.asInt64, v == 0 || v == 1 {
                    reading = v
                    break
                }
            }
            guard let reading else { continue }
            let key = "\(ctx.field)#\(probe.id)"
            var changedAt = time
            if let m = state[memoryNamed: key], m.input.isIdentical(to: .int(reading)), let t = m.output.asInt64 {
                changedAt = t
            } else {
                state[memoryNamed: key] = FieldMemory(input: .int(reading), output: .int(time))
            }
            var pairs: [(String, FieldValue)] = [("id", .string(probe.id))]
            if let l = probe.label { pairs.append(("label", .string(l))) }
            if let p = probe.position { pairs.append(("position", .int(Int64(p)))) }
            pairs += [("state", .int(reading)), ("last_updated_at", .int(time)), ("last_changed_at", .int(changedAt))]
            out.append(.keyed(pairs))
        }
        return MappingFunctionOutput(.array(out))
    }

    // MARK: Fuel

    enum FuelReading { case percent, liters, levelSensor }

    /// How each fuel field reads: percent, litres (with a multiplier), or LLS steps.
    static let fuelFields: [String: (kind: FuelReading, scale: Double)] = [
        "avl_io_89": (.percent, 1), "can_fuel_1": (.percent, 1), "avl_io_234": (.percent, 1),
        "avl_io_84": (.liters, 1), "can_fuel_litres": (.liters, 1), "obd_custom_fuel_litres": (.liters, 1),
        "avl_io_390": (.liters, 0.1),
        "avl_io_270": (.levelSensor, 1), "ble_lls_level_1": (.levelSensor, 1),
        "avl_io_273": (.levelSensor, 1), "ble_lls_level_2": (.levelSensor, 1),
        "avl_io_201": (.levelSensor, 1), "lls_level_1": (.levelSensor, 1),
        "avl_io_203": (.levelSensor, 1), "lls_level_2": (.levelSensor, 1),
        "avl_io_210": (.levelSensor, 1), "lls_level_3": (.levelSensor, 1),
        "avl_io_212": (.levelSensor, 1), "lls_level_4": (.levelSensor, 1),
    ]

    /// One tank's level: litres when it can be expressed in litres, else percent.
    /// - Parameter candidates: the present fields in preference order.
    static func tankLevel(
        _ tank: FuelTank, candidates: [(name: String, value: FieldValue)]
    ) -> (value: Double, unit: String)? {
        for (name, v) in candidates {
            guard let raw = v.asDouble, let info = fuelFields[name] else { continue }
            switch info.kind {
            case .percent:
                guard (0...100).contains(raw) else { continue }
                if let c = tank.capacity, c > 0 { return (rounded(raw / 100 * c), "l") }
                return (raw, "%")
            case .liters:
                let l = raw * info.scale
                guard l >= 0, tank.capacity.map({ l <= $0 * 1.1 }) ?? true else { continue }
                return (rounded(l), "l")
            case .levelSensor:
                // Teltonika LLS: negative steps (or their 16-bit wrap, 65532 = -4) are error codes.
                guard raw >= 0, raw < 32768 else { continue }
                if tank.levelSensorReportsLiters { return (raw, "l") }
                guard let table = tank.calibration else { continue }
                return (rounded(table.liters(forRaw: raw)), "l")
            }
        }
        return nil
    }

    /// `derive_fuel_levels`: per tank, the first valid value among its fields (the registry's
    /// `provider_field`s, raw `avl_io_*` first, else the mapping's fields in their order, which
    /// lists each raw field before its processed twin). Percent
    /// becomes litres when the capacity is known; LLS steps need the tank's calibration table
    /// (or `lls_unit: liters`). With `data_type: number` the first tank's level is returned and
    /// its unit (`l` or `%`) reported for `<field>_unit`; with `array`, `[{id, value, unit}]`.
    static let fuelLevels = fuelLevelsFunction.fast(.fuelLevels)
    private static let fuelLevelsFunction = MappingFunction(
        name: "derive_fuel_levels", outputTypes: [.number, .array], fleetiParameters: 0...0, providerParameters: 0...64
    ) { ctx, _ throws(MappingFunctionError) in
        var present: [(name: String, value: FieldValue)] = []
        for i in ctx.provider.indices where !ctx.provider[i].isNull {
            present.append((ctx.providerNames[i], ctx.provider[i]))
        }
        if present.isEmpty { return .null }
        let tanks =
            ctx.asset.fuelTanks.isEmpty
            ? [FuelTank(id: "tank_1", capacity: ctx.asset.fuelTankCapacity)] : ctx.asset.fuelTanks
        var levels: [(id: String, value: Double, unit: String)] = []
        for tank in tanks {
            let candidates: [(name: String, value: FieldValue)]
            if tank.providerFields.isEmpty {
                // The mapping lists each correspondence pair raw first already.
                candidates = present
            } else {
                var values: [String: FieldValue] = [:]
                for (name, v) in present { values[name] = v }
                candidates = rawFirst(tank.providerFields).compactMap { n in values[n].map { (n, $0) } }
            }
            if let l = tankLevel(tank, candidates: candidates) { levels.append((tank.id, l.value, l.unit)) }
        }
        if ctx.dataType == .array {
            return MappingFunctionOutput(
                .array(
                    levels.map {
                        .keyed([("id", .string($0.id)), ("value", .double($0.value)), ("unit", .string($0.unit))])
                    }))
        }
        guard let first = levels.first else { return .null }
        return MappingFunctionOutput(.double(first.value), unit: first.unit)
    }
}
