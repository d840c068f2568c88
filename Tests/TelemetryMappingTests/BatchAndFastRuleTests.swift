import TelemetryCore
import Testing

@testable import TelemetryMapping

/// The engine's shortcuts must not change a result: the standard rules it evaluates inline
/// (`MappingPlan.FastRule`) against the same functions called through their bodies, and the
/// batch mapper (`MappingSet.Batch`, buffers reused) against mapping record by record.
struct BatchAndFastRuleTests {
    static let assets = """
        assets:
          veh-1: {type: Vehicle, subtype: Agricultural, accessories: [{id: imm, type_code: immobilizer}]}
          veh-2: {fuel_tank_capacity: 60}
          veh-3: {type: Site, subtype: Coldroom}
        """

    /// Packets that walk the status machines: ignition edges, movement, stops, immobilizer
    /// output changes, positions that move or not, a bad position, missing packet times.
    static func packets() -> [ProviderRecord] {
        var out: [ProviderRecord] = []
        for i in 0..<90 {
            let vehicle = "veh-\(i % 3 + 1)"
            let t = Fixtures.t0 + Int64(i) * 40_000
            var f: [String: FieldValue] = [:]
            if i % 7 != 3 { f["msg_time"] = .int(t - 1000) }
            if i % 11 != 5 {
                f["lat"] = .double(-20.1 + Double(i / 9) * 0.001)
                f["lng"] = .double(57.5)
            }
            if i == 40 { f["lat"] = .double(200) }  // not a latitude: the function's error
            if i % 5 != 0 { f["speed"] = .int(Int64((i * 13) % 40 < 20 ? 0 : 35)) }
            if i % 4 != 1 { f["params.avl_io_239"] = .int(Int64((i / 6) % 2)) }
            if i % 3 == 0 { f["outputs"] = .int(Int64((i / 9) % 2)) }
            if i % 8 == 2 { f["params.avl_io_78"] = .string(i % 16 == 2 ? "BA0000002B4D4E01" : "0") }
            if i % 6 == 4 { f["params.can_mileage"] = .double(1000 + Double(i)) }
            if i % 9 == 1 { f["params.can_fuel_1"] = .int(Int64(40 + i % 20)) }
            if i % 9 == 4 { f["params.can_fuel_litres"] = .double(Double(i % 70)) }
            if i % 13 == 6 { f["params.avl_io_270"] = .int(300) }  // level sensor steps, no calibration
            out.append(Fixtures.record(f, at: t, vehicle: vehicle))
        }
        return out
    }

    @Test func inlineRulesGiveWhatTheGeneralPathGives() throws {
        let assets = try registry(Self.assets)
        let mapping = try ValidatedMapping.load(
            yaml: try DefaultFiles.text(named: "navixy.yaml"), file: "navixy.yaml", catalog: Fixtures.catalog)
        let fast = MappingEngine(mapping: mapping, catalog: Fixtures.catalog, assets: assets)
        let slow = MappingEngine(generalPathOnly: mapping, catalog: Fixtures.catalog, assets: assets)
        // The comparison means something: the default file's timestamp and status rules are inline.
        let inline = Set(fast.plan.steps.filter { $0.fast != nil }.map(\.name))
        for name in [
            "last_updated_at", "speed", "ignition_last_changed_at", "location_last_changed_at",
            "statuses_connectivity_code", "statuses_engine_code", "statuses_transit_code", "top_status_family",
            "top_status_code", "top_status_last_changed_at", "odometer_last_updated_at", "ongoing_trip_started_at",
        ] {
            #expect(inline.contains(name), "\(name) is not inline")
        }
        #expect(slow.plan.steps.allSatisfy { $0.fast == nil })

        var fastStates: [VehicleID: VehicleMappingState] = [:]
        var slowStates: [VehicleID: VehicleMappingState] = [:]
        var codes: Set<TransitState.Code> = []
        var sawTrip = false
        for (i, record) in Self.packets().enumerated() {
            let now = record.timestamp + (i == 60 ? 2 * 3_600_000 : 500)
            if i == 30 || i == 61 {
                // A pending immobilize (then release) command on veh-1, in both states.
                let kind: ImmobilizerCommand.Kind = i == 30 ? .immobilize : .release
                fastStates[Fixtures.vehicle("veh-1"), default: .init()].recordImmobilizerCommand(kind, at: now - 1000)
                slowStates[Fixtures.vehicle("veh-1"), default: .init()].recordImmobilizerCommand(kind, at: now - 1000)
            }
            let a = fast.map(record, state: &fastStates[record.vehicle, default: .init()], receivedAt: now)
            let b = slow.map(record, state: &slowStates[record.vehicle, default: .init()], receivedAt: now)
            #expect(a == b, "record \(i)")
            #expect(
                fastStates[record.vehicle]!.encoded() == slowStates[record.vehicle]!.encoded(), "state after record \(i)")
            if let code = fastStates[record.vehicle]!.transit.code { codes.insert(code) }
            if fastStates[record.vehicle]!.trip != nil { sawTrip = true }
        }
        // The packets reach the rules' interesting cases.
        #expect(sawTrip)
        #expect(codes == [.inTransit, .parked])
        let outcomes = Self.packets().map { r in
            var s = VehicleMappingState()
            return fast.map(r, state: &s, receivedAt: r.timestamp)
        }
        #expect(outcomes.contains { $0.record?.fieldErrors.contains { $0.field == "location_last_changed_at" } == true })
    }

    @Test func batchMapsAsRecordByRecord() throws {
        let set = try MappingSet.withDefaults(assets: try registry(Self.assets))
        var records = Self.packets()
        records.insert(
            ProviderRecord(vehicle: Fixtures.vehicle("veh-2"), timestamp: Fixtures.t0, provider: "acme", fields: []),
            at: 10)
        records.insert(
            ProviderRecord(vehicle: Fixtures.vehicle("veh-1"), timestamp: .min, provider: "navixy", fields: []), at: 20)
        records.insert(
            ProviderRecord(
                vehicle: Fixtures.vehicle("veh-1"), timestamp: Fixtures.t0 + 5, provider: "generic",
                fields: [Field("speed", .int(3))]), at: 30)
        var single: [VehicleID: VehicleMappingState] = [:]
        var batched: [VehicleID: VehicleMappingState] = [:]
        var batch = set.batch()
        for (i, record) in records.enumerated() {
            let now = record.timestamp &+ 500
            let a = set.map(record, state: &single[record.vehicle, default: .init()], receivedAt: now)
            let b = batch.map(record, state: &batched[record.vehicle, default: .init()], receivedAt: now)
            #expect(a == b, "record \(i)")
            #expect(single[record.vehicle]!.encoded() == batched[record.vehicle]!.encoded(), "state after record \(i)")
        }
        #expect(records.contains { set.map($0, state: &single[$0.vehicle, default: .init()], receivedAt: 0).failure != nil })
    }

    /// The batch remembers the slot of the name at each position of the previous record: a
    /// record with as many fields under other names, or in another order, must not reuse them.
    @Test func fieldsInAnotherOrderOrUnderOtherNamesMapAsThemselves() throws {
        let set = try MappingSet.withDefaults()
        let vehicle = Fixtures.vehicle()
        let layouts: [[Field]] = [
            [Field("speed", .int(30)), Field("lat", .double(-20.1)), Field("lng", .double(57.5))],
            [Field("lat", .double(-20.2)), Field("speed", .int(40)), Field("lng", .double(57.6))],
            [Field("lng", .double(57.7)), Field("params.can_speed", .int(50)), Field("heading", .int(90))],
            [Field("lng", .double(57.7)), Field("params.can_speed", .int(50)), Field("heading", .int(90))],
        ]
        var batch = set.batch()
        var batched = VehicleMappingState()
        var single = VehicleMappingState()
        for (i, fields) in layouts.enumerated() {
            let record = ProviderRecord(
                vehicle: vehicle, timestamp: Fixtures.t0 + Int64(i) * 1000, provider: "navixy", fields: fields)
            let a = batch.map(record, state: &batched, receivedAt: record.timestamp)
            let b = set.map(record, state: &single, receivedAt: record.timestamp)
            #expect(a == b, "record \(i)")
        }
        let last = try #require(batch.map(
            ProviderRecord(
                vehicle: vehicle, timestamp: Fixtures.t0 + 9000, provider: "navixy",
                fields: [Field("speed", .int(7)), Field("lat", .double(-20.3)), Field("lng", .double(57.5))]),
            state: &batched, receivedAt: Fixtures.t0 + 9000
        ).record)
        #expect(last["speed"] == .double(7) || last["speed"] == .int(7))
        #expect(last["location_longitude"] == .double(57.5))
    }
}
