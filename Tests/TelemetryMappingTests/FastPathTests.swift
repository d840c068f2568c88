import TelemetryCore
import Testing

@testable import TelemetryMapping

/// The engine's shortcuts must not change a result: these tests pin the facts each shortcut
/// relies on, and compare shortcut and full evaluation where both can run.
@Suite struct FastPathTests {
    /// The functions the engine skips when a record carries none of their inputs. A new entry
    /// here must be a function whose body returns null before anything else when every
    /// argument is null.
    static let skippable: Set<String> = [
        "extract_bit_from_bitmask", "derive_ignition_value", "add_installation_offset_odometer",
        "add_installation_offset_engine_hours", "divide_by_10", "derive_cardinal_direction",
        "derive_dtc_codes_combined", "derive_geofences", "derive_geocoded_address", "derive_sensors_environment",
        "derive_sensors_magnet", "derive_fuel_levels", "derive_statuses_engine_code", "derive_ongoing_trip_mileage",
    ]

    @Test func theSkippableFunctionsAreExactlyThose() {
        let registry = MappingFunctionRegistry.standard
        let flagged = Set(registry.names.filter { registry.function(named: $0)?.isNullWithoutInputs == true })
        #expect(flagged == Self.skippable)
    }

    /// Every skippable function, called with all arguments null (each argument count it
    /// accepts, up to 8), with an asset that has sensors, tanks, accessories and installation
    /// facts, and a state with memory, a trip and a pending command, returns null and leaves
    /// the state unchanged: skipping the call is the same as making it.
    @Test(arguments: FastPathTests.skippable.sorted())
    func skippableFunctionReturnsNullWithoutInputs(_ name: String) throws {
        let function = try #require(MappingFunctionRegistry.standard.function(named: name))
        let vehicle = Fixtures.vehicle()
        let asset = AssetFacts(
            kind: .vehicle, subtype: AssetSubtype.vehicleAgricultural,
            installation: Installation(
                ignitionInputNumber: 2, immobilizerOutputNumber: 1, initialOdometer: 1000, initialEngineHours: 50),
            accessories: [
                Accessory(
                    id: "a1", typeCode: "immobilizer",
                    sensors: [
                        Sensor(id: "t1", type: "temperature", providerFields: ["avl_io_72"]),
                        Sensor(id: "m1", type: "magnet", providerFields: ["avl_io_10808"]),
                    ])
            ],
            fuelTanks: [FuelTank(id: "tank_1", capacity: 80, providerFields: ["avl_io_89"])], fuelTankCapacity: 80)
        let assets = AssetRegistry(assets: [vehicle.rawValue: asset])
        var state = VehicleMappingState()
        state.lastPacketAt = Fixtures.t0 - 60_000
        state.memory["field#magnet_1"] = FieldMemory(input: .int(1), output: .int(Fixtures.t0 - 60_000))
        state.memory["field"] = FieldMemory(input: .string("k"), output: .int(Fixtures.t0 - 60_000))
        state.trip = OngoingTrip(startedAt: Fixtures.t0 - 600_000, startOdometer: 12, waypoints: [])
        state.recordImmobilizerCommand(.immobilize, at: Fixtures.t0 - 1000)
        let before = state
        let environment = MappingRecordEnvironment(
            vehicle: vehicle, asset: asset, assets: assets, recordTime: Fixtures.t0, now: Fixtures.t0 + 500,
            options: MappingEngine.Options())
        let fleetiCounts = function.fleetiParameters.clamped(to: 0...8)
        let providerCounts = function.providerParameters.clamped(to: 0...8)
        var calls = 0
        for fleeti in fleetiCounts {
            for provider in providerCounts where fleeti + provider > 0 {
                for dataType in function.outputTypes {
                    let info = MappingCallInfo(
                        field: "field", providerNames: (0..<provider).map { "avl_io_\(72 + $0)" },
                        staticParameters: ["bit_position": .int(0)], targetUnit: .none, sourceUnit: nil,
                        dataType: dataType)
                    let context = MappingFunctionContext(
                        fleeti: Array(repeating: .null, count: fleeti),
                        provider: Array(repeating: .null, count: provider), call: info, record: environment)
                    let out = try function.body(context, &state)
                    #expect(out.value == .null, "\(name) with \(fleeti) fleeti and \(provider) provider nulls")
                    #expect(state == before, "\(name) changed the state")
                    calls += 1
                }
            }
        }
        #expect(calls > 0)
    }

    /// A prioritized mapping whose calculated source has no input falls through to the next
    /// source, and uses the calculated source when its input is there.
    @Test func skippedCalculatedSourceFallsThroughToTheNextSource() throws {
        let engine = try Fixtures.engine(
            Fixtures.mappingYAML(
                """
                  inputs_individual_input_1:
                    type: prioritized
                    sources:
                      - {priority: 1, type: calculated, calculation_type: function_reference, function: extract_bit_from_bitmask,
                         parameters: {provider: {navixy: inputs}, static: {bit_position: 0}}}
                      - {priority: 2, field: avl_io_1, path: params.avl_io_1, unit: none}
                    data_type: boolean
                """))
        var state = VehicleMappingState()
        let fromField = engine.map(Fixtures.record(["params.avl_io_1": .int(1)]), state: &state, receivedAt: Fixtures.t0)
        #expect(fromField.record?["inputs_individual_input_1"] == .bool(true))
        let fromBit = engine.map(
            Fixtures.record(["inputs": .int(2), "params.avl_io_1": .int(1)]), state: &state, receivedAt: Fixtures.t0)
        #expect(fromBit.record?["inputs_individual_input_1"] == .bool(false))
        let neither = engine.map(Fixtures.record(["speed": .int(3)]), state: &state, receivedAt: Fixtures.t0)
        #expect(neither.record?["inputs_individual_input_1"] == nil)
        #expect(neither.record?.fieldErrors == [])
        // A bad bitmask is still a failure (the shortcut only skips absent inputs).
        let bad = engine.map(Fixtures.record(["inputs": .string("x")]), state: &state, receivedAt: Fixtures.t0)
        #expect(bad.record?.fieldErrors.map(\.field) == ["inputs_individual_input_1"])
    }

    /// A calculated field reading computed fields that are all null is skipped when its
    /// function allows it, and still computed when one of them has a value.
    @Test func calculatedFieldOfAbsentFieldsIsNull() throws {
        let engine = try Fixtures.defaultEngine()
        var state = VehicleMappingState()
        let none = engine.map(Fixtures.record(["speed": .int(10)]), state: &state, receivedAt: Fixtures.t0)
        #expect(none.record?["location_cardinal_direction"] == nil)
        #expect(none.record?["statuses_engine_code"] == nil)
        let some = engine.map(Fixtures.record(["heading": .int(90)]), state: &state, receivedAt: Fixtures.t0)
        #expect(some.record?["location_cardinal_direction"] == .string("E"))
    }
}

/// The provider-field table answers exactly as a dictionary of the same names.
@Suite struct FieldNameTableTests {
    @Test func answersAsTheDictionary() {
        var names: [String: Int] = [:]
        for i in 0..<300 { names["params.avl_io_\(i)"] = i }
        names["lat"] = 1000
        names[""] = 1001
        let table = FieldNameTable(names)
        #expect(table.count == names.count)
        for (name, slot) in names { #expect(table.slot(name) == slot) }
        for absent in ["params.avl_io_300", "lng", "params.", "params.avl_io_1 ", "LAT", "avl_io_1"] {
            #expect(table.slot(absent) == nil)
        }
    }

    /// Unicode canonical equivalence: U+212A KELVIN SIGN equals "K" as a Swift String, so a
    /// dictionary finds one under the other; the table must too, in both directions.
    @Test func nonASCIINamesFollowStringEquality() {
        let kelvin = "temp_\u{212A}"
        let ascii = FieldNameTable(["temp_K": 1])
        #expect(ascii.slot(kelvin) == 1)
        let unicode = FieldNameTable([kelvin: 2, "lat": 3])
        #expect(unicode.slot("temp_K") == 2)
        #expect(unicode.slot("lat") == 3)
        let composed = FieldNameTable(["caf\u{E9}": 4])
        #expect(composed.slot("cafe\u{301}") == 4)
    }
}
