import Testing
import TelemetryCore
@testable import TelemetryStorage

@Suite("Sealed block encoding")
struct SealedBlockCodecTests {
    /// Rows with every value type, fields present in only some rows, and columns that mix types.
    static func sampleRows() -> [BlockRow] {
        var rows = [BlockRow]()
        let values = ValueCodecTests.values
        for i in 0..<300 {
            var fields = [EncodedField]()
            // Field 1: a decimal column with the odd exception (NaN, -0.0, 1e300, an int).
            let special: [FieldValue] = [.double(.nan), .double(-0.0), .double(1e300), .int(4), .null]
            fields.append(EncodedField(id: 1, value: i % 37 == 5 ? special[(i / 37) % special.count] : .double(48.85 + Double(i) * 0.000001)))
            // Field 2: ints across the whole range, present in two rows of three.
            if i % 3 != 0 { fields.append(EncodedField(id: 2, value: .int(i % 2 == 0 ? .max - Int64(i) : .min + Int64(i)))) }
            // Field 3: bools, present in runs.
            if (i / 10) % 2 == 0 { fields.append(EncodedField(id: 3, value: .bool(i % 7 < 3))) }
            // Field 4: every test value in turn (mostly tagged).
            fields.append(EncodedField(id: 4, value: values[i % values.count]))
            // Field 5: in one row only.
            if i == 123 { fields.append(EncodedField(id: 5, value: .string(""))) }
            // Field 600: a large id, ints with a null now and then.
            fields.append(EncodedField(id: 600, value: i % 50 == 0 ? .null : .int(Int64(i * i))))
            rows.append(BlockRow(timestamp: Int64(i) * 1000 + (i % 4 == 0 ? 7 : 0) - 150_000, receivedDelta: i % 9 == 0 ? -3 : 250, provenance: UInt32(1 + i / 100), fields: fields))
        }
        return rows
    }

    static func expectSame(_ got: [BlockRow], _ expected: [BlockRow]) {
        #expect(got.count == expected.count)
        for (a, b) in zip(got, expected) {
            #expect(a.timestamp == b.timestamp && a.receivedDelta == b.receivedDelta && a.provenance == b.provenance)
            #expect(a.fields.map(\.id) == b.fields.map(\.id), "fields of the row at \(a.timestamp)")
            for (x, y) in zip(a.fields, b.fields) {
                #expect(x.value.isIdentical(to: y.value), "field \(x.id) at \(a.timestamp): \(x.value) came back for \(y.value)")
            }
        }
    }

    @Test("every value type, sparse fields and mixed columns round-trip bit for bit")
    func roundTrip() throws {
        let rows = Self.sampleRows()
        let bytes = SealedBlockCodec.encode(rows)
        let decoded = try bytes.withUnsafeBufferPointer { b throws(ByteDecodingError) in try SealedBlockCodec.decode(b) }
        let back = try (0..<decoded.count).map { i throws(ByteDecodingError) in try decoded.row(i) }
        Self.expectSame(back, rows)
        #expect(decoded.index(of: rows[17].timestamp) == 17)
        #expect(decoded.index(of: rows[17].timestamp + 1) == nil)
    }

    @Test("a projection decodes only the asked columns, with the same values")
    func projection() throws {
        let rows = Self.sampleRows()
        let bytes = SealedBlockCodec.encode(rows)
        let decoded = try bytes.withUnsafeBufferPointer { b throws(ByteDecodingError) in
            try SealedBlockCodec.decode(b, keep: { $0 == 3 || $0 == 600 })
        }
        #expect(decoded.columns.map(\.id) == [3, 600])
        for (i, row) in rows.enumerated() {
            let got = try decoded.row(i)
            let wanted: [UInt32] = row.fields.map(\.id).filter { (id: UInt32) -> Bool in id == 3 || id == 600 }
            #expect(got.fields.map(\.id) == wanted)
        }
    }

    @Test("one record, and extreme timestamps, round-trip", arguments: [
        [Int64.min], [Int64.max], [Int64.min, Int64.max], [-1, 0, 1], [0, Int64.max - 1, Int64.max],
    ])
    func timestamps(_ times: [Int64]) throws {
        let rows = times.map { BlockRow(timestamp: $0, receivedDelta: .min, provenance: .max, fields: [EncodedField(id: 9, value: .int(.min))]) }
        let bytes = SealedBlockCodec.encode(rows)
        let decoded = try bytes.withUnsafeBufferPointer { b throws(ByteDecodingError) in try SealedBlockCodec.decode(b) }
        Self.expectSame(try (0..<decoded.count).map { i throws(ByteDecodingError) in try decoded.row(i) }, rows)
    }

    @Test("packed integers round-trip in every delta order, and skip moves past them exactly")
    func packedIntegers() throws {
        let sequences: [[Int64]] = [
            [], [5], [Int64.min, Int64.max, 0, -1, 1, Int64.max, Int64.min],
            (0..<100).map { Int64($0) * 1000 + 1_704_067_200_000 },
            (0..<77).map { Int64(($0 * 7919) % 1000) - 500 },
            (0..<64).map { _ in 0 },
        ]
        for values in sequences {
            for order in 0...2 {
                var bytes = [UInt8]()
                PackedIntegers.encode(values, order: order, into: &bytes)
                bytes.append(0xAB)  // a sentinel after the sequence
                let (back, offset) = try bytes.withReader { r throws(ByteDecodingError) in
                    (try PackedIntegers.decode(&r, count: values.count), r.offset)
                }
                #expect(back == values, "order \(order)")
                #expect(offset == bytes.count - 1)
                let skipped = try bytes.withReader { r throws(ByteDecodingError) in
                    try PackedIntegers.skip(&r, count: values.count)
                    return r.offset
                }
                #expect(skipped == bytes.count - 1)
            }
        }
    }

    @Test("the packed-timestamps example of docs/storage-format.md, byte for byte")
    func documentedExample() {
        var bytes = [UInt8]()
        PackedIntegers.encode((0..<2000).map { 1_704_067_200_123 + Int64($0) * 1000 }, into: &bytes)
        #expect(Array(bytes.prefix(9)) == [0x02, 0xF6, 0xD1, 0x8F, 0xA5, 0x98, 0x63, 0xD0, 0x0F])
        #expect(bytes.count == 72)
        #expect(bytes.dropFirst(9).allSatisfy { $0 == 0 })
    }

    @Test("a regular 1 Hz series of device decimals packs to a few bytes a record")
    func compact() {
        var rows = [BlockRow]()
        for i in 0..<2000 {
            let lat: Double = Double(48_856_613 + (i % 50) * 13) / 1e6
            let speed: Double = Double(500 + i % 30) / 10
            let fields = [
                EncodedField(id: 1, value: .double(lat)), EncodedField(id: 2, value: .double(speed)),
                EncodedField(id: 3, value: .bool(true)), EncodedField(id: 4, value: .int(12)),
            ]
            let ts: Int64 = 1_704_067_200_123 + Int64(i) * 1000
            rows.append(BlockRow(timestamp: ts, receivedDelta: 250, provenance: 1, fields: fields))
        }
        let size = SealedBlockCodec.encode(rows).count
        // Timestamps, received time and provenance nearly vanish; 4 fields in well under 4 bytes.
        #expect(size < 2000 * 4, "\(size) bytes")
    }

    @Test("damaged blocks are an error, never wrong data")
    func damage() {
        let bytes = SealedBlockCodec.encode(Array(Self.sampleRows().prefix(40)))
        var failures = 0
        // Truncations and flipped bytes must throw or decode to something; they must never trap.
        for cut in stride(from: 0, to: bytes.count, by: 7) {
            let truncated = Array(bytes[..<cut])
            if (try? truncated.withUnsafeBufferPointer { b throws(ByteDecodingError) in try SealedBlockCodec.decode(b) }) == nil { failures += 1 }
        }
        #expect(failures == (bytes.count + 6) / 7)
        for i in stride(from: 0, to: bytes.count, by: 3) {
            var flipped = bytes
            flipped[i] ^= 0xFF
            _ = try? flipped.withUnsafeBufferPointer { b throws(ByteDecodingError) in try SealedBlockCodec.decode(b) }
        }
        for bad: [UInt8] in [[], [0x02, 1], [0x01, 0], [0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F], [0x01, 2, 2, 0, 0x41]] {
            #expect(throws: ByteDecodingError.self) {
                try bad.withUnsafeBufferPointer { b throws(ByteDecodingError) in try SealedBlockCodec.decode(b) }
            }
        }
    }
}
