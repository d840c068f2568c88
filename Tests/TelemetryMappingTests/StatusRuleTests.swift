import TelemetryCore
import Testing

@testable import TelemetryMapping

struct StatusRuleTests {
    static func asset(_ kind: AssetKind, _ subtype: Int = 0, immobilizer: Bool = false) -> AssetFacts {
        AssetFacts(
            kind: kind, subtype: subtype, accessories: immobilizer ? [Accessory(id: "i", typeCode: "immobilizer")] : [])
    }

    /// The compatibility matrix of SPEC section 4 (engine: the matrix, not the "all
    /// Equipment" prose; immobilization: the SPEC's exclusions, not the YAML's looser check).
    @Test(
        arguments: [
            // kind, subtype, immobilizer, connectivity, transit, engine, immobilization
            (AssetKind.vehicle, 1, true, true, true, false, true),  // Car
            (.vehicle, 0, false, true, true, false, false),  // Undefined vehicle, no immobilizer
            (.vehicle, 5, true, true, true, true, true),  // Agricultural
            (.vehicle, 12, false, true, true, true, false),  // Machine
            (.vehicle, 13, true, true, true, false, false),  // Genset: no immobilization
            (.equipment, 0, true, true, true, false, true),  // Equipment.Undefined
            (.equipment, 1, true, true, false, false, false),  // FuelTank
            (.equipment, 2, true, true, false, true, true),  // ElectricGenerator
            (.site, 0, true, true, false, false, false),
            (.site, 10, false, true, false, false, false),  // Coldroom
            (.phone, 0, true, true, true, false, false),
        ] as [(AssetKind, Int, Bool, Bool, Bool, Bool, Bool)])
    func compatibilityMatrix(
        kind: AssetKind, subtype: Int, immobilizer: Bool, connectivity: Bool, transit: Bool, engine: Bool,
        immobilization: Bool
    ) {
        let a = Self.asset(kind, subtype, immobilizer: immobilizer)
        #expect(StatusRules.isCompatible(.connectivity, asset: a) == connectivity)
        #expect(StatusRules.isCompatible(.transit, asset: a) == transit)
        #expect(StatusRules.isCompatible(.engine, asset: a) == engine)
        #expect(StatusRules.isCompatible(.immobilization, asset: a) == immobilization)
    }

    @Test(
        arguments: [
            (AssetKind.vehicle, 0, Int64(0), "online"),
            (.vehicle, 0, 24 * 3_600_000 - 1, "online"),
            (.vehicle, 0, 24 * 3_600_000, "offline"),
            (.site, 10, 3_600_000 - 1, "online"),
            (.site, 10, 3_600_000, "offline"),  // Coldroom: 1 h
            (.site, 0, 3_600_000, "online"),
            (.vehicle, 0, -60_000, "online"),  // device clock ahead
        ] as [(AssetKind, Int, Int64, String)])
    func connectivityThresholds(kind: AssetKind, subtype: Int, age: Int64, expected: String) {
        let code = StatusRules.connectivityCode(
            lastPacketAt: Fixtures.t0, now: Fixtures.t0 + age, asset: Self.asset(kind, subtype))
        #expect(code == expected)
    }

    @Test(arguments: [
        (true, true as Bool?, "running" as String?), (true, false, "standby"), (true, nil, nil), (false, true, nil),
    ])
    func engineCode(compatible: Bool, ignition: Bool?, expected: String?) {
        #expect(StatusRules.engineCode(compatible: compatible, ignition: ignition) == expected)
    }

    @Test(arguments: [
        // compatible, output, command, elapsed ms, expected, command kept
        (true, true as Bool?, nil as ImmobilizerCommand.Kind?, Int64(0), "immobilized" as String?, false),
        (true, false, nil, 0, "free", false),
        (true, nil, nil, 0, nil, false),
        (false, true, nil, 0, nil, false),
        (true, false, .immobilize, 10_000, "immobilizing", true),
        (true, true, .immobilize, 10_000, "immobilized", false),  // output confirms
        (true, false, .immobilize, 300_000, "free", false),  // timed out
        (true, true, .release, 10_000, "releasing", true),
        (true, false, .release, 10_000, "free", false),
    ])
    func immobilizationCode(
        compatible: Bool, output: Bool?, command: ImmobilizerCommand.Kind?, elapsed: Int64, expected: String?,
        kept: Bool
    ) {
        var pending = command.map { ImmobilizerCommand(kind: $0, sentAt: Fixtures.t0) }
        let code = StatusRules.immobilizationCode(
            compatible: compatible, output: output, command: &pending, now: Fixtures.t0 + elapsed, timeout: 300_000)
        #expect(code == expected)
        #expect((pending != nil) == kept)
    }

    /// Top status: first match wins (a Phone in transit shows transit, SPEC rule 4, not the
    /// status doc's example of `online`).
    @Test(
        arguments: [
            (
                "offline", "immobilized", "running", "in_transit", AssetKind.vehicle, 5, true,
                StatusFamily.connectivity, "offline"
            ),
            ("online", "immobilized", "running", "in_transit", .vehicle, 5, true, .immobilization, "immobilized"),
            ("online", "free", "running", "in_transit", .vehicle, 5, true, .engine, "running"),
            ("online", "free", "standby", "parked", .vehicle, 5, true, .transit, "parked"),
            ("online", nil, nil, "in_transit", .phone, 0, false, .transit, "in_transit"),
            ("online", nil, nil, nil, .site, 10, false, .connectivity, "online"),
            ("online", "immobilized", nil, "parked", .vehicle, 1, false, .transit, "parked"),  // no immobilizer accessory
        ] as [(String?, String?, String?, String?, AssetKind, Int, Bool, StatusFamily, String)])
    func topStatus(
        connectivity: String?, immobilization: String?, engine: String?, transit: String?, kind: AssetKind,
        subtype: Int,
        immobilizer: Bool, family: StatusFamily, code: String
    ) {
        let top = StatusRules.topStatus(
            connectivity: connectivity, immobilization: immobilization, engine: engine, transit: transit,
            asset: Self.asset(kind, subtype, immobilizer: immobilizer))
        #expect(top.family == family)
        #expect(top.code == code)
    }

    /// One step of a transit sequence: seconds since start, inputs, expected code.
    struct Step: Sendable, CustomStringConvertible {
        var at: Int64
        var ignition: Bool?
        var moving: Bool?
        var speed: Double?
        var expected: TransitState.Code
        var description: String {
            "t+\(at)s ign=\(String(describing: ignition)) mov=\(String(describing: moving)) v=\(String(describing: speed)) -> \(expected)"
        }
    }

    static let sequences: [(String, [Step])] = [
        (
            "parks after 3 minutes still",
            [
                Step(at: 0, ignition: true, moving: true, speed: 40, expected: .inTransit),
                Step(at: 60, ignition: true, moving: false, speed: 0, expected: .inTransit),
                Step(at: 120, ignition: true, moving: false, speed: 0, expected: .inTransit),
                Step(at: 239, ignition: true, moving: false, speed: 0, expected: .inTransit),
                Step(at: 240, ignition: true, moving: false, speed: 0, expected: .parked),
                Step(at: 300, ignition: true, moving: true, speed: 0, expected: .inTransit),  // moving again: at once
            ]
        ),
        (
            "movement resets the still timer",
            [
                Step(at: 0, ignition: nil, moving: false, speed: 0, expected: .inTransit),  // no history: in transit
                Step(at: 100, ignition: nil, moving: false, speed: 0.4, expected: .inTransit),  // drift is still
                Step(at: 150, ignition: nil, moving: false, speed: 3, expected: .inTransit),  // speed wins over moving=false
                Step(at: 300, ignition: nil, moving: false, speed: 0, expected: .inTransit),
                Step(at: 479, ignition: nil, moving: nil, speed: 0, expected: .inTransit),
                Step(at: 480, ignition: nil, moving: nil, speed: 0, expected: .parked),
                Step(at: 500, ignition: nil, moving: nil, speed: 0.5, expected: .parked),  // 0.5 is not above the threshold
                Step(at: 510, ignition: nil, moving: nil, speed: 0.6, expected: .inTransit),
            ]
        ),
        (
            "ignition edges are immediate",
            [
                Step(at: 0, ignition: false, moving: false, speed: 0, expected: .inTransit),
                Step(at: 10, ignition: true, moving: false, speed: 0, expected: .inTransit),  // off -> on
                Step(at: 20, ignition: false, moving: false, speed: 0, expected: .parked),  // on -> off, no 3 minutes
                Step(at: 30, ignition: false, moving: false, speed: 0, expected: .parked),
                Step(at: 40, ignition: false, moving: true, speed: 12, expected: .inTransit),  // towed: movement still counts
            ]
        ),
        (
            "missing inputs keep the state and the timer",
            [
                Step(at: 0, ignition: nil, moving: true, speed: nil, expected: .inTransit),
                Step(at: 10, ignition: nil, moving: false, speed: nil, expected: .inTransit),
                Step(at: 100, ignition: nil, moving: nil, speed: nil, expected: .inTransit),
                Step(at: 189, ignition: nil, moving: nil, speed: nil, expected: .inTransit),  // no evidence: no transition
                Step(at: 190, ignition: nil, moving: false, speed: nil, expected: .parked),  // still since t+10
                Step(at: 400, ignition: nil, moving: nil, speed: nil, expected: .parked),
            ]
        ),
        (
            "switched on while standing: parks 3 minutes after the edge",
            [
                Step(at: 0, ignition: false, moving: false, speed: 0, expected: .inTransit),
                Step(at: 180, ignition: false, moving: false, speed: 0, expected: .parked),
                Step(at: 200, ignition: true, moving: false, speed: 0, expected: .inTransit),  // the edge, still
                Step(at: 379, ignition: true, moving: false, speed: 0, expected: .inTransit),
                Step(at: 380, ignition: true, moving: false, speed: 0, expected: .parked),
            ]
        ),
        (
            "initial state with ignition on",
            [
                Step(at: 0, ignition: true, moving: false, speed: 0, expected: .inTransit),
                Step(at: 180, ignition: true, moving: false, speed: 0, expected: .parked),
            ]
        ),
    ]

    @Test(arguments: sequences)
    func transitStateMachine(name: String, steps: [Step]) {
        var machine = TransitStateMachine(state: TransitState())
        for step in steps {
            let code = machine.recordReceived(
                time: Fixtures.t0 + step.at * 1000, ignition: step.ignition, moving: step.moving, speed: step.speed)
            #expect(code == step.expected, "\(name): \(step)")
        }
    }

    /// The same sequences through the Navixy mapping, with the state encoded, decoded and the
    /// engine rebuilt after every packet (a restart between any two records), give the same
    /// codes as an uninterrupted run.
    @Test(arguments: sequences)
    func transitSurvivesARestartViaTheEncodedState(name: String, steps: [Step]) throws {
        let engine = try Fixtures.defaultEngine()
        var live = VehicleMappingState()
        var restarted = VehicleMappingState()
        for step in steps {
            var fields: [String: FieldValue] = [:]
            if let i = step.ignition { fields["params.avl_io_239"] = .int(i ? 1 : 0) }
            if let m = step.moving { fields["params.avl_io_240"] = .int(m ? 1 : 0) }
            if let s = step.speed { fields["speed"] = .double(s) }
            let record = Fixtures.record(fields, at: Fixtures.t0 + step.at * 1000)
            let a = engine.map(record, state: &live, receivedAt: record.timestamp)
            restarted = try VehicleMappingState(encoded: restarted.encoded())
            let rebuilt = try Fixtures.defaultEngine()
            let b = rebuilt.map(record, state: &restarted, receivedAt: record.timestamp)
            #expect(a.record?["statuses_transit_code"] == .string(step.expected.name), "\(name): \(step)")
            #expect(a == b, "\(name): \(step)")
        }
        #expect(live == restarted)
    }

    /// A trip starts on parked -> in_transit and carries its mileage and waypoints.
    @Test func ongoingTripFollowsTransit() throws {
        let engine = try Fixtures.defaultEngine()
        var state = VehicleMappingState()
        let t = Fixtures.t0
        func map(_ s: Int64, ignition: Int64, speed: Double, odo: Double, lat: Double) -> MappedRecord? {
            engine.map(
                Fixtures.record(
                    [
                        "params.avl_io_239": .int(ignition), "speed": .double(speed),
                        "params.can_mileage": .double(odo),
                        "lat": .double(lat), "lng": .double(57.4),
                    ], at: t + s * 1000), state: &state, receivedAt: t + s * 1000
            ).record
        }
        var r = map(0, ignition: 1, speed: 50, odo: 1000, lat: -20.0)
        #expect(r?["statuses_transit_code"] == .string("in_transit"))
        #expect(r?["ongoing_trip_started_at"] == nil)  // first seen in transit: no trip yet
        r = map(10, ignition: 0, speed: 0, odo: 1001, lat: -20.01)
        #expect(r?["statuses_transit_code"] == .string("parked"))
        r = map(100, ignition: 1, speed: 30, odo: 1001, lat: -20.01)
        #expect(r?["ongoing_trip_started_at"] == .int(t + 100_000))
        #expect(r?["ongoing_trip_mileage"] == .double(0))
        r = map(160, ignition: 1, speed: 60, odo: 1002.5, lat: -20.02)
        #expect(r?["ongoing_trip_started_at"] == .int(t + 100_000))
        #expect(r?["ongoing_trip_mileage"] == .double(1.5))
        #expect(
            r?["ongoing_trip_waypoints"]
                == .array([.array([.double(-20.01), .double(57.4)]), .array([.double(-20.02), .double(57.4)])]))
        r = map(200, ignition: 0, speed: 0, odo: 1003, lat: -20.03)
        #expect(r?["ongoing_trip_started_at"] == nil)
        #expect(r?["ongoing_trip_waypoints"] == .array([]))
        #expect(state.trip == nil)
    }

    @Test func waypointsAreThinnedPastTheCap() throws {
        var call = FunctionCaller(field: "ongoing_trip_waypoints", dataType: .array)
        call.options = MappingEngine.Options(maxWaypoints: 4)
        var state = VehicleMappingState()
        state.trip = OngoingTrip(startedAt: Fixtures.t0)
        for i in 0..<6 {
            _ = try call(
                "derive_ongoing_trip_waypoints", fleeti: [.int(Fixtures.t0), .double(Double(i) * 0.01), .double(0)],
                state: &state)
        }
        let lats = state.trip!.waypoints.map(\.latitude)
        #expect(lats.count <= 4)
        #expect(lats.first == 0)
        #expect(lats.last == 0.05)
    }
}
