public import TelemetryCore
import Synchronization

extension TelemetryStore {
    /// Deletes a vehicle's canonical and raw records in [from, to), in one atomic batch, and
    /// brings its count, time span, partition index and latest state in line with what remains.
    ///
    /// Raw records go too when the vehicle has no canonical records at all: a vehicle that only
    /// ever had raw records can still have them deleted. `to == Int64.max` means "no upper
    /// bound", as for range queries.
    /// - Returns: how many canonical records were deleted (raw records are not counted).
    /// - Throws: `StorageError` (`.invalidArgument` when from is after to, `.degraded`,
    ///   `.closed`, `.io`, `.dataLoss` for damaged records).
    @discardableResult
    public func deleteRecords(vehicle: VehicleID, from: Int64, to: Int64) throws -> UInt64 {
        try deleteRecords(vehicle: vehicle, from: from, to: to, includeRaw: true).records
    }

    /// `deleteRecords(vehicle:from:to:)`, with raw records kept when `includeRaw` is false
    /// (retention keeps raw records by their own age).
    /// - Returns: the canonical records deleted and the partitions they were deleted from.
    func deleteRecords(
        vehicle: VehicleID, from: Int64, to: Int64, includeRaw: Bool
    ) throws(StorageError) -> (records: UInt64, partitions: Set<Int64>) {
        guard from <= to else {
            throw StorageError(code: .invalidArgument, message: "range start \(from) is after its end \(to)")
        }
        guard let last = Self.lastIncluded(before: to), from <= last else { return (0, []) }
        let db = try database()
        return try writer.withLock { (w: inout WriterState) throws(StorageError) -> (records: UInt64, partitions: Set<Int64>) in
            try w.refuseWrites(path: path)
            guard let code = w.dictionaries.vehicleCodes[vehicle] else { return (0, []) }
            let batch = WriteBatch()
            let width = partitionWidthMs
            var deleted: UInt64 = 0
            var partitions = Set<Int64>()
            let old = w.vehicles[code]
            if let old, old.count > 0 {
                let lo = max(from, old.first)
                let hi = min(last, old.last)
                if lo <= hi {
                    deleted = try deleteCanonical(db: db, code: code, vehicle: vehicle, first: lo, last: hi, batch: batch, partitions: &partitions)
                }
            }
            if includeRaw {
                try scanRaw(db: db, code: code, vehicle: vehicle, first: from, last: last) { ts, _ throws(StorageError) in
                    batch.delete(recordKeys.key(.raw, vehicle: code, timestamp: ts))
                    return true
                }
            }
            guard batch.count > 0 else { return (0, []) }
            guard deleted > 0, let old else {
                // Raw records only: the latest state does not change.
                try commit(batch, db: db, durability: configuration.durability, writer: &w)
                return (0, [])
            }

            // What remains: rebuild the latest state from the newest records, and count them
            // rather than subtract: a count that disagrees with the records (damage) must not
            // trap, and is put right here. The deleted range itself is not read.
            var state = VehicleState(code: code, vehicle: vehicle)
            state.derived = old.derived
            var remaining: UInt64 = 0
            var emptied = partitions
            var neededFields = Set(old.newestIDs).union(old.extras.map(\.id))
            func visit(_ ts: Int64, _ entry: CanonicalEntry) throws(StorageError) -> Bool {
                remaining += 1
                emptied.remove(KeyLayout.partition(of: ts, width: width))
                if state.last == .min { state.last = ts }
                state.first = ts
                if !neededFields.isEmpty {
                    let fields: [EncodedField]
                    let value: [UInt8]
                    switch entry {
                    case .record(let bytes):
                        do throws(ByteDecodingError) { fields = try RecordCodec.decode(bytes).fields } catch {
                            throw StorageError(code: .dataLoss, message: "damaged record of vehicle \(vehicle) at \(ts): \(error.reason)")
                        }
                        value = Array(bytes)
                    case .block(let block, let row):
                        let r = try blockRow(block, row, code: code, partition: KeyLayout.partition(of: ts, width: width))
                        fields = r.fields
                        value = r.recordValue
                    }
                    state.merge(timestamp: ts, fields: fields, value: value)
                    for f in fields { neededFields.remove(f.id) }
                }
                return true
            }
            // Newest first: above the range, then below it.
            if last < .max {
                try scanCanonical(db: db, code: code, vehicle: vehicle, first: last + 1, last: .max, order: .descending, keep: nil, visit: visit)
            }
            if from > .min {
                try scanCanonical(db: db, code: code, vehicle: vehicle, first: .min, last: from - 1, order: .descending, keep: nil, visit: visit)
            }
            state.count = remaining
            if remaining > 0 {
                for p in emptied { batch.delete(KeyLayout.partitionIndexKey(vehicle: code, partition: p)) }
                batch.put(KeyLayout.latestKey(vehicle: code), state.encoded())
            } else {
                for p in partitions { batch.delete(KeyLayout.partitionIndexKey(vehicle: code, partition: p)) }
                // The derived state, in its own key, stays (and in memory with the empty state).
                batch.delete(KeyLayout.latestKey(vehicle: code))
            }
            try commit(batch, db: db, durability: configuration.durability, writer: &w)
            w.vehicles[code] = state
            view.withLock { $0.vehicles[code] = state }
            return (deleted, partitions)
        }
    }

    /// Adds to `batch` the deletion of the vehicle's canonical records in [first, last]: their
    /// record keys, and their rows of sealed blocks (a block is rewritten without them, or
    /// deleted when none remain).
    /// - Returns: how many records go (a block row and the key that overrides it count once).
    func deleteCanonical(
        db: LevelDB, code: UInt32, vehicle: VehicleID, first: Int64, last: Int64, batch: WriteBatch,
        partitions touched: inout Set<Int64>
    ) throws(StorageError) -> UInt64 {
        let width = partitionWidthMs
        var deleted: UInt64 = 0
        try db.withIterator { it throws(StorageError) in
            let partitions = try indexedPartitions(
                it, code: code, vehicle: vehicle, from: KeyLayout.partition(of: first, width: width),
                to: KeyLayout.partition(of: last, width: width))
            for p in partitions {
                var gone = Set<Int64>()
                if let block = try sealedBlock(it, partition: p, code: code, vehicle: vehicle, keep: nil) {
                    let d = block.decoded
                    let lower = d.lowerBound(first)
                    let upper = last == .max ? d.count : d.lowerBound(last + 1)
                    if lower < upper {
                        for i in lower..<upper { gone.insert(d.timestamps[i]) }
                        var kept = [BlockRow]()
                        kept.reserveCapacity(d.count - (upper - lower))
                        for i in 0..<d.count where i < lower || i >= upper {
                            kept.append(try blockRow(block, i, code: code, partition: p))
                        }
                        let key = KeyLayout.blockKey(partition: p, vehicle: code)
                        if kept.isEmpty { batch.delete(key) } else { batch.put(key, SealedBlockCodec.encode(kept)) }
                    }
                }
                if let slots = recordKeys.slots(of: p, between: first, and: last) {
                    _ = try visitRecordKeys(
                        it, .canonical, code: code, slots: slots, first: first, last: last, order: .ascending,
                        reading: "canonical records of vehicle \(vehicle) between \(first) and \(last)"
                    ) { ts in
                        batch.delete(it.key)
                        gone.insert(ts)
                        return true
                    }
                }
                try it.checkStatus(reading: "canonical records of vehicle \(vehicle) between \(first) and \(last)")
                if !gone.isEmpty { touched.insert(p) }
                deleted += UInt64(gone.count)
            }
        }
        return deleted
    }
}
