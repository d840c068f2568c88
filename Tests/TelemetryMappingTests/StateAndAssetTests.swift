import Foundation
import TelemetryCore
import Testing

@testable import TelemetryMapping

struct VehicleMappingStateTests {
    static var full: VehicleMappingState {
        var s = VehicleMappingState()
        s.lastPacketAt = Fixtures.t0
        s.connectivityCode = "online"
        s.transit = TransitState(code: .parked, stillSince: Fixtures.t0 - 181_000, lastIgnition: false)
        s.trip = OngoingTrip(
            startedAt: Fixtures.t0 - 3_600_000, startOdometer: 82_624.125,
            waypoints: [
                Coordinate(latitude: -20.28516, longitude: 57.433212),
                Coordinate(latitude: 89.999999, longitude: -179.999999),
            ])
        s.immobilizerCommand = ImmobilizerCommand(kind: .release, sentAt: Fixtures.t0 - 5)
        s.memory = [
            "driver_name": FieldMemory(input: .string("BA0000002B4D4E01"), output: .string("Jane Doé")),
            "statuses_engine_last_changed_at": FieldMemory(input: .string("running"), output: .int(Fixtures.t0)),
            "location_last_changed_at": FieldMemory(
                input: .array([.double(-20.28516), .double(57.43321)]), output: .int(-1)),
            "speed#fallback": FieldMemory(input: .null, output: .double(.nan)),
            "x": FieldMemory(input: .bool(true), output: .bytes([0, 255])),
            "y": FieldMemory(input: .bool(false), output: .array([.array([.int(Int64.min), .int(Int64.max)])])),
        ]
        return s
    }

    @Test(arguments: [VehicleMappingState(), full])
    func roundTrips(state: VehicleMappingState) throws {
        let bytes = state.encoded()
        let decoded = try VehicleMappingState(encoded: bytes)
        #expect(decoded.encoded() == bytes)
        #expect(decoded.transit == state.transit)
        #expect(decoded.trip == state.trip)
        #expect(decoded.memory.keys.sorted() == state.memory.keys.sorted())
        for (k, v) in state.memory {
            #expect(decoded.memory[k]!.input.isIdentical(to: v.input))
            #expect(decoded.memory[k]!.output.isIdentical(to: v.output))
        }
    }

    @Test func emptyStateIsTwoBytesAndEmptyBytesDecode() throws {
        #expect(VehicleMappingState().encoded() == [2, 0])
        #expect(try VehicleMappingState(encoded: []).isEmpty)
    }

    @Test func encodingIsDeterministic() {
        #expect(Self.full.encoded() == Self.full.encoded())
    }

    @Test func rejectsUnknownVersionsAndCorruptBytes() {
        let bytes = Self.full.encoded()
        #expect(throws: VehicleMappingStateError.self) { try VehicleMappingState(encoded: [3, 0]) }
        // Version 2 names a memory key by its place in the well-known list: one past its end
        // is a key this build does not know.
        let beyond = UInt8(VehicleMappingState.wellKnownMemoryKeys.count + 1)
        #expect(throws: VehicleMappingStateError.self) { try VehicleMappingState(encoded: [2, 0x80, 1, beyond, 0, 0]) }
        // A time relative to lastPacketAt in a state that has none.
        #expect(throws: VehicleMappingStateError.self) { try VehicleMappingState(encoded: [2, 0x80, 1, 0, 1, 0x61, 0, 8, 2]) }
        for cut in [1, 3, bytes.count / 2, bytes.count - 1] {
            #expect(throws: VehicleMappingStateError.self) {
                try VehicleMappingState(encoded: Array(bytes.prefix(cut)))
            }
        }
        #expect(throws: VehicleMappingStateError.self) { try VehicleMappingState(encoded: bytes + [0]) }
        // A huge count must not allocate: flags = memory only, count = 2^62.
        #expect(throws: VehicleMappingStateError.self) {
            try VehicleMappingState(encoded: [1, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x40])
        }
    }

    @Test func navixyStateStaysCompact() throws {
        let engine = try Fixtures.defaultEngine()
        var state = VehicleMappingState()
        let (time, fields) = try NavixyWireFormat.parse(EngineTests.specPacket)
        _ = engine.map(
            ProviderRecord(vehicle: Fixtures.vehicle(), timestamp: time, provider: "navixy", fields: fields),
            state: &state, receivedAt: time)
        #expect(state.encoded().count < 600, "\(state.encoded().count) bytes")
    }
}

struct AssetRegistryTests {
    static let yaml = """
        version: 1
        defaults:
          type: Vehicle
          subtype: Car
          installation: {ignition_input_number: 2}
        assets:
          tractor-7:
            type: Vehicle
            subtype: Agricultural
            installation:
              ignition_input_number: 3
              immobilizer_output_number: 2
              initial_odometer: {value: 1500000, unit: m}
              initial_engine_hours: 350
            fuel_tank_capacity: 400
            accessories:
              - {id: imm-1, type_code: immobilizer}
              - id: probe
                type_code: temperature
                label: Cab
                sensors:
                  - {id: cab, type: environment, label: Cab probe, position: 1, provider_field: [avl_io_25, ble_temp_sensor_1]}
            fuel_tanks:
              - id: main
                capacity: 400
                provider_field: [lls_level_1, avl_io_201]
                calibration: [[0, 0], [4095, 400]]
          genset-1: {type: 10, subtype: 13}
          room-1: {type: Site, subtype: Coldroom}
        drivers:
          - {key: "BA0000002B4D4E01", name: Jane Doe}
        geofences:
          - id: 1
            name: Depot
            polygon: [[-20.29, 57.43], [-20.29, 57.44], [-20.28, 57.44], [-20.28, 57.43]]
          - id: 2
            name: Port
            circle: {latitude: -20.16, longitude: 57.50, radius_m: 500}
            vehicles: [tractor-7]
        """

    /// A packet without the immobilizer output (or without ignition) leaves that family's code
    /// null; the top status keeps reading the last known code, as the latest state shows it.
    @Test func topStatusKeepsTheLastKnownFamilyCodes() throws {
        let engine = try Fixtures.defaultEngine(assets: try registry(Self.yaml))
        var state = VehicleMappingState()
        func top(_ fields: [String: FieldValue], _ s: Int64) throws -> (String?, FieldValue?) {
            let m = try #require(engine.map(Fixtures.record(fields, at: Fixtures.t0 + s * 1000, vehicle: "tractor-7"), state: &state, receivedAt: Fixtures.t0 + s * 1000).record)
            return (m["top_status_code"]?.asString, m["top_status_last_changed_at"])
        }
        let first = try top(["outputs": .int(2), "speed": .double(0)], 0)
        #expect(first.0 == "immobilized")
        // No outputs in this packet, ignition on: still immobilized (SPEC rule 2 before rule 3).
        let second = try top(["speed": .double(0), "params.avl_io_239": .int(1)], 10)
        #expect(second.0 == "immobilized")
        #expect(second.1 == first.1, "the top status did not change")
        // Released; no ignition in this packet: the last known engine code (running) decides.
        #expect(try top(["outputs": .int(0), "speed": .double(0)], 20).0 == "running")
        // The memory survives a restart (the encoded state).
        state = try VehicleMappingState(encoded: state.encoded())
        #expect(try top(["speed": .double(0)], 30).0 == "running")
    }

    /// Through the engine (its inline rules defer to the function, which names the problem):
    /// input and output numbers the mapping does not read become field errors, not readings.
    @Test func installationNumbersTheMappingDoesNotReadAreFieldErrors() throws {
        let yaml = Self.yaml.replacingOccurrences(of: "ignition_input_number: 3", with: "ignition_input_number: 5")
            .replacingOccurrences(of: "immobilizer_output_number: 2", with: "immobilizer_output_number: 4")
        let engine = try Fixtures.defaultEngine(assets: try registry(yaml))
        var state = VehicleMappingState()
        let m = try #require(
            engine.map(Fixtures.record(["inputs": .int(16), "outputs": .int(1), "speed": .double(0)], vehicle: "tractor-7"), state: &state, receivedAt: Fixtures.t0).record)
        #expect(m["ignition_value"] == nil)
        #expect(m["statuses_immobilization_code"] == nil)
        let failed = Set(m.fieldErrors.map(\.field))
        #expect(failed.isSuperset(of: ["ignition_value", "statuses_immobilization_code"]), "\(m.fieldErrors)")
    }

    /// A driver key spelled another way (case, dashes) is the same driver: no change time.
    @Test func driverKeySpellingsAreOneDriver() throws {
        let engine = try Fixtures.defaultEngine(assets: try registry(Self.yaml))
        var state = VehicleMappingState()
        var changes: [FieldValue?] = []
        for (s, key) in [(0, "BA0000002B4D4E01"), (10, "ba0000002b4d4e01"), (20, "BA00-0000-2B4D-4E01")] {
            let m = engine.map(
                Fixtures.record(["params.avl_io_78": .string(key)], at: Fixtures.t0 + Int64(s) * 1000, vehicle: "tractor-7"),
                state: &state, receivedAt: Fixtures.t0 + Int64(s) * 1000)
            #expect(m.record?["driver_name"] == .string("Jane Doe"))
            changes.append(m.record?["driver_last_changed_at"])
        }
        #expect(changes == [.int(Fixtures.t0), .int(Fixtures.t0), .int(Fixtures.t0)])
    }

    @Test func loadsTheRegistryFormat() throws {
        let r = try registry(Self.yaml)
        let tractor = r.facts(for: try VehicleID("tractor-7"))
        #expect(tractor.kind == .vehicle)
        #expect(tractor.subtype == 5)
        #expect(
            tractor.installation
                == Installation(
                    ignitionInputNumber: 3, immobilizerOutputNumber: 2, initialOdometer: 1500, initialEngineHours: 350))
        #expect(tractor.hasAccessory(typeCode: "Immobilizer"))
        #expect(tractor.sensors.map(\.id) == ["cab"])
        #expect(tractor.fuelTanks.first?.calibration?.liters(forRaw: 4095) == 400)
        #expect(r.facts(for: try VehicleID("genset-1")).subtype == 13)
        #expect(
            r.facts(for: try VehicleID("room-1"))
                == AssetFacts(kind: .site, subtype: 10, installation: Installation(ignitionInputNumber: 2)))
        // Unlisted vehicles get the defaults.
        let unknown = r.facts(for: try VehicleID("nobody"))
        #expect(unknown.kind == .vehicle && unknown.subtype == 1)
        #expect(unknown.installation.effectiveIgnitionInput == 2)
        #expect(unknown.installation.effectiveImmobilizerOutput == 1)
        #expect(r.driver(forKey: "ba0000002b4d4e01")?.name == "Jane Doe")
        #expect(
            r.geofences(containing: Coordinate(latitude: -20.16, longitude: 57.50), vehicle: try VehicleID("tractor-7"))
                .map(\.name) == ["Port"])
        #expect(
            r.geofences(containing: Coordinate(latitude: -20.16, longitude: 57.50), vehicle: try VehicleID("other"))
                .isEmpty)
    }

    @Test func emptyRegistryDefaultsFollowTheSpec() {
        let facts = AssetRegistry.empty.facts(for: Fixtures.vehicle())
        #expect(facts.kind == .vehicle)
        #expect(facts.subtype == AssetSubtype.undefined)
        #expect(facts.installation.effectiveIgnitionInput == 1)
        #expect(facts.installation.effectiveImmobilizerOutput == 1)
        #expect(facts.installation.initialOdometer == nil)
    }

    @Test func jsonIsAccepted() throws {
        let json = """
            {"assets": {"v1": {"type": "Equipment", "subtype": "ElectricGenerator",
              "accessories": [{"id": "i", "type_code": "immobilizer"}]}},
             "drivers": [{"key": "01AB", "name": "Ann"}]}
            """
        let r = try registry(json)
        let facts = r.facts(for: try VehicleID("v1"))
        #expect(facts.kind == .equipment && facts.subtype == 2)
        #expect(StatusRules.isCompatible(.engine, asset: facts))
        #expect(r.driver(forKey: "0x01ab")?.name == "Ann")
    }

    @Test func reportsEveryProblem() {
        let bad = """
            assets:
              a: {type: Spaceship}
              b: {type: Vehicle, subtype: Hovercraft, installation: {ignition_input_number: 0}}
              c: {fuel_tanks: [{id: t, calibration: [[1, 2]]}]}
            drivers: [{key: X}]
            geofences: [{id: 1, name: G, polygon: [[0, 0], [0, 1]]}, {id: 2, name: H}]
            """
        #expect {
            try AssetRegistry(yaml: bad, file: "assets.yaml")
        } throws: { error in
            let text = (error as! MappingValidationError).description
            return text.contains("asset a: unknown type Spaceship")
                && text.contains("unknown Vehicle subtype Hovercraft")
                && text.contains("ignition_input_number must be a positive integer")
                && text.contains("calibration needs two")
                && text.contains("driver needs key and name") && text.contains("a polygon needs 3 vertices")
                && text.contains("geofence 2: needs polygon or circle")
        }
    }

    @Test(arguments: [
        (-20.285, 57.435, true), (-20.295, 57.435, false), (-20.285, 57.445, false), (-20.2800001, 57.4300001, true),
    ])
    func pointInPolygon(lat: Double, lng: Double, inside: Bool) {
        let g = FunctionTests.depot
        #expect(g.contains(Coordinate(latitude: lat, longitude: lng)) == inside)
    }

    @Test func haversineDistance() {
        let d = Geodesy.distance(Coordinate(latitude: 0, longitude: 0), Coordinate(latitude: 0, longitude: 1))
        #expect(abs(d - 111_195) < 1)
    }
}

struct MappingSetTests {
    static func file(_ version: String, speedUnit: String = "km/h") -> String {
        Fixtures.mappingYAML(
            """
              speed:
                type: direct
                sources: [{field: speed, path: speed, unit: \(speedUnit)}]
                unit: km/h
                data_type: number

            """, version: version)
    }

    @Test func defaultsLoadAsBuiltIns() throws {
        let set = try MappingSet.withDefaults()
        #expect(set.summaries.map(\.provider) == ["bench", "generic", "navixy"])
        #expect(set.engine(for: "navixy")?.version.description == "1.0.6-telemetrystore.2")
        #expect(set.summaries.allSatisfy { $0.versions.allSatisfy { $0.origin == .builtIn } })
    }

    @Test func newerVersionsActivateAndInvalidFilesNeverReplaceTheActiveOne() throws {
        var set = try MappingSet.withDefaults()
        // Any loaded file outranks the built-in default, whatever its version.
        #expect(
            try set.load(yaml: Self.file("1.0.1"), file: "a.yaml").result
                == .activated(previous: SemanticVersion("1.0.6-telemetrystore.2")))
        #expect(
            try set.load(yaml: Self.file("1.0.3"), file: "b.yaml").result
                == .activated(previous: SemanticVersion("1.0.1")))
        #expect(
            try set.load(yaml: Self.file("1.0.2"), file: "c.yaml").result
                == .loadedInactive(active: SemanticVersion("1.0.3")!))
        #expect(try set.load(yaml: Self.file("1.0.3"), file: "b-again.yaml").result == .unchanged)
        // Same version, other definition: refused.
        #expect(throws: MappingValidationError.self) {
            try set.load(yaml: Self.file("1.0.3", speedUnit: "m/s"), file: "d.yaml")
        }
        // An invalid newer file: refused, 1.0.3 keeps serving.
        #expect(throws: MappingValidationError.self) {
            try set.load(yaml: Self.file("2.0.0", speedUnit: "parsecs"), file: "e.yaml")
        }
        #expect(set.engine(for: "navixy")?.version == SemanticVersion("1.0.3"))
        var state = VehicleMappingState()
        #expect(
            set.map(Fixtures.record(["speed": .int(3)]), state: &state, receivedAt: 0).record?.mappingVersion == "1.0.3"
        )
        // Re-mapping with an older loaded version, and rolling back.
        #expect(
            set.map(
                Fixtures.record(["speed": .int(3)]), state: &state, receivedAt: 0, version: SemanticVersion("1.0.2")
            ).record?
            .mappingVersion == "1.0.2")
        try set.activate(provider: "navixy", version: SemanticVersion("1.0.1")!)
        #expect(set.engine(for: "navixy")?.version == SemanticVersion("1.0.1"))
        #expect(throws: MappingFailure.self) {
            try set.activate(provider: "navixy", version: SemanticVersion("9.9.9")!)
        }
    }

    @Test func recordLevelFailureReasons() throws {
        var set = try MappingSet.withDefaults()
        var state = VehicleMappingState()
        #expect(
            set.map(Fixtures.record([:], provider: "oem"), state: &state, receivedAt: 0).failure?.reason
                == .unknownProvider)
        #expect(
            set.map(Fixtures.record([:]), state: &state, receivedAt: 0, version: SemanticVersion("7.0.0")).failure?
                .reason
                == .noActiveMapping)
        set.deactivate(provider: "navixy")
        let failure = try #require(set.map(Fixtures.record([:]), state: &state, receivedAt: 0).failure)
        #expect(failure.reason.rawValue == "no_active_mapping")
        #expect(failure.statusCode == .failedPrecondition)
    }

    @Test func replacingAssetsRebuildsEngines() throws {
        var set = try MappingSet.withDefaults()
        set.replaceAssets(try registry("assets: {veh-1: {type: Vehicle, subtype: Machine}}"))
        var state = VehicleMappingState()
        let r = set.map(Fixtures.record(["params.avl_io_239": .int(0)]), state: &state, receivedAt: Fixtures.t0).record
        #expect(r?["statuses_engine_code"] == .string("standby"))
    }

    @Test(.enabled(if: SharedFleeti.isAvailable, "needs ../shared/fleeti"))
    func sharedFilesLoadInOrder() throws {
        var set = try MappingSet.withDefaults()
        for (name, version) in SharedFleeti.mappingFiles {
            let report = try set.load(yaml: try SharedFleeti.text(name), file: name)
            #expect(report.version.description == version)
        }
        #expect(set.engine(for: "navixy")?.version == SemanticVersion("1.0.3"))
        // The three shared files and the two built-ins (1.0.6-telemetrystore.1 and .2).
        #expect(set.summaries.first { $0.provider == "navixy" }?.versions.count == 5)
    }
}

/// The engine keeps the rule memory in its plan's slots while it maps; the stored format
/// must not notice (docs/storage-format.md: keys sorted, the same bytes as before).
struct SlottedMemoryTests {
    /// The format pinned byte by byte: one entry `a` = (null, 5), a name of no well-known key.
    @Test func memoryBytesArePinned() throws {
        var s = VehicleMappingState()
        s.memory = ["a": FieldMemory(input: .null, output: .int(5))]
        #expect(s.encoded() == [2, 0x80, 1, 0, 1, 0x61, 0, 3, 10])
        // Version 1, written before, still reads: the key always spelled out.
        #expect(try VehicleMappingState(encoded: [1, 0x80, 1, 1, 0x61, 0, 3, 10]) == s)
    }

    /// Version 2 in bytes: a well-known key by number, times near lastPacketAt as the difference.
    @Test func wellKnownKeysAndRelativeTimesArePinned() throws {
        var s = VehicleMappingState()
        s.lastPacketAt = 1_700_000_000_000
        s.memory = [
            "ignition_last_changed_at": FieldMemory(input: .bool(true), output: .int(1_699_999_999_000)),
            "zz#1": FieldMemory(input: .int(7), output: .int(1_700_000_000_000)),
        ]
        let lastPacketAt: [UInt8] = [0x80, 0xA0, 0xAB, 0xFE, 0xF9, 0x62]  // zigzag varint of 1_700_000_000_000
        #expect(s.encoded() == [2, 0x81] + lastPacketAt + [
            2,  // two entries, by name
            8, 2, 8, 0xCF, 0x0F,  // ignition_last_changed_at (8th well-known key): true, -1000 from the packet
            0, 4, 0x7A, 0x7A, 0x23, 0x31, 3, 14, 8, 0,  // "zz#1": 7 (absolute: shorter), +0
        ])
        #expect(try VehicleMappingState(encoded: s.encoded()) == s)
        // The same state in version 1: every key spelled out, every time absolute.
        var v1: [UInt8] = [1, 0x81] + lastPacketAt + [2]
        v1 += [24] + Array("ignition_last_changed_at".utf8) + [2, 3] + [0xB0, 0x90, 0xAB, 0xFE, 0xF9, 0x62]
        v1 += [4] + Array("zz#1".utf8) + [3, 14, 3] + lastPacketAt
        #expect(try VehicleMappingState(encoded: v1) == s)
        #expect(s.encoded().count < v1.count / 2)
    }

    @Test func aStateBoundToAPlanEncodesAsItsMemoryByName() throws {
        let engine = try Fixtures.defaultEngine()
        var full = VehicleMappingStateTests.full
        var bound = full
        #expect(bound.encoded() == full.encoded())
        bound.bindMemory(to: engine.plan.memoryLayout)
        // Some keys went to slots, the others stayed by name.
        #expect(bound.memorySlots.contains { $0 != nil })
        #expect(!bound.namedMemory.isEmpty)
        #expect(bound.encoded() == full.encoded())
        // Equality without the NaN of `full` (NaN is not equal to itself).
        full.memory["speed#fallback"] = FieldMemory(output: .double(12.5))
        bound = full
        let byName = full.encoded()
        bound.bindMemory(to: engine.plan.memoryLayout)
        #expect(bound.encoded() == byName)
        #expect(bound == full)
        #expect(bound.memory == full.memory)
        let decoded = try VehicleMappingState(encoded: byName)
        #expect(decoded == bound)
        #expect(decoded.hashValue == bound.hashValue)
    }

    @Test func mappedStatesEncodeAsTheirMemoryByName() throws {
        let engine = try Fixtures.defaultEngine()
        var state = VehicleMappingState()
        let packets: [[String: FieldValue]] = [
            ["lat": .double(-20.1), "lng": .double(57.5), "speed": .int(30), "inputs": .int(1)],
            ["lat": .double(-20.2), "lng": .double(57.5), "speed": .int(0), "inputs": .int(0)],
            ["lat": .double(-20.2), "lng": .double(57.5), "params.avl_io_78": .string("BA00")],
        ]
        for (i, fields) in packets.enumerated() {
            let outcome = engine.map(
                Fixtures.record(fields, at: Fixtures.t0 + Int64(i) * 60_000), state: &state,
                receivedAt: Fixtures.t0 + Int64(i) * 60_000 + 500)
            guard case .mapped = outcome else {
                Issue.record("record \(i) did not map: \(outcome)")
                return
            }
            var byName = VehicleMappingState()
            byName.lastPacketAt = state.lastPacketAt
            byName.connectivityCode = state.connectivityCode
            byName.transit = state.transit
            byName.trip = state.trip
            byName.immobilizerCommand = state.immobilizerCommand
            byName.memory = state.memory
            #expect(state.memoryLayout != nil)
            #expect(byName.memoryLayout == nil)
            #expect(state.encoded() == byName.encoded(), "after record \(i)")
            #expect(state.memory.keys.contains("statuses_connectivity_last_changed_at"))
        }
    }
}
