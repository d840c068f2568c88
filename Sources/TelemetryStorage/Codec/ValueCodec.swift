import TelemetryCore

/// Typed values on disk: one tag byte, then the payload (docs/storage-format.md).
///
/// ```
/// tag        payload
/// 0x00       -                          null
/// 0x01/0x02  -                          false / true
/// 0x03       zigzag varint              int64
/// 0x04       8 bytes, big-endian bits   double that is no short decimal
/// 0x05       varint length + UTF-8      string
/// 0x06       varint length + bytes      bytes
/// 0x07       varint count + values      array
/// 0x10+e     zigzag varint m            double equal to m / 10^e exactly (e = 0...15)
/// ```
/// Device values are short decimals (48.856613, 12.5): as an integer mantissa they take
/// 1 to 5 bytes instead of 8, and decode to the very same bits.
enum ValueCodec {
    enum Tag {
        static let null: UInt8 = 0x00
        static let `false`: UInt8 = 0x01
        static let `true`: UInt8 = 0x02
        static let int: UInt8 = 0x03
        static let rawDouble: UInt8 = 0x04
        static let string: UInt8 = 0x05
        static let bytes: UInt8 = 0x06
        static let array: UInt8 = 0x07
        static let decimalBase: UInt8 = 0x10
    }

    /// Powers of ten that are exact doubles.
    @usableFromInline static let powersOfTen: [Double] = (0...15).map { e in
        var p = 1.0
        for _ in 0..<e { p *= 10 }
        return p
    }

    /// Largest mantissa kept exact by a double (2^53).
    static let maxExactMantissa = 9_007_199_254_740_992.0

    /// The shortest decimal form (m, e) with m / 10^e == value bit for bit, if any.
    static func decimalForm(of value: Double) -> (mantissa: Int64, exponent: Int)? {
        guard value.isFinite, !(value == 0 && value.sign == .minus) else { return nil }
        for e in 0..<10 {
            let scaled = (value * powersOfTen[e]).rounded()
            guard abs(scaled) < maxExactMantissa else { return nil }
            if scaled / powersOfTen[e] == value { return (Int64(scaled), e) }
        }
        return nil
    }

    /// `decimalForm(of:)`, trying `hint` (the exponent of the field's previous value) first:
    /// a device reports a field at one precision, so this usually costs two multiplications
    /// instead of a search from 0. The result is the same: with mantissas below 2^50 a value
    /// that has a decimal form at e has one at e + 1, so if it has one at the hint and none
    /// just below, the hint is the shortest.
    /// A negative hint says the field's previous value had no decimal form (a computed double,
    /// a unit conversion): exponent 9 is tried first, and a value with no form there has none
    /// at all (the same rule read backwards, with |value| x 10^9 below 10^15), so it costs one
    /// try instead of the whole search.
    static func decimalForm(of value: Double, hint: Int) -> (mantissa: Int64, exponent: Int)? {
        if hint < 0, value.isFinite {
            let x = value * powersOfTen[9]
            if abs(x) < 1.0e15 {
                let scaled = Double(Int64(x + (x < 0 ? -0.5 : 0.5)))
                if scaled / powersOfTen[9] != value { return nil }
            }
            return decimalForm(of: value)
        }
        if hint > 0, hint < 10, value.isFinite {
            let x = value * powersOfTen[hint]
            if abs(x) < 1.0e15 {
                // Rounding by truncation (no libm call). It can differ from `rounded()` only
                // half-way between integers, where neither neighbour is a decimal form anyway.
                let scaled = Double(Int64(x + (x < 0 ? -0.5 : 0.5)))
                if scaled / powersOfTen[hint] == value {
                    let y = value * powersOfTen[hint - 1]
                    let lower = Double(Int64(y + (y < 0 ? -0.5 : 0.5)))
                    if lower / powersOfTen[hint - 1] != value { return (Int64(scaled), hint) }
                }
            }
        }
        return decimalForm(of: value)
    }

    static func encode(_ value: FieldValue, into out: inout [UInt8]) {
        switch value {
        case .null:
            out.append(Tag.null)
        case .bool(let b):
            out.append(b ? Tag.true : Tag.false)
        case .int(let i):
            out.append(Tag.int)
            out.appendZigzag(i)
        case .double(let d):
            if let (m, e) = decimalForm(of: d) {
                out.append(Tag.decimalBase + UInt8(e))
                out.appendZigzag(m)
            } else {
                out.append(Tag.rawDouble)
                out.appendBigEndian(d.bitPattern)
            }
        case .string(let s):
            out.append(Tag.string)
            var s = s
            s.withUTF8 { out.appendLengthPrefixed($0) }
        case .bytes(let b):
            out.append(Tag.bytes)
            out.appendLengthPrefixed(b)
        case .array(let values):
            out.append(Tag.array)
            out.appendVarint(UInt64(values.count))
            for v in values { encode(v, into: &out) }
        }
    }

    static func decode(_ reader: inout ByteReader) throws(ByteDecodingError) -> FieldValue {
        let tag = try reader.readByte()
        switch tag {
        case Tag.null: return .null
        case Tag.false: return .bool(false)
        case Tag.true: return .bool(true)
        case Tag.int: return .int(try reader.readZigzag())
        case Tag.rawDouble: return .double(Double(bitPattern: try reader.readBigEndianUInt64()))
        case Tag.string:
            let bytes = try reader.readLengthPrefixed()
            guard let s = String(validating: bytes, as: UTF8.self) else {
                throw ByteDecodingError(reason: "string value is not UTF-8")
            }
            return .string(s)
        case Tag.bytes: return .bytes(Array(try reader.readLengthPrefixed()))
        case Tag.array:
            let count = try reader.readVarint()
            // Every element takes at least one byte: a count beyond that is damage, not a reason to allocate.
            guard count <= UInt64(reader.remaining) else { throw ByteDecodingError(reason: "array count \(count) too large") }
            var values = [FieldValue]()
            values.reserveCapacity(Int(count))
            for _ in 0..<count { values.append(try decode(&reader)) }
            return .array(values)
        case Tag.decimalBase...(Tag.decimalBase + 15):
            let m = try reader.readZigzag()
            return .double(Double(m) / powersOfTen[Int(tag - Tag.decimalBase)])
        default:
            throw ByteDecodingError(reason: "unknown value tag 0x\(String(tag, radix: 16)) at byte \(reader.offset - 1)")
        }
    }

    /// Moves past one value without building it (projection).
    static func skip(_ reader: inout ByteReader) throws(ByteDecodingError) {
        let tag = try reader.readByte()
        switch tag {
        case Tag.null, Tag.false, Tag.true: return
        case Tag.int: _ = try reader.readVarint()
        case Tag.rawDouble: try reader.skip(8)
        case Tag.string, Tag.bytes: _ = try reader.readLengthPrefixed()
        case Tag.array:
            let count = try reader.readVarint()
            guard count <= UInt64(reader.remaining) else { throw ByteDecodingError(reason: "array count \(count) too large") }
            for _ in 0..<count { try skip(&reader) }
        case Tag.decimalBase...(Tag.decimalBase + 15): _ = try reader.readVarint()
        default:
            throw ByteDecodingError(reason: "unknown value tag 0x\(String(tag, radix: 16)) at byte \(reader.offset - 1)")
        }
    }
}
