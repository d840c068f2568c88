import Testing
import TelemetryCore
@testable import TelemetryStorage

@Suite("Strict decoding of stored bytes")
struct StrictDecodingTests {
    static func varint(_ bytes: [UInt8]) throws(ByteDecodingError) -> UInt64 {
        try bytes.withReader { r throws(ByteDecodingError) in
            let v = try r.readVarint()
            guard r.isAtEnd else { throw ByteDecodingError(reason: "not at the end") }
            return v
        }
    }

    @Test("varints: the longest valid form is read, overflowing and padded forms are damage")
    func varints() throws {
        #expect(try Self.varint([0x00]) == 0)
        #expect(try Self.varint([0xAC, 0x02]) == 300)
        #expect(try Self.varint([0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]) == .max)
        let bad: [[UInt8]] = [
            // 10th byte with bits beyond bit 63.
            [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x02],
            [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x7F],
            // 11 bytes.
            [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x81, 0x00],
            // Padded: 0 and 1 in two bytes, 127 in three.
            [0x80, 0x00], [0x81, 0x00], [0xFF, 0x80, 0x00],
            // Cut off.
            [0x80],
        ]
        for bytes in bad {
            #expect(throws: ByteDecodingError.self, "\(bytes)") { try Self.varint(bytes) }
        }
    }

    static let names: [UInt32: String] = [1: "x", 2: "y"]

    static func decodeRaw(_ bytes: [UInt8]) throws(ByteDecodingError) -> RawRecord {
        try bytes.withUnsafeBufferPointer { (b) throws(ByteDecodingError) in
            try RawRecordCodec.decode(b, vehicle: vid("v"), timestamp: 10, fieldNames: names)
        }
    }

    @Test("raw records of changing field layouts encode as each would alone (the layout cache never mixes them)")
    func rawRecordLayouts() throws {
        var dictionaries = Dictionaries()
        let batch = WriteBatch()
        for name in ["y", "x", "z"] { _ = try dictionaries.fieldID(name, batch: batch) }
        let layouts: [[Field]] = [
            [Field("x", .int(1)), Field("y", .double(2.5))],
            [Field("x", .int(1)), Field("z", .bool(true))],
            [Field("x", .int(3)), Field("y", .double(4.5))],
            [],
            [Field("y", .string("s")), Field("x", .null), Field("y", .int(9))],
            // One layout whose decimals change from record to record: the exponents the cache
            // carries over must not change the bytes.
            [Field("x", .double(48.8566134)), Field("y", .double(2.35))],
            [Field("x", .double(48.85)), Field("y", .double(3))],
            [Field("x", .double(-0.0000001)), Field("y", .double(1e300))],
            [Field("x", .double(48.8566135)), Field("y", .double(0.5))],
        ]
        var shared = FieldLayoutCache()
        for fields in layouts {
            let raw = RawRecord(
                record: ProviderRecord(vehicle: vid("v"), timestamp: 10, provider: "navixy", fields: fields, gatewaySequence: nil),
                receivedAt: 12, mappingVersion: "1.0")
            var fresh = FieldLayoutCache()
            let alone = try RawRecordCodec.encode(raw, dictionaries: &dictionaries, layout: &fresh, batch: batch)
            let cached = try RawRecordCodec.encode(raw, dictionaries: &dictionaries, layout: &shared, batch: batch)
            #expect(cached == alone)
            let names = dictionaries.fieldNames
            let decoded = try cached.withUnsafeBufferPointer { (b) throws(ByteDecodingError) in
                try RawRecordCodec.decode(b, vehicle: vid("v"), timestamp: 10, fieldNames: names)
            }
            #expect(decoded == raw)
        }
    }

    @Test("raw records: trailing bytes, strings that are not UTF-8 and field ids beyond UInt32 are damage")
    func rawRecords() throws {
        var dictionaries = Dictionaries()
        let batch = WriteBatch()
        _ = try dictionaries.fieldID("x", batch: batch)
        let raw = RawRecord(
            record: ProviderRecord(vehicle: vid("v"), timestamp: 10, provider: "navixy", fields: [Field("x", .int(7))], gatewaySequence: 3),
            receivedAt: 12, mappingVersion: "1.0")
        var layout = FieldLayoutCache()
        let good = try RawRecordCodec.encode(raw, dictionaries: &dictionaries, layout: &layout, batch: batch)
        #expect(try Self.decodeRaw(good) == raw)
        // The bytes docs/storage-format.md gives: kind, received delta 2 (zigzag 4), provider,
        // mapping version, sequence + 1, one field: id 1, int 7 (zigzag 14).
        #expect(good == [0x02, 0x04, 0x06] + Array("navixy".utf8) + [0x03] + Array("1.0".utf8) + [0x04, 0x01, 0x01, 0x03, 0x0E])
        #expect(throws: ByteDecodingError.self) { try Self.decodeRaw(good + [0]) }
        // | kind | delta 0 | provider: 1 byte, 0xFF | version "" | no sequence | no fields |
        #expect(throws: ByteDecodingError.self) { try Self.decodeRaw([0x02, 0x00, 0x01, 0xFF, 0x00, 0x00, 0x00]) }
        #expect(throws: ByteDecodingError.self) { try Self.decodeRaw([0x02, 0x00, 0x00, 0x01, 0xC3, 0x00, 0x00]) }
        // One field with id 2^32 + 1: truncated, it would read as field 1 ("x").
        let wide: [UInt8] = [0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x81, 0x80, 0x80, 0x80, 0x10, 0x00]
        #expect(throws: ByteDecodingError.self) { try Self.decodeRaw(wide) }
        #expect(try Self.decodeRaw([0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x01, 0x00]).record.fields == [Field("x", .null)])
    }

    static func decodeLetter(_ bytes: [UInt8]) throws(ByteDecodingError) -> DeadLetter {
        try bytes.withUnsafeBufferPointer { (b) throws(ByteDecodingError) in try DeadLetterCodec.decode(b, receivedAt: 5) }
    }

    @Test("dead letters: trailing bytes, strings that are not UTF-8 and a has-timestamp byte other than 0 or 1 are damage")
    func deadLetters() throws {
        let letter = DeadLetter(
            vehicleID: "", timestamp: nil, provider: "p", fields: [Field("a", .bool(true))], gatewaySequence: 9, receivedAt: 5,
            reason: "no_vehicle_id", message: "m", mappingVersion: "1")
        let good = DeadLetterCodec.encode(letter)
        #expect(try Self.decodeLetter(good) == letter)
        var timed = letter
        timed.timestamp = -4
        #expect(try Self.decodeLetter(DeadLetterCodec.encode(timed)) == timed)
        #expect(throws: ByteDecodingError.self) { try Self.decodeLetter(good + [0]) }
        // | kind | vehicle id: 0xFF | has ts 0 | ts 0 | provider "" | no sequence | reason, message, version "" | no fields |
        let notUTF8: [UInt8] = [0x03, 0x01, 0xFF, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00]
        #expect(throws: ByteDecodingError.self) { try Self.decodeLetter(notUTF8) }
        let valid: [UInt8] = [0x03, 0x01, 0x41, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00]
        #expect(try Self.decodeLetter(valid).vehicleID == "A")
        var hasTimestamp2 = valid
        hasTimestamp2[3] = 2
        #expect(throws: ByteDecodingError.self) { try Self.decodeLetter(hasTimestamp2) }
        // A field name that is not UTF-8.
        let badName: [UInt8] = [0x03, 0x01, 0x41, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x01, 0xFE, 0x00]
        #expect(throws: ByteDecodingError.self) { try Self.decodeLetter(badName) }
    }

    static func reason(_ bytes: [UInt8]) throws(ByteDecodingError) -> String {
        try bytes.withUnsafeBufferPointer { (b) throws(ByteDecodingError) in try DeadLetterCodec.reason(of: b) }
    }

    @Test("a dead letter's reason read from its head is the decoded one; a damaged head is damage")
    func deadLetterReason() throws {
        let letter = DeadLetter(
            vehicleID: "truck-7", timestamp: 1_700_000_000_000, provider: "navixy",
            fields: [Field("lat", .double(48.1)), Field("raw", .bytes([1, 2]))], gatewaySequence: nil, receivedAt: 5,
            reason: "function_error_fatal", message: "field x failed", mappingVersion: "1.0.3")
        let bytes = DeadLetterCodec.encode(letter)
        #expect(try Self.reason(bytes) == "function_error_fatal")
        #expect(try Self.reason(bytes) == Self.decodeLetter(bytes).reason)
        // Cut inside the reason, a wrong kind, a has-timestamp byte of 2 (byte 9: kind, a
        // 7-byte id and its length come first).
        let reasonText = Array("function_error_fatal".utf8)
        let reasonStart = try #require(
            (0...(bytes.count - reasonText.count)).first { Array(bytes[$0..<($0 + reasonText.count)]) == reasonText })
        #expect(throws: ByteDecodingError.self) { try Self.reason(Array(bytes[..<(reasonStart + 5)])) }
        var wrongKind = bytes
        wrongKind[0] = 0x02
        #expect(throws: ByteDecodingError.self) { try Self.reason(wrongKind) }
        var badFlag = bytes
        badFlag[9] = 2
        #expect(throws: ByteDecodingError.self) { try Self.reason(badFlag) }
    }
}
