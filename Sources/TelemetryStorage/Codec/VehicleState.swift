import TelemetryCore

/// One field of a vehicle's latest state, as held in memory and on disk.
struct LatestEntry {
    var id: UInt32
    var timestamp: Int64
    var value: FieldValue
}

/// What the store keeps per vehicle in the latest keyspace (and in memory):
/// record count and time span, and the newest value of every field.
///
/// ```
/// +------+--------+--------+--------+---------+---------------------------------------------+---------------+
/// | kind | first  | last   | count  | n       | n x (field id, last - field ts, value)      | derived state |
/// | 0x01 | zigzag | zigzag | varint | varint  | varint, varint, tagged value                | varint len +  |
/// +------+--------+--------+--------+---------+---------------------------------------------+---------------+
/// ```
/// `derived state` is opaque to storage: the mapping layer keeps its per-vehicle state
/// machines there, written in the same batch as the record that moved them.
struct VehicleState {
    var code: UInt32
    var vehicle: VehicleID
    var first: Int64
    var last: Int64
    var count: UInt64
    /// Sorted by field id.
    var latest: [LatestEntry]
    var derived: [UInt8]

    init(code: UInt32, vehicle: VehicleID) {
        self.code = code
        self.vehicle = vehicle
        self.first = .max
        self.last = .min
        self.count = 0
        self.latest = []
        self.derived = []
    }

    /// Takes a record's fields into the latest state: a field moves only forward in time.
    mutating func merge(timestamp: Int64, fields: [EncodedField]) {
        for f in fields {
            if let i = latest.firstIndex(where: { $0.id == f.id }) {
                if timestamp >= latest[i].timestamp {
                    latest[i].timestamp = timestamp
                    latest[i].value = f.value
                }
            } else {
                let at = latest.firstIndex(where: { $0.id > f.id }) ?? latest.endIndex
                latest.insert(LatestEntry(id: f.id, timestamp: timestamp, value: f.value), at: at)
            }
        }
    }

    static let kindV1: UInt8 = 0x01

    func encoded() -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(24 + latest.count * 6 + derived.count)
        out.append(Self.kindV1)
        out.appendZigzag(first)
        out.appendZigzag(last)
        out.appendVarint(count)
        out.appendVarint(UInt64(latest.count))
        for e in latest {
            out.appendVarint(UInt64(e.id))
            out.appendVarint(UInt64(bitPattern: last &- e.timestamp))
            ValueCodec.encode(e.value, into: &out)
        }
        out.appendLengthPrefixed(derived)
        return out
    }

    static func decode(code: UInt32, vehicle: VehicleID, _ bytes: UnsafeBufferPointer<UInt8>) throws(ByteDecodingError) -> VehicleState {
        var reader = ByteReader(bytes)
        let kind = try reader.readByte()
        guard kind == kindV1 else { throw ByteDecodingError(reason: "unknown latest-state kind 0x\(String(kind, radix: 16))") }
        var state = VehicleState(code: code, vehicle: vehicle)
        state.first = try reader.readZigzag()
        state.last = try reader.readZigzag()
        state.count = try reader.readVarint()
        let n = try reader.readVarint()
        guard n <= UInt64(reader.remaining) else { throw ByteDecodingError(reason: "field count \(n) too large") }
        for _ in 0..<n {
            let id = try reader.readVarint()
            let age = try reader.readVarint()
            guard id <= UInt64(UInt32.max) else { throw ByteDecodingError(reason: "field id \(id) out of range") }
            let value = try ValueCodec.decode(&reader)
            state.latest.append(LatestEntry(id: UInt32(id), timestamp: state.last &- Int64(bitPattern: age), value: value))
        }
        state.derived = Array(try reader.readLengthPrefixed())
        guard reader.isAtEnd else { throw ByteDecodingError(reason: "trailing bytes after latest state") }
        return state
    }
}
