import Testing
import TelemetryCore
@testable import TelemetryMapping

/// Times anywhere in Int64: the protocol accepts any past timestamp (negative included), and
/// a device can send any msg_time. The rules' time differences saturate instead of trapping,
/// which took the whole server down with one record.
@Suite("Mapping: times at the ends of Int64")
struct ExtremeTimeTests {
    static let packet: [String: FieldValue] = [
        "inputs": .int(1), "outputs": .int(0), "speed": .int(0), "lat": .double(48.1), "lng": .double(2.1),
    ]

    @Test("a packet stamped near Int64.min maps, and its vehicle is offline")
    func ancientPacket() throws {
        let engine = try Fixtures.defaultEngine()
        var state = VehicleMappingState()
        let outcome = engine.map(Fixtures.record(Self.packet, at: .min + 1), state: &state, receivedAt: Fixtures.t0)
        let record = try #require(outcome.record, "\(outcome)")
        #expect(record["last_updated_at"] == .int(.min + 1))
        #expect(record["statuses_connectivity_code"] == .string("offline"))
        // A later packet, then the sweep, still work from that state.
        _ = engine.map(Fixtures.record(Self.packet, at: Fixtures.t0), state: &state, receivedAt: Fixtures.t0)
        #expect(engine.sweepConnectivity(vehicle: Fixtures.vehicle(), state: &state, now: .max)?.fields.isEmpty == false)
    }

    @Test("a msg_time of Int64.min, as a number or as text, maps without trapping")
    func msgTimeAtTheMinimum() throws {
        let engine = try Fixtures.defaultEngine()
        for msgTime: FieldValue in [.int(.min), .string("-9223372036854775808"), .int(.max)] {
            var state = VehicleMappingState()
            var fields = Self.packet
            fields["msg_time"] = msgTime
            let outcome = engine.map(Fixtures.record(fields), state: &state, receivedAt: Fixtures.t0)
            #expect(outcome.record != nil, "\(msgTime): \(outcome)")
        }
        #expect(DateTimeParsing.milliseconds(.int(.min)) == .min)
    }

    @Test("the status rules compare times at the ends of Int64 without overflow")
    func statusRules() {
        #expect(StatusRules.connectivityCode(lastPacketAt: .min, now: Fixtures.t0, asset: AssetFacts()) == "offline")
        #expect(StatusRules.connectivityCode(lastPacketAt: .max, now: .min, asset: AssetFacts()) == "online")
        var command: ImmobilizerCommand? = ImmobilizerCommand(kind: .immobilize, sentAt: .min)
        #expect(StatusRules.immobilizationCode(compatible: true, output: false, command: &command, now: .max, timeout: 60_000) == "free")
        #expect(command == nil, "a command sent that long ago has timed out")
        #expect(Int64.max.saturatingSubtracting(.min) == .max && Int64.min.saturatingSubtracting(1) == .min)
        #expect(Int64.max.saturatingAdding(1) == .max && Int64.min.saturatingAdding(-1) == .min && Int64(5).saturatingAdding(-7) == -2)
    }
}
