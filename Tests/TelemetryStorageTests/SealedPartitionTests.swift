import Foundation
import Testing
import TelemetryCore
@testable import TelemetryStorage

@Suite("Store: sealed partitions")
struct SealedPartitionTests {
    /// 1-second partitions, so a few records span several.
    static var config: StoreConfiguration {
        var c = StoreConfiguration()
        c.partitionWidthMs = 1000
        return c
    }

    /// Records of vehicle "v" every 100 ms over [0, 6000) with fields that come and go.
    static func history() -> [TelemetryRecord] {
        (0..<60).map { i in
            var fields: [String: FieldValue] = ["speed": .double(Double(i) / 10), "n": .int(Int64(i))]
            if i % 4 == 0 { fields["ign"] = .bool(i % 8 == 0) }
            if i % 9 == 0 { fields["note"] = .string(i == 0 ? "" : "n\(i)") }
            return record("v", Int64(i) * 100, fields)
        }
    }

    static func same(_ a: [TelemetryRecord], _ b: [TelemetryRecord], sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(a.map(\.timestamp) == b.map(\.timestamp), sourceLocation: sourceLocation)
        #expect(a.map(\.fieldMap) == b.map(\.fieldMap), sourceLocation: sourceLocation)
        #expect(a.map(\.provenance) == b.map(\.provenance), sourceLocation: sourceLocation)
    }

    @Test("every value type survives a seal, bit for bit, in records that have different fields")
    func valueTypes() throws {
        try withTemporaryStore(configuration: Self.config) { store, _ in
            var written = [TelemetryRecord]()
            for (i, v) in ValueCodecTests.values.enumerated() {
                // Each record has a few of the values, so every field is missing from some records.
                var fields: [String: FieldValue] = ["f\(i)": v, "all": .double(Double(i) * 0.25)]
                fields["g\(i % 3)"] = v
                written.append(record("veh-1", 1000 + Int64(i), fields))
            }
            try store.write(written)
            let summary = try store.seal(upTo: .max)
            #expect(summary.blocks == 1 && summary.records == written.count)
            let got = try allRecords(store, "veh-1")
            #expect(got.count == written.count)
            for (g, w) in zip(got, written) {
                #expect(g.timestamp == w.timestamp && g.provenance == w.provenance)
                #expect(g.fields.count == w.fields.count)
                for f in w.fields {
                    #expect(g.fieldMap[f.name]?.isIdentical(to: f.value) == true, "\(f.name) at \(w.timestamp)")
                }
            }
        }
    }

    @Test("range, order, limit, cursor and projection read the same across sealed, unsealed and the seam")
    func queriesAcrossTheSeam() throws {
        try withTemporaryStore(configuration: Self.config) { store, _ in
            let all = Self.history()
            try store.write(all)
            let before = try allRecords(store, "v")
            // Seal [0, 3000): partitions 0, 1, 2; 3, 4, 5 stay individual keys.
            let summary = try store.seal(upTo: 3000)
            #expect(summary.blocks == 3 && summary.records == 30)
            Self.same(try allRecords(store, "v"), before)
            Self.same(try allRecords(store, "v", order: .descending), before.reversed())

            for (from, to) in [(0, 6000), (2500, 3500), (2999, 3001), (150, 2950), (3000, 3000), (-5000, 1), (5900, .max)] as [(Int64, Int64)] {
                let expected = before.filter { $0.timestamp >= from && ($0.timestamp < to || to == .max) }
                for order in TimeOrder.allCases {
                    let inOrder = order == .ascending ? expected : expected.reversed()
                    Self.same(try store.range(RangeQuery(vehicle: vid("v"), from: from, to: to, order: order)).records, inOrder)
                    // Paging by 7 gives the same records.
                    var cursor: String? = nil
                    var paged = [TelemetryRecord]()
                    repeat {
                        let page = try store.range(RangeQuery(vehicle: vid("v"), from: from, to: to, limit: 7, order: order, cursor: cursor))
                        #expect(page.records.count <= 7)
                        paged += page.records
                        cursor = page.nextCursor
                    } while cursor != nil
                    Self.same(paged, inOrder)
                }
                // Projection: only the named fields, and records without them keep their place.
                let projected = try store.range(RangeQuery(vehicle: vid("v"), from: from, to: to, fields: ["ign", "note", "nope"])).records
                #expect(projected.map(\.timestamp) == expected.map(\.timestamp))
                #expect(projected.map(\.fieldMap) == expected.map { $0.fieldMap.filter { ["ign", "note"].contains($0.key) } })
            }
            // Aggregates agree with the unsealed computation.
            let buckets = try store.aggregate(vehicle: vid("v"), from: 0, to: 6000, bucketMs: 1500, fields: ["speed", "ign"])
            #expect(buckets.map(\.start) == [0, 1500, 3000, 4500])
            #expect(buckets.map { $0.fields.first { $0.field == "speed" }?.count } == [15, 15, 15, 15])
            #expect(buckets[1].fields.first { $0.field == "speed" }?.sum == (15..<30).reduce(0.0) { $0 + Double($1) / 10 })
        }
    }

    /// Downsampling as a scan of the records API computes it: buckets in time order, within a
    /// bucket each numeric field in the order of its first value, row by row.
    static func referenceBuckets(_ records: [TelemetryRecord], bucketMs: Int64, fields: [String]) -> [AggregateBucket] {
        var out = [AggregateBucket]()
        for r in records {
            let start = Int64((Double(r.timestamp) / Double(bucketMs)).rounded(.down)) * bucketMs
            if out.last?.start != start { out.append(AggregateBucket(start: start, fields: [])) }
            for f in r.fields where fields.isEmpty || fields.contains(f.name) {
                let x: Double
                switch f.value {
                case .double(let d): x = d
                case .int(let i): x = Double(i)
                case .bool(let b): x = b ? 1 : 0
                default: continue
                }
                var integer: Int64? = nil
                if case .int(let i) = f.value { integer = i }
                if let i = out[out.count - 1].fields.firstIndex(where: { $0.field == f.name }) {
                    var a = out[out.count - 1].fields[i]
                    a.count += 1
                    a.min = min(a.min, x)
                    a.max = max(a.max, x)
                    a.sum += x
                    a.last = x
                    // Exact integers while every sample is an int and the sum fits Int64 (this
                    // model checks the sum as it goes; the histories here are far from overflow,
                    // where the store, summing in 128 bits, decides at the bucket's end).
                    if let exact = a.integers, let n = integer, case (let sum, false) = exact.sum.addingReportingOverflow(n) {
                        a.integers = IntegerAggregate(min: min(exact.min, n), max: max(exact.max, n), sum: sum, first: exact.first, last: n)
                    } else {
                        a.integers = nil
                    }
                    out[out.count - 1].fields[i] = a
                } else {
                    out[out.count - 1].fields.append(
                        FieldAggregate(field: f.name, count: 1, min: x, max: x, sum: x, first: x, last: x, integers: integer.map(IntegerAggregate.init)))
                }
            }
        }
        return out
    }

    @Test("downsampling over sealed blocks, record keys and late records agrees with a scan of the records, field order included")
    func aggregateMatchesTheRecords() throws {
        try withTemporaryStore(configuration: Self.config) { store, _ in
            try store.write(Self.history())
            try store.seal(upTo: 3000)
            // A late replacement inside a sealed partition, and one that brings a field the block lacks.
            try store.write([
                record("v", 1200, ["speed": .double(99), "n": .int(-1)]),
                record("v", 2500, ["extra": .int(7), "speed": .double(0.5), "n": .int(25)]),
            ])
            let records = try allRecords(store, "v")
            for (bucket, fields) in [(Int64(700), [String]()), (1500, ["ign", "speed"]), (250, ["n", "extra", "note"]), (100_000, [])] {
                let got = try store.aggregate(vehicle: vid("v"), from: 0, to: 6000, bucketMs: bucket, fields: fields)
                #expect(got == Self.referenceBuckets(records, bucketMs: bucket, fields: fields), "bucket \(bucket) ms, fields \(fields)")
            }
            // [from, to) bounds the rows, not the buckets.
            let partial = try store.aggregate(vehicle: vid("v"), from: 1150, to: 1350, bucketMs: 1000, fields: ["n"])
            #expect(partial == Self.referenceBuckets(records.filter { (1150..<1350).contains($0.timestamp) }, bucketMs: 1000, fields: ["n"]))
            #expect(try store.aggregate(vehicle: vid("v"), from: 7000, to: 8000, bucketMs: 1000, fields: []).isEmpty)
            #expect(try store.aggregate(vehicle: vid("nobody"), from: 0, to: 8000, bucketMs: 1000, fields: []).isEmpty)
        }
    }

    @Test("a late record into a sealed partition: new, duplicate, replacing; counts stay exact")
    func lateRecords() throws {
        try withTemporaryStore(configuration: Self.config) { store, _ in
            try store.write(Self.history())
            try store.seal(upTo: 3000)
            // A retried batch of sealed records: all duplicates, even with a later received time.
            let retry = Self.history().prefix(30).map { r -> TelemetryRecord in
                var r = r
                r.provenance.receivedAt += 1000
                return r
            }
            let dup = try store.write(Array(retry))
            #expect(dup.written == 0 && dup.duplicates == 30 && dup.replaced == 0)
            #expect(try store.vehicles().first?.recordCount == 60)

            // A new record between two sealed ones.
            let new = try store.write([record("v", 1050, ["n": .int(-1)])])
            #expect(new.written == 1 && new.late == 1 && new.replaced == 0)
            #expect(try store.vehicles().first?.recordCount == 61)

            // A different record at a sealed timestamp replaces it.
            let replaced = try store.write([record("v", 1200, ["n": .int(-2), "extra": .string("x")])])
            #expect(replaced.written == 1 && replaced.replaced == 1)
            #expect(try store.vehicles().first?.recordCount == 61)
            // ... and writing it again is now a duplicate of the individual key.
            #expect(try store.write([record("v", 1200, ["n": .int(-2), "extra": .string("x")])]).duplicates == 1)

            func check() throws {
                let got = try allRecords(store, "v")
                #expect(got.count == 61)
                #expect(got.map(\.timestamp) == got.map(\.timestamp).sorted())
                #expect(got.first { $0.timestamp == 1050 }?.fieldMap == ["n": .int(-1)])
                #expect(got.first { $0.timestamp == 1200 }?.fieldMap == ["n": .int(-2), "extra": .string("x")])
                #expect(got.first { $0.timestamp == 1100 }?.fieldMap["n"] == .int(11))
                let desc = try allRecords(store, "v", order: .descending)
                #expect(desc.map(\.timestamp) == got.map(\.timestamp).reversed())
                let page = try store.range(RangeQuery(vehicle: vid("v"), from: 1000, to: 1300, fields: ["n"]))
                #expect(page.records.map(\.timestamp) == [1000, 1050, 1100, 1200])
                #expect(page.records.map { $0.fieldMap["n"] } == [.int(10), .int(-1), .int(11), .int(-2)])
            }
            try check()
            // The next seal folds the late keys into the block; reads do not change.
            let again = try store.seal(upTo: 3000)
            #expect(again.blocks == 1 && again.records == 2)
            try check()
            // A duplicate of the folded record is found in the block.
            #expect(try store.write([record("v", 1200, ["n": .int(-2), "extra": .string("x")])]).duplicates == 1)
            #expect(try store.vehicles().first?.recordCount == 61)
        }
    }

    @Test("sealing twice changes nothing; sealPartitions keeps the grace period open")
    func idempotentAndGrace() throws {
        try withTemporaryStore(configuration: Self.config) { store, _ in
            try store.write(Self.history())  // newest record at 5900
            // Grace 1 partition: partitions ending at or before 4900 are closed (0...3).
            let first = try store.sealPartitions()
            #expect(first.blocks == 4 && first.records == 40)
            let before = try allRecords(store, "v")
            #expect(try store.sealPartitions() == SealSummary())
            #expect(try store.seal(upTo: 4000) == SealSummary())
            Self.same(try allRecords(store, "v"), before)
            // compact() seals what the grace period allows, then compacts.
            try store.write([record("v", 7000, ["n": .int(70)])])
            try store.compact()
            #expect(try store.seal(upTo: 6000) == SealSummary())
            #expect(try store.seal(upTo: .max).blocks == 1)
            #expect(try allRecords(store, "v").count == 61)
        }
    }

    @Test("deleting a range over sealed data rewrites or drops blocks and keeps counts and latest right")
    func deleteOverSealed() throws {
        try withTemporaryStore(configuration: Self.config) { store, _ in
            try store.write(Self.history())
            try store.seal(upTo: 4000)
            // A late key overriding a block row inside the deleted range, and one outside it.
            try store.write([record("v", 1500, ["n": .int(-15)]), record("v", 3100, ["n": .int(-31)])])
            // [1200, 3000): part of block 1, all of block 2.
            let deleted = try store.deleteRecords(vehicle: vid("v"), from: 1200, to: 3000)
            #expect(deleted == 18)
            let got = try allRecords(store, "v")
            #expect(got.count == 42)
            #expect(got.allSatisfy { $0.timestamp < 1200 || $0.timestamp >= 3000 })
            #expect(got.first { $0.timestamp == 3100 }?.fieldMap == ["n": .int(-31)])
            #expect(try store.vehicles().first?.recordCount == 42)
            // Delete the newest records: the latest state is rebuilt from a block.
            #expect(try store.deleteRecords(vehicle: vid("v"), from: 3500, to: .max) == 25)
            let summary = try #require(try store.vehicles().first)
            #expect(summary.recordCount == 17 && summary.lastTimestamp == 3400 && summary.firstTimestamp == 0)
            let latest = try #require(try store.latest(vid("v")))
            #expect(latest.timestamp == 3400 && latest["n"]?.value == .int(34))
            // Fields the newest record lacks come from older records, block rows included.
            #expect(latest["ign"] == LatestField(name: "ign", value: .bool(true), timestamp: 3200))
            #expect(latest["note"] == LatestField(name: "note", value: .string("n9"), timestamp: 900))
            #expect(try allRecords(store, "v").map(\.timestamp) == got.map(\.timestamp).filter { $0 < 3500 })
            // Everything: blocks and keys gone, the vehicle too.
            #expect(try store.deleteRecords(vehicle: vid("v"), from: .min, to: .max) == 17)
            #expect(try store.vehicles().isEmpty)
            #expect(try allRecords(store, "v").isEmpty)
            try store.write([record("v", 100, ["n": .int(1)])])
            #expect(try allRecords(store, "v").map(\.timestamp) == [100])
        }
    }

    @Test("vehicles, counts, spans and latest state are the same after sealing, and after a reopen")
    func persistence() throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/store"
            let records = (0..<3).flatMap { v in Self.history().map { r -> TelemetryRecord in
                var r = r
                r.vehicle = vid("veh-\(v)")
                return r
            } }
            let before: [VehicleSummary]
            let latestBefore: [LatestState]
            do {
                let store = try TelemetryStore(path: path, configuration: Self.config)
                try store.write(records)
                before = try store.vehicles()
                latestBefore = try store.latest([vid("veh-0"), vid("veh-1"), vid("veh-2")])
                #expect(try store.seal(upTo: .max).blocks == 18)
                #expect(try store.vehicles() == before)
                #expect(try store.latest([vid("veh-0"), vid("veh-1"), vid("veh-2")]) == latestBefore)
                store.close()
            }
            let store = try TelemetryStore(path: path, configuration: Self.config)
            defer { store.close() }
            #expect(try store.vehicles() == before)
            #expect(try store.latest([vid("veh-0"), vid("veh-1"), vid("veh-2")]) == latestBefore)
            for v in 0..<3 {
                Self.same(try allRecords(store, "veh-\(v)"), records.filter { $0.vehicle.rawValue == "veh-\(v)" })
            }
            // The reopened store still finds sealed records when a retry re-sends them.
            let retry = try store.write([records[5], records[70]])
            #expect(retry.duplicates == 2 && retry.written == 0)
            #expect(try store.vehicles() == before)
        }
    }

    @Test("latest states not yet persisted are recovered from the records after a crash")
    func checkpointRecovery() throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/store"
            let n = TelemetryStore.checkpointInterval * 2 + 17
            var expected: [VehicleSummary] = []
            var latest: LatestState? = nil
            do {
                // No close(): the store goes away as a crashed process would leave it.
                let store = try TelemetryStore(path: path, configuration: Self.config)
                for i in 0..<n {
                    var fields: [String: FieldValue] = ["n": .int(Int64(i))]
                    if i == 5 { fields["once"] = .string("early") }
                    try store.write([record("a", Int64(i) * 10, fields), record("b", Int64(i) * 10 + 5, ["m": .double(Double(i) / 4)])])
                    if i == n / 2 { try store.seal(upTo: Int64(i) * 10) }
                }
                expected = try store.vehicles()
                latest = try store.latest(vid("a"))
                #expect(expected.map(\.recordCount) == [UInt64(n), UInt64(n)])
            }
            let store = try TelemetryStore(path: path, configuration: Self.config)
            defer { store.close() }
            #expect(try store.vehicles() == expected)
            #expect(try store.latest(vid("a")) == latest)
            #expect(latest?["once"] == LatestField(name: "once", value: .string("early"), timestamp: 50))
            // Writes after recovery count on from the recovered state.
            try store.write([record("a", Int64(n) * 10, ["n": .int(-1)])])
            #expect(try store.vehicles().first?.recordCount == UInt64(n + 1))
        }
    }

    @Test("a damaged sealed block is a data-loss error naming the vehicle and range, never wrong data")
    func damagedBlock() throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/store"
            do {
                let store = try TelemetryStore(path: path, configuration: Self.config)
                try store.write(Self.history())
                try store.seal(upTo: 3000)
                store.close()
            }
            do {
                // Bytes LevelDB checksums accept but the block codec cannot read.
                let db = try LevelDB(path: path, options: LevelDBOptions())
                let key = KeyLayout.blockKey(partition: 1, vehicle: 1)
                var value = try #require(try db.get(key))
                value.removeLast(value.count / 2)
                let batch = WriteBatch()
                batch.put(key, value)
                try db.write(batch, sync: true)
            }
            let store = try TelemetryStore(path: path, configuration: Self.config)
            defer { store.close() }
            let error = #expect(throws: StorageError.self) { try allRecords(store, "v") }
            #expect(error?.code == .dataLoss)
            #expect(error?.statusCode == .dataLoss)
            #expect(error?.message.contains("vehicle v") == true, "\(error?.message ?? "")")
            #expect(error?.message.contains("between 1000 and 1999") == true, "\(error?.message ?? "")")
            // Other partitions still read.
            #expect(try store.range(RangeQuery(vehicle: vid("v"), from: 2000, to: 6000)).records.count == 40)
            // A late write into the damaged block reports the damage instead of guessing.
            let late = #expect(throws: StorageError.self) { try store.write([record("v", 1100, ["n": .int(11)])]) }
            #expect(late?.code == .dataLoss)
        }
    }

    @Test("a corrupted table of sealed blocks gives a data-loss error naming the range")
    func corruptedTable() throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/store"
            var config = StoreConfiguration()
            config.leveldb.blockCacheBytes = 0
            config.leveldb.compression = false
            var sample: [UInt8] = []
            do {
                let store = try TelemetryStore(path: path, configuration: config)
                for batch in 0..<20 {
                    try store.write((0..<1000).map { i in
                        let n = batch * 1000 + i
                        return record("veh-1", Int64(n) * 1000, ["a": .double(Double(n) * 1.37), "b": .int(Int64(n) &* 7919), "c": .string("s\(n)")])
                    })
                }
                try store.seal(upTo: .max)
                let db = try store.database()
                db.compactRange(begin: nil, end: nil)
                // Bytes from the middle of the block of partition 2, to find it in the table file.
                let block = try #require(try db.get(KeyLayout.blockKey(partition: 2, vehicle: 1)))
                sample = Array(block[(block.count / 2)..<(block.count / 2 + 32)])
                store.close()
            }
            var damaged = 0
            for table in try FileManager.default.contentsOfDirectory(atPath: path) where table.hasSuffix(".ldb") {
                let file = path + "/" + table
                var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: file)))
                guard bytes.count >= sample.count else { continue }
                for start in 0...(bytes.count - sample.count) where bytes[start..<(start + sample.count)].elementsEqual(sample) {
                    for i in start..<(start + sample.count) { bytes[i] ^= 0x5A }
                    damaged += 1
                }
                try Data(bytes).write(to: URL(fileURLWithPath: file))
            }
            #expect(damaged == 1)
            let store = try TelemetryStore(path: path, configuration: config)
            defer { store.close() }
            let error = #expect(throws: StorageError.self) { try allRecords(store, "veh-1") }
            #expect(error?.code == .dataLoss)
            #expect(error?.message.contains("veh-1") == true, "\(error?.message ?? "")")
            #expect(error?.message.contains("partition 2") == true, "\(error?.message ?? "")")
            // The partitions around it still read.
            #expect(try store.range(RangeQuery(vehicle: vid("veh-1"), from: 0, to: 7_200_000)).records.count == 7200)
        }
    }
}
