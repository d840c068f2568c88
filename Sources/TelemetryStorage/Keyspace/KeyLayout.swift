import Crypto
/// The keyspaces of one store and how their keys are laid out (docs/storage-format.md).
///
/// Every key starts with a one-byte keyspace prefix; integers are big-endian and signed
/// ones have their sign bit flipped, so byte order is numeric order, negatives first.
public enum Keyspace: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    /// Format version, dictionaries, gateway resume points.
    case metadata = 0x01
    /// Canonical records: key slot, vehicle, timestamp.
    case canonical = 0x02
    /// Latest state per vehicle.
    case latest = 0x03
    /// Raw provider records as received (cold tier).
    case raw = 0x04
    /// Records that failed mapping, by received time.
    case deadLetter = 0x05
    /// Which time partitions hold records of a vehicle: lets a range query skip empty ones.
    case partitionIndex = 0x06
    /// Sealed blocks: all canonical records of one vehicle in one closed partition, as one
    /// column-encoded value (SealedBlockCodec).
    case sealed = 0x07
    /// The mapping layer's per-vehicle state (`StoreWrite.derivedStates`), opaque (since
    /// format 4; format 3 kept it inside the latest state).
    case derived = 0x08

    public var description: String {
        switch self {
        case .metadata: return "metadata"
        case .canonical: return "canonical"
        case .latest: return "latest"
        case .raw: return "raw"
        case .deadLetter: return "dead-letter"
        case .partitionIndex: return "partition-index"
        case .sealed: return "sealed"
        case .derived: return "derived"
        }
    }

    /// The first key of the keyspace (inclusive).
    public var lowerBound: [UInt8] { [rawValue] }
    /// The first key after the keyspace (exclusive).
    public var upperBound: [UInt8] { [rawValue + 1] }
}

/// Builds and parses keys.
enum KeyLayout {
    /// Time partition of a timestamp: floor division, so -1 ms falls in partition -1.
    @inlinable static func partition(of timestamp: Int64, width: Int64) -> Int64 {
        let q = timestamp / width
        return (timestamp % width < 0) ? q - 1 : q
    }

    /// `| 0x02 | slot: i64 | vehicle code: u32 | timestamp: i64 |` (21 bytes); raw records
    /// use the same layout behind 0x04. The slot is the timestamp's key slot (`RecordKeys`).
    static func recordKey(_ keyspace: Keyspace, slot: Int64, vehicle: UInt32, timestamp: Int64) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: recordKeyLength) { buffer, count in
            fillRecordKey(buffer, keyspace, slot: slot, vehicle: vehicle, timestamp: timestamp)
            count = recordKeyLength
        }
    }

    static let recordKeyLength = 21

    /// Puts the record key `recordKey` builds, through a 21-byte buffer on the stack: the
    /// write path puts a key per record and needs no array for it.
    @inline(__always)
    static func putRecordKey(
        _ keyspace: Keyspace, slot: Int64, vehicle: UInt32, timestamp: Int64, value: [UInt8], into batch: WriteBatch
    ) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: recordKeyLength) { key in
            fillRecordKey(key, keyspace, slot: slot, vehicle: vehicle, timestamp: timestamp)
            value.withUnsafeBufferPointer { batch.put(UnsafeBufferPointer(key), $0) }
        }
    }

    /// Writes a record key's 21 bytes into `key`: the slot and time as `appendOrderedInt64`
    /// (sign bit flipped, big-endian), the vehicle code big-endian.
    @inline(__always)
    static func fillRecordKey(
        _ key: UnsafeMutableBufferPointer<UInt8>, _ keyspace: Keyspace, slot: Int64, vehicle: UInt32, timestamp: Int64
    ) {
        precondition(key.count >= recordKeyLength, "a record key takes 21 bytes")
        key[0] = keyspace.rawValue
        let s = UInt64(bitPattern: slot) ^ 0x8000_0000_0000_0000
        let t = UInt64(bitPattern: timestamp) ^ 0x8000_0000_0000_0000
        for i in 0..<8 {
            key[1 + i] = UInt8(truncatingIfNeeded: s >> UInt64(56 - 8 * i))
            key[13 + i] = UInt8(truncatingIfNeeded: t >> UInt64(56 - 8 * i))
        }
        for i in 0..<4 { key[9 + i] = UInt8(truncatingIfNeeded: vehicle >> UInt32(24 - 8 * i)) }
    }

    /// Decodes a record key of the given keyspace.
    static func parseRecordKey(_ key: UnsafeBufferPointer<UInt8>) -> (slot: Int64, vehicle: UInt32, timestamp: Int64)? {
        guard key.count == recordKeyLength else { return nil }
        var reader = ByteReader(key, offset: 1)
        guard let slot = try? reader.readOrderedInt64(),
            let vehicle = try? reader.readBigEndianUInt32(),
            let timestamp = try? reader.readOrderedInt64()
        else { return nil }
        return (slot, vehicle, timestamp)
    }

    /// `| 0x06 | vehicle code: u32 | partition: i64 |`, empty value.
    static func partitionIndexKey(vehicle: UInt32, partition: Int64) -> [UInt8] {
        var key: [UInt8] = [Keyspace.partitionIndex.rawValue]
        key.reserveCapacity(13)
        key.appendBigEndian(vehicle)
        key.appendOrderedInt64(partition)
        return key
    }

    /// `| 0x07 | partition: i64 | vehicle code: u32 |` (13 bytes): the sealed block of one
    /// vehicle in one partition. Partition first (record keys put their slot first), so sealing a partition
    /// writes its blocks in key order.
    static func blockKey(partition: Int64, vehicle: UInt32) -> [UInt8] {
        var key: [UInt8] = [Keyspace.sealed.rawValue]
        key.reserveCapacity(blockKeyLength)
        key.appendOrderedInt64(partition)
        key.appendBigEndian(vehicle)
        return key
    }

    static let blockKeyLength = 13

    /// `| 0x03 | vehicle code: u32 |`
    static func latestKey(vehicle: UInt32) -> [UInt8] {
        var key: [UInt8] = [Keyspace.latest.rawValue]
        key.appendBigEndian(vehicle)
        return key
    }

    /// `| 0x08 | vehicle code: u32 |`
    static func derivedKey(vehicle: UInt32) -> [UInt8] {
        var key: [UInt8] = [Keyspace.derived.rawValue]
        key.appendBigEndian(vehicle)
        return key
    }

    /// `| 0x05 | received at: i64 | sequence: u64 |`
    static func deadLetterKey(receivedAt: Int64, sequence: UInt64) -> [UInt8] {
        var key: [UInt8] = [Keyspace.deadLetter.rawValue]
        key.reserveCapacity(deadLetterKeyLength)
        key.appendOrderedInt64(receivedAt)
        key.appendBigEndian(sequence)
        return key
    }

    static let deadLetterKeyLength = 17

    /// The digest entry of a dead letter (`Meta.deadLetterDigestPrefix`).
    static func deadLetterDigestKey(_ letter: DeadLetter) -> [UInt8] {
        metadataKey(Meta.deadLetterDigestPrefix, Array(SHA256.hash(data: DeadLetterCodec.identity(letter)).prefix(16)))
    }

    /// `| 0x01 | name (UTF-8) |`
    static func metadataKey(_ name: String) -> [UInt8] {
        [Keyspace.metadata.rawValue] + Array(name.utf8)
    }

    /// `| 0x01 | prefix (UTF-8) | suffix bytes |`
    static func metadataKey(_ prefix: String, _ suffix: [UInt8]) -> [UInt8] {
        [Keyspace.metadata.rawValue] + Array(prefix.utf8) + suffix
    }

    /// Metadata names.
    enum Meta {
        static let format = "format"
        static let partitionWidth = "partition-width-ms"
        /// Width of a key slot in ms (u64 BE), since format 5: see `RecordKeys`.
        static let keySlotWidth = "key-slot-ms"
        /// Present (empty value) when the store was closed with every latest state persisted;
        /// removed when it is opened again. Without it, opening replays the records written
        /// after each vehicle's checkpoint.
        static let cleanClose = "clean-close"
        /// The highest dead-letter sequence ever issued (u64 BE), written in every batch that
        /// adds dead letters (format 3). The next letter continues after it, so an id is never
        /// issued twice: not after a purge, nor when received times arrive out of order.
        static let deadLetterSequence = "dead-letter-sequence"
        /// `dead-letter-digest/<first 16 bytes of SHA-256 of the letter's identity>` -> the
        /// letter's id (received time i64, sequence u64): one letter per failing record, so a
        /// re-sent batch is not dead-lettered twice (section 11).
        static let deadLetterDigestPrefix = "dead-letter-digest/"
        /// `vehicle/<id bytes>` -> code (u32 BE)
        static let vehiclePrefix = "vehicle/"
        /// `field/<name bytes>` -> id (u32 BE)
        static let fieldPrefix = "field/"
        /// `provenance/<id u32 BE>` -> provider, mapping version (length-prefixed)
        static let provenancePrefix = "provenance/"
        /// `gateway/<gateway id bytes>` -> last committed sequence (u64 BE)
        static let gatewayPrefix = "gateway/"
    }
}

/// Where record keys (canonical 0x02, raw 0x04) put a timestamp: in the key slot that holds
/// it, a span of `slotWidth` ms, before the vehicle code (docs/storage-format.md, section 5).
///
/// Slots are narrower than partitions (10 minutes in a one-hour partition by default) so that
/// the keys ingest writes at a time, every vehicle's newest records, fall into a narrow band of
/// the key space: each memtable LevelDB flushes then overlaps the previous ones only at its
/// edge, and compaction moves files down instead of rewriting the whole partition every time
/// (docs/decisions/0006-key-slots.md). Partitions, which sealing, the partition index and
/// retention work on, are whole numbers of slots. Stores of formats 2 to 4 have one slot per
/// partition, which is the layout they always had.
struct RecordKeys: Sendable, Hashable {
    /// Partition width, ms.
    let width: Int64
    /// Key slot width, ms: divides `width`.
    let slotWidth: Int64
    /// Slots per partition.
    let slotsPerPartition: Int64

    /// - Precondition: `slotWidth` > 0 and divides `width` (checked when a store is opened).
    init(width: Int64, slotWidth: Int64) {
        self.width = width
        self.slotWidth = slotWidth
        self.slotsPerPartition = width / slotWidth
    }

    /// The slot width a new store gets: `preferred` when it divides the partition width,
    /// else one slot per partition.
    static func slotWidth(forNewStoreWith width: Int64, preferred: Int64?) -> Int64 {
        guard let preferred, preferred > 0, preferred <= width, width % preferred == 0 else { return width }
        return preferred
    }

    func slot(of timestamp: Int64) -> Int64 { KeyLayout.partition(of: timestamp, width: slotWidth) }

    func partition(of timestamp: Int64) -> Int64 { KeyLayout.partition(of: timestamp, width: width) }

    /// The partition a slot belongs to.
    func partition(ofSlot slot: Int64) -> Int64 { KeyLayout.partition(of: slot, width: slotsPerPartition) }

    /// The slots of partition `p`. A partition holds whole slots, so p * (slots per partition)
    /// stays in range whenever p * width does (every partition of an Int64 timestamp).
    func slots(of p: Int64) -> ClosedRange<Int64> {
        let first = p &* slotsPerPartition
        return first...(first &+ (slotsPerPartition - 1))
    }

    /// The slots of partition `p` that hold timestamps in [first, last] (empty when none).
    func slots(of p: Int64, between first: Int64, and last: Int64) -> ClosedRange<Int64>? {
        let all = slots(of: p)
        let lo = max(all.lowerBound, slot(of: first))
        let hi = min(all.upperBound, slot(of: last))
        return lo <= hi ? lo...hi : nil
    }

    func key(_ keyspace: Keyspace, vehicle: UInt32, timestamp: Int64) -> [UInt8] {
        KeyLayout.recordKey(keyspace, slot: slot(of: timestamp), vehicle: vehicle, timestamp: timestamp)
    }
}
