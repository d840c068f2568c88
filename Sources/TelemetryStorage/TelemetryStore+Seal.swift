import TelemetryCore
import Synchronization

/// What a seal did.
public struct SealSummary: Sendable, Hashable {
    /// Blocks written (new, or rewritten to take in records that arrived after an earlier seal).
    public var blocks = 0
    /// Individual record keys folded into blocks (and deleted).
    public var records = 0

    public init() {}
}

extension TelemetryStore {
    /// Seals every closed partition: those that end more than the grace period
    /// (`StoreConfiguration.sealGracePartitions`) before the newest timestamp the store has seen.
    ///
    /// Safe to call at any time and any number of times: a partition with nothing unsealed is
    /// left alone. Writes go on meanwhile (the writer lock is taken one block at a time).
    /// - Returns: how many blocks and records were sealed.
    /// - Throws: `StorageError` (`.degraded`, `.closed`, `.io`, `.dataLoss` for a damaged record).
    @discardableResult
    public func sealPartitions() throws -> SealSummary {
        let newest: Int64? = view.withLock { v in
            v.vehicles.values.lazy.filter { $0.count > 0 }.map(\.last).max()
        }
        guard let newest else { return SealSummary() }
        let grace = configuration.sealGracePartitions.multipliedReportingOverflow(by: partitionWidthMs)
        guard !grace.overflow, grace.partialValue >= 0 else { return SealSummary() }
        let cutoff = newest.subtractingReportingOverflow(grace.partialValue)
        guard !cutoff.overflow else { return SealSummary() }
        return try seal(upTo: cutoff.partialValue)
    }

    /// Seals every partition that ends at or before `time` (ms): each vehicle's records in it
    /// are rewritten as one column-encoded block (docs/storage-format.md, "Sealed blocks").
    ///
    /// Each (partition, vehicle) block is written in one atomic batch with the deletion of the
    /// record keys it takes in, so a crash leaves either the keys or the block, never both
    /// half. A partition sealed earlier that has since received late records is sealed again,
    /// its block merged with them (a late record replaces the block's record at its timestamp).
    /// Reads see the same records before and after.
    /// - Parameter time: `Int64.max` seals every partition, the open ones included (the
    ///   benchmark does that when ingest is over); records that arrive in a sealed partition
    ///   later are stored and read correctly, and the next seal folds them in.
    /// - Returns: how many blocks and records were sealed.
    @discardableResult
    public func seal(upTo time: Int64) throws -> SealSummary {
        let db = try database()
        let width = partitionWidthMs
        // Partitions p with (p + 1) * width <= time, i.e. p < partition(of: time).
        let lastSealed = time == .max ? Int64.max : KeyLayout.partition(of: time, width: width) - 1
        var summary = SealSummary()
        var cursor = Keyspace.canonical.lowerBound
        // One (partition, vehicle) at a time under the writer lock: its keys are read and
        // replaced with no write in between, and ingest waits for one block, not a whole seal.
        while let next = try sealNextBlock(db: db, from: cursor, lastPartition: lastSealed, summary: &summary) {
            cursor = next
        }
        return summary
    }

    /// Seals the first (partition, vehicle) with record keys at or after `cursor`, if its
    /// partition is at most `lastPartition`.
    /// - Returns: where the next search starts, or nil when nothing is left to seal.
    private func sealNextBlock(
        db: LevelDB, from cursor: [UInt8], lastPartition: Int64, summary: inout SealSummary
    ) throws(StorageError) -> [UInt8]? {
        try writer.withLock { (w: inout WriterState) throws(StorageError) -> [UInt8]? in
            try w.refuseWrites(path: path)
            let found: (partition: Int64, code: UInt32, slot: Int64, rows: [BlockRow], block: SealedBlock?)? =
                try db.withIterator(fillCache: false) { it throws(StorageError) in
                    it.seek(cursor)
                    guard it.isValid else {
                        try it.checkStatus(reading: "the canonical keyspace")
                        return nil
                    }
                    guard let head = it.withUnsafeKey({ key in
                        key.first == Keyspace.canonical.rawValue ? KeyLayout.parseRecordKey(key) : nil
                    }), case let partition = recordKeys.partition(ofSlot: head.slot), partition <= lastPartition else {
                        // The seek may have stepped over a damaged table block: an error, not the
                        // end of what there is to seal.
                        try it.checkStatus(reading: "the canonical keyspace")
                        return nil
                    }
                    let vehicle = w.dictionaries.vehicles[head.vehicle]
                    let name = vehicle?.rawValue ?? "code \(head.vehicle)"
                    // The vehicle's keys in every slot of the partition.
                    var rows = [BlockRow]()
                    _ = try visitRecordKeys(
                        it, .canonical, code: head.vehicle, slots: recordKeys.slots(of: partition), first: .min, last: .max,
                        order: .ascending, reading: "canonical records of vehicle \(name) in partition \(partition)"
                    ) { ts throws(StorageError) in
                        let decoded: Result<RecordCodec.Decoded, ByteDecodingError> = it.withUnsafeValue { v in
                            Result { () throws(ByteDecodingError) in try RecordCodec.decode(v) }
                        }
                        switch decoded {
                        case .success(let d):
                            rows.append(BlockRow(timestamp: ts, receivedDelta: d.receivedDelta, provenance: d.provenance, fields: d.fields))
                        case .failure(let e):
                            throw StorageError(code: .dataLoss, message: "damaged record of vehicle \(name) at \(ts): \(e.reason)")
                        }
                        return true
                    }
                    try it.checkStatus(reading: "canonical records of vehicle \(name) in partition \(partition)")
                    let block: SealedBlock?
                    if let vehicle {
                        block = try sealedBlock(it, partition: partition, code: head.vehicle, vehicle: vehicle, keep: nil)
                    } else {
                        throw StorageError(code: .dataLoss, message: "canonical records of vehicle code \(head.vehicle) have no dictionary entry")
                    }
                    return (partition, head.vehicle, head.slot, rows, block)
                }
            guard let found else { return nil }

            // Merge with an earlier block: a record key is the later write and wins.
            var merged = found.rows
            if let block = found.block {
                var old = [BlockRow]()
                old.reserveCapacity(block.decoded.count)
                for i in 0..<block.decoded.count { old.append(try blockRow(block, i, code: found.code, partition: found.partition)) }
                merged = Self.merge(block: old, overrides: found.rows)
            }
            let batch = WriteBatch()
            batch.put(KeyLayout.blockKey(partition: found.partition, vehicle: found.code), SealedBlockCodec.encode(merged))
            for row in found.rows { batch.delete(recordKeys.key(.canonical, vehicle: found.code, timestamp: row.timestamp)) }
            try commit(batch, db: db, durability: configuration.durability, writer: &w)
            w.highestSealedPartition = max(w.highestSealedPartition ?? found.partition, found.partition)
            summary.blocks += 1
            summary.records += found.rows.count

            // Past the vehicle's keys in the slot where it was found: vehicles with lower codes
            // in the partition's later slots are found further on (keys sort by slot first).
            var next = KeyLayout.recordKey(.canonical, slot: found.slot, vehicle: found.code, timestamp: .max)
            next.append(0)
            return next
        }
    }

    /// Row `i` of a block, with a damaged provenance id reported as data loss.
    func blockRow(_ block: SealedBlock, _ i: Int, code: UInt32, partition: Int64) throws(StorageError) -> BlockRow {
        do throws(ByteDecodingError) { return try block.decoded.row(i) } catch {
            throw StorageError(code: .dataLoss, message: "damaged sealed block of vehicle code \(code) in partition \(partition): \(error.reason)")
        }
    }

    /// Block rows and later record keys, both sorted by time, as one sorted list; at equal
    /// timestamps the override wins.
    static func merge(block: [BlockRow], overrides: [BlockRow]) -> [BlockRow] {
        var out = [BlockRow]()
        out.reserveCapacity(block.count + overrides.count)
        var i = 0
        var j = 0
        while i < block.count || j < overrides.count {
            if j == overrides.count || (i < block.count && block[i].timestamp < overrides[j].timestamp) {
                out.append(block[i])
                i += 1
            } else {
                if i < block.count, block[i].timestamp == overrides[j].timestamp { i += 1 }
                out.append(overrides[j])
                j += 1
            }
        }
        return out
    }
}
