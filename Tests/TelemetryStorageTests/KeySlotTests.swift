import Foundation
import Testing
import TelemetryCore
@testable import TelemetryStorage

/// Record keys by key slot (format 5): a vehicle's records of one partition are spread over
/// many slots, between other vehicles' keys, and every read, delete and seal must gather them.
@Suite("Store: key slots")
struct KeySlotTests {
    static let minute: Int64 = 60_000
    static let hour: Int64 = 3_600_000

    static let slot: Int64 = 600_000

    /// Three vehicles with different cadences and gaps over 2.5 hours, so that slots hold one,
    /// two, all or none of them: `b` only in even slots, `c` only in odd slots of the second
    /// hour, nobody in slots 9 and 10. `b` comes first, so it has the lowest vehicle code: a
    /// seek for it in an empty slot lands on a higher code in a later slot (odd slot 11), which
    /// must not hide its own records in slot 12; descending, a seek for `c` (the highest code)
    /// in slot 10 lands on a lower code in slot 8, which must not hide its records in slot 7.
    static func history() -> [TelemetryRecord] {
        var out: [TelemetryRecord] = []
        for ts in stride(from: Int64(0), to: 150 * minute, by: 7_000) where !(90 * minute..<110 * minute).contains(ts) {
            if (ts / slot) % 2 == 0 { out.append(record("b", ts + 1, ["x": .int(-ts)])) }
            out.append(record("a", ts, ["x": .int(ts)]))
            if ts >= hour, ts < 2 * hour, (ts / slot) % 2 == 1 { out.append(record("c", ts + 2, ["y": .double(Double(ts) / 10)])) }
        }
        return out
    }

    /// What a range must return: the records of `vehicle` in [from, to), in `order`.
    static func expected(_ all: [TelemetryRecord], _ vehicle: String, _ from: Int64, _ to: Int64, _ order: TimeOrder) -> [Int64] {
        let ts = all.filter { $0.vehicle == vid(vehicle) && $0.timestamp >= from && $0.timestamp < to }.map(\.timestamp).sorted()
        return order == .ascending ? ts : ts.reversed()
    }

    static func check(_ store: TelemetryStore, _ all: [TelemetryRecord]) throws {
        let ranges: [(Int64, Int64)] = [
            (.min, .max), (0, hour), (59 * minute + 30_000, 61 * minute), (hour + 1, 2 * hour - 1), (3 * minute, 3 * minute + 1),
            (85 * minute, 125 * minute), (19 * minute, 41 * minute), (92 * minute, 128 * minute),
        ]
        for v in ["a", "b", "c"] {
            for (from, to) in ranges {
                for order in [TimeOrder.ascending, .descending] {
                    let got = try store.range(RangeQuery(vehicle: vid(v), from: from, to: to, order: order)).records
                    #expect(got.map(\.timestamp) == expected(all, v, from, to, order), "\(v) [\(from), \(to)) \(order)")
                    // Values come with their own record, not a neighbour's.
                    for r in got where v == "a" { #expect(r.fieldMap["x"] == .int(r.timestamp)) }
                }
                // Pages of 7 end where one read ends.
                var cursor: String? = nil
                var paged: [Int64] = []
                repeat {
                    let page = try store.range(RangeQuery(vehicle: vid(v), from: from, to: to, limit: 7, order: .descending, cursor: cursor))
                    paged += page.records.map(\.timestamp)
                    cursor = page.nextCursor
                } while cursor != nil
                #expect(paged == expected(all, v, from, to, .descending))
            }
        }
    }

    @Test("a new store has 10-minute key slots; records of interleaved vehicles read back exactly, before and after sealing")
    func interleaved() throws {
        try withTemporaryStore { store, _ in
            #expect(store.keySlotWidthMs == Self.slot)
            let all = Self.history()
            for chunk in stride(from: 0, to: all.count, by: 500) { try store.write(Array(all[chunk..<min(chunk + 500, all.count)])) }
            try Self.check(store, all)
            let sealed = try store.seal(upTo: 2 * Self.hour)
            #expect(sealed.blocks == 5)  // a and b in hours 0 and 1, c in hour 1
            try Self.check(store, all)
            // A late record into a sealed partition, then a seal that folds it in.
            let late = record("b", 71 * Self.minute + 500, ["x": .int(42)])
            try store.write([late])
            try Self.check(store, all + [late])
            #expect(try store.seal(upTo: 2 * Self.hour).records == 1)
            try Self.check(store, all + [late])
        }
    }

    @Test("deletes and raw records reach every slot of the range, and no other vehicle's keys")
    func deleteAndRaw() throws {
        try withTemporaryStore { store, _ in
            let all = Self.history()
            let raw = all.map {
                RawRecord(
                    record: ProviderRecord(vehicle: $0.vehicle, timestamp: $0.timestamp, provider: "test", fields: $0.fields),
                    receivedAt: $0.timestamp + 5, mappingVersion: "1.0.0")
            }
            _ = try store.write(StoreWrite(records: all, raw: raw))
            let rawA = try store.rawRecords(vehicle: vid("a"), from: 10 * Self.minute, to: 70 * Self.minute)
            #expect(rawA.map(\.record.timestamp) == Self.expected(all, "a", 10 * Self.minute, 70 * Self.minute, .ascending))
            let deleted = try store.deleteRecords(vehicle: vid("b"), from: 30 * Self.minute, to: 90 * Self.minute)
            #expect(deleted == UInt64(Self.expected(all, "b", 30 * Self.minute, 90 * Self.minute, .ascending).count))
            let remaining = all.filter { !($0.vehicle == vid("b") && $0.timestamp >= 30 * Self.minute && $0.timestamp < 90 * Self.minute) }
            try Self.check(store, remaining)
            #expect(try store.rawRecords(vehicle: vid("b"), from: .min, to: .max).count == Self.expected(remaining, "b", .min, .max, .ascending).count)
            #expect(try store.rawRecords(vehicle: vid("a"), from: .min, to: .max).count == Self.expected(all, "a", .min, .max, .ascending).count)
        }
    }

    @Test("a format 4 folder opens as format 5 with one slot per partition, its keys untouched, and stays readable and writable")
    func upgradeFromFormat4() throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/store"
            let all = Self.history()
            do {
                // What a format 4 build leaves: record keys by partition, no slot entry.
                var configuration = StoreConfiguration()
                configuration.keySlotWidthMs = nil
                let store = try TelemetryStore(path: path, configuration: configuration)
                #expect(store.keySlotWidthMs == Self.hour)
                try store.write(Array(all.prefix(1000)))
                store.close()
                let db = try LevelDB(path: path, options: LevelDBOptions())
                let batch = WriteBatch()
                batch.put(KeyLayout.metadataKey(KeyLayout.Meta.format), UInt32(4).bigEndianBytes)
                batch.delete(KeyLayout.metadataKey(KeyLayout.Meta.keySlotWidth))
                try db.write(batch, sync: true)
            }
            let keysBefore = try DerivedStateTests.entries(path, .canonical).keys.sorted { $0.lexicographicallyPrecedes($1) }
            do {
                let store = try TelemetryStore(path: path)
                defer { store.close() }
                #expect(store.keySlotWidthMs == Self.hour)
                try Self.check(store, Array(all.prefix(1000)))
                try store.write(Array(all.dropFirst(1000)))
                try Self.check(store, all)
            }
            let metadata = try DerivedStateTests.entries(path, .metadata)
            #expect(metadata[KeyLayout.metadataKey(KeyLayout.Meta.format)] == UInt32(5).bigEndianBytes)
            #expect(metadata[KeyLayout.metadataKey(KeyLayout.Meta.keySlotWidth)] == UInt64(Self.hour).bigEndianBytes)
            let keysAfter = Set(try DerivedStateTests.entries(path, .canonical).keys)
            #expect(keysBefore.allSatisfy { keysAfter.contains($0) })
            // The later records went in with the folder's own layout: slot = partition.
            #expect(keysAfter.count == all.count)
            for key in keysAfter {
                let parsed = key.withUnsafeBufferPointer { KeyLayout.parseRecordKey($0) }
                #expect(parsed.map { $0.slot == KeyLayout.partition(of: $0.timestamp, width: Self.hour) } == true)
            }
        }
    }

    @Test("the slot width is fixed at creation: a reopen with another setting keeps it; a damaged entry is data loss")
    func fixedAtCreation() throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/store"
            do {
                let store = try TelemetryStore(path: path)
                try store.write(Self.history())
                store.close()
            }
            do {
                var configuration = StoreConfiguration()
                configuration.keySlotWidthMs = Self.minute
                let store = try TelemetryStore(path: path, configuration: configuration)
                #expect(store.keySlotWidthMs == Self.slot)
                try Self.check(store, Self.history())
                store.close()
            }
            for damaged: [UInt8] in [[0, 0, 1], UInt64(7_000).bigEndianBytes, UInt64(0).bigEndianBytes] {
                do {
                    let db = try LevelDB(path: path, options: LevelDBOptions())
                    let batch = WriteBatch()
                    batch.put(KeyLayout.metadataKey(KeyLayout.Meta.keySlotWidth), damaged)
                    try db.write(batch, sync: true)
                }
                #expect {
                    _ = try TelemetryStore(path: path)
                } throws: { ($0 as? StorageError)?.code == .dataLoss && ($0 as? StorageError)?.message.contains("key slot width") == true }
            }
        }
    }
}
