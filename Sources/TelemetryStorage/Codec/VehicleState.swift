import TelemetryCore

/// One field of a vehicle's latest state, as held in memory and on disk.
struct LatestEntry {
    var id: UInt32
    var timestamp: Int64
    var value: FieldValue
}

/// What the store keeps per vehicle in the latest keyspace (and in memory): record count,
/// time span, and the newest value of every field.
///
/// The newest record is kept as its stored bytes, so writing the latest state costs a copy,
/// not a re-encoding; fields the newest record lacks are kept beside it with their own time.
/// ```
/// +------+--------+--------+--------+------------------+---------+------------------------------------+---------------+
/// | kind | first  | last   | count  | newest record    | n       | n x (field id, last - field ts,    | derived state |
/// | 0x01 | zigzag | zigzag | varint | varint len+bytes | varint  |      tagged value)                 | varint len +  |
/// +------+--------+--------+--------+------------------+---------+------------------------------------+---------------+
/// ```
/// `newest record` is the canonical value (RecordCodec) of the record at `last`.
/// `derived state` is written empty since format 4, which keeps the mapping layer's state in
/// its own keyspace (0x08): written with every batch, it no longer rewrites the whole latest
/// state. Format 3 kept it here; a format 3 store's are read once, at its upgrade.
struct VehicleState {
    var code: UInt32
    var vehicle: VehicleID
    var first: Int64
    var last: Int64
    var count: UInt64
    /// The stored value of the record at `last` (empty before the first record).
    var newest: [UInt8]
    /// Its field ids, sorted.
    var newestIDs: [UInt32]
    /// Fields the newest record lacks, sorted by id, each with the time it was reported.
    var extras: [LatestEntry]
    /// The mapping layer's state: memory, and the vehicle's 0x08 key (not in `encoded()`).
    var derived: [UInt8]
    /// In-order records taken in since this state was last persisted (memory only). The latest
    /// keyspace holds a checkpoint, not every step: see `TelemetryStore.checkpointInterval`.
    var unpersisted = 0
    /// Set when a change cannot be replayed from the records after `last` (a late or replacing
    /// record, the first record): the write persists the state (memory only).
    var mustPersist = false
    /// The write that last changed this state (memory only): a write saves a state for its
    /// undo log the first time it changes it.
    var writeGeneration: UInt64 = 0

    init(code: UInt32, vehicle: VehicleID) {
        self.code = code
        self.vehicle = vehicle
        self.first = .max
        self.last = .min
        self.count = 0
        self.newest = []
        self.newestIDs = []
        self.extras = []
        self.derived = []
    }

    /// `merge`'s common case without the record's values: a record at or after the newest one
    /// with the newest one's field ids becomes the newest. Returns false, changing nothing,
    /// for any other record, which then goes through `merge`.
    /// - Parameter ids: the record's field ids, sorted.
    mutating func mergeSameLayout(timestamp: Int64, ids: [UInt32], value: [UInt8]) -> Bool {
        guard newest.isEmpty || timestamp >= last, ids == newestIDs else { return false }
        newest = value
        last = timestamp
        return true
    }

    /// Takes a record into the latest state: each field moves only forward in time.
    /// - Parameters:
    ///   - fields: the record's fields, sorted by id.
    ///   - value: the record's stored bytes.
    ///   - replacing: the record replaces a stored one with the same timestamp.
    /// - Returns: for a replacement, the fields whose latest value came from the replaced record
    ///   and that the new one lacks. They are dropped here, since the record they came from no
    ///   longer exists; the caller looks up their newest value among the remaining records.
    @discardableResult
    mutating func merge(timestamp: Int64, fields: [EncodedField], value: [UInt8], replacing: Bool = false) -> [UInt32] {
        var lost: [UInt32] = []
        if newest.isEmpty || timestamp >= last {
            // Records of one source share their layout: compare before building an id array.
            var sameIDs = fields.count == newestIDs.count
            if sameIDs {
                for i in 0..<fields.count where fields[i].id != newestIDs[i] {
                    sameIDs = false
                    break
                }
            }
            if sameIDs {
                newest = value
                last = timestamp
                return lost
            }
            let ids = fields.map(\.id)
            if !newest.isEmpty {
                // Fields of the old newest record that the new one lacks live on as extras, as
                // of the old record's time; unless the new record replaces the old one, in which
                // case they were never reported at that time.
                if let old = try? newest.withUnsafeBufferPointer({ try RecordCodec.decode($0) }) {
                    let replaced = replacing && timestamp == last
                    for f in old.fields where ids.binarySearch(f.id) == nil {
                        if replaced {
                            lost.append(f.id)
                        } else {
                            upsertExtra(LatestEntry(id: f.id, timestamp: last, value: f.value), force: true)
                        }
                    }
                }
            }
            extras.removeAll { ids.binarySearch($0.id) != nil }
            newest = value
            newestIDs = ids
            last = timestamp
        } else {
            if replacing {
                // An extra reported at this very timestamp came from the replaced record (one
                // record per timestamp); one the new record does not carry again is gone with it.
                extras.removeAll { e in
                    guard e.timestamp == timestamp, !fields.contains(where: { $0.id == e.id }) else { return false }
                    lost.append(e.id)
                    return true
                }
            }
            for f in fields where newestIDs.binarySearch(f.id) == nil {
                upsertExtra(LatestEntry(id: f.id, timestamp: timestamp, value: f.value), force: false)
            }
        }
        return lost
    }

    /// Sets the extra of `entry.id`: inserted if missing, replaced if `force` or if `entry` is at
    /// least as new.
    mutating func upsertExtra(_ entry: LatestEntry, force: Bool) {
        if let i = extras.firstIndex(where: { $0.id == entry.id }) {
            if force || entry.timestamp >= extras[i].timestamp { extras[i] = entry }
        } else {
            extras.insert(entry, at: extras.firstIndex(where: { $0.id > entry.id }) ?? extras.endIndex)
        }
    }

    /// Every field's newest value, sorted by id.
    func latestEntries() throws(ByteDecodingError) -> [LatestEntry] {
        guard !newest.isEmpty else { return extras }
        let decoded = try newest.withUnsafeBufferPointer { (p) throws(ByteDecodingError) in try RecordCodec.decode(p) }
        var out = decoded.fields.map { LatestEntry(id: $0.id, timestamp: last, value: $0.value) }
        out.append(contentsOf: extras)
        out.sort { $0.id < $1.id }
        return out
    }

    static let kindV1: UInt8 = 0x01

    func encoded() -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(24 + newest.count + extras.count * 6)
        out.append(Self.kindV1)
        out.appendZigzag(first)
        out.appendZigzag(last)
        out.appendVarint(count)
        out.appendLengthPrefixed(newest)
        out.appendVarint(UInt64(extras.count))
        for e in extras {
            out.appendVarint(UInt64(e.id))
            out.appendVarint(UInt64(bitPattern: last &- e.timestamp))
            ValueCodec.encode(e.value, into: &out)
        }
        // The derived state lives in its own key (format 4).
        out.appendLengthPrefixed([])
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
        // At most one record per millisecond of the span: a larger count is damage, and one near
        // UInt64.max would trap when the next record is counted.
        if state.count > 0 {
            guard state.first <= state.last, state.count - 1 <= UInt64(bitPattern: state.last &- state.first) else {
                throw ByteDecodingError(reason: "count \(state.count) does not fit the span [\(state.first), \(state.last)]")
            }
        }
        state.newest = Array(try reader.readLengthPrefixed())
        if !state.newest.isEmpty {
            state.newestIDs = try state.newest.withUnsafeBufferPointer { (p) throws(ByteDecodingError) in try RecordCodec.decode(p) }.fields.map(\.id)
        }
        let n = try reader.readVarint()
        guard n <= UInt64(reader.remaining) else { throw ByteDecodingError(reason: "field count \(n) too large") }
        for _ in 0..<n {
            let id = try reader.readVarint()
            let age = try reader.readVarint()
            guard id <= UInt64(UInt32.max) else { throw ByteDecodingError(reason: "field id \(id) out of range") }
            let value = try ValueCodec.decode(&reader)
            state.extras.append(LatestEntry(id: UInt32(id), timestamp: state.last &- Int64(bitPattern: age), value: value))
        }
        state.derived = Array(try reader.readLengthPrefixed())
        guard reader.isAtEnd else { throw ByteDecodingError(reason: "trailing bytes after latest state") }
        return state
    }
}

extension Array where Element == UInt32 {
    /// Index of `value` in this sorted array.
    func binarySearch(_ value: UInt32) -> Int? {
        var lo = 0
        var hi = count
        while lo < hi {
            let mid = (lo + hi) / 2
            if self[mid] < value { lo = mid + 1 } else { hi = mid }
        }
        return lo < count && self[lo] == value ? lo : nil
    }
}
