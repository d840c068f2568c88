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
