import Testing
import TelemetryCore
@testable import TelemetryStorage

@Suite("Value encoding")
struct ValueCodecTests {
    static let values: [FieldValue] = [
        .null, .bool(true), .bool(false),
        .int(0), .int(1), .int(-1), .int(.max), .int(.min),
        .double(0), .double(-0.0), .double(48.856613), .double(-122.419416), .double(12.5), .double(0.1),
        .double(1e300), .double(-1e-300), .double(.leastNonzeroMagnitude), .double(.greatestFiniteMagnitude),
        .double(.infinity), .double(-.infinity), .double(.nan), .double(9_007_199_254_740_994),
        .double(123_456_789.123), .double(1e15), .double(3.0e-7),
        .string(""), .string("veh-000001"), .string("Zürich ⛽️ 東京"), .string(String(repeating: "x", count: 10_000)),
        .bytes([]), .bytes([0, 0xFF, 0, 1]),
        .array([]), .array([.int(1), .double(2.5), .string("three"), .null, .array([.bool(true), .bytes([9])])]),
    ]

    @Test("every value type round-trips bit for bit", arguments: values)
    func roundTrip(_ value: FieldValue) throws {
        var bytes = [UInt8]()
        ValueCodec.encode(value, into: &bytes)
        let decoded = try bytes.withReader { r throws(ByteDecodingError) in
            let v = try ValueCodec.decode(&r)
            let atEnd = r.isAtEnd
            #expect(atEnd)
            return v
        }
        #expect(decoded.isIdentical(to: value), "\(value) came back as \(decoded)")
        // skip() must move exactly past the value too.
        let skipped = try bytes.withReader { r throws(ByteDecodingError) in
            try ValueCodec.skip(&r)
            return r.offset
        }
        #expect(skipped == bytes.count)
    }

    @Test("the exponent hint never changes the encoding: same shortest decimal form for every hint")
    func exponentHint() {
        var doubles: [Double] = Self.values.compactMap { if case .double(let d) = $0 { return d } else { return nil } }
        for e in 0..<12 {
            for m in [1, 7, 125, 99_999, 48_856_613, -122_419_416, 4_503_599_627_370_495] as [Int64] {
                doubles.append(Double(m) / ValueCodec.powersOfTen[e])
            }
        }
        doubles += [0.5, 2.5, -2.5, 1e14 + 0.5, 123.456, .leastNonzeroMagnitude, 0.1 + 0.2, 1e15, 9.999999999]
        // Computed values (no short form) and values near the bound of the exponent-9 check.
        doubles += [2.0 / 3.0, 39.6 / 3.6, 100.0 * 0.07, 1.000000001, -1.000000001, 999_999.123_456_789_1,
                    1_234_567.123_456_789, 1_125_899.906_842_624, 0.000_000_001, 0.000_000_000_1, -0.0, .nan, .infinity]
        for d in doubles {
            let plain = ValueCodec.decimalForm(of: d)
            for hint in -1...11 {
                let hinted = ValueCodec.decimalForm(of: d, hint: hint)
                #expect(hinted?.mantissa == plain?.mantissa && hinted?.exponent == plain?.exponent, "\(d) with hint \(hint)")
            }
        }
        // A record encoded with hints has the very bytes of one encoded without.
        let fields = doubles.enumerated().map { EncodedField(id: UInt32($0.offset + 1), value: .double($0.element)) }
        var hints = [Int](repeating: 3, count: fields.count)
        #expect(RecordCodec.encode(receivedDelta: 5, provenance: 1, fields: fields, exponentHints: &hints)
            == RecordCodec.encode(receivedDelta: 5, provenance: 1, fields: fields))
        let mixed = [EncodedField(id: 1, value: .string("x")), EncodedField(id: 2, value: .double(12.5))]
        var two = [7, 7]
        #expect(RecordCodec.encode(receivedDelta: -1, provenance: 2, fields: mixed, exponentHints: &two)
            == RecordCodec.encode(receivedDelta: -1, provenance: 2, fields: mixed))
    }

    @Test("one field's hint carried from record to record, through values with and without a decimal form, never changes the bytes")
    func exponentHintAcrossRecords() {
        let series: [Double] = [2.0 / 3.0, 48.5, 0.1 + 0.2, 1.000000001, 1e300, 7, 999_999.123_456_789_1, -0.0, .nan,
                                12.25, 39.6 / 3.6, 39.6, 1_234_567.123_456_789, 0.000_000_001, 2.0 / 3.0, 3]
        var hints = [0, 0, 0]
        for (i, d) in series.enumerated() {
            // The third field is an array (waypoints): its elements share the field's hint.
            let waypoints = FieldValue.array((0..<i).map { .array([.double(series[$0]), .double(series[($0 + 3) % series.count])]) })
            let fields = [EncodedField(id: 1, value: .double(d)), EncodedField(id: 2, value: .double(series[(i + 5) % series.count])),
                          EncodedField(id: 3, value: waypoints)]
            #expect(RecordCodec.encode(receivedDelta: 0, provenance: 1, fields: fields, exponentHints: &hints)
                == RecordCodec.encode(receivedDelta: 0, provenance: 1, fields: fields), "record \(i): \(d)")
        }
    }

    @Test("records with strings, bytes and arrays take the pointer writer and give the bytes of the general encoder")
    func stringsAndBytesThroughTheWriter() {
        let long = String(repeating: "status-", count: 40)  // 280 bytes: a two-byte length
        let values: [FieldValue] = [
            .string(""), .string("online"), .string("Zürich, 東京 🚚"), .string(long), .bytes([]),
            .bytes(Array(0...255) + [0, 1, 2]), .null, .bool(true), .int(-42), .double(48.8566134), .double(.nan),
        ]
        let fields = values.enumerated().map { EncodedField(id: UInt32($0.offset * 70 + 1), value: $0.element) }
        var hints = [Int](repeating: 0, count: fields.count)
        let written = RecordCodec.encode(receivedDelta: 300, provenance: 129, fields: fields, exponentHints: &hints)
        #expect(written == RecordCodec.encode(receivedDelta: 300, provenance: 129, fields: fields))
        // A substring made into a string, and a string built in pieces, are written alike.
        let pieces = [EncodedField(id: 1, value: .string(String("xx-north-east".dropFirst(3)))),
                      EncodedField(id: 2, value: .string("a" + String(7) + "é"))]
        var two = [0, 0]
        #expect(RecordCodec.encode(receivedDelta: 0, provenance: 0, fields: pieces, exponentHints: &two)
            == RecordCodec.encode(receivedDelta: 0, provenance: 0, fields: pieces))
        // Arrays, empty and nested (geofences, waypoints), with doubles and strings inside.
        let waypoints = FieldValue.array((0..<150).map { .array([.double(48.85 + Double($0) * 1e-6), .double(-2.35)]) })
        let nested = fields + [
            EncodedField(id: 997, value: .array([])), EncodedField(id: 998, value: waypoints),
            EncodedField(id: 999, value: .array([.string("a"), .int(1), .array([.bytes([1]), .null, .double(0.1 + 0.2)])])),
        ]
        var more = [Int](repeating: 0, count: nested.count)
        #expect(RecordCodec.encode(receivedDelta: 1, provenance: 1, fields: nested, exponentHints: &more)
            == RecordCodec.encode(receivedDelta: 1, provenance: 1, fields: nested))
    }

    @Test("a record encoded from its fields in a layout's id order has the bytes of one encoded from sorted EncodedFields")
    func encodeInLayoutOrder() {
        // Fields as a provider sends them (not in id order), with the ids a layout assigned.
        let fields = [Field("speed", .double(52.5)), Field("name", .string("Zürich")), Field("lat", .double(48.8566134)),
                      Field("on", .bool(true)), Field("tags", .array([.string("a"), .double(0.1)])), Field("n", .int(-3))]
        let ids: [UInt32] = [9, 2, 40, 7, 1, 300]
        let order = ids.indices.sorted { ids[$0] < ids[$1] }
        let sortedIDs = order.map { ids[$0] }
        let encoded = order.map { EncodedField(id: ids[$0], value: fields[$0].value) }
        var a = [Int](repeating: 0, count: fields.count)
        var b = [Int](repeating: 0, count: fields.count)
        for delta in [0, -5, 1 << 40] as [Int64] {
            #expect(RecordCodec.encode(receivedDelta: delta, provenance: 3, ids: sortedIDs, fields: fields, order: order, exponentHints: &a)
                == RecordCodec.encode(receivedDelta: delta, provenance: 3, fields: encoded, exponentHints: &b))
            #expect(a == b, "the hints move alike")
        }
    }

    @Test("short decimals take few bytes")
    func decimalsAreCompact() {
        var bytes = [UInt8]()
        ValueCodec.encode(.double(48.856613), into: &bytes)
        #expect(bytes.count <= 5)
        bytes.removeAll()
        ValueCodec.encode(.double(12.5), into: &bytes)
        #expect(bytes.count == 3)  // tag, then 125 as a zigzag varint
    }

    @Test("damaged bytes are an error, not a wrong value")
    func damage() {
        for bad: [UInt8] in [[0x7F], [0x05, 0x10], [0x03, 0x80], [0x04, 1, 2], [0x07, 0xFF, 0xFF, 0x03]] {
            #expect(throws: ByteDecodingError.self) {
                try bad.withReader { r throws(ByteDecodingError) in try ValueCodec.decode(&r) }
            }
        }
    }
}
