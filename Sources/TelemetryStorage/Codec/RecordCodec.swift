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
