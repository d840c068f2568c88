import Foundation
import TelemetryCore
import Testing

@testable import TelemetryMapping

struct EngineTests {
    static let specPacket =
        "#D#061025;104310;2017.1096;S;05725.9927;E;78;143;243;15;NA;9;1;0.172,0.172;NA;EVENT:1:2,avl_io_1:1:1,board_voltage:2:13.642"

    @Test func parsesTheSpecSyntheticPacket() throws {
        let (time, fields) = try NavixyWireFormat.parse(Self.specPacket)
        #expect(time == Fixtures.t0)  // 2025-10-06T10:43:10Z
        let byName = Dictionary(uniqueKeysWithValues: fields.map { ($0.name, $0.value) })
        #expect(byName["lat"] == .double(-20.28516))
        #expect(byName["lng"] == .double(57.433212))
        #expect(byName["hdop"] == .null)  // NA
        #expect(byName["ibutton"] == .null)
        #expect(byName["inputs"] == .int(9))
        #expect(byName["adc"] == .array([.double(0.172), .double(0.172)]))
        #expect(byName["params.avl_io_1"] == .int(1))
        #expect(byName["params.board_voltage"] == .double(13.642))
    }

    @Test(arguments: [
        "#X#061025;104310", "#D#321325;104310;1;N;1;E;0;0;0;0;0;0;0;NA;NA;",
        "#D#061025;104310;abc;N;1;E;0;0;0;0;0;0;0;NA;NA;",
    ])
    func rejectsBadLines(line: String) {
        #expect(throws: NavixyWireFormat.ParseError.self) { try NavixyWireFormat.parse(line) }
    }

    /// SPEC section 3: 2025-10-06T10:43:10Z, lat -20.28516, lng 57.43321, inputs 9 -> inputs 1 and 4 on.
    @Test func mapsTheSpecSyntheticPacket() throws {
        let (time, fields) = try NavixyWireFormat.parse(Self.specPacket)
        let record = ProviderRecord(vehicle: Fixtures.vehicle(), timestamp: time, provider: "navixy", fields: fields)
        let engine = try Fixtures.defaultEngine()
        var state = VehicleMappingState()
        let mapped = try #require(engine.map(record, state: &state, receivedAt: time + 2000).record)
        #expect(mapped["last_updated_at"] == .int(1_759_747_390_000))
        let lat = try #require(mapped["location_latitude"]?.asDouble)
        let lng = try #require(mapped["location_longitude"]?.asDouble)
        #expect(abs(lat - -20.28516) < 1e-5)
        #expect(abs(lng - 57.43321) < 1e-5)
        #expect(mapped["inputs_individual_input_1"] == .bool(true))
        #expect(mapped["inputs_individual_input_2"] == .bool(false))
        #expect(mapped["inputs_individual_input_3"] == .bool(false))
        #expect(mapped["inputs_individual_input_4"] == .bool(true))
        #expect(mapped["outputs_individual_output_1"] == .bool(true))
        #expect(mapped["speed"] == .int(78))
        #expect(mapped["location_heading"] == .int(143))
        #expect(mapped["location_cardinal_direction"] == .string("SE"))
        #expect(mapped["location_altitude"] == .int(243))
        #expect(mapped["location_precision_satellites"] == .int(15))
        #expect(mapped["location_precision_hdop"] == nil)  // NA
        #expect(mapped["ignition_value"] == .bool(true))  // input 1 (no avl_io_239)
        #expect(mapped["statuses_connectivity_code"] == .string("online"))
        #expect(mapped["statuses_transit_code"] == .string("in_transit"))
        #expect(mapped["top_status_code"] == .string("in_transit"))
        #expect(mapped["top_status_last_changed_at"] == .int(time))
        #expect(mapped["device_power_board_voltage"] == .double(13.642))
        #expect(mapped["device_power_external_voltage"] == nil)  // no avl_io_66
        #expect(mapped["diagnostics_engine_rpm"] == nil)
        #expect(mapped.mappingVersion == "1.0.6-telemetrystore.2")
        #expect(mapped.fieldErrors.isEmpty, "\(mapped.fieldErrors)")
        #expect(state.lastPacketAt == time)
    }

    /// The board voltage and engine RPM of the Navixy field catalog (not in the Fleeti 1.0.x
    /// files): avl_io_66 comes in millivolts, and the RPM sources in the Fleeti catalog's order.
    @Test(arguments: [
        (["params.avl_io_66": FieldValue.int(12_888)], "device_power_external_voltage", FieldValue?.some(.double(12.888))),
        (["params.board_voltage": .double(24.1), "params.avl_io_66": .int(12_888)], "device_power_board_voltage", .double(24.1)),
        (["params.can_rpm": .int(1252), "params.obd_rpm": .int(793), "params.avl_io_36": .int(700), "params.avl_io_85": .int(600)],
         "diagnostics_engine_rpm", .int(1252)),
        (["params.obd_rpm": .int(793), "params.avl_io_36": .int(700), "params.avl_io_85": .int(600)], "diagnostics_engine_rpm", .int(793)),
        (["params.avl_io_36": .int(700), "params.avl_io_85": .int(600)], "diagnostics_engine_rpm", .int(700)),
        (["params.avl_io_85": .int(600)], "diagnostics_engine_rpm", .int(600)),
        (["params.can_rpm": .null, "params.avl_io_85": .int(600)], "diagnostics_engine_rpm", .int(600)),
        (["speed": .int(3)], "diagnostics_engine_rpm", nil),
        // Numeric text converts; a bool is 0/1 only where no conversion applies.
        (["params.avl_io_66": .string("12888")], "device_power_external_voltage", .double(12.888)),
        (["params.board_voltage": .bool(true)], "device_power_board_voltage", .int(1)),
    ])
    func mapsVoltageAndRPM(fields: [String: FieldValue], canonical: String, expected: FieldValue?) throws {
        let engine = try Fixtures.defaultEngine()
        var state = VehicleMappingState()
        let mapped = try #require(
            engine.map(Fixtures.record(fields), state: &state, receivedAt: Fixtures.t0).record)
        if let expected, case .double(let want) = expected {
            let got = try #require(mapped[canonical]?.asDouble)
            #expect(abs(got - want) < 1e-9, "\(canonical): \(got)")
        } else {
            #expect(mapped[canonical] == expected, "\(canonical)")
        }
        #expect(mapped.fieldErrors.isEmpty, "\(mapped.fieldErrors)")
    }

    @Test("a bool where a unit converts is a field failure, named, and the record still maps")
    func boolUnderConversionFails() throws {
        let engine = try Fixtures.defaultEngine()
        var state = VehicleMappingState()
        let mapped = try #require(
            engine.map(Fixtures.record(["params.avl_io_66": .bool(true), "speed": .int(5)]), state: &state, receivedAt: Fixtures.t0).record)
        #expect(mapped["device_power_external_voltage"] == nil && mapped["speed"] == .int(5))
        #expect(mapped.fieldErrors.map(\.field) == ["device_power_external_voltage"])
    }

    static let speedMapping = Fixtures.mappingYAML(
        """
          speed:
            type: prioritized
            sources:
              - {priority: 1, field: can_speed, path: params.can_speed, unit: km/h}
              - {priority: 2, field: speed_ms, path: params.speed_ms, unit: m/s}
              - {priority: 3, field: speed, path: speed, unit: km/h}
            unit: km/h
            data_type: number

        """)

    /// A source path `params.X` matches a record field named `params.X` or `X`; a root path
    /// matches only its own name; a null value counts as absent.
    @Test(arguments: [
        (["params.can_speed": FieldValue.int(26)], FieldValue.int(26) as FieldValue?),
        (["can_speed": .int(27)], .int(27)),
        (["params.can_speed": .null, "params.speed_ms": .int(10)], .double(36)),
        (["speed_ms": .double(2.5), "speed": .int(8)], .double(9)),
        (["speed": .int(8)], .int(8)),
        (["params.speed": .int(8)], nil),
        ([:], nil),
    ])
    func providerFieldNameMatching(fields: [String: FieldValue], expected: FieldValue?) throws {
        let engine = try Fixtures.engine(Self.speedMapping)
        var state = VehicleMappingState()
        let mapped = try #require(engine.map(Fixtures.record(fields), state: &state, receivedAt: Fixtures.t0).record)
        #expect(mapped["speed"] == expected)
    }

    @Test func failingSourceMovesToTheNextAndNullReportsAnError() throws {
        let engine = try Fixtures.engine(Self.speedMapping)
        var state = VehicleMappingState()
        var mapped = try #require(
            engine.map(
                Fixtures.record(["params.can_speed": .string("fast"), "speed": .int(8)]), state: &state,
                receivedAt: Fixtures.t0
            )
            .record)
        #expect(mapped["speed"] == .int(8))
        #expect(mapped.fieldErrors.isEmpty)
        mapped = try #require(
            engine.map(Fixtures.record(["params.can_speed": .string("fast")]), state: &state, receivedAt: Fixtures.t0)
                .record)
        #expect(mapped["speed"] == nil)
        #expect(
            mapped.fieldErrors == [
                FieldMappingError(field: "speed", reason: "source 1 (params.can_speed): value \"fast\" is not a number")
            ])
    }

    @Test func useFallbackKeepsTheLastKnownValue() throws {
        let yaml = Self.speedMapping.replacingOccurrences(
            of: "data_type: number", with: "data_type: number\n    error_handling: use_fallback")
        let engine = try Fixtures.engine(yaml)
        var state = VehicleMappingState()
        _ = engine.map(Fixtures.record(["speed": .int(40)]), state: &state, receivedAt: Fixtures.t0)
        let mapped = try #require(engine.map(Fixtures.record([:]), state: &state, receivedAt: Fixtures.t0).record)
        #expect(mapped["speed"] == .int(40))
        let bad = try #require(
            engine.map(Fixtures.record(["speed": .string("x")]), state: &state, receivedAt: Fixtures.t0).record)
        #expect(bad["speed"] == .int(40))
        #expect(bad.fieldErrors.count == 1)
    }

    @Test func failRecordDeadLettersTheRecordAndLeavesStateAlone() throws {
        let yaml = Fixtures.mappingYAML(
            """
              location_heading:
                type: direct
                sources: [{field: heading, path: heading, unit: degrees}]
                unit: degrees
                data_type: number
                error_handling: fail_record
              location_cardinal_direction:
                type: calculated
                function: derive_cardinal_direction
                parameters: {fleeti: [location_heading]}
                data_type: string
              statuses_transit_code:
                type: calculated
                function: derive_statuses_transit_code
                parameters: {fleeti: [statuses_transit_compatible, ignition_value, is_moving_value, speed]}
                data_type: string
              statuses_transit_compatible:
                type: calculated
                function: derive_statuses_transit_compatible
                data_type: boolean
              ignition_value:
                type: direct
                sources: [{field: avl_io_239, path: params.avl_io_239}]
                data_type: boolean
              is_moving_value:
                type: direct
                sources: [{field: moving, path: params.moving}]
                data_type: number
              speed:
                type: direct
                sources: [{field: speed, path: speed, unit: km/h}]
                unit: km/h
                data_type: number

            """)
        let engine = try Fixtures.engine(yaml)
        var state = VehicleMappingState()
        _ = engine.map(
            Fixtures.record(["heading": .int(10), "speed": .int(30)]), state: &state, receivedAt: Fixtures.t0)
        let before = state
        let outcome = engine.map(
            Fixtures.record(["heading": .string("north"), "speed": .int(0)], at: Fixtures.t0 + 1000), state: &state,
            receivedAt: Fixtures.t0)
        let failure = try #require(outcome.failure)
        #expect(failure.reason == .functionErrorFatal)
        #expect(failure.reason.rawValue == "function_error_fatal")
        #expect(failure.mappingVersion == "1.0.0")
        #expect(failure.message.contains("location_heading"))
        #expect(failure.statusCode == .invalidArgument)
        #expect(state == before)
    }

    @Test func recordLevelFailures() throws {
        let engine = try Fixtures.engine(Self.speedMapping)
        var state = VehicleMappingState()
        let other = engine.map(Fixtures.record([:], provider: "teltonika"), state: &state, receivedAt: 0)
        #expect(other.failure?.reason == .unknownProvider)
        #expect(state.isEmpty)
        // Int64.min is a time like any other, not "no timestamp" (that is the wire's 0, which
        // the server dead-letters before mapping).
        let oldest = engine.map(Fixtures.record(["speed": .int(3)], at: Int64.min), state: &state, receivedAt: 0)
        #expect(oldest.failure == nil && oldest.record?.fields.isEmpty == false)
    }

    @Test func nullFieldsAreLeftOutUnlessAsked() throws {
        var state = VehicleMappingState()
        let sparse = try Fixtures.engine(Self.speedMapping).map(Fixtures.record([:]), state: &state, receivedAt: 0)
            .record
        #expect(sparse?.fields.isEmpty == true)
        let full = try Fixtures.engine(Self.speedMapping, options: .init(emitNullFields: true))
            .map(Fixtures.record([:]), state: &state, receivedAt: 0).record
        #expect(full?.fields == [Field("speed", .null)])
    }

    @Test(arguments: [
        ("number", FieldValue.string("12.5"), FieldValue.double(12.5) as FieldValue?),
        ("number", .string("12"), .int(12)),
        ("number", .bool(true), .int(1)),
        ("boolean", .int(0), .bool(false)),
        ("boolean", .string("on"), .bool(true)),
        ("boolean", .string("maybe"), nil),
        ("string", .int(94_097_500_000_000_000), .string("94097500000000000")),
        ("string", .double(9.40975e16), .string("94097500000000000")),
        ("datetime", .string("2025-10-17T00:50:45.000Z"), .int(1_760_662_245_000)),
        ("datetime", .string("2025-10-17 02:50:45+02:00"), .int(1_760_662_245_000)),
        ("datetime", .int(1_760_662_245), .int(1_760_662_245_000)),  // seconds
        ("datetime", .int(1_760_662_245_000), .int(1_760_662_245_000)),  // milliseconds
        ("datetime", .string("yesterday"), nil),
        ("array", .array([.int(1)]), .array([.int(1)])),
        ("array", .int(1), nil),
    ])
    func dataTypeCoercion(type: String, value: FieldValue, expected: FieldValue?) throws {
        let yaml = Fixtures.mappingYAML(
            """
              custom_value:
                type: direct
                sources: [{field: v, path: v}]
                data_type: \(type)

            """)
        let engine = try Fixtures.engine(yaml)
        var state = VehicleMappingState()
        let mapped = try #require(engine.map(Fixtures.record(["v": value]), state: &state, receivedAt: 0).record)
        #expect(mapped["custom_value"] == expected)
        #expect(mapped.fieldErrors.isEmpty == (expected != nil))
    }

    @Test func unitConversionAppliesToSources() throws {
        let engine = try Fixtures.defaultEngine()
        var state = VehicleMappingState()
        let mapped = try #require(
            engine.map(
                Fixtures.record([
                    "params.avl_io_449": .int(7200), "params.avl_io_304": .int(415_000),
                    "params.avl_io_16": .int(52_963_570),
                ]),
                state: &state, receivedAt: Fixtures.t0
            ).record)
        #expect(mapped["engine_hours_value"] == .double(2))
        #expect(mapped["remaining_range"] == .double(415))
        #expect(mapped["odometer_value"] == .double(52_963.57))
    }

    @Test func installationOffsetsComeFromTheRegistry() throws {
        let assets = try registry(
            """
            assets:
              veh-1:
                installation: {initial_odometer: 1000, initial_engine_hours: {value: 120, unit: minutes}}
            """)
        let engine = try Fixtures.defaultEngine(assets: assets)
        var state = VehicleMappingState()
        let mapped = try #require(
            engine.map(
                Fixtures.record(["params.avl_io_105": .int(5000), "params.can_engine_hours_relative": .double(1.5)]),
                state: &state,
                receivedAt: Fixtures.t0
            ).record)
        #expect(mapped["odometer_value"] == .double(1005))  // 5000 m + 1000 km
        #expect(mapped["engine_hours_value"] == .double(3.5))  // 1.5 h + 2 h
    }

    @Test func conditionalUnitIsStoredBesideTheValue() throws {
        let assets = try registry("assets: {veh-1: {fuel_tank_capacity: 60}}")
        var state = VehicleMappingState()
        let liters = try Fixtures.defaultEngine(assets: assets)
            .map(Fixtures.record(["params.avl_io_89": .int(50)]), state: &state, receivedAt: 0).record
        #expect(liters?["fuel_tank_level_value"] == .double(30))
        #expect(liters?["fuel_tank_level_value_unit"] == .string("l"))
        let percent = try Fixtures.defaultEngine().map(
            Fixtures.record(["params.avl_io_89": .int(50)]), state: &state, receivedAt: 0
        )
        .record
        #expect(percent?["fuel_tank_level_value_unit"] == .string("%"))
    }

    @Test func ioMappedPicksTheInstallationInput() throws {
        let yaml = Fixtures.mappingYAML(
            """
              inputs_individual_input_1:
                type: calculated
                function: extract_bit_from_bitmask
                parameters: {provider: {navixy: inputs}}
                data_type: boolean
              inputs_individual_input_2:
                type: calculated
                function: extract_bit_from_bitmask
                parameters: {provider: {navixy: inputs}}
                data_type: boolean
              ignition_value:
                type: io_mapped
                default_source: inputs.individual.input_1
                installation_metadata: asset.installation.ignition_input_number
                data_type: boolean
                error_handling: use_fallback

            """)
        var state = VehicleMappingState()
        let byDefault = try Fixtures.engine(yaml).map(
            Fixtures.record(["inputs": .int(2)]), state: &state, receivedAt: 0
        ).record
        #expect(byDefault?["ignition_value"] == .bool(false))
        let assets = try registry("assets: {veh-1: {installation: {ignition_input_number: 2}}}")
        let wired = try Fixtures.engine(yaml, assets: assets).map(
            Fixtures.record(["inputs": .int(2)]), state: &state, receivedAt: 0
        )
        .record
        #expect(wired?["ignition_value"] == .bool(true))
    }

    @Test func ioMappedNeedsAMappedDefaultSource() {
        let yaml = Fixtures.mappingYAML(
            """
              ignition_value:
                type: io_mapped
                default_source: inputs.individual.input_1
                installation_metadata: ignition_input_number
                data_type: boolean

            """)
        let problems = Fixtures.problems(yaml).map(\.description)
        #expect(
            problems.contains(
                "test.yaml: mapping ignition_value: default_source inputs.individual.input_1 is not mapped in this file"
            ))
        #expect(
            problems.contains(
                "test.yaml: mapping ignition_value: installation_metadata ignition_input_number is not an asset.installation fact"
            ))
    }

    /// The sweep turns a silent vehicle offline at last packet + 24 h, once.
    @Test func connectivitySweep() throws {
        let engine = try Fixtures.defaultEngine()
        var state = VehicleMappingState()
        let t = Fixtures.t0
        let first = try #require(
            engine.map(
                Fixtures.record(["speed": .int(0), "lat": .double(1), "lng": .double(1)]), state: &state,
                receivedAt: t + 1000
            )
            .record)
        #expect(first["statuses_connectivity_code"] == .string("online"))
        let vehicle = Fixtures.vehicle()
        #expect(engine.sweepConnectivity(vehicle: vehicle, state: &state, now: t + 23 * 3_600_000) == nil)
        let transition = try #require(
            engine.sweepConnectivity(vehicle: vehicle, state: &state, now: t + 30 * 3_600_000))
        let offlineAt = t + 24 * 3_600_000
        #expect(transition.at == offlineAt)
        #expect(
            transition.fields == [
                Field("statuses_connectivity_code", .string("offline")),
                Field("statuses_connectivity_last_changed_at", .int(offlineAt)),
                Field("top_status_family", .string("connectivity")),
                Field("top_status_code", .string("offline")),
                Field("top_status_last_changed_at", .int(offlineAt)),
            ])
        #expect(engine.sweepConnectivity(vehicle: vehicle, state: &state, now: t + 40 * 3_600_000) == nil)  // once
        // The sweep's state survives a restart; the next packet brings the vehicle back online.
        state = try VehicleMappingState(encoded: state.encoded())
        let back = try #require(
            engine.map(
                Fixtures.record(["speed": .int(0)], at: t + 41 * 3_600_000), state: &state,
                receivedAt: t + 41 * 3_600_000
            )
            .record)
        #expect(back["statuses_connectivity_code"] == .string("online"))
        #expect(back["statuses_connectivity_last_changed_at"] == .int(t + 41 * 3_600_000))
    }

    /// A late record (older than the newest seen) does not make a live vehicle look offline.
    @Test func connectivityUsesTheNewestPacket() throws {
        let engine = try Fixtures.defaultEngine()
        var state = VehicleMappingState()
        let now = Fixtures.t0 + 48 * 3_600_000
        _ = engine.map(Fixtures.record([:], at: now - 1000), state: &state, receivedAt: now)
        let late = engine.map(Fixtures.record([:], at: Fixtures.t0), state: &state, receivedAt: now).record
        #expect(late?["statuses_connectivity_code"] == .string("online"))
        #expect(state.lastPacketAt == now - 1000)
    }

    @Test func immobilizerCommandOverridesTheOutput() throws {
        let assets = try registry("assets: {veh-1: {accessories: [{id: imm, type_code: immobilizer}]}}")
        let engine = try Fixtures.defaultEngine(assets: assets)
        var state = VehicleMappingState()
        let t = Fixtures.t0
        var r = engine.map(Fixtures.record(["outputs": .int(0)]), state: &state, receivedAt: t).record
        #expect(r?["statuses_immobilization_code"] == .string("free"))
        state.recordImmobilizerCommand(.immobilize, at: t + 1000)
        r = engine.map(Fixtures.record(["outputs": .int(0)], at: t + 2000), state: &state, receivedAt: t + 2000).record
        #expect(r?["statuses_immobilization_code"] == .string("immobilizing"))
        r = engine.map(Fixtures.record(["outputs": .int(1)], at: t + 3000), state: &state, receivedAt: t + 3000).record
        #expect(r?["statuses_immobilization_code"] == .string("immobilized"))
        #expect(r?["top_status_family"] == .string("immobilization"))
        #expect(state.immobilizerCommand == nil)
    }

    @Test func engineStatusForCompatibleAssets() throws {
        let assets = try registry("assets: {veh-1: {type: Vehicle, subtype: Agricultural}}")
        let engine = try Fixtures.defaultEngine(assets: assets)
        var state = VehicleMappingState()
        let r = engine.map(Fixtures.record(["params.avl_io_239": .int(1)]), state: &state, receivedAt: Fixtures.t0)
            .record
        #expect(r?["statuses_engine_compatible"] == .bool(true))
        #expect(r?["statuses_engine_code"] == .string("running"))
        #expect(r?["top_status_family"] == .string("engine"))
    }

    @Test func passthroughCopiesUnreadFields() throws {
        let engine = try Fixtures.defaultEngine("generic.yaml")
        var state = VehicleMappingState()
        let record = Fixtures.record(
            [
                "lat": .double(1.5), "speed_ms": .int(10), "battery_mv": .int(12_888), "door_open": .bool(true),
                "location_heading": .int(90),
            ],
            provider: "generic")
        let mapped = try #require(engine.map(record, state: &state, receivedAt: 0).record)
        #expect(mapped["location_latitude"] == .double(1.5))
        #expect(mapped["speed"] == .double(36))
        #expect(mapped["device_power_external_voltage"] == .double(12.888))
        #expect(mapped["door_open"] == .bool(true))  // not mapped: stored as it came
        #expect(mapped["location_heading"] == .int(90))  // already canonical
        #expect(mapped["lat"] == nil)  // read by a mapping: renamed
        #expect(mapped["speed_ms"] == nil)
    }

    /// The passthrough shortcut (no name a mapping can produce, no repeated name) and the
    /// general passthrough give one rule: a mapped value wins, a repeated field keeps its first
    /// value, everything else is copied in record order.
    @Test func passthroughWithRepeatedAndCanonicalNames() throws {
        let engine = try Fixtures.defaultEngine("generic.yaml")
        func mapped(_ fields: [Field]) throws -> [Field] {
            var state = VehicleMappingState()
            let record = ProviderRecord(
                vehicle: Fixtures.vehicle(), timestamp: Fixtures.t0, provider: "generic", fields: fields)
            return try #require(engine.map(record, state: &state, receivedAt: 0).record).fields
        }
        let plain = try mapped([Field("lat", .double(1.5)), Field("door_open", .bool(true)), Field("rssi", .int(-70))])
        #expect(plain.filter { $0.name == "door_open" || $0.name == "rssi" }.map(\.value) == [.bool(true), .int(-70)])
        let repeated = try mapped([
            Field("door_open", .bool(true)), Field("rssi", .int(-70)), Field("door_open", .bool(false)),
        ])
        #expect(repeated.filter { $0.name == "door_open" }.map(\.value) == [.bool(true)])
        #expect(repeated.filter { $0.name == "rssi" }.map(\.value) == [.int(-70)])
        let canonical = try mapped([Field("lat", .double(1.5)), Field("location_latitude", .double(9))])
        #expect(canonical.filter { $0.name == "location_latitude" }.map(\.value) == [.double(1.5)])
        // A canonical name no mapping produced for this record is copied.
        let unproduced = try mapped([Field("location_latitude", .double(9)), Field("rssi", .int(-70))])
        #expect(unproduced.filter { $0.name == "location_latitude" }.map(\.value) == [.double(9)])
    }

    @Test func benchMappingRenamesTheTwelveFields() throws {
        let engine = try Fixtures.defaultEngine("bench.yaml")
        var state = VehicleMappingState()
        let record = Fixtures.record(
            [
                "lat": .double(48.85), "lon": .double(2.35), "speed_kmh": .double(42.5), "heading_deg": .double(90),
                "altitude_m": .double(35), "odometer_km": .double(1234.5), "fuel_level_pct": .double(55.5),
                "battery_v": .double(12.6),
                "engine_rpm": .int(1800), "ignition": .bool(true), "satellites": .int(9), "hdop": .double(0.9),
            ], provider: "bench")
        let mapped = try #require(engine.map(record, state: &state, receivedAt: 0).record)
        #expect(mapped.fields.count == 12)
        #expect(mapped["location_longitude"] == .double(2.35))
        #expect(mapped["diagnostics_engine_rpm"] == .int(1800))
        #expect(mapped["ignition_value"] == .bool(true))
        #expect(mapped["fuel_tank_level_value"] == .double(55.5))
        #expect(mapped.fieldErrors.isEmpty)
        #expect(state.isEmpty == false)  // only lastPacketAt
        #expect(state.encoded().count <= 10)
    }

    @Test func telemetryRecordCarriesTheMappingVersion() throws {
        let engine = try Fixtures.engine(Self.speedMapping)
        var state = VehicleMappingState()
        let source = Fixtures.record(["speed": .int(5)])
        let mapped = try #require(engine.map(source, state: &state, receivedAt: 99).record)
        let stored = mapped.telemetryRecord(from: source, receivedAt: 99)
        #expect(stored.provenance == Provenance(provider: "navixy", mappingVersion: "1.0.0", receivedAt: 99))
        #expect(stored.timestamp == source.timestamp)
        #expect(stored["speed"] == .int(5))
    }
}
