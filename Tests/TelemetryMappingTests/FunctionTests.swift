import TelemetryCore
import Testing

@testable import TelemetryMapping

/// Table-driven tests of each standard function, called directly.
struct FunctionTests {
    @Test func registryHoldsEveryFunctionTheMappingsName() {
        let names = [
            "extract_bit_from_bitmask", "derive_ignition_value", "add_installation_offset_odometer",
            "add_installation_offset_engine_hours", "divide_by_10", "derive_cardinal_direction",
            "derive_location_last_changed_at",
            "derive_geocoded_address", "derive_geofences", "derive_sensors_environment", "derive_sensors_magnet",
            "derive_fuel_levels",
            "derive_driver_name", "derive_dtc_codes_combined", "derive_ongoing_trip_started_at",
            "derive_ongoing_trip_mileage",
            "derive_ongoing_trip_waypoints", "derive_top_status_family", "derive_top_status_code",
            "derive_top_status_last_changed_at",
            "derive_ignition_last_changed_at", "derive_driver_last_changed_at", "derive_movement_last_updated_at",
            "derive_is_moving_last_updated_at", "derive_odometer_last_updated_at",
            "derive_engine_hours_last_updated_at",
            "derive_fuel_tank_level_last_updated_at",
        ]
        let families = ["connectivity", "engine", "transit", "immobilization"].flatMap { f in
            ["code", "compatible", "last_changed_at"].map { "derive_statuses_\(f)_\($0)" }
        }
        for name in names + families {
            #expect(MappingFunctionRegistry.standard.function(named: name) != nil, "\(name)")
        }
        #expect(MappingFunctionRegistry.standard.function(named: "derive_foo") == nil)
        // The Fleeti timestamp patterns resolve generically for fields added by later versions.
        #expect(
            MappingFunctionRegistry.standard.function(named: "derive_fuel_consumption_cumulative_last_updated_at")
                != nil)
    }

    @Test(arguments: [
        (Int64(9), 0, true), (9, 1, false), (9, 2, false), (9, 3, true), (2, 0, false), (2, 1, true), (0, 5, false),
        (-1, 63, true), (1 << 40, 40, true),
    ])
    func extractBit(mask: Int64, bit: Int64, expected: Bool) throws {
        var call = FunctionCaller(dataType: .boolean)
        call.statics = ["bit_position": .int(bit)]
        #expect(try call("extract_bit_from_bitmask", provider: [("inputs", .int(mask))]) == .bool(expected))
    }

    /// Files before 1.0.5 give no bit position: the field's trailing number says which input.
    @Test(arguments: [
        ("inputs_individual_input_1", true), ("inputs_individual_input_2", false), ("inputs_individual_input_4", true),
    ])
    func extractBitFromFieldName(field: String, expected: Bool) throws {
        let call = FunctionCaller(field: field, dataType: .boolean)
        #expect(try call("extract_bit_from_bitmask", provider: [("inputs", .int(9))]) == .bool(expected))
        #expect(try call("extract_bit_from_bitmask", provider: [("inputs", .string("9"))]) == .bool(expected))
        #expect(try call("extract_bit_from_bitmask", provider: [("inputs", .null)]) == .null)
        #expect(throws: MappingFunctionError.self) {
            try call("extract_bit_from_bitmask", provider: [("inputs", .string("x"))])
        }
    }

    @Test(arguments: [
        (nil as Int?, [true, false, false, false], true as Bool?),
        (2, [true, false, false, false], false),
        (4, [false, false, false, true], true),
        (1, [nil, true, true, true], nil),
    ])
    func ignitionFromInstallationInput(input: Int?, inputs: [Bool?], expected: Bool?) throws {
        var call = FunctionCaller(dataType: .boolean)
        call.asset.installation.ignitionInputNumber = input
        let value = try call("derive_ignition_value", fleeti: inputs.map { $0.map(FieldValue.bool) ?? .null })
        #expect(value == (expected.map(FieldValue.bool) ?? .null))
    }

    /// A configured immobilizer output the mapping does not read is named too; with no output
    /// state in the packet at all, the code is null whatever the number.
    @Test func immobilizerOutputTheMappingDoesNotRead() throws {
        var call = FunctionCaller(dataType: .string)
        call.asset = AssetFacts(
            kind: .vehicle, subtype: AssetSubtype.vehicleAgricultural, installation: Installation(immobilizerOutputNumber: 4),
            accessories: [Accessory(id: "imm", typeCode: "immobilizer")])
        let outputs: [FieldValue] = [.bool(true), .bool(true), .bool(false), .bool(false)]  // compatible, outputs 1..3
        let error = #expect(throws: MappingFunctionError.self) { try call("derive_statuses_immobilization_code", fleeti: outputs) }
        #expect(error?.message.contains("immobilizer_output_number 4 names no output") == true)
        #expect(try call("derive_statuses_immobilization_code", fleeti: [.bool(true), .null, .null, .null]) == .null)
        call.asset.installation.immobilizerOutputNumber = 2
        #expect(try call("derive_statuses_immobilization_code", fleeti: [.bool(true), .bool(false), .bool(true), .bool(false)]) == .string("immobilized"))
    }

    /// A configured input the mapping does not read is named, not replaced by input 1.
    @Test(arguments: [5, 9, 0])
    func ignitionFromAnInputTheMappingDoesNotRead(input: Int) throws {
        var call = FunctionCaller(dataType: .boolean)
        call.asset.installation.ignitionInputNumber = input
        let error = #expect(throws: MappingFunctionError.self) {
            try call("derive_ignition_value", fleeti: [.bool(true), .bool(false), .bool(false), .bool(false)])
        }
        #expect(error?.message.contains("ignition_input_number \(input)") == true)
    }

    @Test(
        arguments: [
            ("add_installation_offset_odometer", "km", "meters", 50_569_210.0, 1000.0, 51_569.21),
            ("add_installation_offset_odometer", "km", nil, 50_569.2, nil, 50_569.2),
            ("add_installation_offset_odometer", "km", "km", 10.0, 2.5, 12.5),
            ("add_installation_offset_engine_hours", "hours", "minutes", 90.0, 100.0, 101.5),
            ("add_installation_offset_engine_hours", "hours", "seconds", 7200.0, nil, 2.0),
        ] as [(String, String, String?, Double, Double?, Double)])
    func installationOffsets(
        name: String, target: String, source: String?, raw: Double, offset: Double?, expected: Double
    ) throws {
        var call = FunctionCaller(dataType: .number, targetUnit: target, sourceUnit: source)
        call.asset.installation.initialOdometer = offset
        call.asset.installation.initialEngineHours = offset
        let v = try #require(try call(name, provider: [("x", .double(raw))]).asDouble)
        #expect(abs(v - expected) < 1e-9)
    }

    @Test(arguments: [
        (FieldValue.int(2_110_005), FieldValue.double(211_000.5)), (.double(17), .double(1.7)), (.null, .null),
    ])
    func divideBy10(input: FieldValue, expected: FieldValue) throws {
        #expect(try FunctionCaller(dataType: .number)("divide_by_10", provider: [("avl_io_83", input)]) == expected)
    }

    @Test(
        arguments: [
            (0.0, "N"), (22.4, "N"), (22.5, "NE"), (45, "NE"), (67.4, "NE"), (67.5, "E"), (90, "E"), (143, "SE"),
            (180, "S"),
            (225, "SW"), (270, "W"), (315, "NW"), (337.4, "NW"), (337.5, "N"), (347, "N"), (359.9, "N"), (360, "N"),
            (-90, "W"),
            (720 + 90, "E"),
        ] as [(Double, String)])
    func cardinalDirection(heading: Double, expected: String) throws {
        #expect(try FunctionCaller()("derive_cardinal_direction", fleeti: [.double(heading)]) == .string(expected))
    }

    @Test(arguments: [
        ([FieldValue.string("P0101, P0300"), .string("U0100")], ["P0101", "P0300", "U0100"]),
        ([.array([.string("P0101")]), .array([.string("P0101"), .string("B1234")])], ["P0101", "B1234"]),
        ([.string(""), .null], []),
    ])
    func dtcCodesCombined(inputs: [FieldValue], expected: [String]) throws {
        let value = try FunctionCaller(dataType: .array)(
            "derive_dtc_codes_combined", provider: inputs.enumerated().map { ("avl_io_28\($0.offset + 1)", $0.element) }
        )
        #expect(value == .array(expected.map(FieldValue.string)))
    }

    @Test func dtcCodesNullWhenNoSource() throws {
        #expect(
            try FunctionCaller(dataType: .array)("derive_dtc_codes_combined", provider: [("avl_io_281", .null)])
                == .null)
    }

    static let depot = Geofence(
        id: "7", name: "Depot",
        shape: .polygon([
            Coordinate(latitude: -20.29, longitude: 57.43), Coordinate(latitude: -20.29, longitude: 57.44),
            Coordinate(latitude: -20.28, longitude: 57.44), Coordinate(latitude: -20.28, longitude: 57.43),
        ]), address: "Depot Road")
    static let port = Geofence(
        id: "port", name: "Port",
        shape: .circle(center: Coordinate(latitude: -20.2852, longitude: 57.4332), radius: 200))
    static let elsewhere = Geofence(
        id: "9", name: "Other fleet",
        shape: .circle(center: Coordinate(latitude: -20.2852, longitude: 57.4332), radius: 200),
        vehicles: ["veh-2"])

    @Test(arguments: [
        (-20.28516, 57.43321, ["7", "port"]),  // inside both (overlaps allowed)
        (-20.2895, 57.4305, ["7"]),
        (-20.30, 57.43, []),
    ])
    func geofencesContainingThePosition(lat: Double, lng: Double, expected: [String]) throws {
        var call = FunctionCaller(dataType: .array)
        call.assets = AssetRegistry(geofences: [Self.depot, Self.port, Self.elsewhere])
        let value = try call("derive_geofences", fleeti: [.double(lat), .double(lng)])
        guard case .array(let items) = value else {
            Issue.record("not an array: \(value)")
            return
        }
        let ids = items.compactMap { item -> String? in
            switch item[key: "geofence_id"] {
            case .int(let i)?: return String(i)
            case .string(let s)?: return s
            default: return nil
            }
        }
        #expect(ids == expected)
        if let first = items.first { #expect(first[key: "geofence_name"] != nil) }
    }

    @Test func geocodedAddressComesFromGeofences() throws {
        var call = FunctionCaller()
        call.assets = AssetRegistry(geofences: [Self.port, Self.depot])
        #expect(
            try call("derive_geocoded_address", fleeti: [.double(-20.28516), .double(57.43321)])
                == .string("Depot Road"))
        #expect(try call("derive_geocoded_address", fleeti: [.double(10), .double(10)]) == .null)
        #expect(throws: MappingFunctionError.self) {
            try call("derive_geocoded_address", fleeti: [.double(95), .double(10)])
        }
    }

    // MARK: Sensors

    @Test(arguments: [
        // (field, raw value, expected temperature or nil when invalid)
        ("avl_io_72", FieldValue.int(185), 18.5 as Double?),
        ("avl_io_72", .int(850), nil),  // Dallas "sensor not ready"
        ("avl_io_72", .int(-1300), nil),  // -130 °C: out of range
        ("avl_io_25", .int(2150), 21.5),  // BLE: multiplier 0.01
        ("avl_io_25", .int(4000), nil),  // BLE "abnormal sensor state"
        ("avl_io_202", .int(32), 32),  // LLS: no multiplier
        ("avl_io_202", .int(-128), nil),  // LLS error
        ("ext_temp_sensor_1", .double(-12.5), -12.5),
        ("ble_temp_sensor_1", .double(-217.5), nil),
        ("temp_sensor", .int(120), 120),
        ("temp_sensor", .double(120.5), nil),
    ])
    func environmentTemperatureChecks(field: String, raw: FieldValue, expected: Double?) throws {
        let value = try FunctionCaller(dataType: .array)("derive_sensors_environment", provider: [(field, raw)])
        guard case .array(let probes) = value else {
            Issue.record("not an array: \(value)")
            return
        }
        #expect(probes.first?[key: "temperature"] == expected.map(FieldValue.double))
    }

    @Test(arguments: [
        ("avl_io_86", FieldValue.int(785), 78.5 as Double?), ("avl_io_86", .int(65535), nil),
        ("avl_io_86", .int(1001), nil),
        ("ble_humidity_1", .double(7.8), 7.8), ("humidity_1", .int(101), nil),
    ])
    func environmentHumidityChecks(field: String, raw: FieldValue, expected: Double?) throws {
        let value = try FunctionCaller(dataType: .array)("derive_sensors_environment", provider: [(field, raw)])
        guard case .array(let probes) = value else { return }
        #expect(probes.first?[key: "humidity"] == expected.map(FieldValue.double))
    }

    @Test(arguments: [
        ("avl_io_29", FieldValue.int(69), 69.0 as Double?), ("avl_io_29", .int(-128), nil),
        ("ble_battery_level_1", .int(101), nil),
    ])
    func environmentBatteryChecks(field: String, raw: FieldValue, expected: Double?) throws {
        let value = try FunctionCaller(dataType: .array)("derive_sensors_environment", provider: [(field, raw)])
        guard case .array(let probes) = value else { return }
        #expect(probes.first?[key: "battery"] == expected.map(FieldValue.double))
    }

    /// Raw AVL values win over processed ones of the same probe; measurements of one probe group.
    @Test func environmentGroupsOneProbeAndPrefersRaw() throws {
        let value = try FunctionCaller(dataType: .array)(
            "derive_sensors_environment",
            provider: [
                ("ble_temp_sensor_1", .double(19.0)), ("avl_io_25", .int(2150)), ("avl_io_86", .int(550)),
                ("avl_io_29", .int(90)),
                ("avl_io_72", .int(40)),
            ])
        #expect(
            value
                == .array([
                    .keyed([
                        ("id", .string("ble_1")), ("temperature", .double(21.5)), ("humidity", .double(55)),
                        ("battery", .double(90)),
                    ]),
                    .keyed([("id", .string("dallas_1")), ("temperature", .double(4))]),
                ]))
    }

    @Test func environmentUsesRegistrySensors() throws {
        var call = FunctionCaller(dataType: .array)
        call.asset.accessories = [
            Accessory(
                id: "acc", typeCode: "temperature",
                sensors: [
                    Sensor(
                        id: "fridge", type: "environment", label: "Fridge", position: 2,
                        providerFields: ["ext_temp_sensor_2", "avl_io_73"])
                ])
        ]
        let value = try call(
            "derive_sensors_environment", provider: [("ext_temp_sensor_2", .double(3.5)), ("avl_io_73", .int(41))])
        #expect(
            value
                == .array([
                    .keyed([
                        ("id", .string("fridge")), ("label", .string("Fridge")), ("position", .int(2)),
                        ("temperature", .double(4.1)),
                    ])
                ]))
    }

    @Test func environmentNullWithoutAnyField() throws {
        #expect(
            try FunctionCaller(dataType: .array)("derive_sensors_environment", provider: [("avl_io_72", .null)])
                == .null)
    }

    @Test func magnetStatesAndChangeTimes() throws {
        var call = FunctionCaller(field: "magnet", dataType: .array)
        var state = VehicleMappingState()
        let t1 = Fixtures.t0
        call.recordTime = t1
        var out = try call(
            "derive_sensors_magnet",
            provider: [("avl_io_10808", .int(1)), ("ble_magnet_sensor_1", .int(0)), ("ble_magnet_sensor_2", .int(7))],
            state: &state)
        #expect(
            out.value
                == .array([
                    .keyed([
                        ("id", .string("magnet_1")), ("state", .int(1)), ("last_updated_at", .int(t1)),
                        ("last_changed_at", .int(t1)),
                    ])
                ]))
        call.recordTime = t1 + 1000
        out = try call("derive_sensors_magnet", provider: [("avl_io_10808", .int(1))], state: &state)
        #expect(out.value.asArrayFirst?[key: "last_changed_at"] == .int(t1))
        call.recordTime = t1 + 2000
        out = try call("derive_sensors_magnet", provider: [("avl_io_10808", .int(0))], state: &state)
        #expect(out.value.asArrayFirst?[key: "last_changed_at"] == .int(t1 + 2000))
    }

    @Test(
        arguments: [
            // (fields, tank, expected value, unit)
            ([("avl_io_89", FieldValue.int(86))], FuelTank(id: "t"), 86.0 as Double?, "%"),
            ([("avl_io_89", .int(50))], FuelTank(id: "t", capacity: 80), 40, "l"),
            ([("avl_io_390", .int(170))], FuelTank(id: "t"), 17, "l"),  // avl_io_390 / 10
            ([("avl_io_89", .int(101)), ("can_fuel_litres", .int(40))], FuelTank(id: "t"), 40, "l"),  // invalid % skipped
            (
                [("avl_io_201", .int(2048))],
                FuelTank(
                    id: "t",
                    calibration: CalibrationTable(points: [.init(raw: 0, liters: 0), .init(raw: 4096, liters: 400)])),
                200, "l"
            ),
            (
                [("avl_io_201", .int(65532))],
                FuelTank(
                    id: "t",
                    calibration: CalibrationTable(points: [.init(raw: 0, liters: 0), .init(raw: 4096, liters: 400)])),
                nil, ""
            ),  // error code
            ([("avl_io_201", .int(2048))], FuelTank(id: "t"), nil, ""),  // kvants without calibration
            ([("lls_level_1", .int(111))], FuelTank(id: "t", levelSensorReportsLiters: true), 111, "l"),
        ] as [([(String, FieldValue)], FuelTank, Double?, String)])
    func fuelLevels(fields: [(String, FieldValue)], tank: FuelTank, expected: Double?, unit: String) throws {
        var call = FunctionCaller(dataType: .number, targetUnit: "conditionnal")
        call.asset.fuelTanks = [tank]
        var state = VehicleMappingState()
        let out = try call("derive_fuel_levels", provider: fields, state: &state)
        #expect(out.value == (expected.map(FieldValue.double) ?? .null))
        if expected != nil { #expect(out.unit == unit) }
    }

    @Test func fuelLevelsAsArrayPerTank() throws {
        var call = FunctionCaller(dataType: .array)
        call.asset.fuelTanks = [
            FuelTank(id: "left", capacity: 100, providerFields: ["avl_io_89"]),
            FuelTank(id: "right", providerFields: ["lls_level_2", "avl_io_203"], levelSensorReportsLiters: true),
        ]
        let value = try call(
            "derive_fuel_levels",
            provider: [("avl_io_89", .int(25)), ("avl_io_203", .int(60)), ("lls_level_2", .int(61))])
        #expect(
            value
                == .array([
                    .keyed([("id", .string("left")), ("value", .double(25)), ("unit", .string("l"))]),
                    .keyed([("id", .string("right")), ("value", .double(60)), ("unit", .string("l"))]),
                ]))
    }

    @Test func calibrationInterpolatesAndClamps() throws {
        let table = try #require(
            CalibrationTable(points: [
                .init(raw: 1000, liters: 100), .init(raw: 0, liters: 0), .init(raw: 3000, liters: 400),
            ]))
        #expect(table.liters(forRaw: 500) == 50)
        #expect(table.liters(forRaw: 2000) == 250)
        #expect(table.liters(forRaw: -5) == 0)
        #expect(table.liters(forRaw: 5000) == 400)
        #expect(CalibrationTable(points: [.init(raw: 1, liters: 1)]) == nil)
    }

    // MARK: Driver and timestamps

    @Test func driverNameLookupAndMemory() throws {
        var call = FunctionCaller(field: "driver_name")
        call.assets = AssetRegistry(drivers: [
            Driver(key: "BA0000002B4D4E01", name: "Jane Doe"), Driver(key: "1F", name: "Ravi"),
        ])
        var state = VehicleMappingState()
        let steps: [(FieldValue, FieldValue)] = [
            (.string("ba0000002b4d4e01"), .string("Jane Doe")),  // lookup ignores case
            (.string(""), .string("Jane Doe")),  // empty key keeps the previous name
            (.null, .string("Jane Doe")),
            (.int(0), .string("Jane Doe")),  // Teltonika's "no key"
            (.string("DEADBEEF"), .null),  // unknown key: null
            (.string(""), .null),
            (.int(31), .string("Ravi")),  // a decimal key matches its hex form
        ]
        for (key, expected) in steps {
            #expect(try call("derive_driver_name", fleeti: [key], state: &state).value == expected, "key \(key)")
        }
    }

    @Test func lastChangedAtFollowsTheValue() throws {
        var call = FunctionCaller(field: "statuses_engine_last_changed_at", dataType: .datetime)
        var state = VehicleMappingState()
        let t = Fixtures.t0
        let steps: [(FieldValue, Int64, FieldValue)] = [
            (.string("running"), t, .int(t)),
            (.string("running"), t + 1000, .int(t)),
            (.null, t + 2000, .int(t)),  // no information: unchanged
            (.string("standby"), t + 3000, .int(t + 3000)),
            (.string("standby"), t + 4000, .int(t + 3000)),
        ]
        for (code, time, expected) in steps {
            call.recordTime = time
            let out = try call("derive_statuses_engine_last_changed_at", fleeti: [code, .int(time)], state: &state)
            #expect(out.value == expected)
        }
    }

    @Test func lastUpdatedAtIsFreshness() throws {
        let call = FunctionCaller(field: "odometer_last_updated_at", dataType: .datetime)
        var state = VehicleMappingState()
        let t = Fixtures.t0
        #expect(
            try call("derive_odometer_last_updated_at", fleeti: [.double(10), .int(t)], state: &state).value == .int(t))
        #expect(
            try call("derive_odometer_last_updated_at", fleeti: [.null, .int(t + 5)], state: &state).value == .int(t))
        #expect(
            try call("derive_odometer_last_updated_at", fleeti: [.double(10), .int(t + 9)], state: &state).value
                == .int(t + 9))
        // movement: either value present
        var movement = VehicleMappingState()
        let m = FunctionCaller(field: "movement_last_updated_at", dataType: .datetime)
        #expect(
            try m("derive_movement_last_updated_at", fleeti: [.null, .int(0), .int(t)], state: &movement).value
                == .int(t))
        #expect(
            try m("derive_movement_last_updated_at", fleeti: [.null, .null, .int(t + 1)], state: &movement).value
                == .int(t))
    }

    @Test func driverLastChangedAtIgnoresEmptyKeys() throws {
        let call = FunctionCaller(field: "driver_last_changed_at", dataType: .datetime)
        var state = VehicleMappingState()
        let t = Fixtures.t0
        #expect(
            try call("derive_driver_last_changed_at", fleeti: [.string("AA"), .int(t)], state: &state).value == .int(t))
        #expect(
            try call("derive_driver_last_changed_at", fleeti: [.string(""), .int(t + 1)], state: &state).value
                == .int(t))
        #expect(
            try call("derive_driver_last_changed_at", fleeti: [.string("AA"), .int(t + 2)], state: &state).value
                == .int(t))
        #expect(
            try call("derive_driver_last_changed_at", fleeti: [.string("BB"), .int(t + 3)], state: &state).value
                == .int(t + 3))
    }

    /// Position changes count beyond the threshold (25 m by default), measured from the last change.
    @Test func locationLastChangedAtUsesAThreshold() throws {
        let call = FunctionCaller(field: "location_last_changed_at", dataType: .datetime)
        var state = VehicleMappingState()
        let t = Fixtures.t0
        let lat = -20.28516
        let lng = 57.43321
        let metre = 1.0 / 111_195  // degrees of latitude per metre
        let steps: [(Double, Int64, Int64)] = [
            (lat, t, t),  // first fix
            (lat + 10 * metre, t + 1, t),  // GPS noise
            (lat + 20 * metre, t + 2, t),  // still within 25 m of the anchor
            (lat + 30 * metre, t + 3, t + 3),  // moved
            (lat + 40 * metre, t + 4, t + 3),
        ]
        for (la, time, expected) in steps {
            let out = try call(
                "derive_location_last_changed_at", fleeti: [.double(la), .double(lng), .int(time)], state: &state)
            #expect(out.value == .int(expected), "at \(time - t)")
        }
        #expect(
            try call("derive_location_last_changed_at", fleeti: [.null, .null, .int(t + 5)], state: &state).value
                == .int(t + 3))
    }
}

extension FieldValue {
    var asArrayFirst: FieldValue? {
        if case .array(let a) = self { return a.first }
        return nil
    }
}
