import Testing
import TelemetryCore
@testable import TelemetryStorage

@Suite("Store: writes and reads")
struct StoreReadWriteTests {
    @Test("every value type survives a write and a range read")
    func valueTypes() throws {
        try withTemporaryStore { store, _ in
            var fields: [String: FieldValue] = [:]
            for (i, v) in ValueCodecTests.values.enumerated() { fields["f\(i)"] = v }
            try store.write([record("veh-1", 1000, fields)])
            let got = try #require(try allRecords(store, "veh-1").first)
            #expect(got.timestamp == 1000)
            #expect(got.fields.count == fields.count)
            for (name, value) in fields {
                #expect(got.fieldMap[name]?.isIdentical(to: value) == true, "field \(name)")
            }
            #expect(got.provenance == Provenance(provider: "test", mappingVersion: "1.0.0", receivedAt: 1005))
        }
    }

    @Test("timestamps across the whole Int64 range come back in time order")
    func negativeAndPositiveTimestamps() throws {
        try withTemporaryStore { store, _ in
            let timestamps: [Int64] = [.max, 3_600_000, 1, 0, -1, -3_600_000, -3_600_001, -86_400_000 * 365 * 60, .min]
            try store.write(timestamps.map { record("v", $0, ["x": .int($0)]) })
            let ascending: [Int64] = try allRecords(store, "v").map { $0.timestamp }
            #expect(ascending == timestamps.sorted())
            let descending: [Int64] = try allRecords(store, "v", order: .descending).map { $0.timestamp }
            #expect(descending == Array(timestamps.sorted().reversed()))
            let summary = try #require(try store.vehicles().first)
            #expect(summary.firstTimestamp == .min && summary.lastTimestamp == .max && summary.recordCount == 9)
        }
    }

    @Test("vehicle ids that prefix each other never see each other's records")
    func vehicleIsolation() throws {
        try withTemporaryStore { store, _ in
            let ids = ["a", "ab", "abc", "b", String(repeating: "z", count: 64), "Ω"]
            for (i, id) in ids.enumerated() {
                try store.write((0..<5).map { record(id, Int64($0) * 1000, ["i": .int(Int64(i))]) })
            }
            for (i, id) in ids.enumerated() {
                let got = try allRecords(store, id)
                #expect(got.count == 5)
                #expect(got.allSatisfy { $0.vehicle.rawValue == id && $0.fieldMap["i"] == .int(Int64(i)) })
            }
            let listed: [String] = try store.vehicles().map { $0.vehicle.rawValue }
            let expected: [String] = ids.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
            #expect(listed == expected)
        }
    }

    @Test("range is [from, to): start included, end excluded, across partition edges")
    func rangeBoundaries() throws {
        var config = StoreConfiguration()
        config.partitionWidthMs = 1000
        try withTemporaryStore(configuration: config) { store, _ in
            let ts: [Int64] = [-2001, -2000, -1001, -1000, -1, 0, 999, 1000, 1001, 1999, 2000]
            try store.write(ts.map { record("v", $0, ["t": .int($0)]) })
            func times(_ from: Int64, _ to: Int64, _ order: TimeOrder = .ascending) throws -> [Int64] {
                try store.range(RangeQuery(vehicle: vid("v"), from: from, to: to, order: order)).records.map(\.timestamp)
            }
            #expect(try times(-1000, 1000) == [-1000, -1, 0, 999])
            #expect(try times(-1000, 1000, .descending) == [999, 0, -1, -1000])
            #expect(try times(0, 1) == [0])
            #expect(try times(0, 0) == [])
            #expect(try times(1000, 2000) == [1000, 1001, 1999])
            #expect(try times(-1001, -1000) == [-1001])
            #expect(try times(.min, .max) == ts)
            #expect(try times(5000, 9000) == [])
            #expect(throws: StorageError.self) { try times(10, 5) }
        }
    }

    @Test("pages joined by their cursors give the whole range, in both orders", arguments: [TimeOrder.ascending, .descending])
    func cursors(order: TimeOrder) throws {
        try withTemporaryStore { store, _ in
            try store.write((0..<103).map { record("v", Int64($0) * 500 - 20_000, ["n": .int(Int64($0))]) })
            var cursor: String? = nil
            var seen: [Int64] = []
            var pages = 0
            repeat {
                let page = try store.range(RangeQuery(vehicle: vid("v"), from: -10_000, to: 30_000, limit: 10, order: order, cursor: cursor))
                #expect(page.records.count <= 10)
                seen += page.records.map(\.timestamp)
                cursor = page.nextCursor
                pages += 1
            } while cursor != nil
            let all: [Int64] = (0..<103).map { (i: Int) -> Int64 in Int64(i) * 500 - 20_000 }
            let expected: [Int64] = all.filter { $0 >= -10_000 && $0 < 30_000 }
            let inOrder: [Int64] = order == .ascending ? expected : Array(expected.reversed())
            #expect(seen == inOrder)
            #expect(pages == (expected.count + 9) / 10)
        }
    }

    @Test("a cursor from another order, another vehicle or outside the range is refused")
    func badCursors() throws {
        try withTemporaryStore { store, _ in
            try store.write((0..<5).map { record("v", Int64($0), [:]) } + (0..<5).map { record("w", Int64($0), [:]) })
            let page = try store.range(RangeQuery(vehicle: vid("v"), from: 0, to: 5, limit: 2))
            let cursor = try #require(page.nextCursor)
            for bad in [RangeQuery(vehicle: vid("v"), from: 0, to: 5, order: .descending, cursor: cursor),
                        RangeQuery(vehicle: vid("v"), from: 3, to: 5, cursor: cursor),
                        RangeQuery(vehicle: vid("w"), from: 0, to: 5, cursor: cursor),
                        RangeQuery(vehicle: vid("v"), from: 0, to: 5, cursor: "garbage")] {
                let error = #expect(throws: StorageError.self) { try store.range(bad) }
                #expect(error?.code == .invalidArgument)
            }
            let other = #expect(throws: StorageError.self) { try store.range(RangeQuery(vehicle: vid("w"), from: 0, to: 5, cursor: cursor)) }
            #expect(other?.message.contains("another vehicle than w") == true)
            // A cut or extended cursor is no cursor, not another vehicle's.
            for mangled in [String(cursor.dropLast()), cursor + "0", cursor.uppercased()] {
                let error = #expect(throws: StorageError.self) { try store.range(RangeQuery(vehicle: vid("v"), from: 0, to: 5, cursor: mangled)) }
                #expect(error?.message.contains("is not a cursor this store issued") == true, "\(mangled)")
            }
            // The next page with its own vehicle; a cursor issued before cursors named the vehicle still reads.
            #expect(try store.range(RangeQuery(vehicle: vid("v"), from: 0, to: 5, cursor: cursor)).records.map(\.timestamp) == [2, 3, 4])
            #expect(try store.range(RangeQuery(vehicle: vid("w"), from: 0, to: 5, cursor: "v1:a:3")).records.map(\.timestamp) == [3, 4])
            #expect(throws: StorageError.self) { try store.rangeColumns(RangeQuery(vehicle: vid("w"), from: 0, to: 5, cursor: cursor)) }
        }
    }

    @Test("projection returns only the named fields")
    func projection() throws {
        try withTemporaryStore { store, _ in
            try store.write([record("v", 1, ["a": .int(1), "b": .string("x"), "c": .double(2.5)])])
            let page = try store.range(RangeQuery(vehicle: vid("v"), from: 0, to: 10, fields: ["c", "a", "missing"]))
            #expect(page.records.first?.fieldMap == ["a": .int(1), "c": .double(2.5)])
        }
    }

    @Test("a late record is stored but moves the latest state only for fields it is newest for")
    func latestWithLateData() throws {
        try withTemporaryStore { store, _ in
            try store.write([record("v", 2000, ["speed": .double(50), "fuel": .double(40)])])
            try store.write([record("v", 3000, ["speed": .double(60)])])
            let summary = try store.write([record("v", 1000, ["speed": .double(10), "fuel": .double(45), "odo": .int(7)])])
            #expect(summary.late == 1)
            let latest = try #require(try store.latest(vid("v")))
            #expect(latest.timestamp == 3000)
            #expect(latest["speed"] == LatestField(name: "speed", value: .double(60), timestamp: 3000))
            #expect(latest["fuel"] == LatestField(name: "fuel", value: .double(40), timestamp: 2000))
            // A field only the late record has is still its newest value.
            #expect(latest["odo"] == LatestField(name: "odo", value: .int(7), timestamp: 1000))
            #expect(try allRecords(store, "v").map(\.timestamp) == [1000, 2000, 3000])
            #expect(try store.latest(vid("v"), fields: ["fuel"])?.fields.map(\.name) == ["fuel"])
            #expect(try store.latest(vid("nobody")) == nil)
        }
    }

    @Test("latest of many vehicles leaves unknown ones out")
    func latestMany() throws {
        try withTemporaryStore { store, _ in
            try store.write([record("a", 1, ["x": .int(1)]), record("b", 2, ["x": .int(2)])])
            let states = try store.latest([vid("b"), vid("zz"), vid("a")])
            #expect(states.map(\.vehicle.rawValue) == ["b", "a"])
            #expect(states.map(\.timestamp) == [2, 1])
        }
    }

    @Test("re-sending a batch stores nothing twice; changed content replaces")
    func duplicates() throws {
        try withTemporaryStore { store, _ in
            let batch: [TelemetryRecord] = (0..<50).map { (i: Int) -> TelemetryRecord in
                record("v\(i % 5)", Int64(i / 5) * 1000, ["n": FieldValue.int(Int64(i))], receivedAt: 1)
            }
            let first = try store.write(batch)
            #expect(first.written == 50 && first.duplicates == 0)
            // The retry arrives later: a different received time does not make it new.
            let retry = try store.write(batch.map { var r = $0; r.provenance.receivedAt = 99; return r })
            #expect(retry.written == 0 && retry.duplicates == 50)
            let changed = try store.write([record("v0", 0, ["n": .int(-1)])])
            #expect(changed.written == 1 && changed.replaced == 1 && changed.duplicates == 0)
            let counts: [UInt64] = try store.vehicles().map { $0.recordCount }
            #expect(counts == [10, 10, 10, 10, 10])
            #expect(try allRecords(store, "v0").first?.fieldMap["n"] == .int(-1))
            // The first write's received time is kept for the skipped duplicates.
            #expect(try allRecords(store, "v1").first?.provenance.receivedAt == 1)
        }
    }

    @Test("the same key twice in one batch: the second wins, an identical one is a duplicate")
    func duplicatesInsideOneBatch() throws {
        try withTemporaryStore { store, _ in
            let s = try store.write([record("v", 5, ["a": .int(1)]), record("v", 5, ["a": .int(1)]), record("v", 5, ["a": .int(2)])])
            #expect(s.written == 2 && s.duplicates == 1 && s.replaced == 1)
            let got = try allRecords(store, "v")
            #expect(got.count == 1 && got[0].fieldMap["a"] == .int(2))
            #expect(try store.vehicles().first?.recordCount == 1)
        }
    }

    @Test("a batch with one bad record writes nothing")
    func atomicBatch() throws {
        try withTemporaryStore { (store: TelemetryStore, _: String) throws -> Void in
            var bad = record("v", 3, ["a": .int(1)])
            bad.fields.append(Field("a", .int(2)))
            let batch = [record("v", 1, ["a": .int(1)]), record("w", 2, ["a": .int(1)]), bad]
            let error = #expect(throws: StorageError.self) { try store.write(batch) }
            #expect(error?.code == .invalidArgument)
            #expect(try store.vehicles().isEmpty)
            #expect(try allRecords(store, "v").isEmpty)
            #expect(store.health == .ready)
        }
    }

    @Test("a record naming a field twice fails its write before anything is stored, also after records whose field order is cached")
    func fieldTwice() throws {
        try withTemporaryStore { store, _ in
            func fields(_ names: [String]) -> [Field] { names.enumerated().map { Field($0.element, .int(Int64($0.offset))) } }
            func rec(_ ts: Int64, _ names: [String]) -> TelemetryRecord {
                TelemetryRecord(vehicle: vid("v"), timestamp: ts, fields: fields(names), provenance: Provenance(provider: "p", mappingVersion: "1", receivedAt: ts))
            }
            // Same layout three times (the third reuses the cached id order), then a duplicate.
            try store.write([rec(1, ["b", "a"]), rec(2, ["b", "a"])])
            #expect(throws: StorageError.self) { try store.write([rec(3, ["b", "a"]), rec(4, ["b", "b"])]) }
            do {
                try store.write([rec(5, ["a", "a"])])
                Issue.record("a record naming \"a\" twice was stored")
            } catch let error as StorageError {
                #expect(error.code == .invalidArgument && error.message.contains("has field \"a\" twice"))
            }
            // Nothing of the failed writes is stored, and the store still takes writes, fields in id order.
            try store.write([rec(6, ["a", "b"])])
            let got = try allRecords(store, "v")
            #expect(got.map(\.timestamp) == [1, 2, 6])
            #expect(got.map(\.fieldMap) == [["b": .int(0), "a": .int(1)], ["b": .int(0), "a": .int(1)], ["a": .int(0), "b": .int(1)]])
        }
    }

    @Test("downsampling gives per-bucket count, min, max, sum, first and last")
    func aggregate() throws {
        try withTemporaryStore { store, _ in
            // 0..179 s at 1 Hz: speed = second, three 1-minute buckets.
            try store.write((0..<180).map { record("v", Int64($0) * 1000, ["speed": .double(Double($0)), "on": .bool($0 % 2 == 0), "name": .string("x")]) })
            let buckets = try store.aggregate(vehicle: vid("v"), from: 0, to: 180_000, bucketMs: 60_000, fields: ["speed"])
            #expect(buckets.map(\.start) == [0, 60_000, 120_000])
            let b = try #require(buckets[1].fields.first)
            #expect(b.field == "speed" && b.count == 60 && b.min == 60 && b.max == 119 && b.first == 60 && b.last == 119)
            #expect(b.average == 89.5)
            let all = try store.aggregate(vehicle: vid("v"), from: 0, to: 60_000, bucketMs: 60_000, fields: [])
            #expect(all.first?.fields.map(\.field).sorted() == ["on", "speed"])
            #expect(all.first?.fields.first(where: { $0.field == "on" })?.sum == 30)
            #expect(throws: StorageError.self) { try store.aggregate(vehicle: vid("v"), from: 0, to: 1, bucketMs: 0, fields: []) }
        }
    }

    @Test("an integer field's aggregates are also exact integers; a double, a bool or a sum past Int64 leaves only the doubles")
    func integerAggregates() throws {
        try withTemporaryStore { store, _ in
            let big = Int64(1) << 53  // 2^53 + 1 has no double
            try store.write([
                record("v", 0, ["n": .int(big + 1), "mixed": .int(3), "flag": .int(1), "huge": .int(.max)]),
                record("v", 1, ["n": .int(-5), "mixed": .double(2.5), "flag": .bool(true), "huge": .int(1)]),
                record("v", 2, ["n": .int(big + 3), "mixed": .int(4), "flag": .int(0)]),
            ])
            let fields = try #require(
                try store.aggregate(vehicle: vid("v"), from: 0, to: 10, bucketMs: 10, fields: ["n", "mixed", "flag", "huge"]).first
            ).fields
            let byName = Dictionary(uniqueKeysWithValues: fields.map { ($0.field, $0) })
            #expect(byName["n"]?.integers == IntegerAggregate(min: -5, max: big + 3, sum: 2 * big - 1, first: big + 1, last: big + 3))
            #expect(byName["n"]?.count == 3)
            #expect(byName["mixed"]?.integers == nil && byName["mixed"]?.sum == 9.5)
            #expect(byName["flag"]?.integers == nil && byName["flag"]?.sum == 2)
            #expect(byName["huge"]?.integers == nil && byName["huge"]?.count == 2)
        }
    }

    @Test("whether an integer sum fits Int64 does not depend on the order of the samples; avg comes from the exact sum")
    func integerSumsIndependentOfOrder() throws {
        try withTemporaryStore { store, _ in
            // Int64.max first: a running Int64 sum would overflow at the second sample.
            try store.write([record("v", 0, ["a": .int(.max)]), record("v", 1, ["a": .int(1)]), record("v", 2, ["a": .int(-10)])])
            try store.write([record("v", 10, ["a": .int(-10)]), record("v", 11, ["a": .int(1)]), record("v", 12, ["a": .int(.max)])])
            let one = Int64(1) << 62
            try store.write([record("v", 20, ["a": .int(one)]), record("v", 21, ["a": .int(1)]), record("v", 22, ["a": .int(-one)])])
            let buckets = try store.aggregate(vehicle: vid("v"), from: 0, to: 30, bucketMs: 10, fields: ["a"])
            let exact = IntegerAggregate(min: -10, max: .max, sum: .max - 9, first: .max, last: -10)
            #expect(buckets[0].fields.first?.integers == exact)
            #expect(buckets[1].fields.first?.integers == IntegerAggregate(min: -10, max: .max, sum: .max - 9, first: -10, last: .max))
            // 2^62 + 1 - 2^62: the double sum has lost the 1 (0.0); the exact one has not.
            let third = try #require(buckets[2].fields.first)
            #expect(third.integers?.sum == 1 && third.sum == 0)
            #expect(third.average == 1.0 / 3.0)
        }
    }

    @Test("negative-time buckets align to the bucket width")
    func aggregateBeforeEpoch() throws {
        try withTemporaryStore { store, _ in
            try store.write([-61_000, -60_000, -1, 0].map { record("v", $0, ["x": .int($0)]) })
            let buckets = try store.aggregate(vehicle: vid("v"), from: .min, to: .max, bucketMs: 60_000, fields: ["x"])
            #expect(buckets.map(\.start) == [-120_000, -60_000, 0])
            #expect(buckets.map { $0.fields[0].count } == [1, 2, 1])
        }
    }

    @Test("buckets at the ends of the time line stay in order: the lowest starts at Int64.min")
    func aggregateAtTheEndsOfTime() throws {
        try withTemporaryStore { store, _ in
            try store.write([Int64.min, .min + 7_200_000, 0].map { record("v", $0, ["x": .int(1)]) })
            let hours = try store.aggregate(vehicle: vid("v"), from: .min, to: .max, bucketMs: 3_600_000, fields: ["x"])
            // floor(min / 1 h) x 1 h is below Int64.min; the next bucket is representable.
            let second = (Int64.min + 7_200_000) / 3_600_000 * 3_600_000 - 3_600_000
            #expect(hours.map(\.start) == [.min, second, 0])
            let widest = try store.aggregate(vehicle: vid("v"), from: .min, to: .max, bucketMs: .max, fields: ["x"])
            // min / max floors to -2 (clamped); min + 2 h floors to -1, so -max.
            #expect(widest.map(\.start) == [.min, -.max, 0])
            #expect(widest.map { $0.fields[0].count } == [1, 1, 1])
        }
    }

    @Test("deleting a time range keeps counts, span and latest state right")
    func deleteRange() throws {
        var config = StoreConfiguration()
        config.partitionWidthMs = 10_000
        try withTemporaryStore(configuration: config) { store, _ in
            try store.write((0..<100).map { record("v", Int64($0) * 1000, ["n": .int(Int64($0)), "even": .bool($0 % 2 == 0)]) })
            try store.write([record("v", 99_000, ["n": .int(99), "only-last": .int(1)])])
            let deleted = try store.deleteRecords(vehicle: vid("v"), from: 50_000, to: 200_000)
            #expect(deleted == 50)
            let summary = try #require(try store.vehicles().first)
            #expect(summary.recordCount == 50 && summary.firstTimestamp == 0 && summary.lastTimestamp == 49_000)
            let latest = try #require(try store.latest(vid("v")))
            #expect(latest.timestamp == 49_000)
            #expect(latest["n"]?.value == .int(49))
            #expect(latest["even"] == LatestField(name: "even", value: .bool(false), timestamp: 49_000))
            #expect(latest["only-last"] == nil)
            #expect(try allRecords(store, "v").count == 50)
            #expect(try store.deleteRecords(vehicle: vid("v"), from: .min, to: .max) == 50)
            #expect(try store.vehicles().isEmpty)
            #expect(try store.latest(vid("v")) == nil)
            // Writing again after a full delete starts a fresh history.
            try store.write([record("v", 7, ["n": .int(7)])])
            #expect(try store.vehicles().first?.recordCount == 1)
        }
    }

    @Test("raw records and dead letters are kept and read back")
    func rawAndDeadLetters() throws {
        try withTemporaryStore { store, _ in
            let provider = ProviderRecord(vehicle: vid("v"), timestamp: 10, provider: "navixy", fields: [Field("params.can_speed", .int(42))], gatewaySequence: 7)
            let letter = DeadLetter(vehicleID: "", timestamp: nil, provider: "nope", fields: [Field("x", .bool(true))], receivedAt: -5, reason: "no_vehicle_id", message: "record 3 has no vehicle id", mappingVersion: "1.0.3")
            var second = letter
            second.fields = [Field("x", .bool(false))]
            let s = try store.write(StoreWrite(raw: [RawRecord(record: provider, receivedAt: 12, mappingVersion: "1.0.3")], deadLetters: [letter, second], gatewaySequences: ["gw-1": 7]))
            #expect(s.deadLettered == 2)
            #expect(try store.rawRecords(vehicle: vid("v"), from: .min, to: .max) == [RawRecord(record: provider, receivedAt: 12, mappingVersion: "1.0.3")])
            let letters = try store.deadLetters()
            #expect(letters.map(\.letter) == [letter, second])
            #expect(letters.map(\.id) == ["-5-1", "-5-2"])
            #expect(try store.deadLetters(after: "-5-1").map(\.id) == ["-5-2"])
            #expect(try store.deleteDeadLetters(ids: ["-5-1", "-5-9"]) == 1)
            #expect(try store.deadLetters().map(\.id) == ["-5-2"])
            #expect(store.lastCommittedSequence(gateway: "gw-1") == 7)
            #expect(store.lastCommittedSequence(gateway: "gw-2") == nil)
        }
    }
}
