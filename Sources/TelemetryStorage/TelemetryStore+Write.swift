public import TelemetryCore
import Synchronization

extension TelemetryStore {
    /// Writes canonical records in one atomic batch with the default durability.
    /// - Returns: what was written, what was a duplicate.
    /// - Throws: `StorageError` (`.degraded` after an earlier failed write, `.io` when this one fails).
    @discardableResult
    public func write(_ records: [TelemetryRecord]) throws -> WriteSummary {
        try write(StoreWrite(records: records))
    }

    /// Applies everything in `change` as one LevelDB write: all of it or nothing.
    ///
    /// Latest state, vehicle dictionary and gateway resume points go in the same batch as
    /// the records. A record at a (vehicle, timestamp) already stored replaces it; when its
    /// content is identical it is skipped and counted as a duplicate. A record older than
    /// its vehicle's newest one updates only the fields it is newest for.
    ///
    /// After a failed write the store refuses every later write (`.degraded`) until it is
    /// reopened: LevelDB must not be written again after an error, and nothing written after
    /// a failure may be acknowledged.
    /// - Parameter durability: overrides the store's default for this write.
    public func write(_ change: StoreWrite, durability: Durability? = nil) throws -> WriteSummary {
        let db = try database()
        let durability = durability ?? configuration.durability
        let width = partitionWidthMs
        return try writer.withLock { (w: inout WriterState) throws(StorageError) -> WriteSummary in
            if w.closed { throw StorageError(code: .closed, message: "the store at \(path) is closed") }
            if let failure = w.failure {
                throw StorageError(
                    code: .degraded,
                    message: "the store refuses writes since an earlier write failed (\(failure.message)); reopen it")
            }
            let batch = WriteBatch()
            var summary = WriteSummary()
            summary.durability = durability
            var dictionaries = w.dictionaries
            var touched: [UInt32: VehicleState] = [:]
            // Values put by this batch, so a second record at the same key in the same batch sees the first.
            var pending: [PendingKey: [UInt8]] = [:]
            pending.reserveCapacity(change.records.count)
            var fields = [EncodedField]()

            for record in change.records {
                let code = dictionaries.vehicleCode(record.vehicle, batch: batch)
                var state = touched[code] ?? w.vehicles[code] ?? VehicleState(code: code, vehicle: record.vehicle)
                fields.removeAll(keepingCapacity: true)
                for f in record.fields {
                    fields.append(EncodedField(id: dictionaries.fieldID(f.name, batch: batch), value: f.value))
                }
                fields.sort { $0.id < $1.id }
                if let dup = Self.firstDuplicateField(fields) {
                    throw StorageError(
                        code: .invalidArgument,
                        message: "record of vehicle \(record.vehicle) at \(record.timestamp) has field \"\(dictionaries.fieldNames[dup] ?? "?")\" twice")
                }
                let provenance = dictionaries.provenanceID(
                    ProvenanceKey(provider: record.provenance.provider, mappingVersion: record.provenance.mappingVersion),
                    batch: batch)
                let value = RecordCodec.encode(
                    receivedDelta: record.provenance.receivedAt &- record.timestamp, provenance: provenance, fields: fields)
                let partition = KeyLayout.partition(of: record.timestamp, width: width)
                let key = KeyLayout.recordKey(.canonical, partition: partition, vehicle: code, timestamp: record.timestamp)
                let pendingKey = PendingKey(vehicle: code, timestamp: record.timestamp)

                // Only a record at or before the vehicle's newest one can already exist: the
                // common, in-order case needs no read.
                var exists = false
                let isLate = state.count > 0 && record.timestamp <= state.last
                if isLate {
                    let existing: [UInt8]?
                    if let p = pending[pendingKey] {
                        existing = p
                    } else {
                        do throws(LevelDBError) { existing = try db.get(key) } catch {
                            throw Self.readError(error, what: "vehicle \(record.vehicle) at \(record.timestamp)")
                        }
                    }
                    if let existing {
                        if RecordCodec.sameContent(existing, value) {
                            summary.duplicates += 1
                            continue
                        }
                        exists = true
                        summary.replaced += 1
                    }
                    if record.timestamp < state.last { summary.late += 1 }
                }
                if state.count == 0 || KeyLayout.partition(of: state.last, width: width) != partition || isLate {
                    batch.put(KeyLayout.partitionIndexKey(vehicle: code, partition: partition), [])
                }
                batch.put(key, value)
                pending[pendingKey] = value
                summary.written += 1
                if !exists { state.count += 1 }
                state.first = min(state.first, record.timestamp)
                state.last = max(state.last, record.timestamp)
                state.merge(timestamp: record.timestamp, fields: fields)
                touched[code] = state
            }

            for (vehicle, derived) in change.derivedStates {
                let code = dictionaries.vehicleCode(vehicle, batch: batch)
                var state = touched[code] ?? w.vehicles[code] ?? VehicleState(code: code, vehicle: vehicle)
                state.derived = derived
                touched[code] = state
            }
            for state in touched.values {
                batch.put(KeyLayout.latestKey(vehicle: state.code), state.encoded())
            }
            for raw in change.raw {
                let code = dictionaries.vehicleCode(raw.record.vehicle, batch: batch)
                let partition = KeyLayout.partition(of: raw.record.timestamp, width: width)
                batch.put(
                    KeyLayout.recordKey(.raw, partition: partition, vehicle: code, timestamp: raw.record.timestamp),
                    RawRecordCodec.encode(raw, dictionaries: &dictionaries, batch: batch))
            }
            var deadLetterSequence = w.deadLetterSequence
            for letter in change.deadLetters {
                deadLetterSequence += 1
                batch.put(
                    KeyLayout.deadLetterKey(receivedAt: letter.receivedAt, sequence: deadLetterSequence),
                    DeadLetterCodec.encode(letter))
                summary.deadLettered += 1
            }
            var gateways = w.gatewaySequences
            for (gateway, sequence) in change.gatewaySequences where sequence > (gateways[gateway] ?? 0) || gateways[gateway] == nil {
                gateways[gateway] = sequence
                var v = [UInt8]()
                v.appendBigEndian(sequence)
                batch.put(KeyLayout.metadataKey(KeyLayout.Meta.gatewayPrefix, Array(gateway.utf8)), v)
            }

            guard batch.count > 0 else { return summary }
            try commit(batch, db: db, durability: durability, writer: &w)

            // Durable: now the writer's and the readers' state move forward.
            w.dictionaries = dictionaries
            w.deadLetterSequence = deadLetterSequence
            w.gatewaySequences = gateways
            for (code, state) in touched { w.vehicles[code] = state }
            let published = w.dictionaries
            view.withLock { v in
                v.dictionaries = published
                v.gatewaySequences = gateways
                for (code, state) in touched { v.vehicles[code] = state }
            }
            return summary
        }
    }

    static func firstDuplicateField(_ sorted: [EncodedField]) -> UInt32? {
        guard sorted.count > 1 else { return nil }
        for i in 1..<sorted.count where sorted[i].id == sorted[i - 1].id { return sorted[i].id }
        return nil
    }
}

struct PendingKey: Hashable {
    var vehicle: UInt32
    var timestamp: Int64
}
