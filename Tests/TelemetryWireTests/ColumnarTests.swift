import SwiftProtobuf
import Testing
import TelemetryCore
@testable import TelemetryWire

@Suite("Columnar records")
struct ColumnarTests {
    func rec(_ v: String, _ t: Int64, _ fields: [Field], provider: String = "navixy", seq: UInt64? = nil) -> ProviderRecord {
        ProviderRecord(vehicle: try! VehicleID(v), timestamp: t, provider: provider, fields: fields, gatewaySequence: seq)  // literals are valid
    }

    @Test("provider records survive columns: sparse fields, mixed types, nulls, arrays, sequences, providers")
    func roundTrip() throws {
        let records = [
            rec("a", 1, [Field("speed", .double(1.5)), Field("ign", .bool(true)), Field("tags", .array([.string("x")]))], seq: 7),
            rec("b", -2, [Field("speed", .double(-0.0)), Field("note", .string("é"))], provider: "generic"),
            rec("a", 3, [Field("ign", .bool(false)), Field("speed", .int(4)), Field("raw", .bytes([0, 255])), Field("n", .null)]),
        ]
        let columns = Columnar.encode(records)
        #expect(columns.vehicleIds == ["a", "b"] && columns.providers == ["navixy", "generic"])
        #expect(columns.gatewaySequences == [7, 0, 0])
        let speed = try #require(columns.columns.first { $0.name == "speed" })
        #expect(speed.rows.isEmpty && speed.doubles.isEmpty && speed.values.count == 3, "a mixed column keeps tagged values")
        let ign = try #require(columns.columns.first { $0.name == "ign" })
        #expect(ign.rows == [0, 2] && ign.bools == [true, false])

        // Through bytes, as on the wire.
        let bytes: [UInt8] = try columns.serializedBytes()
        let decoded = try Columnar.decode(try Telemetry_V1_ColumnarRecords(serializedBytes: bytes))
        #expect(decoded.rejected.isEmpty)
        let back = decoded.rows.compactMap(\.providerRecord)
        #expect(back.count == 3)
        for (got, want) in zip(back, records) {
            #expect(got.vehicle == want.vehicle && got.timestamp == want.timestamp && got.provider == want.provider)
            #expect(got.gatewaySequence == want.gatewaySequence)
            let g = Dictionary(uniqueKeysWithValues: got.fields.map { ($0.name, $0.value) })
            let w = Dictionary(uniqueKeysWithValues: want.fields.map { ($0.name, $0.value) })
            #expect(g.count == w.count)
            for (k, v) in w { #expect(g[k]?.isIdentical(to: v) == true, "\(k)") }
        }
    }

    @Test("stored records keep their provenance through columns")
    func provenance() throws {
        let r = TelemetryRecord(
            vehicle: try VehicleID("v"), timestamp: 10, fields: [Field("x", .int(1))],
            provenance: Provenance(provider: "navixy", mappingVersion: "1.0.3", receivedAt: 99))
        let rows = try Columnar.decode(Columnar.encode([r, r])).rows
        #expect(try rows.map { try $0.telemetryRecord() } == [r, r])
    }

    @Test("a bad row is refused alone; damage to the message refuses all of it")
    func errors() throws {
        var c = Columnar.encode([rec("a", 1, [Field("x", .int(1))]), rec("b", 2, [Field("x", .int(2))])])
        c.vehicleIds[1] = ""
        let decoded = try Columnar.decode(c)
        #expect(decoded.rejected[1]?.message == "vehicle_id: vehicle id is empty")
        #expect(decoded.rejected[0] == nil)

        var short = c
        short.vehicleIndex = [0]
        #expect(throws: StatusError(.invalidArgument, "columnar.vehicle_index has 1 entries for 2 rows")) { try Columnar.decode(short) }
        var outOfRange = c
        outOfRange.vehicleIndex = [0, 5]
        #expect(throws: StatusError(.invalidArgument, "columnar.vehicle_index 5 is out of range (2 vehicle ids)")) { try Columnar.decode(outOfRange) }
        var duplicate = c
        duplicate.columns.append(c.columns[0])
        #expect(throws: StatusError(.invalidArgument, "columnar.columns[1]: duplicate field \"x\"")) { try Columnar.decode(duplicate) }
        var counts = c
        counts.columns[0].ints = [1]
        #expect(throws: StatusError(.invalidArgument, "columnar.columns[0] (\"x\") must hold 2 values in exactly one list")) { try Columnar.decode(counts) }
        var rows = c
        rows.columns[0].rows = [1, 1]
        #expect(throws: StatusError(.invalidArgument, "columnar.columns[0].rows must be ascending row indexes below 2")) { try Columnar.decode(rows) }
        var empty = Columnar.encode([rec("a", 1, [Field("x", .int(1))]), rec("a", 2, [Field("y", .int(1))])])
        empty.columns.removeLast()
        #expect(try Columnar.decode(empty).rejected[1]?.message == "record has no fields")
    }
}
