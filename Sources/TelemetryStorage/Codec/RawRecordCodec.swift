import TelemetryCore

/// Raw records (keyspace 0x04) and dead letters (0x05) on disk.
///
/// Raw record value:
/// ```
/// | 0x02 | received delta: zigzag | provider: lp | mapping version: lp | sequence+1: varint (0 = none) |
/// | n: varint | n x (field id: varint, tagged value) |
/// ```
/// Provider field names share the field dictionary with canonical names. Decoding is as
/// strict as for canonical records: strings must be UTF-8, field ids must fit a UInt32, and
/// nothing may follow the last field. Bytes the writer cannot produce are damage, reported
/// as such rather than read as something else.
enum RawRecordCodec {
    static let kind: UInt8 = 0x02

    /// - Throws: `StorageError` when the field dictionary has no code left for a new name.
    /// - Parameter layout: the previous raw record's field names, ids and decimal exponents:
    ///   a provider sends the same fields in the same order record after record, so comparing
    ///   names is enough, where looking each one up hashes it.
    static func encode(
        _ raw: RawRecord, dictionaries: inout Dictionaries, layout: inout FieldLayoutCache, batch: WriteBatch
    ) throws(StorageError) -> [UInt8] {
        let fields = raw.record.fields
        if !layout.matches(fields) {
            var ids = [UInt32]()
            ids.reserveCapacity(fields.count)
            for f in fields { ids.append(try dictionaries.fieldID(f.name, batch: batch)) }
            layout.remember(fields, ids: ids)
        }
        // Exponent hints by position, as for canonical records: the same bytes as a search
        // from exponent 0, without the search (coordinates have 6 or 7 decimals).
        if layout.exponentHints.count != fields.count { layout.exponentHints = Array(repeating: 0, count: fields.count) }
        let provider = raw.record.provider.utf8
        let version = raw.mappingVersion.utf8
        var bound = 1 + 10 + (10 + provider.count) + (10 + version.count) + 10 + 10
        for f in fields { bound += 5 + UnsafeByteWriter.bound(f.value) }
        return [UInt8](unsafeUninitializedCapacity: bound) { buffer, count in
            var w = UnsafeByteWriter(buffer)
            w.byte(kind)
            w.varint(PackedIntegers.zigzag(raw.receivedAt &- raw.record.timestamp))
            w.varint(UInt64(provider.count))
            w.bytes(provider)
            w.varint(UInt64(version.count))
            w.bytes(version)
            w.varint(raw.record.gatewaySequence.map { $0 &+ 1 } ?? 0)
            w.varint(UInt64(fields.count))
            for i in fields.indices {
                w.varint(UInt64(layout.ids[i]))
                w.value(fields[i].value, hint: &layout.exponentHints[i])
            }
            count = w.count
        }
    }

    static func decode(
        _ value: UnsafeBufferPointer<UInt8>, vehicle: VehicleID, timestamp: Int64, fieldNames: [UInt32: String]
    ) throws(ByteDecodingError) -> RawRecord {
        var r = ByteReader(value)
        let kind = try r.readByte()
        guard kind == Self.kind else { throw ByteDecodingError(reason: "unknown raw record kind 0x\(String(kind, radix: 16))") }
        let delta = try r.readZigzag()
        let provider = try r.readString("the provider")
        let version = try r.readString("the mapping version")
        let seq = try r.readVarint()
        let n = try r.readVarint()
        guard n <= UInt64(r.remaining) else { throw ByteDecodingError(reason: "field count \(n) too large") }
        var fields = [Field]()
        fields.reserveCapacity(Int(n))
        for _ in 0..<n {
            let id = try r.readVarint()
            // Checked, not truncated: a damaged id must not alias a real field.
            guard id <= UInt64(UInt32.max) else { throw ByteDecodingError(reason: "field id \(id) out of range") }
            guard let name = fieldNames[UInt32(id)] else {
                throw ByteDecodingError(reason: "field id \(id) has no dictionary entry")
            }
            fields.append(Field(name, try ValueCodec.decode(&r)))
        }
        guard r.isAtEnd else { throw ByteDecodingError(reason: "\(r.remaining) trailing bytes after the raw record") }
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
        appendRecordHead(d, into: &out)
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

    /// The bytes that make two letters the same record failing the same way: vehicle id,
    /// timestamp, provider, reason, mapping version and the fields sorted by name. Left out:
    /// when it was received, its gateway sequence and the message (which may name times), so
    /// a re-sent batch gives the same identity (docs/storage-format.md, section 11).
    static func identity(_ d: DeadLetter) -> [UInt8] {
        var out: [UInt8] = [kind]
        appendRecordHead(d, into: &out)
        out.appendLengthPrefixed(Array(d.reason.utf8))
        out.appendLengthPrefixed(Array(d.mappingVersion.utf8))
        out.appendVarint(UInt64(d.fields.count))
        for f in d.fields.sorted(by: { Array($0.name.utf8).lexicographicallyPrecedes(Array($1.name.utf8)) }) {
            out.appendLengthPrefixed(Array(f.name.utf8))
            ValueCodec.encode(f.value, into: &out)
        }
        return out
    }

    /// Vehicle id, has-timestamp byte, timestamp and provider: how both the value and the
    /// identity begin.
    private static func appendRecordHead(_ d: DeadLetter, into out: inout [UInt8]) {
        out.appendLengthPrefixed(Array(d.vehicleID.utf8))
        out.append(d.timestamp == nil ? 0 : 1)
        out.appendZigzag(d.timestamp ?? 0)
        out.appendLengthPrefixed(Array(d.provider.utf8))
    }

    /// The reason code of a dead letter, read from the value's head without decoding its
    /// message and fields (`admin stats` counts letters by reason over the whole keyspace).
    static func reason(of value: UnsafeBufferPointer<UInt8>) throws(ByteDecodingError) -> String {
        var r = ByteReader(value)
        return try readHead(&r).reason
    }

    /// Kind, vehicle id, timestamp, provider, sequence and reason: the head every reader needs.
    private static func readHead(
        _ r: inout ByteReader
    ) throws(ByteDecodingError) -> (vehicle: String, hasTimestamp: UInt8, timestamp: Int64, provider: String, sequence: UInt64, reason: String) {
        let kind = try r.readByte()
        guard kind == Self.kind else { throw ByteDecodingError(reason: "unknown dead letter kind 0x\(String(kind, radix: 16))") }
        let vehicle = try r.readString("the vehicle id")
        let hasTimestamp = try r.readByte()
        guard hasTimestamp <= 1 else { throw ByteDecodingError(reason: "has-timestamp byte \(hasTimestamp) is not 0 or 1") }
        let ts = try r.readZigzag()
        guard hasTimestamp == 1 || ts == 0 else { throw ByteDecodingError(reason: "timestamp \(ts) stored for a letter without one") }
        let provider = try r.readString("the provider")
        let seq = try r.readVarint()
        let reason = try r.readString("the reason")
        return (vehicle, hasTimestamp, ts, provider, seq, reason)
    }

    /// Decodes a dead letter, as strictly as a canonical record: strings must be UTF-8, the
    /// has-timestamp byte 0 or 1 (with a zero timestamp when 0, as written), and nothing may
    /// follow the last field.
    static func decode(_ value: UnsafeBufferPointer<UInt8>, receivedAt: Int64) throws(ByteDecodingError) -> DeadLetter {
        var r = ByteReader(value)
        let (vehicle, hasTimestamp, ts, provider, seq, reason) = try readHead(&r)
        let message = try r.readString("the message")
        let version = try r.readString("the mapping version")
        let n = try r.readVarint()
        guard n <= UInt64(r.remaining) else { throw ByteDecodingError(reason: "field count \(n) too large") }
        var fields = [Field]()
        fields.reserveCapacity(Int(n))
        for _ in 0..<n {
            let name = try r.readString("a field name")
            fields.append(Field(name, try ValueCodec.decode(&r)))
        }
        guard r.isAtEnd else { throw ByteDecodingError(reason: "\(r.remaining) trailing bytes after the dead letter") }
        return DeadLetter(
            vehicleID: vehicle, timestamp: hasTimestamp == 1 ? ts : nil, provider: provider, fields: fields,
            gatewaySequence: seq == 0 ? nil : seq - 1, receivedAt: receivedAt, reason: reason, message: message,
            mappingVersion: version)
    }
}
