import Testing
import TelemetryCore
@testable import TelemetryStorage

@Suite("Store: edges of ranges, replacements and deletes")
struct StoreEdgeCaseTests {
    /// Pages through `query` by its cursors, at most `maxPages` pages (a cursor that never ends
    /// fails the test instead of hanging it).
    static func pages(_ store: TelemetryStore, _ query: RangeQuery, maxPages: Int = 10) throws -> (timestamps: [Int64], pages: Int) {
        var query = query
        var seen: [Int64] = []
        var pages = 0
        repeat {
            let page = try store.range(query)
            seen += page.records.map(\.timestamp)
            pages += 1
            query.cursor = page.nextCursor
        } while query.cursor != nil && pages < maxPages
        return (seen, pages)
    }

    @Test("descending pages with to = Int64.max and a record at Int64.max end, each record once")
    func descendingPagingAtInt64Max() throws {
        try withTemporaryStore { store, _ in
            try store.write([record("v", .max, ["a": .int(1)]), record("v", .max - 1, ["a": .int(2)]), record("v", 0, ["a": .int(3)])])
            let got = try Self.pages(store, RangeQuery(vehicle: vid("v"), from: .min, to: .max, limit: 1, order: .descending))
            #expect(got.timestamps == [.max, .max - 1, 0])
            #expect(got.pages == 3)
        }
    }

    @Test("ranges that end at Int64.min are empty in every read, even for a record at Int64.min")
    func rangesEndingAtInt64Min() throws {
        try withTemporaryStore { store, _ in
            // A remap's warm-up before a range that starts at Int64.min is [Int64.min, Int64.min):
            // its end minus one overflowed and took the server down.
            try store.write([record("v", .min, ["a": .int(1)]), record("v", 0, ["a": .int(2)])])
            let v = vid("v")
            #expect(try store.rawRecords(vehicle: v, from: .min, to: .min).isEmpty)
            #expect(try store.range(RangeQuery(vehicle: v, from: .min, to: .min)).records.isEmpty)
            #expect(try store.aggregate(vehicle: v, from: .min, to: .min, bucketMs: 1000, fields: []).isEmpty)
            var visited = 0
            try store.forEachRecord(vehicle: v, from: .min, to: .min) { _ in
                visited += 1
                return true
            }
            #expect(visited == 0)
            // One past it, the record at Int64.min is there.
            #expect(try store.range(RangeQuery(vehicle: v, from: .min, to: .min + 1)).records.map(\.timestamp) == [.min])
        }
    }

    @Test("ascending pages reach a record at Int64.max when a page ends just before it")
    func ascendingPagingAtInt64Max() throws {
        try withTemporaryStore { store, _ in
            try store.write([record("v", .max - 1, ["a": .int(1)]), record("v", .max, ["a": .int(2)])])
            let got = try Self.pages(store, RangeQuery(vehicle: vid("v"), from: 0, to: .max, limit: 1))
            #expect(got.timestamps == [.max - 1, .max])
            // [Int64.max, Int64.max): to = Int64.max is "no upper bound", so the record is in it.
            #expect(try store.range(RangeQuery(vehicle: vid("v"), from: .max, to: .max)).records.map(\.timestamp) == [.max])
        }
    }

    @Test("replacing the newest record drops the fields only the replaced record had from the latest state")
    func replacingTheNewestRecord() throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/store"
            do {
                let store = try TelemetryStore(path: path)
                try store.write([record("v", 1000, ["a": .int(1), "b": .int(1)])])
                try store.write([record("v", 2000, ["a": .int(2), "b": .int(2), "c": .int(2)])])
                let s = try store.write([record("v", 2000, ["a": .int(3)])])
                #expect(s.replaced == 1)
                let latest = try #require(try store.latest(vid("v")))
                #expect(latest.timestamp == 2000)
                #expect(latest["a"] == LatestField(name: "a", value: .int(3), timestamp: 2000))
                // b comes from the newest remaining record that has it; c from none.
                #expect(latest["b"] == LatestField(name: "b", value: .int(1), timestamp: 1000))
                #expect(latest["c"] == nil)
                #expect(latest.fields.map(\.name) == ["a", "b"])
                store.close()
            }
            // The checkpoint written with the replacement holds the same.
            let store = try TelemetryStore(path: path)
            defer { store.close() }
            let latest = try #require(try store.latest(vid("v")))
            #expect(latest.fields == [LatestField(name: "a", value: .int(3), timestamp: 2000), LatestField(name: "b", value: .int(1), timestamp: 1000)])
        }
    }

    @Test("a late replacement drops the extras that came from the record it replaced")
    func lateReplacement() throws {
        try withTemporaryStore { store, _ in
            try store.write([record("v", 500, ["c": .int(0)]), record("v", 1000, ["a": .int(1)]), record("v", 3000, ["a": .int(3)])])
            try store.write([record("v", 2000, ["a": .int(2), "c": .int(5), "d": .int(5)])])
            #expect(try store.latest(vid("v"))?["c"] == LatestField(name: "c", value: .int(5), timestamp: 2000))
            let s = try store.write([record("v", 2000, ["a": .int(2)])])
            #expect(s.replaced == 1 && s.late == 1)
            let latest = try #require(try store.latest(vid("v")))
            #expect(latest["c"] == LatestField(name: "c", value: .int(0), timestamp: 500))
            #expect(latest["d"] == nil)
            #expect(latest["a"] == LatestField(name: "a", value: .int(3), timestamp: 3000))
        }
    }

    @Test("a replacement in a sealed partition, and one in the same batch as the record it looks back to")
    func replacementsAgainstBlocksAndTheBatch() throws {
        var config = StoreConfiguration()
        config.partitionWidthMs = 1000
        try withTemporaryStore(configuration: config) { store, _ in
            try store.write([record("v", 100, ["b": .int(1)]), record("v", 1500, ["a": .int(1), "b": .int(2)]), record("v", 2500, ["a": .int(3)])])
            try store.seal(upTo: 2000)
            // 1500 is a block row: replaced without b, b falls back to the block's row at 100.
            try store.write([record("v", 1500, ["a": .int(2)])])
            #expect(try store.latest(vid("v"))?["b"] == LatestField(name: "b", value: .int(1), timestamp: 100))
            try store.write([record("v", 1200, ["b": .int(7)])])
            #expect(try store.latest(vid("v"))?["b"] == LatestField(name: "b", value: .int(7), timestamp: 1200))
            // The newest remaining b is in the replacing batch itself, not yet in LevelDB.
            try store.write([record("v", 900, ["b": .int(8)]), record("v", 1200, ["a": .int(5)])])
            #expect(try store.latest(vid("v"))?["b"] == LatestField(name: "b", value: .int(8), timestamp: 900))
            #expect(try store.vehicles().first?.recordCount == 5)
        }
    }

    @Test("deleting a vehicle that only has raw records deletes them")
    func deleteRawOnly() throws {
        try withTemporaryStore { store, _ in
            let raw = (0..<3).map { i in
                RawRecord(
                    record: ProviderRecord(vehicle: vid("r"), timestamp: Int64(i) * 1000, provider: "p", fields: [Field("x", .int(Int64(i)))]),
                    receivedAt: Int64(i) * 1000, mappingVersion: "1")
            }
            _ = try store.write(StoreWrite(raw: raw))
            #expect(try store.rawRecords(vehicle: vid("r"), from: .min, to: .max).count == 3)
            #expect(try store.rawRecords(vehicle: vid("r"), from: .min, to: .max, limit: 2).count == 2)
            #expect(throws: StorageError.self) { try store.rawRecords(vehicle: vid("r"), from: .min, to: .max, limit: 0) }
            #expect(try store.deleteRecords(vehicle: vid("r"), from: 0, to: 2000) == 0)
            #expect(try store.rawRecords(vehicle: vid("r"), from: .min, to: .max).map(\.record.timestamp) == [2000])
            try store.deleteRecords(vehicle: vid("r"), from: .min, to: .max)
            #expect(try store.rawRecords(vehicle: vid("r"), from: .min, to: .max).isEmpty)
            #expect(try store.vehicles().isEmpty)
        }
    }

    @Test("a retry that changes nothing, derived states and gateway sequences included, makes no LevelDB write")
    func noOpRetryWritesNothing() throws {
        try withTemporaryStore { store, _ in
            let change = StoreWrite(
                records: (0..<20).map { record("v\($0 % 2)", Int64($0) * 1000, ["n": .int(Int64($0))]) },
                gatewaySequences: ["gw": 20], derivedStates: [vid("v0"): [1, 2, 3], vid("v1"): [4]])
            _ = try store.write(change, durability: .sync)
            // Armed, the fault fails the next LevelDB write: the retry must not make one.
            store.faultInjection.failNextWrite()
            let retry = try store.write(change, durability: .sync)
            #expect(retry.duplicates == 20 && retry.written == 0)
            #expect(store.health == .ready)
            // Still armed: the first write that changes something is the one that fails.
            #expect(throws: StorageError.self) { try store.write(StoreWrite(derivedStates: [vid("v0"): [9]])) }
            guard case .degraded = store.health else {
                Issue.record("health is \(store.health), expected degraded")
                return
            }
        }
    }

    @Test("VehicleID(utf8Bytes:) behaves the same for every kind of byte collection")
    func vehicleIDFromBytes() throws {
        let cases: [([UInt8], VehicleIDError?)] = [
            (Array("veh-1".utf8), nil), (Array("Zürich".utf8), nil), ([], .empty), ([0xFF, 0x41], .notUTF8),
            (Array(repeating: 0x61, count: 65), .tooLong(byteCount: 65)), ([0x61, 0x09], .controlCharacter),
            (Array(repeating: 0xFF, count: 65), .notUTF8),
        ]
        for (bytes, expected) in cases {
            let fromArray = Result { () throws(VehicleIDError) in try VehicleID(utf8Bytes: bytes) }
            let fromSlice = Result { () throws(VehicleIDError) in try VehicleID(utf8Bytes: bytes[...]) }
            let fromBuffer = bytes.withUnsafeBufferPointer { b in Result { () throws(VehicleIDError) in try VehicleID(utf8Bytes: b) } }
            for got in [fromArray, fromSlice, fromBuffer] {
                switch (got, expected) {
                case (.success(let id), nil): #expect(Array(id.rawValue.utf8) == bytes)
                case (.failure(let e), let expected?): #expect(e == expected)
                default: Issue.record("\(bytes): got \(got), expected \(String(describing: expected))")
                }
            }
        }
    }
}
