import Foundation
import SwiftProtobuf
import Testing
import TelemetryCore
@testable import TelemetryWire

/// A range answer built as columns (`Columnar.encode(RecordColumns)`) must be the very
/// message the record path builds, and a client must read it back as the same records.
@Suite("Record columns on the wire")
struct RecordColumnsWireTests {
    static let vehicle = try! VehicleID("veh-1")  // a valid literal

    static func stored(_ t: Int64, _ fields: [Field], provider: String = "navixy", version: String = "identity") -> TelemetryRecord {
        TelemetryRecord(
            vehicle: vehicle, timestamp: t, fields: fields, provenance: Provenance(provider: provider, mappingVersion: version, receivedAt: t + 7))
    }

    /// Sparse fields, a column that turns mixed, nulls, arrays, bytes, NaN and -0.0, two
    /// providers and versions, and a field that first appears late.
    static let records: [TelemetryRecord] = [
        stored(5, [Field("speed", .double(1.5)), Field("n", .int(1)), Field("raw", .bytes([]))]),
        stored(4, [Field("speed", .double(.nan)), Field("n", .double(2.5)), Field("tags", .array([.string("x"), .null]))], provider: "teltonika"),
        stored(3, [Field("speed", .double(-0.0)), Field("ign", .bool(true)), Field("raw", .bytes([0, 255])), Field("n", .null)], version: "1.0.0"),
        stored(2, [Field("note", .string("Zürich")), Field("speed", .double(0.1)), Field("ign", .bool(false))]),
    ]

    static func sameRecords(_ a: [TelemetryRecord], _ b: [TelemetryRecord], sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(a.count == b.count, sourceLocation: sourceLocation)
        for (x, y) in zip(a, b) {
            #expect(x.vehicle == y.vehicle && x.timestamp == y.timestamp && x.provenance == y.provenance, sourceLocation: sourceLocation)
            #expect(x.fields.map(\.name) == y.fields.map(\.name), sourceLocation: sourceLocation)
            for (f, g) in zip(x.fields, y.fields) {
                #expect(f.value.isIdentical(to: g.value), "\(f.name): \(f.value) vs \(g.value)", sourceLocation: sourceLocation)
            }
        }
    }

    @Test("columns encode to the same bytes as the records they hold")
    func sameMessage() throws {
        for count in 0...Self.records.count {
            let records = Array(Self.records.prefix(count))
            let viaRecords: [UInt8] = try Columnar.encode(records).serializedBytes()
            let viaColumns: [UInt8] = try Columnar.encode(RecordColumns(vehicle: Self.vehicle, records: records)).serializedBytes()
            #expect(viaRecords == viaColumns, "\(count) records")
        }
    }

    @Test("a client reads columns back as the same records, in the order the record path gives")
    func roundTrip() throws {
        let bytes: [UInt8] = try Columnar.encode(RecordColumns(vehicle: Self.vehicle, records: Self.records)).serializedBytes()
        let message = try Telemetry_V1_ColumnarRecords(serializedBytes: bytes)
        let columns = try Columnar.decodeColumns(message, vehicle: Self.vehicle)
        // The record path of old: rows, then records.
        let rows = try Columnar.decode(message).rows.map { try $0.telemetryRecord() }
        Self.sameRecords(columns.records, rows)
        #expect(columns["speed"]?.rows == nil)
        #expect(columns["ign"]?.rows == [2, 3] && columns["ign"]?.values == .bools([true, false]))
        if case .mixed(let n)? = columns["n"]?.values {
            #expect(n == [.int(1), .double(2.5), .null])
        } else {
            Issue.record("n must be mixed")
        }
        #expect(columns["raw"]?.values == .bytes([[], [0, 255]]))
        #expect(columns.provenance(row: 1) == Provenance(provider: "teltonika", mappingVersion: "identity", receivedAt: 11))
    }

    @Test("pages appended one after another give the whole answer")
    func appendPages() throws {
        let whole = RecordColumns(vehicle: Self.vehicle, records: Self.records)
        for split in 0...Self.records.count {
            var first = RecordColumns(vehicle: Self.vehicle, records: Self.records.prefix(split))
            first.append(RecordColumns(vehicle: Self.vehicle, records: Self.records.dropFirst(split)))
            Self.sameRecords(first.records, whole.records)
            #expect(first.columns.map(\.name) == whole.columns.map(\.name), "split at \(split)")
            // And through the wire once more.
            let again = try Columnar.decodeColumns(Columnar.encode(first), vehicle: Self.vehicle)
            Self.sameRecords(again.records, whole.records)
        }
        // One page at a time.
        var pages = RecordColumns(vehicle: Self.vehicle)
        for r in Self.records { pages.append(RecordColumns(vehicle: Self.vehicle, records: [r])) }
        Self.sameRecords(pages.records, whole.records)
    }

    @Test("damage and another vehicle's records are refused with a status")
    func errors() throws {
        let good = Columnar.encode(RecordColumns(vehicle: Self.vehicle, records: Self.records))
        #expect(throws: StatusError.self) { try Columnar.decodeColumns(good, vehicle: try VehicleID("someone-else")) }
        var short = good
        short.receivedAtMs.removeLast()
        #expect(throws: StatusError.self) { try Columnar.decodeColumns(short, vehicle: Self.vehicle) }
        var badRows = good
        badRows.columns[badRows.columns.firstIndex { $0.name == "ign" }!].rows = [3, 2]
        #expect(throws: StatusError.self) { try Columnar.decodeColumns(badRows, vehicle: Self.vehicle) }
        var twoLists = good
        twoLists.columns[0].ints = [1, 2, 3, 4]
        #expect(throws: StatusError.self) { try Columnar.decodeColumns(twoLists, vehicle: Self.vehicle) }
        var badProvider = good
        badProvider.providerIndex[0] = 9
        #expect(throws: StatusError.self) { try Columnar.decodeColumns(badProvider, vehicle: Self.vehicle) }
        // Without provenance (allowed on the wire), rows read as "" and 0, as the record path has it.
        var bare = good
        bare.mappingVersions = []
        bare.mappingVersionIndex = []
        bare.receivedAtMs = []
        let columns = try Columnar.decodeColumns(bare, vehicle: Self.vehicle)
        #expect(columns.provenance(row: 0) == Provenance(provider: "navixy", mappingVersion: "", receivedAt: 0))
        // Empty answers.
        #expect(try Columnar.decodeColumns(Telemetry_V1_ColumnarRecords(), vehicle: Self.vehicle).count == 0)
    }
}
