import TelemetryCore

/// Raw records (keyspace 0x04) and dead letters (0x05) on disk.
///
/// Raw record value:
/// ```
/// | 0x02 | received delta: zigzag | provider: lp | mapping version: lp | sequence+1: varint (0 = none) |
/// | n: varint | n x (field id: varint, tagged value) |
/// ```
/// Provider field names share the field dictionary with canonical names.
enum RawRecordCodec {
    static let kind: UInt8 = 0x02

    static func encode(_ raw: RawRecord, dictionaries: inout Dictionaries, batch: WriteBatch) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(32 + raw.record.fields.count * 6)
        out.append(kind)
        out.appendZigzag(raw.receivedAt &- raw.record.timestamp)
        out.appendLengthPrefixed(Array(raw.record.provider.utf8))
        out.appendLengthPrefixed(Array(raw.mappingVersion.utf8))
        out.appendVarint(raw.record.gatewaySequence.map { $0 &+ 1 } ?? 0)
        out.appendVarint(UInt64(raw.record.fields.count))
        for f in raw.record.fields {
            out.appendVarint(UInt64(dictionaries.fieldID(f.name, batch: batch)))
            ValueCodec.encode(f.value, into: &out)
        }
        return out
    }

    static func decode(
        _ value: UnsafeBufferPointer<UInt8>, vehicle: VehicleID, timestamp: Int64, fieldNames: [UInt32: String]
    ) throws(ByteDecodingError) -> RawRecord {
        var r = ByteReader(value)
        guard try r.readByte() == kind else { throw ByteDecodingError(reason: "unknown raw record kind") }
        let delta = try r.readZigzag()
        let provider = String(decoding: try r.readLengthPrefixed(), as: UTF8.self)
        let version = String(decoding: try r.readLengthPrefixed(), as: UTF8.self)
        let seq = try r.readVarint()
        let n = try r.readVarint()
        guard n <= UInt64(r.remaining) else { throw ByteDecodingError(reason: "field count \(n) too large") }
        var fields = [Field]()
        for _ in 0..<n {
            let id = try r.readVarint()
            guard let name = fieldNames[UInt32(truncatingIfNeeded: id)] else {
                throw ByteDecodingError(reason: "field id \(id) has no dictionary entry")
            }
            fields.append(Field(name, try ValueCodec.decode(&r)))
        }
        let record = ProviderRecord(
            vehicle: vehicle, timestamp: timestamp, provider: provider, fields: fields,
            gatewaySequence: seq == 0 ? nil : seq - 1)
        return RawRecord(record: record, receivedAt: timestamp &+ delta, mappingVersion: version)
    }
}

/// Dead letter value: self-contained (names, not dictionary ids), since the record may be
/// the very thing that is broken.
/// ```
/// | 0x03 | vehicle id: lp | has ts: u8 | ts: zigzag | provider: lp | sequence+1: varint |
/// | reason: lp | message: lp | mapping version: lp | n: varint | n x (name: lp, tagged value) |
/// ```
enum DeadLetterCodec {
    static let kind: UInt8 = 0x03

    static func encode(_ d: DeadLetter) -> [UInt8] {
        var out: [UInt8] = [kind]
        out.appendLengthPrefixed(Array(d.vehicleID.utf8))
        out.append(d.timestamp == nil ? 0 : 1)
        out.appendZigzag(d.timestamp ?? 0)
        out.appendLengthPrefixed(Array(d.provider.utf8))
        out.appendVarint(d.gatewaySequence.map { $0 &+ 1 } ?? 0)
        out.appendLengthPrefixed(Array(d.reason.utf8))
        out.appendLengthPrefixed(Array(d.message.utf8))
        out.appendLengthPrefixed(Array(d.mappingVersion.utf8))
        out.appendVarint(UInt64(d.fields.count))
        for f in d.fields {
            out.appendLengthPrefixed(Array(f.name.utf8))
            ValueCodec.encode(f.value, into: &out)
        }
        return out
    }

    static func decode(_ value: UnsafeBufferPointer<UInt8>, receivedAt: Int64) throws(ByteDecodingError) -> DeadLetter {
        var r = ByteReader(value)
        guard try r.readByte() == kind else { throw ByteDecodingError(reason: "unknown dead letter kind") }
        let vehicle = String(decoding: try r.readLengthPrefixed(), as: UTF8.self)
        let hasTimestamp = try r.readByte() == 1
        let ts = try r.readZigzag()
        let provider = String(decoding: try r.readLengthPrefixed(), as: UTF8.self)
        let seq = try r.readVarint()
        let reason = String(decoding: try r.readLengthPrefixed(), as: UTF8.self)
        let message = String(decoding: try r.readLengthPrefixed(), as: UTF8.self)
        let version = String(decoding: try r.readLengthPrefixed(), as: UTF8.self)
        let n = try r.readVarint()
        guard n <= UInt64(r.remaining) else { throw ByteDecodingError(reason: "field count \(n) too large") }
        var fields = [Field]()
        for _ in 0..<n {
            let name = String(decoding: try r.readLengthPrefixed(), as: UTF8.self)
            fields.append(Field(name, try ValueCodec.decode(&r)))
        }
        return DeadLetter(
            vehicleID: vehicle, timestamp: hasTimestamp ? ts : nil, provider: provider, fields: fields,
            gatewaySequence: seq == 0 ? nil : seq - 1, receivedAt: receivedAt, reason: reason, message: message,
            mappingVersion: version)
    }
}
