import TelemetryCore

/// A canonical record as a scan finds it.
enum CanonicalEntry {
    /// An individual key's value (RecordCodec), borrowed for the duration of the visit.
    case record(UnsafeBufferPointer<UInt8>)
    /// Row `Int` of a partition's sealed block.
    case block(SealedBlock, Int)
}

/// A decoded sealed block, shared by reference among the visits of its rows so that what a
/// consumer derives once per block (field names) can be kept with it.
final class SealedBlock {
    let decoded: SealedBlockCodec.Decoded

    init(_ decoded: SealedBlockCodec.Decoded) {
        self.decoded = decoded
    }
}

extension SealedBlockCodec.Decoded {
    /// The first row whose timestamp is >= `timestamp` (count when none).
    func lowerBound(_ timestamp: Int64) -> Int {
        var lo = 0
        var hi = timestamps.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if timestamps[mid] < timestamp { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }
}

extension TelemetryStore {
    /// Visits one vehicle's canonical records with timestamps in [first, last] (inclusive), in
    /// `order`, merging each partition's sealed block with the individual keys beside it: a
    /// record that arrived after its partition was sealed is an individual key, and where it
    /// has the timestamp of a block row it is the newer write and wins. `visit` returns false
    /// to stop.
    ///
    /// One iterator serves the whole scan, so blocks and keys come from the same snapshot: a
    /// seal committing meanwhile (block written, keys deleted) is seen entirely or not at all.
    /// - Parameter keep: field ids to decode from blocks; nil decodes all.
    func scanCanonical(
        db: LevelDB, code: UInt32, vehicle: VehicleID, first: Int64, last: Int64, order: TimeOrder, keep: Set<UInt32>?,
        visit: (Int64, CanonicalEntry) throws(StorageError) -> Bool
    ) throws(StorageError) {
        try db.withIterator { it throws(StorageError) in
            try scanCanonical(it, code: code, vehicle: vehicle, first: first, last: last, order: order, keep: keep, visit: visit)
        }
    }

    /// `scanCanonical` through an iterator the caller made, so that it can read what goes with
    /// the records (the dictionaries) after the iterator's snapshot is fixed.
    func scanCanonical(
        _ it: LevelDBIterator, code: UInt32, vehicle: VehicleID, first: Int64, last: Int64, order: TimeOrder,
        keep: Set<UInt32>?, visit: (Int64, CanonicalEntry) throws(StorageError) -> Bool
    ) throws(StorageError) {
        let width = partitionWidthMs
        var partitions = try indexedPartitions(
            it, code: code, vehicle: vehicle, from: KeyLayout.partition(of: first, width: width),
            to: KeyLayout.partition(of: last, width: width))
        if order == .descending { partitions.reverse() }
        for p in partitions {
            let block = try sealedBlock(it, partition: p, code: code, vehicle: vehicle, keep: keep)
            // Block rows in [first, last] are rows[lower..<upper].
            var lower = 0
            var upper = 0
            if let block {
                lower = block.decoded.lowerBound(first)
                upper = last == .max ? block.decoded.count : block.decoded.lowerBound(last + 1)
            }
            // The next block row to visit: walks up in ascending order, down in descending.
            var next = order == .ascending ? lower : upper - 1
            /// Visits the block rows that come before an individual key at `ts` (all the
            /// remaining ones when nil) and steps over the row that key overrides.
            func blockRows(before ts: Int64?) throws(StorageError) -> Bool {
                guard let block else { return true }
                let times = block.decoded.timestamps
                if order == .ascending {
                    while next < upper, ts.map({ times[next] < $0 }) ?? true {
                        if try !visit(times[next], .block(block, next)) { return false }
                        next += 1
                    }
                    if let ts, next < upper, times[next] == ts { next += 1 }
                } else {
                    while next >= lower, ts.map({ times[next] > $0 }) ?? true {
                        if try !visit(times[next], .block(block, next)) { return false }
                        next -= 1
                    }
                    if let ts, next >= lower, times[next] == ts { next -= 1 }
                }
                return true
            }

            if let slots = recordKeys.slots(of: p, between: first, and: last) {
                let goOn = try visitRecordKeys(
                    it, .canonical, code: code, slots: slots, first: first, last: last, order: order,
                    reading: "canonical records of vehicle \(vehicle) between \(first) and \(last)"
                ) { ts throws(StorageError) in
                    if try !blockRows(before: ts) { return false }
                    return try it.withUnsafeValueTyped { value throws(StorageError) in try visit(ts, .record(value)) }
                }
                if !goOn { return }
            }
            try it.checkStatus(reading: "canonical records of vehicle \(vehicle) between \(first) and \(last)")
            if try !blockRows(before: nil) { return }
        }
    }

    /// The sealed block of (`partition`, `code`), if the partition is sealed for the vehicle.
    func sealedBlock(
        _ it: LevelDBIterator, partition p: Int64, code: UInt32, vehicle: VehicleID, keep: Set<UInt32>?
    ) throws(StorageError) -> SealedBlock? {
        let key = KeyLayout.blockKey(partition: p, vehicle: code)
        it.seek(key)
        // Checked even when the iterator is valid: LevelDB steps over a table block that fails
        // its checksum and lands on a later key, so a damaged block would look absent.
        try it.checkStatus(reading: "the sealed block of vehicle \(vehicle) in partition \(p) \(describePartition(p))")
        guard it.isValid, it.withUnsafeKey({ $0.elementsEqual(key) }) else { return nil }
        let decoded: Result<SealedBlockCodec.Decoded, ByteDecodingError> = it.withUnsafeValue { v in
            Result { () throws(ByteDecodingError) in
                try SealedBlockCodec.decode(v, keep: keep.map { set in { set.contains($0) } })
            }
        }
        switch decoded {
        case .success(let d): return SealedBlock(d)
        case .failure(let e):
            throw StorageError(
                code: .dataLoss,
                message: "damaged sealed block of vehicle \(vehicle) in partition \(p) \(describePartition(p)): \(e.reason)")
        }
    }

    /// "(records between A and B)": the time span a partition covers, for error messages.
    func describePartition(_ p: Int64) -> String {
        let width = partitionWidthMs
        let start = p.multipliedReportingOverflow(by: width)
        guard !start.overflow else { return "" }
        return "(records between \(start.partialValue) and \(start.partialValue &+ (width - 1)))"
    }

    /// The partitions in [p0, p1] that the partition index lists for vehicle `code`.
    func indexedPartitions(
        _ it: LevelDBIterator, code: UInt32, vehicle: VehicleID, from p0: Int64, to p1: Int64
    ) throws(StorageError) -> [Int64] {
        var partitions = [Int64]()
        it.seek(KeyLayout.partitionIndexKey(vehicle: code, partition: p0))
        let end = KeyLayout.partitionIndexKey(vehicle: code, partition: p1)
        while it.isValid {
            let key = it.key
            guard key.count == 13, key.lexicographicallyPrecedes(end) || key == end else { break }
            partitions.append(Int64(bitPattern: key[5...].reduce(0) { ($0 << 8) | UInt64($1) } ^ 0x8000_0000_0000_0000))
            it.next()
        }
        try it.checkStatus(reading: "the partition index of vehicle \(vehicle)")
        return partitions
    }

    /// Visits the raw records of one vehicle with timestamps in [first, last] (inclusive), in time
    /// order; `visit` returns false to stop. Raw records are never sealed; their partitions are
    /// walked arithmetically between the keyspace's own bounds.
    func scanRaw(
        db: LevelDB, code: UInt32, vehicle: VehicleID, first: Int64, last: Int64,
        visit: (Int64, UnsafeBufferPointer<UInt8>) throws(StorageError) -> Bool
    ) throws(StorageError) {
        try db.withIterator { it throws(StorageError) in
            try scanRaw(it, code: code, vehicle: vehicle, first: first, last: last, visit: visit)
        }
    }

    /// `scanRaw` through an iterator the caller made.
    func scanRaw(
        _ it: LevelDBIterator, code: UInt32, vehicle: VehicleID, first: Int64, last: Int64,
        visit: (Int64, UnsafeBufferPointer<UInt8>) throws(StorageError) -> Bool
    ) throws(StorageError) {
        let keyspace = Keyspace.raw
        /// The slot of the raw key the iterator is on; nil past the keyspace.
        func boundSlot() throws(StorageError) -> Int64? {
            // Checked even when the iterator is valid: LevelDB steps over a table block that fails
            // its checksum and lands on a further key, or on none, so damage at either end would
            // look like a narrower raw keyspace, or an empty one, and its records like no records.
            try it.checkStatus(reading: "the bounds of the raw keyspace")
            guard it.isValid else { return nil }
            let key: (isRaw: Bool, slot: Int64?) = it.withUnsafeKey { key in
                (key.first == keyspace.rawValue, KeyLayout.parseRecordKey(key)?.slot)
            }
            guard key.isRaw else { return nil }
            guard let slot = key.slot else {
                throw StorageError(code: .dataLoss, message: "damaged key in the raw keyspace")
            }
            return slot
        }
        // Clamp to the slots the keyspace holds at all, so an open range stays finite.
        it.seek(keyspace.lowerBound)
        guard let lowest = try boundSlot() else { return }
        it.seek(keyspace.upperBound)
        if it.isValid { it.previous() } else { it.seekToLast() }
        guard let highest = try boundSlot() else { return }
        let a = max(recordKeys.slot(of: first), lowest)
        let b = min(recordKeys.slot(of: last), highest)
        guard a <= b else { return }
        _ = try visitRecordKeys(
            it, keyspace, code: code, slots: a...b, first: first, last: last, order: .ascending,
            reading: "\(keyspace) records of vehicle \(vehicle) between \(first) and \(last)"
        ) { ts throws(StorageError) in
            try it.withUnsafeValueTyped { value throws(StorageError) in try visit(ts, value) }
        }
        try it.checkStatus(reading: "\(keyspace) records of vehicle \(vehicle) between \(first) and \(last)")
    }

    /// Visits the record keys of vehicle `code` in `keyspace` (canonical or raw) whose slot is
    /// in `slots` and whose timestamp is in [first, last], in `order`. The iterator is on the
    /// key when `visit(timestamp)` runs; `visit` returns false to stop. `what` names the
    /// records for a read error.
    ///
    /// A vehicle's keys are contiguous within each slot, so each slot takes a seek. Where the
    /// seek lands tells which slots hold nothing for the vehicle: when it lands in a later slot
    /// (earlier, descending), every slot in between is empty for every vehicle, and that slot
    /// too when the key it landed on belongs to a higher vehicle code (lower, descending). A
    /// sealed partition without late records thus costs one seek, as it did when a slot was a
    /// whole partition.
    /// - Returns: false when `visit` stopped the walk.
    func visitRecordKeys(
        _ it: LevelDBIterator, _ keyspace: Keyspace, code: UInt32, slots: ClosedRange<Int64>, first: Int64, last: Int64,
        order: TimeOrder, reading what: @autoclosure () -> String, visit: (Int64) throws(StorageError) -> Bool
    ) throws(StorageError) -> Bool {
        /// The key under the iterator, if it is a record key of `keyspace`.
        func current() -> (slot: Int64, code: UInt32, ts: Int64)? {
            guard it.isValid else { return nil }
            return it.withUnsafeKey { key in
                guard key.first == keyspace.rawValue, let k = KeyLayout.parseRecordKey(key) else { return nil }
                return (k.slot, k.vehicle, k.timestamp)
            }
        }
        if order == .ascending {
            var s = slots.lowerBound
            while s <= slots.upperBound {
                it.seek(KeyLayout.recordKey(keyspace, slot: s, vehicle: code, timestamp: first))
                var landed = current()
                while let k = landed, k.slot == s, k.code == code {
                    guard k.ts <= last else { return true }
                    if try !visit(k.ts) { return false }
                    it.next()
                    landed = current()
                }
                try it.checkStatus(reading: what())
                // Nothing further in the keyspace: no later slot holds anything.
                guard let k = landed else { return true }
                if k.slot <= s {
                    guard s < slots.upperBound else { return true }
                    s += 1
                } else if k.code > code {
                    guard k.slot < slots.upperBound else { return true }
                    s = k.slot + 1
                } else {
                    guard k.slot <= slots.upperBound else { return true }
                    s = k.slot
                }
            }
        } else {
            var s = slots.upperBound
            while s >= slots.lowerBound {
                // The first key after (s, code, last), then one step back.
                var after = KeyLayout.recordKey(keyspace, slot: s, vehicle: code, timestamp: last)
                after.append(0)
                it.seek(after)
                if it.isValid { it.previous() } else { it.seekToLast() }
                var landed = current()
                while let k = landed, k.slot == s, k.code == code {
                    guard k.ts >= first else { return true }
                    if try !visit(k.ts) { return false }
                    it.previous()
                    landed = current()
                }
                try it.checkStatus(reading: what())
                guard let k = landed else { return true }
                if k.slot >= s {
                    guard s > slots.lowerBound else { return true }
                    s -= 1
                } else if k.code < code {
                    guard k.slot > slots.lowerBound else { return true }
                    s = k.slot - 1
                } else {
                    guard k.slot >= slots.lowerBound else { return true }
                    s = k.slot
                }
            }
        }
        return true
    }
}

/// Builds TelemetryRecords from decoded values, resolving names and provenances once per
/// layout, per provenance and per block rather than per field.
struct RecordBuilder {
    let vehicle: VehicleID
    let names: [UInt32: String]
    let provenances: [UInt32: ProvenanceKey]
    private var lastIDs: [UInt32] = []
    private var lastNames: [String] = []
    private var lastProvenanceID: UInt32? = nil
    private var lastProvenance = ProvenanceKey(provider: "", mappingVersion: "")
    /// Held strongly: an identifier alone could match a later block at the same address.
    private var lastBlock: SealedBlock? = nil
    private var blockNames: [String] = []

    init(vehicle: VehicleID, names: [UInt32: String], provenances: [UInt32: ProvenanceKey]) {
        self.vehicle = vehicle
        self.names = names
        self.provenances = provenances
    }

    private func name(_ id: UInt32, at timestamp: Int64) throws(StorageError) -> String {
        guard let name = names[id] else {
            throw StorageError(code: .dataLoss, message: "record of vehicle \(vehicle) at \(timestamp) uses field id \(id), which has no dictionary entry")
        }
        return name
    }

    private mutating func provenance(_ id: UInt32, at timestamp: Int64, receivedDelta: Int64) throws(StorageError) -> Provenance {
        if id != lastProvenanceID {
            guard let p = provenances[id] else {
                throw StorageError(code: .dataLoss, message: "record of vehicle \(vehicle) at \(timestamp) has unknown provenance id \(id)")
            }
            lastProvenanceID = id
            lastProvenance = p
        }
        return Provenance(provider: lastProvenance.provider, mappingVersion: lastProvenance.mappingVersion, receivedAt: timestamp &+ receivedDelta)
    }

    /// A record from an individual key's decoded value.
    mutating func record(timestamp: Int64, decoded: RecordCodec.Decoded) throws(StorageError) -> TelemetryRecord {
        let same = decoded.fields.count == lastIDs.count && zip(decoded.fields, lastIDs).allSatisfy { $0.id == $1 }
        if !same {
            lastIDs = decoded.fields.map(\.id)
            lastNames = []
            lastNames.reserveCapacity(lastIDs.count)
            for id in lastIDs { lastNames.append(try name(id, at: timestamp)) }
        }
        var fields = [Field]()
        fields.reserveCapacity(decoded.fields.count)
        for (i, f) in decoded.fields.enumerated() { fields.append(Field(lastNames[i], f.value)) }
        return TelemetryRecord(
            vehicle: vehicle, timestamp: timestamp, fields: fields,
            provenance: try provenance(decoded.provenance, at: timestamp, receivedDelta: decoded.receivedDelta))
    }

    /// The record at `row` of a sealed block.
    mutating func record(block: SealedBlock, row: Int) throws(StorageError) -> TelemetryRecord {
        let d = block.decoded
        let timestamp = d.timestamps[row]
        if lastBlock !== block {
            blockNames = []
            blockNames.reserveCapacity(d.columns.count)
            for c in d.columns { blockNames.append(try name(c.id, at: timestamp)) }
            lastBlock = block
        }
        var fields = [Field]()
        fields.reserveCapacity(d.columns.count)
        for (i, c) in d.columns.enumerated() {
            if let v = c.value(row: row) { fields.append(Field(blockNames[i], v)) }
        }
        let p = d.provenances[row]
        guard p >= 0, p <= Int64(UInt32.max) else {
            throw StorageError(code: .dataLoss, message: "record of vehicle \(vehicle) at \(timestamp) has provenance id \(p) out of range")
        }
        return TelemetryRecord(
            vehicle: vehicle, timestamp: timestamp, fields: fields,
            provenance: try provenance(UInt32(p), at: timestamp, receivedDelta: d.receivedDeltas[row]))
    }
}
