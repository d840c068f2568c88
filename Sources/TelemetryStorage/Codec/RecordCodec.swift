import TelemetryCore

/// A field as stored: its dictionary id and value.
struct EncodedField {
    var id: UInt32
    var value: FieldValue
}

/// Canonical and raw record values (docs/storage-format.md):
///
/// ```
/// +------+-----------------+----------------+---------+----------------------------+
/// | kind | received delta  | provenance id  | n       | n x (field id, value)      |
/// | 0x01 | zigzag varint   | varint         | varint  | varint, tagged value       |
/// +------+-----------------+----------------+---------+----------------------------+
/// ```
/// `received delta` = received time - record timestamp (ms). Fields are sorted by id,
/// so two records with the same content encode to the same bytes after the delta:
/// that is how an identical re-write is recognised as a duplicate.
enum RecordCodec {
    static let kindRecordV1: UInt8 = 0x01

    static func encode(receivedDelta: Int64, provenance: UInt32, fields: [EncodedField]) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(16 + fields.count * 5)
        out.append(kindRecordV1)
        out.appendZigzag(receivedDelta)
        out.appendVarint(UInt64(provenance))
        out.appendVarint(UInt64(fields.count))
        for f in fields {
            out.appendVarint(UInt64(f.id))
            ValueCodec.encode(f.value, into: &out)
        }
        return out
    }

    /// `encode`, with per-field decimal exponent hints (`ValueCodec.decimalForm(of:hint:)`),
    /// one per position in `fields`, kept by the caller across records of the same layout.
    /// Produces the same bytes as `encode`.
    static func encode(receivedDelta: Int64, provenance: UInt32, fields: [EncodedField], exponentHints: inout [Int]) -> [UInt8] {
        precondition(exponentHints.count == fields.count, "one exponent hint per field")
        return write(
            receivedDelta: receivedDelta, provenance: provenance, count: fields.count, exponentHints: &exponentHints,
            id: { fields[$0].id }, value: { fields[$0].value })
    }

    /// `encode` of a record's fields taken in id order without building `EncodedField`s:
    /// field k is `fields[order[k]]` with id `ids[k]` (a layout's sorted order, shared by every
    /// record of that layout). Produces the same bytes.
    static func encode(
        receivedDelta: Int64, provenance: UInt32, ids: [UInt32], fields: [Field], order: [Int], exponentHints: inout [Int]
    ) -> [UInt8] {
        precondition(ids.count == order.count && exponentHints.count == ids.count, "one id, position and hint per field")
        return write(
            receivedDelta: receivedDelta, provenance: provenance, count: ids.count, exponentHints: &exponentHints,
            id: { ids[$0] }, value: { fields[order[$0]].value })
    }

    @inline(__always)
    private static func write(
        receivedDelta: Int64, provenance: UInt32, count n: Int, exponentHints: inout [Int],
        id: (Int) -> UInt32, value: (Int) -> FieldValue
    ) -> [UInt8] {
        // Every value has a size bound (`UnsafeByteWriter.bound`), so the record is written
        // through a pointer, with no capacity or uniqueness check per byte. Mapped records
        // carry strings and arrays (status codes, geofences, waypoints): one path for all.
        var bound = 1 + 10 + 5 + 10
        for i in 0..<n { bound += 5 + UnsafeByteWriter.bound(value(i)) }
        return [UInt8](unsafeUninitializedCapacity: bound) { buffer, count in
            var w = UnsafeByteWriter(buffer)
            w.byte(kindRecordV1)
            w.varint(PackedIntegers.zigzag(receivedDelta))
            w.varint(UInt64(provenance))
            w.varint(UInt64(n))
            for i in 0..<n {
                w.varint(UInt64(id(i)))
                w.value(value(i), hint: &exponentHints[i])
            }
            count = w.count
        }
    }

    /// The offset where the content (provenance and fields) starts, past kind and delta.
    static func contentOffset(_ value: UnsafeBufferPointer<UInt8>) throws(ByteDecodingError) -> Int {
        var reader = ByteReader(value)
        guard try reader.readByte() == kindRecordV1 else { throw ByteDecodingError(reason: "unknown record kind") }
        _ = try reader.readVarint()
        return reader.offset
    }

    /// True when both values hold the same provenance and fields (received time aside).
    static func sameContent(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                guard let oa = try? contentOffset(pa), let ob = try? contentOffset(pb) else { return false }
                return pa.count - oa == pb.count - ob && memcmpEqual(pa, oa, pb, ob, pa.count - oa)
            }
        }
    }

    private static func memcmpEqual(
        _ a: UnsafeBufferPointer<UInt8>, _ oa: Int, _ b: UnsafeBufferPointer<UInt8>, _ ob: Int, _ n: Int
    ) -> Bool {
        for i in 0..<n where a[oa + i] != b[ob + i] { return false }
        return true
    }

    struct Decoded {
        var receivedDelta: Int64
        var provenance: UInt32
        var fields: [EncodedField]
    }

    /// Decodes a record value; with `keep`, only the fields whose id it accepts are built.
    static func decode(_ value: UnsafeBufferPointer<UInt8>, keep: ((UInt32) -> Bool)? = nil) throws(ByteDecodingError) -> Decoded {
        var reader = ByteReader(value)
        let kind = try reader.readByte()
        guard kind == kindRecordV1 else { throw ByteDecodingError(reason: "unknown record kind 0x\(String(kind, radix: 16))") }
        let delta = try reader.readZigzag()
        let provenance = try reader.readVarint()
        let count = try reader.readVarint()
        guard count <= UInt64(reader.remaining), provenance <= UInt64(UInt32.max) else {
            throw ByteDecodingError(reason: "field count \(count) too large")
        }
        var fields = [EncodedField]()
        fields.reserveCapacity(Int(count))
        for _ in 0..<count {
            let id = try reader.readVarint()
            guard id <= UInt64(UInt32.max) else { throw ByteDecodingError(reason: "field id \(id) out of range") }
            if let keep, !keep(UInt32(id)) {
                try ValueCodec.skip(&reader)
            } else {
                fields.append(EncodedField(id: UInt32(id), value: try ValueCodec.decode(&reader)))
            }
        }
        guard reader.isAtEnd else { throw ByteDecodingError(reason: "\(reader.remaining) trailing bytes after the record") }
        return Decoded(receivedDelta: delta, provenance: UInt32(provenance), fields: fields)
    }
}

/// Writes bytes into a buffer whose size the caller bounded in advance.
struct UnsafeByteWriter {
    private let buffer: UnsafeMutableBufferPointer<UInt8>
    private(set) var count = 0

    init(_ buffer: UnsafeMutableBufferPointer<UInt8>) {
        self.buffer = buffer
    }

    @inline(__always) mutating func byte(_ b: UInt8) {
        precondition(count < buffer.count, "the caller's size bound is wrong")
        buffer[count] = b
        count += 1
    }

    /// LEB128, as `Array.appendVarint`.
    @inline(__always) mutating func varint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            byte(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        byte(UInt8(truncatingIfNeeded: v))
    }

    /// Most bytes `value(_:hint:)` writes for `v`: tag, a 10-byte payload or length, the bytes.
    static func bound(_ v: FieldValue) -> Int {
        switch v {
        case .null, .bool, .int, .double: return 11
        case .string(let s): return 11 + s.utf8.count
        case .bytes(let b): return 11 + b.count
        case .array(let items):
            var n = 11
            for item in items { n += bound(item) }
            return n
        }
    }

    /// A double as `ValueCodec.encode(_:into:)` writes it, trying the exponent `hint` first
    /// (`ValueCodec.decimalForm(of:hint:)`) and leaving there the one used (-1: no decimal form).
    @inline(__always) mutating func double(_ d: Double, hint: inout Int) {
        if let (m, e) = ValueCodec.decimalForm(of: d, hint: hint) {
            hint = e
            byte(ValueCodec.Tag.decimalBase + UInt8(e))
            varint(PackedIntegers.zigzag(m))
        } else {
            hint = -1
            byte(ValueCodec.Tag.rawDouble)
            let bits = d.bitPattern
            for shift in stride(from: 56, through: 0, by: -8) { byte(UInt8(truncatingIfNeeded: bits >> UInt64(shift))) }
        }
    }

    /// A value as `ValueCodec.encode(_:into:)` writes it, with a decimal exponent hint carried
    /// through an array's elements too: a waypoint list's hundreds of coordinates share one
    /// precision, so each costs two multiplications instead of a search. Hints never change
    /// the bytes.
    mutating func value(_ v: FieldValue, hint: inout Int) {
        switch v {
        case .null: byte(ValueCodec.Tag.null)
        case .bool(let b): byte(b ? ValueCodec.Tag.true : ValueCodec.Tag.false)
        case .int(let x):
            byte(ValueCodec.Tag.int)
            varint(PackedIntegers.zigzag(x))
        case .double(let d):
            double(d, hint: &hint)
        case .string(let text):
            byte(ValueCodec.Tag.string)
            varint(UInt64(text.utf8.count))
            bytes(text.utf8)
        case .bytes(let b):
            byte(ValueCodec.Tag.bytes)
            varint(UInt64(b.count))
            bytes(b)
        case .array(let items):
            byte(ValueCodec.Tag.array)
            varint(UInt64(items.count))
            for item in items { value(item, hint: &hint) }
        }
    }

    /// Copies a string's UTF-8 or a byte array, as `Array.appendLengthPrefixed` after its length.
    @inline(__always) mutating func bytes<C: Collection<UInt8>>(_ source: C) {
        precondition(count + source.count <= buffer.count, "the caller's size bound is wrong")
        let done: Void? = source.withContiguousStorageIfAvailable { from in
            if let base = from.baseAddress { (buffer.baseAddress! + count).update(from: base, count: from.count) }
        }
        if done == nil {
            var i = count
            for b in source {
                buffer[i] = b
                i += 1
            }
        }
        count += source.count
    }
}
