public import TelemetryCore
import Synchronization

extension TelemetryStore {
    /// Deletes a vehicle's canonical and raw records in [from, to), in one atomic batch, and
    /// brings its count, time span, partition index and latest state in line with what remains.
    /// - Returns: how many canonical records were deleted.
    @discardableResult
    public func deleteRecords(vehicle: VehicleID, from: Int64, to: Int64) throws -> UInt64 {
        guard from <= to else {
            throw StorageError(code: .invalidArgument, message: "range start \(from) is after its end \(to)")
        }
        guard from < to else { return 0 }
        let db = try database()
        return try writer.withLock { (w: inout WriterState) throws(StorageError) -> UInt64 in
            if w.closed { throw StorageError(code: .closed, message: "the store at \(path) is closed") }
            if let failure = w.failure {
                throw StorageError(code: .degraded, message: "the store refuses writes since an earlier write failed (\(failure.message)); reopen it")
            }
            guard let code = w.dictionaries.vehicleCodes[vehicle], let old = w.vehicles[code], old.count > 0 else { return 0 }
            let batch = WriteBatch()
            let width = partitionWidthMs
            var deleted: UInt64 = 0
            var partitions = Set<Int64>()
            let lo = max(from, old.first)
            let hi = min(Self.lastIncluded(before: to), old.last)
            if lo <= hi {
                try scan(db: db, keyspace: .canonical, code: code, vehicle: vehicle, first: lo, last: hi, order: .ascending) { ts, _ throws(StorageError) in
                    batch.delete(KeyLayout.recordKey(.canonical, partition: KeyLayout.partition(of: ts, width: width), vehicle: code, timestamp: ts))
                    partitions.insert(KeyLayout.partition(of: ts, width: width))
                    deleted += 1
                    return true
                }
            }
            try scan(db: db, keyspace: .raw, code: code, vehicle: vehicle, first: from, last: Self.lastIncluded(before: to), order: .ascending) { ts, _ throws(StorageError) in
                batch.delete(KeyLayout.recordKey(.raw, partition: KeyLayout.partition(of: ts, width: width), vehicle: code, timestamp: ts))
                return true
            }
            guard batch.count > 0 else { return 0 }

            // What remains: recount the span and rebuild the latest state from the newest records,
            // skipping the ones this batch deletes.
            var state = VehicleState(code: code, vehicle: vehicle)
            state.derived = old.derived
            state.count = old.count - deleted
            if state.count > 0 {
                var emptied = partitions
                var neededFields = Set(old.latest.map(\.id))
                try scan(db: db, keyspace: .canonical, code: code, vehicle: vehicle, first: .min, last: .max, order: .descending) { ts, value throws(StorageError) in
                    if ts >= from && ts <= Self.lastIncluded(before: to) { return true }
                    emptied.remove(KeyLayout.partition(of: ts, width: width))
                    if state.last == .min { state.last = ts }
                    state.first = ts
                    if !neededFields.isEmpty {
                        let decoded: RecordCodec.Decoded
                        do throws(ByteDecodingError) { decoded = try RecordCodec.decode(value) } catch {
                            throw StorageError(code: .dataLoss, message: "damaged record of vehicle \(vehicle) at \(ts): \(error.reason)")
                        }
                        state.merge(timestamp: ts, fields: decoded.fields)
                        for f in decoded.fields { neededFields.remove(f.id) }
                    }
                    return true
                }
                for p in emptied { batch.delete(KeyLayout.partitionIndexKey(vehicle: code, partition: p)) }
                batch.put(KeyLayout.latestKey(vehicle: code), state.encoded())
            } else {
                for p in partitions { batch.delete(KeyLayout.partitionIndexKey(vehicle: code, partition: p)) }
                if state.derived.isEmpty {
                    batch.delete(KeyLayout.latestKey(vehicle: code))
                } else {
                    batch.put(KeyLayout.latestKey(vehicle: code), state.encoded())
                }
            }
            try commit(batch, db: db, durability: configuration.durability, writer: &w)
            w.vehicles[code] = state
            view.withLock { $0.vehicles[code] = state }
            return deleted
        }
    }
}
