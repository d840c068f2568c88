import TelemetryCore
import Testing

@testable import TelemetryMapping

/// The rules chosen where the Fleeti documents contradict each other (docs/mapping.md section 14).
struct ContradictionTests {
    /// 7.1: the newest mapping's order: avl_io_239 first, then wired input N.
    @Test(arguments: [
        (FieldValue.int(0), Int64(1), false),  // avl_io_239 says off, input 1 says on: the element wins
        (.int(1), 0, true),
        (.null, 1, true),  // no element: the wired input
        (.null, 0, false),
    ])
    func ignitionPrefersTheIgnitionElement(element: FieldValue, inputs: Int64, expected: Bool) throws {
        let engine = try Fixtures.defaultEngine()
        var state = VehicleMappingState()
        let r = engine.map(
            Fixtures.record(["params.avl_io_239": element, "inputs": .int(inputs)]), state: &state, receivedAt: 0
        ).record
        #expect(r?["ignition_value"] == .bool(expected))
    }

    /// 7.6: the two broken paths are fixed in the catalog.
    @Test func catalogFixesTheGeneratorPaths() {
        #expect(Fixtures.catalog.entry(named: "driver_last_changed_at")?.path == "driver.driver_last_changed_at")
        #expect(
            Fixtures.catalog.entry(named: "fuel_consumption_cumulative_last_updated_at")?.path
                == "fuel.consumption.cumulative.last_updated_at")
    }

    /// 7.6: fuel consumption's freshness field exists (lost by the 1.0.6 generator), and
    /// is_moving is a number.
    @Test func defaultMappingRestoresLostFields() throws {
        let engine = try Fixtures.defaultEngine()
        var state = VehicleMappingState()
        let r = engine.map(
            Fixtures.record(["params.can_consumption": .double(12.5), "params.avl_io_240": .int(1)]), state: &state,
            receivedAt: Fixtures.t0
        ).record
        #expect(r?["fuel_consumption_cumulative"] == .double(12.5))
        #expect(r?["fuel_consumption_cumulative_last_updated_at"] == .int(Fixtures.t0))
        #expect(r?["is_moving_value"] == .int(1))
        #expect(Fixtures.catalog.entry(named: "is_moving_value")?.dataType == .number)
    }

    /// 7.2: last_updated_at is device time in epoch milliseconds, from msg_time when present.
    @Test func lastUpdatedAtIsDeviceTimeInMilliseconds() throws {
        let engine = try Fixtures.defaultEngine()
        var state = VehicleMappingState()
        let withMsgTime = engine.map(
            Fixtures.record(["msg_time": .string("2025-10-17T00:50:45.000Z")]), state: &state, receivedAt: Fixtures.t0
        ).record
        #expect(withMsgTime?["last_updated_at"] == .int(1_760_662_245_000))
        let without = engine.map(Fixtures.record([:], at: Fixtures.t0 + 5), state: &state, receivedAt: Fixtures.t0)
            .record
        #expect(without?["last_updated_at"] == .int(Fixtures.t0 + 5))
    }

    /// 7.4: raw values are scaled only where the mapping says so: avl_io_84 and HDOP stay as sent.
    @Test func rawValuesAreNotScaledImplicitly() throws {
        let engine = try Fixtures.defaultEngine()
        var state = VehicleMappingState()
        let r = engine.map(
            Fixtures.record(["params.avl_io_182": .int(6), "params.avl_io_84": .int(228)]), state: &state, receivedAt: 0
        ).record
        #expect(r?["location_precision_hdop"] == .int(6))
        #expect(r?["fuel_tank_level_value"] == .double(228))
        #expect(r?["fuel_tank_level_value_unit"] == .string("l"))
    }
}
