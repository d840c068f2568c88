import Foundation
import Testing
import TelemetryCore
@testable import TelemetryStorage

/// `rangeColumns` builds its answer straight from blocks and record values; it must give the
/// very records `range` gives, laid out as `RecordColumns(vehicle:records:)` lays them out.
@Suite("Store: range answers as columns")
struct RangeColumnsTests {
    /// 1-second partitions, as the sealed partition tests use.
    static var config: StoreConfiguration { SealedPartitionTests.config }

    /// Vehicle "v" every 100 ms over [0, 6000), with the odd cases a column meets: a field
    /// whose type changes (ints, then doubles, then a string), nulls, arrays, bytes, sparse
    /// fields, two provenances, and a field ("early") whose dictionary id is lower than the
    /// others' but that first appears in a later record.
    static func history() -> [TelemetryRecord] {
        (0..<60).map { i in
            var fields: [String: FieldValue] = ["speed": .double(Double(i) / 10)]
            fields["mixed"] = i < 20 ? .int(Int64(i)) : i < 40 ? .double(Double(i) + 0.5) : i == 45 ? .string("s45") : .int(-Int64(i))
            if i % 3 == 0 { fields["maybe"] = i % 6 == 0 ? .null : .bool(i % 9 == 0) }
            if i % 7 == 0 { fields["list"] = .array([.int(Int64(i)), .string("x"), .array([.bytes([UInt8(i)])])]) }
            if i % 5 == 0 { fields["blob"] = .bytes(i == 0 ? [] : [UInt8(i), 0, 0xFF]) }
            if i % 11 == 0 { fields["name"] = .string(i == 0 ? "" : "n\(i)") }
            if i >= 13 && i % 2 == 1 { fields["early"] = .int(Int64(i)) }
            let provider = i % 10 < 7 ? "navixy" : "teltonika"
            return record("v", Int64(i) * 100, fields, provider: provider, version: i < 30 ? "1.0.0" : "identity")
        }
    }

    /// A store holding `history`: [0, 3000) sealed, then late records written into sealed
    /// partitions (one replacing a block row, one between two rows) and the rest individual keys.
    static func withHistory(_ body: (TelemetryStore) throws -> Void) throws {
        try withTemporaryStore(configuration: config) { store, _ in
            // "early" gets its id first, from another vehicle.
            try store.write([record("other", 0, ["early": .int(0)])])
            try store.write(history())
            try store.seal(upTo: 3000)
            try store.write([
                record("v", 1200, ["speed": .double(-1), "early": .string("late"), "zz": .bool(true)]),
                record("v", 1250, ["mixed": .null], provider: "late", version: "2.0.0"),
            ])
            try body(store)
        }
    }

    /// Checks one query: the same page as `range`, as columns, and the same cursor.
    static func check(_ store: TelemetryStore, _ query: RangeQuery, sourceLocation: SourceLocation = #_sourceLocation) throws -> RangePage {
        let records = try store.range(query)
        let columns = try store.rangeColumns(query)
        #expect(columns.nextCursor == records.nextCursor, "\(query)", sourceLocation: sourceLocation)
        #expect(columns.columns == RecordColumns(vehicle: query.vehicle, records: records.records), "\(query)", sourceLocation: sourceLocation)
        let rebuilt = columns.columns.records
        #expect(rebuilt.map(\.timestamp) == records.records.map(\.timestamp), "\(query)", sourceLocation: sourceLocation)
        #expect(rebuilt.map(\.fieldMap) == records.records.map(\.fieldMap), "\(query)", sourceLocation: sourceLocation)
        #expect(rebuilt.map(\.provenance) == records.records.map(\.provenance), "\(query)", sourceLocation: sourceLocation)
        return records
    }

    @Test("every query shape gives range's records, across blocks, late keys and open partitions")
    func sameAsRange() throws {
        try Self.withHistory { store in
            let all = try store.range(RangeQuery(vehicle: vid("v"), from: .min, to: .max)).records
            #expect(all.count == 61)
            let bounds: [(Int64, Int64)] = [(.min, .max), (0, 6000), (1150, 1300), (2500, 3500), (2999, 3001), (3000, 3000), (-5000, 1), (5900, .max)]
            let projections: [[String]?] = [nil, ["speed", "mixed", "nope"], ["early"], ["zz", "list", "blob"], ["nope"]]
            for (from, to) in bounds {
                for order in TimeOrder.allCases {
                    for fields in projections {
                        _ = try Self.check(store, RangeQuery(vehicle: vid("v"), from: from, to: to, fields: fields, order: order))
                        // Paging: each page the same as range's, and together the whole answer.
                        for limit in [1, 7] {
                            var cursor: String? = nil
                            var pages = 0
                            repeat {
                                let page = try Self.check(
                                    store, RangeQuery(vehicle: vid("v"), from: from, to: to, fields: fields, limit: limit, order: order, cursor: cursor))
                                cursor = page.nextCursor
                                pages += 1
                            } while cursor != nil && pages < 100
                            #expect(cursor == nil)
                        }
                    }
                }
            }
        }
    }

    @Test("the column layout: first appearance order, sparse rows, a type change makes a column mixed")
    func layout() throws {
        try Self.withHistory { store in
            let page = try store.rangeColumns(RangeQuery(vehicle: vid("v"), from: 0, to: 6000))
            let c = page.columns
            #expect(c.count == 61)
            #expect(page.nextCursor == nil)
            // "early" has the lowest field id but first appears at 1200 (the late record).
            let names = c.columns.map(\.name)
            #expect(names.firstIndex(of: "early")! > names.firstIndex(of: "speed")!)
            // Every record but the late one at 1250 has a speed.
            #expect(c["speed"]?.rows?.count == 60 && c["speed"]?.values.count == 60)
            if case .mixed(let values)? = c["mixed"]?.values {
                // Not in the late record at 1200, which replaced its block row.
                #expect(values.count == 60)
                #expect(values.contains(.string("s45")) && values.contains(.null))
            } else {
                Issue.record("a column of ints, doubles, a string and a null must be mixed: \(String(describing: c["mixed"]?.values))")
            }
            // Every row of a column's row list has the field, in ascending order.
            let records = c.records
            for column in c.columns {
                let rows = column.rows ?? Array(0..<UInt32(c.count))
                #expect(rows == rows.sorted() && rows.count == column.values.count)
                for (j, row) in rows.enumerated() {
                    #expect(records[Int(row)][column.name] == column.values[j])
                    #expect(column.value(row: Int(row)) == column.values[j])
                }
            }
            #expect(c["blob"]?.value(row: 1) == nil)
            // The late record at 1200 has the default provenance ("test", "1.0.0").
            #expect(Set(c.providers) == ["navixy", "teltonika", "late", "test"])
            #expect(Set(c.mappingVersions) == ["1.0.0", "identity", "2.0.0"])
            #expect(c.provenance(row: c.timestamps.firstIndex(of: 1250)!) == Provenance(provider: "late", mappingVersion: "2.0.0", receivedAt: 1255))
        }
    }

    @Test("every value type comes back bit for bit, sealed and unsealed")
    func valueTypes() throws {
        try withTemporaryStore(configuration: Self.config) { store, _ in
            let values = ValueCodecTests.values
            // The same values in a sealed partition (1000...) and an open one (5000...).
            var written = [TelemetryRecord]()
            for base in [1000, 5000] as [Int64] {
                for (i, v) in values.enumerated() {
                    written.append(record("v", base + Int64(i), ["f\(i % 4)": v, "all": v]))
                }
            }
            try store.write(written)
            try store.seal(upTo: 2000)
            for order in TimeOrder.allCases {
                let got = try store.rangeColumns(RangeQuery(vehicle: vid("v"), from: .min, to: .max, order: order)).columns.records
                let expected = order == .ascending ? written : written.reversed()
                #expect(got.map(\.timestamp) == expected.map(\.timestamp))
                for (g, w) in zip(got, expected) {
                    #expect(g.fields.count == w.fields.count && g.provenance == w.provenance)
                    for f in w.fields {
                        #expect(g[f.name]?.isIdentical(to: f.value) == true, "\(f.name) at \(w.timestamp)")
                    }
                }
            }
        }
    }

    @Test("empty answers: unknown vehicle, empty range, cursor at the end; errors as range's")
    func emptyAndErrors() throws {
        try Self.withHistory { store in
            let none = try store.rangeColumns(RangeQuery(vehicle: vid("nobody"), from: .min, to: .max))
            #expect(none.columns == RecordColumns(vehicle: vid("nobody")) && none.nextCursor == nil)
            let gap = try store.rangeColumns(RangeQuery(vehicle: vid("v"), from: 10_000, to: 20_000))
            #expect(gap.columns.count == 0 && gap.columns.columns.isEmpty)
            #expect(try store.rangeColumns(RangeQuery(vehicle: vid("v"), from: 0, to: 6000, fields: ["nope"])).columns.columns.isEmpty)
            _ = try Self.check(store, RangeQuery(vehicle: vid("v"), from: .min, to: 6000, order: .descending, cursor: "v1:d:\(Int64.min)"))
            for bad in [
                RangeQuery(vehicle: vid("v"), from: 10, to: 5), RangeQuery(vehicle: vid("v"), from: 0, to: 5, limit: 0),
                RangeQuery(vehicle: vid("v"), from: 0, to: 5, cursor: "nonsense"),
            ] {
                #expect(throws: StorageError.self) { try store.rangeColumns(bad) }
            }
        }
    }
}
