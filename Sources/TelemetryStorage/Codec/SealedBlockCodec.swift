import TelemetryCore

/// One record as a sealed block holds it.
struct BlockRow {
    var timestamp: Int64
    var receivedDelta: Int64
    var provenance: UInt32
    /// Sorted by id, as RecordCodec keeps them.
    var fields: [EncodedField]

    /// The record's canonical value (RecordCodec), for duplicate detection against a new write.
    var recordValue: [UInt8] {
        RecordCodec.encode(receivedDelta: receivedDelta, provenance: provenance, fields: fields)
    }
}

/// All records of one vehicle in one sealed time partition, as one value, column by column
/// (keyspace 0x07, docs/storage-format.md, "Sealed blocks").
///
/// ```
/// +------+--------+-------------------+-------------------+-------------------+--------+----------------------+
/// | kind | n      | timestamps        | received deltas   | provenance ids    | F      | F x field column     |
/// | 0x01 | varint | len + packed ints | len + packed ints | len + packed ints | varint | (see below)          |
/// +------+--------+-------------------+-------------------+-------------------+--------+----------------------+
///
/// field column:
/// +----------+--------+----------+------------------+-------+--------------------+------------+
/// | field id | len    | presence | presence payload | kind  | values             | exceptions |
/// | varint   | varint | u8       |                  | u8    |                    |            |
/// +----------+--------+----------+------------------+-------+--------------------+------------+
///   `len` counts the bytes after it, so a projection skips a column in one step.
///
/// presence 0: in every record (no payload)     1: bitmap, ceil(n/8) bytes, record i = bit i%8 of byte i/8
///          2: runs: r varint, r x varint, alternately absent / present, starting with absent
/// m = records that have the field.
///
/// kind 0 tagged:  m x ValueCodec tagged value (strings, bytes, arrays, nulls, mixed types)
/// kind 1 int:     packed ints (m)                                                 | exceptions
/// kind 2 decimal: exponent e: u8 | packed ints (m mantissas; value = mantissa / 10^e) | exceptions
/// kind 3 bool:    ceil(m/8) bytes of bits                                          | exceptions
/// exceptions:     count varint | count x (index delta: varint, ValueCodec tagged value)
/// ```
/// Packed ints are `PackedIntegers` (delta or delta-of-delta, zigzag, bit-packed in groups).
/// Exceptions are the values of a column that its kind cannot hold exactly (a NaN, -0.0 or
/// 1e300 among decimals, a null among ints): their slot holds the previous value (a zero
/// delta) and the tagged value overrides it. Doubles come back bit for bit: a decimal column
/// only holds values for which mantissa / 10^e computes to the very same double.
enum SealedBlockCodec {
    static let kindV1: UInt8 = 0x01

    enum Presence {
        static let all: UInt8 = 0
        static let bitmap: UInt8 = 1
        static let runs: UInt8 = 2
    }

    enum Kind {
        static let tagged: UInt8 = 0
        static let int: UInt8 = 1
        static let decimal: UInt8 = 2
        static let bool: UInt8 = 3
    }

    // MARK: - Encoding

    /// Encodes rows sorted by strictly increasing timestamp.
    static func encode(_ rows: [BlockRow]) -> [UInt8] {
        precondition(!rows.isEmpty, "a sealed block holds at least one record")
        for i in 1..<max(rows.count, 1) {
            precondition(rows[i - 1].timestamp < rows[i].timestamp, "sealed block rows out of order")
        }
        let n = rows.count
        var out = [UInt8]()
        out.reserveCapacity(64 + n * 12)
        out.append(kindV1)
        out.appendVarint(UInt64(n))
        appendSection(&out) { PackedIntegers.encode(rows.map(\.timestamp), into: &$0) }
        appendSection(&out) { PackedIntegers.encode(rows.map(\.receivedDelta), into: &$0) }
        appendSection(&out) { PackedIntegers.encode(rows.map { Int64($0.provenance) }, into: &$0) }

        // Gather each field's (row, value) pairs. Records of one vehicle nearly always share
        // their field layout, so the previous record's slots are reused without hashing.
        var slotOfID: [UInt32: Int] = [:]
        var builders: [(id: UInt32, rows: [Int], values: [FieldValue])] = []
        var lastIDs: [UInt32] = []
        var lastSlots: [Int] = []
        for (r, row) in rows.enumerated() {
            let sameLayout = row.fields.count == lastIDs.count && zip(row.fields, lastIDs).allSatisfy { $0.id == $1 }
            if !sameLayout {
                lastIDs = row.fields.map(\.id)
                lastSlots = lastIDs.map { id in
                    if let slot = slotOfID[id] { return slot }
                    builders.append((id, [], []))
                    slotOfID[id] = builders.count - 1
                    return builders.count - 1
                }
            }
            for (k, f) in row.fields.enumerated() {
                builders[lastSlots[k]].rows.append(r)
                builders[lastSlots[k]].values.append(f.value)
            }
        }
        builders.sort { $0.id < $1.id }
        out.appendVarint(UInt64(builders.count))
        for column in builders {
            out.appendVarint(UInt64(column.id))
            appendSection(&out) { body in
                appendPresence(rows: column.rows, n: n, into: &body)
                appendValues(column.values, into: &body)
            }
        }
        return out
    }

    /// Appends `| len: varint | bytes |` with the bytes `body` writes.
    private static func appendSection(_ out: inout [UInt8], _ body: (inout [UInt8]) -> Void) {
        var section = [UInt8]()
        body(&section)
        out.appendLengthPrefixed(section)
    }

    private static func appendPresence(rows: [Int], n: Int, into out: inout [UInt8]) {
        if rows.count == n {
            out.append(Presence.all)
            return
        }
        // Runs, alternately absent and present, starting with absent.
        var runs = [UInt64]()
        var next = 0
        var i = 0
        while i < rows.count {
            runs.append(UInt64(rows[i] - next))
            var j = i
            while j + 1 < rows.count, rows[j + 1] == rows[j] + 1 { j += 1 }
            runs.append(UInt64(j - i + 1))
            next = rows[j] + 1
            i = j + 1
        }
        var runBytes = [UInt8]()
        runBytes.appendVarint(UInt64(runs.count))
        for r in runs { runBytes.appendVarint(r) }
        let bitmapBytes = (n + 7) / 8
        if runBytes.count <= bitmapBytes {
            out.append(Presence.runs)
            out.append(contentsOf: runBytes)
        } else {
            out.append(Presence.bitmap)
            var bitmap = [UInt8](repeating: 0, count: bitmapBytes)
            for r in rows { bitmap[r >> 3] |= 1 << UInt8(r & 7) }
            out.append(contentsOf: bitmap)
        }
    }

    private static func appendValues(_ values: [FieldValue], into out: inout [UInt8]) {
        var ints = 0
        var bools = 0
        var decimals = 0
        // Each double's shortest decimal form, found once here and used by `decimalColumn`;
        // the previous value's exponent is tried first, a column keeping one precision.
        var forms = [(mantissa: Int64, exponent: Int)?](repeating: nil, count: values.count)
        var hint = 0
        for (i, v) in values.enumerated() {
            switch v {
            case .int: ints += 1
            case .bool: bools += 1
            case .double(let d):
                if let form = ValueCodec.decimalForm(of: d, hint: hint) {
                    decimals += 1
                    hint = form.exponent
                    forms[i] = form
                }
            case .null, .string, .bytes, .array: break
            }
        }
        let best = max(ints, bools, decimals)
        // A column of mostly other types is cheaper as tagged values than as exceptions.
        guard best * 2 >= values.count, best > 0 else {
            out.append(Kind.tagged)
            for v in values { ValueCodec.encode(v, into: &out) }
            return
        }
        var exceptions: [(index: Int, value: FieldValue)] = []
        if best == ints {
            out.append(Kind.int)
            var slots = [Int64]()
            slots.reserveCapacity(values.count)
            for (i, v) in values.enumerated() {
                if case .int(let x) = v {
                    slots.append(x)
                } else {
                    slots.append(slots.last ?? 0)
                    exceptions.append((i, v))
                }
            }
            PackedIntegers.encode(slots, into: &out)
        } else if best == decimals {
            out.append(Kind.decimal)
            let (exponent, mantissas, misfits) = decimalColumn(values, forms: forms)
            out.append(UInt8(exponent))
            PackedIntegers.encode(mantissas, into: &out)
            exceptions = misfits
        } else {
            out.append(Kind.bool)
            var bits = [UInt8](repeating: 0, count: (values.count + 7) / 8)
            for (i, v) in values.enumerated() {
                if case .bool(let b) = v {
                    if b { bits[i >> 3] |= 1 << UInt8(i & 7) }
                } else {
                    exceptions.append((i, v))
                }
            }
            out.append(contentsOf: bits)
        }
        out.appendVarint(UInt64(exceptions.count))
        var previous = 0
        for e in exceptions {
            out.appendVarint(UInt64(e.index - previous))
            previous = e.index
            ValueCodec.encode(e.value, into: &out)
        }
    }

    /// The column's common decimal exponent, every value's mantissa at it, and the values
    /// that do not fit (kept as exceptions).
    /// - Parameter forms: each value's shortest decimal form, nil for the values without one.
    private static func decimalColumn(
        _ values: [FieldValue], forms: [(mantissa: Int64, exponent: Int)?]
    ) -> (exponent: Int, mantissas: [Int64], misfits: [(index: Int, value: FieldValue)]) {
        var histogram = [Int](repeating: 0, count: 16)
        for form in forms { if let form { histogram[form.exponent] += 1 } }
        // The smallest exponent that leaves at most 1 value in 32 out: one very precise value
        // must not widen every mantissa of the column.
        let total = histogram.reduce(0, +)
        var exponent = 0
        var covered = histogram[0]
        while exponent < 15, (total - covered) * 32 > values.count {
            exponent += 1
            covered += histogram[exponent]
        }
        var mantissas = [Int64]()
        mantissas.reserveCapacity(values.count)
        var misfits: [(index: Int, value: FieldValue)] = []
        for (i, form) in forms.enumerated() {
            // At the value's own exponent the form is exact by construction; at a larger one
            // the same rational is rounded again, and the check below proves the bits.
            if let form, form.exponent <= exponent,
                case let (scaled, overflow) = form.mantissa.multipliedReportingOverflow(
                    by: Int64(ValueCodec.powersOfTen[exponent - form.exponent])),
                !overflow, abs(Double(scaled)) < ValueCodec.maxExactMantissa,
                case .double(let d) = values[i],
                form.exponent == exponent || (Double(scaled) / ValueCodec.powersOfTen[exponent]).bitPattern == d.bitPattern
            {
                mantissas.append(scaled)
            } else {
                mantissas.append(mantissas.last ?? 0)
                misfits.append((i, values[i]))
            }
        }
        return (exponent, mantissas, misfits)
    }

    // MARK: - Decoding

    /// A block decoded column by column; only the columns asked for are built.
    struct Decoded {
        var timestamps: [Int64]
        var receivedDeltas: [Int64]
        var provenances: [Int64]
        var columns: [Column]

        struct Column {
            var id: UInt32
            var values: Values
            /// Per record, the index of its value in `values`, or -1; nil when every record has one.
            var valueIndex: [Int32]?

            /// A column's values, typed as the block stores them: a range answer copies a
            /// typed column into its own typed column in one go (`ColumnPageBuilder`),
            /// without a `FieldValue` per value.
            enum Values {
                case doubles([Double])
                case ints([Int64])
                case bools([Bool])
                /// Tagged columns, and typed ones with exceptions (values of another type).
                case tagged([FieldValue])
            }

            @inline(__always) func value(row: Int) -> FieldValue? {
                var i = row
                if let valueIndex {
                    i = Int(valueIndex[row])
                    if i < 0 { return nil }
                }
                switch values {
                case .doubles(let v): return .double(v[i])
                case .ints(let v): return .int(v[i])
                case .bools(let v): return .bool(v[i])
                case .tagged(let v): return v[i]
                }
            }
        }

        var count: Int { timestamps.count }

        /// The record at `row`, with the decoded columns' fields.
        func row(_ row: Int) throws(ByteDecodingError) -> BlockRow {
            var fields = [EncodedField]()
            fields.reserveCapacity(columns.count)
            for c in columns {
                if let v = c.value(row: row) { fields.append(EncodedField(id: c.id, value: v)) }
            }
            let p = provenances[row]
            guard p >= 0, p <= Int64(UInt32.max) else { throw ByteDecodingError(reason: "provenance id \(p) out of range") }
            return BlockRow(timestamp: timestamps[row], receivedDelta: receivedDeltas[row], provenance: UInt32(p), fields: fields)
        }

        /// The row holding `timestamp`, if any.
        func index(of timestamp: Int64) -> Int? {
            var lo = 0
            var hi = timestamps.count
            while lo < hi {
                let mid = (lo + hi) / 2
                if timestamps[mid] < timestamp { lo = mid + 1 } else { hi = mid }
            }
            return lo < timestamps.count && timestamps[lo] == timestamp ? lo : nil
        }
    }

    /// Decodes a block; with `keep`, only the fields whose id it accepts are built.
    static func decode(_ bytes: UnsafeBufferPointer<UInt8>, keep: ((UInt32) -> Bool)? = nil) throws(ByteDecodingError) -> Decoded {
        var reader = ByteReader(bytes)
        let kind = try reader.readByte()
        guard kind == kindV1 else { throw ByteDecodingError(reason: "unknown sealed block kind 0x\(String(kind, radix: 16))") }
        let n64 = try reader.readVarint()
        // The densest encoding (all-zero groups) still takes a byte per 32 values: a larger
        // count is damage, not a reason to allocate.
        guard n64 > 0, n64 <= UInt64(bytes.count) * 32 else { throw ByteDecodingError(reason: "record count \(n64) out of range") }
        let n = Int(n64)
        let timestamps = try section(&reader) { (r: inout ByteReader) throws(ByteDecodingError) in try PackedIntegers.decode(&r, count: n) }
        for i in 1..<n where timestamps[i - 1] >= timestamps[i] {
            throw ByteDecodingError(reason: "timestamps out of order at record \(i)")
        }
        let received = try section(&reader) { (r: inout ByteReader) throws(ByteDecodingError) in try PackedIntegers.decode(&r, count: n) }
        let provenances = try section(&reader) { (r: inout ByteReader) throws(ByteDecodingError) in try PackedIntegers.decode(&r, count: n) }
        let f = try reader.readVarint()
        guard f <= UInt64(reader.remaining) else { throw ByteDecodingError(reason: "field count \(f) too large") }
        var columns = [Decoded.Column]()
        var previousID: UInt64? = nil
        for _ in 0..<f {
            let id = try reader.readVarint()
            guard id <= UInt64(UInt32.max), previousID.map({ id > $0 }) ?? true else {
                throw ByteDecodingError(reason: "field id \(id) out of range or order")
            }
            previousID = id
            let body = try reader.readLengthPrefixed()
            if let keep, !keep(UInt32(id)) { continue }
            var columnReader = ByteReader(body)
            columns.append(try decodeColumn(&columnReader, id: UInt32(id), n: n))
            guard columnReader.isAtEnd else { throw ByteDecodingError(reason: "trailing bytes in the column of field \(id)") }
        }
        guard reader.isAtEnd else { throw ByteDecodingError(reason: "\(reader.remaining) trailing bytes after the block") }
        return Decoded(timestamps: timestamps, receivedDeltas: received, provenances: provenances, columns: columns)
    }

    /// Decodes a length-prefixed section that `body` must read to its end.
    private static func section<T>(
        _ reader: inout ByteReader, _ body: (inout ByteReader) throws(ByteDecodingError) -> T
    ) throws(ByteDecodingError) -> T {
        var inner = ByteReader(try reader.readLengthPrefixed())
        let value = try body(&inner)
        guard inner.isAtEnd else { throw ByteDecodingError(reason: "trailing bytes in a block section") }
        return value
    }

    private static func decodeColumn(_ reader: inout ByteReader, id: UInt32, n: Int) throws(ByteDecodingError) -> Decoded.Column {
        var valueIndex: [Int32]? = nil
        var m = n
        let presence = try reader.readByte()
        switch presence {
        case Presence.all:
            break
        case Presence.bitmap:
            let bytes = (n + 7) / 8
            guard bytes <= reader.remaining else { throw ByteDecodingError(reason: "presence bitmap of field \(id) truncated") }
            var index = [Int32](repeating: -1, count: n)
            m = 0
            for row in 0..<n where reader.bytes[reader.offset + (row >> 3)] & (1 << UInt8(row & 7)) != 0 {
                index[row] = Int32(m)
                m += 1
            }
            try reader.skip(bytes)
            valueIndex = index
        case Presence.runs:
            let r = try reader.readVarint()
            guard r <= UInt64(reader.remaining) else { throw ByteDecodingError(reason: "run count \(r) too large") }
            var index = [Int32](repeating: -1, count: n)
            var row = 0
            m = 0
            for k in 0..<r {
                let length = try reader.readVarint()
                guard length <= UInt64(n - row) else { throw ByteDecodingError(reason: "presence runs of field \(id) exceed the block") }
                if k % 2 == 1 {
                    for i in row..<(row + Int(length)) {
                        index[i] = Int32(m)
                        m += 1
                    }
                }
                row += Int(length)
            }
            valueIndex = index
        default:
            throw ByteDecodingError(reason: "unknown presence mode \(presence) for field \(id)")
        }
        guard m > 0 else { throw ByteDecodingError(reason: "field \(id) is in no record of its block") }

        let kind = try reader.readByte()
        var typed: Decoded.Column.Values
        switch kind {
        case Kind.tagged:
            var values = [FieldValue]()
            values.reserveCapacity(m)
            for _ in 0..<m { values.append(try ValueCodec.decode(&reader)) }
            return Decoded.Column(id: id, values: .tagged(values), valueIndex: valueIndex)
        case Kind.int:
            typed = .ints(try PackedIntegers.decode(&reader, count: m))
        case Kind.decimal:
            let exponent = Int(try reader.readByte())
            guard exponent < ValueCodec.powersOfTen.count else { throw ByteDecodingError(reason: "decimal exponent \(exponent) out of range") }
            let scale = ValueCodec.powersOfTen[exponent]
            let mantissas = try PackedIntegers.decode(&reader, count: m)
            typed = .doubles(mantissas.map { Double($0) / scale })
        case Kind.bool:
            let bytes = (m + 7) / 8
            guard bytes <= reader.remaining else { throw ByteDecodingError(reason: "bool column of field \(id) truncated") }
            var bools = [Bool]()
            bools.reserveCapacity(m)
            for i in 0..<m { bools.append(reader.bytes[reader.offset + (i >> 3)] & (1 << UInt8(i & 7)) != 0) }
            try reader.skip(bytes)
            typed = .bools(bools)
        default:
            throw ByteDecodingError(reason: "unknown column kind \(kind) for field \(id)")
        }
        let exceptions = try reader.readVarint()
        guard exceptions <= UInt64(m) else { throw ByteDecodingError(reason: "\(exceptions) exceptions in a column of \(m) values") }
        guard exceptions > 0 else { return Decoded.Column(id: id, values: typed, valueIndex: valueIndex) }
        // Values of another type among the typed ones: the column is tagged.
        var values = (0..<m).map { i -> FieldValue in
            switch typed {
            case .doubles(let v): return .double(v[i])
            case .ints(let v): return .int(v[i])
            case .bools(let v): return .bool(v[i])
            case .tagged(let v): return v[i]
            }
        }
        var at = 0
        for k in 0..<exceptions {
            let delta = try reader.readVarint()
            guard delta <= UInt64(m), (k == 0 || delta > 0), at + Int(delta) < m else {
                throw ByteDecodingError(reason: "exception index out of range in field \(id)")
            }
            at += Int(delta)
            values[at] = try ValueCodec.decode(&reader)
        }
        typed = .tagged(values)
        return Decoded.Column(id: id, values: typed, valueIndex: valueIndex)
    }
}
