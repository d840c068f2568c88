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
        // Encoding happens here, outside the writer lock, with the codes already published:
        // concurrent writers encode in parallel and only queue for the LevelDB write. Records
        // that need a new code are encoded under the lock.
        let published = view.withLock { $0.dictionaries }
        var readOnly = PublishedCodes(dictionaries: published)
        var prepareLayout = FieldLayoutCache()
        var prepared = [PreparedRecord?]()
        prepared.reserveCapacity(change.records.count)
        for record in change.records {
            prepared.append(try Self.prepare(record, codes: &readOnly, layout: &prepareLayout, keys: recordKeys))
        }
        return try writer.withLock { (w: inout WriterState) throws(StorageError) -> WriteSummary in
            try w.refuseWrites(path: path)
            let batch = WriteBatch()
            var summary = WriteSummary()
            summary.durability = durability
            var assigning = AssigningCodes(dictionaries: w.dictionaries, batch: batch)
            // Vehicle states are changed in place in the writer's table. The first change of a
            // vehicle in this write saves its state here, so that a write that fails half-way
            // leaves the writer as it found it.
            w.generation &+= 1
            let generation = w.generation
            var undo: [(code: UInt32, state: VehicleState?)] = []
            var touched: [UInt32] = []
            var deadLetterSequence = w.deadLetterSequence
            do throws(StorageError) {
                try apply(
                    change, prepared: &prepared, db: db, width: width, generation: generation,
                    highestSealed: w.highestSealedPartition, batch: batch, assigning: &assigning, vehicles: &w.vehicles,
                    undo: &undo, touched: &touched, summary: &summary)
                deadLetterSequence = try Self.addDeadLetters(
                    change.deadLetters, after: w.deadLetterSequence, db: db, batch: batch, summary: &summary)
            } catch {
                for saved in undo.reversed() { w.vehicles[saved.code] = saved.state }
                throw error
            }
            var gateways = w.gatewaySequences
            for (gateway, sequence) in change.gatewaySequences where sequence > (gateways[gateway] ?? 0) || gateways[gateway] == nil {
                gateways[gateway] = sequence
                var v = [UInt8]()
                v.appendBigEndian(sequence)
                batch.put(KeyLayout.metadataKey(KeyLayout.Meta.gatewayPrefix, Array(gateway.utf8)), v)
            }

            // Nothing to put (an all-duplicate retry): no LevelDB write, and no fsync under
            // `.sync`. Only `writeGeneration` marks changed, which means nothing.
            guard batch.count > 0 else { return summary }

            // New dictionary entries reach readers before the batch that first uses them: a
            // reader takes the view after its iterator exists (`forEachRecord`), so every record
            // it can see then has its names in the view. Published after the commit, a record
            // committed in between would name a field the reader's copy lacks, and a consistent
            // store would report data loss. Entries of a batch that then fails stay visible to
            // readers but name nothing on disk; writers that encoded with them (`prepare`, outside
            // the lock) find the store degraded and write nothing.
            if assigning.dictionaries.hasCodes(beyond: w.dictionaries) {
                let early = assigning.dictionaries
                view.withLock { $0.dictionaries = early }
            }
            do throws(StorageError) {
                try commit(batch, db: db, durability: durability, writer: &w)
            } catch {
                for saved in undo.reversed() { w.vehicles[saved.code] = saved.state }
                throw error
            }

            // Durable: now the writer's and the readers' state move forward.
            w.dictionaries = assigning.dictionaries
            w.deadLetterSequence = deadLetterSequence
            w.gatewaySequences = gateways
            let published = w.dictionaries
            let vehicles = w.vehicles
            view.withLock { v in
                v.dictionaries = published
                v.gatewaySequences = gateways
                for code in touched { v.vehicles[code] = vehicles[code] }
            }
            return summary
        }
    }

    /// Adds the dead letters to `batch`, numbered on from `sequence`, with the new highest
    /// sequence in the same batch: ids are never issued twice, whatever the received times and
    /// whatever has been purged (docs/storage-format.md, section 11).
    ///
    /// A letter whose identity (`DeadLetterCodec.identity`) is already kept, by an earlier
    /// write or earlier in this one, is counted as dead-lettered but not added again: a
    /// gateway that re-sends a batch whose answer it lost gets the same answer, and the
    /// dead-letter store holds each failing record once.
    /// - Returns: the highest sequence issued.
    /// - Throws: `.dataLoss` when the sequence has run out, which only a damaged metadata entry
    ///   can make happen; it must not trap. `.io` / `.dataLoss` when a digest lookup fails.
    private static func addDeadLetters(
        _ letters: [DeadLetter], after sequence: UInt64, db: LevelDB, batch: WriteBatch, summary: inout WriteSummary
    ) throws(StorageError) -> UInt64 {
        guard !letters.isEmpty else { return sequence }
        var next = sequence
        var added = Set<[UInt8]>()
        for letter in letters {
            let digestKey = KeyLayout.deadLetterDigestKey(letter)
            summary.deadLettered += 1
            if added.contains(digestKey) {
                summary.deadLettersAlreadyKept += 1
                continue
            }
            if try deadLetterIsKept(digestKey: digestKey, db: db) {
                summary.deadLettersAlreadyKept += 1
                continue
            }
            guard next < .max else {
                throw StorageError(
                    code: .dataLoss, message: "the dead-letter sequence has run out (\(next)); its metadata entry is probably damaged")
            }
            next += 1
            batch.put(KeyLayout.deadLetterKey(receivedAt: letter.receivedAt, sequence: next), DeadLetterCodec.encode(letter))
            var id: [UInt8] = []
            id.appendOrderedInt64(letter.receivedAt)
            id.appendBigEndian(next)
            batch.put(digestKey, id)
            added.insert(digestKey)
        }
        if next != sequence {
            batch.put(KeyLayout.metadataKey(KeyLayout.Meta.deadLetterSequence), next.bigEndianBytes)
        }
        return next
    }

    /// Whether the letter a digest entry names is still stored: a digest left behind by a
    /// letter that was purged, replayed or expired names nothing, and the record is kept again.
    private static func deadLetterIsKept(digestKey: [UInt8], db: LevelDB) throws(StorageError) -> Bool {
        do throws(LevelDBError) {
            guard let id = try db.get(digestKey), id.count == KeyLayout.deadLetterKeyLength - 1 else { return false }
            return try db.get([Keyspace.deadLetter.rawValue] + id) != nil
        } catch {
            throw readError(error, what: "a dead letter's digest entry")
        }
    }

    /// Adds a write's records, derived states and raw records to `batch`, updating `vehicles`
    /// in place; each vehicle's state before its first change is appended to `undo`, and its
    /// code to `touched` (iterated instead of `undo`, whose elements are costly to copy).
    private func apply(
        _ change: StoreWrite, prepared: inout [PreparedRecord?], db: LevelDB, width: Int64, generation: UInt64,
        highestSealed: Int64?, batch: WriteBatch, assigning: inout AssigningCodes, vehicles: inout VehicleTable,
        undo: inout [(code: UInt32, state: VehicleState?)], touched: inout [UInt32], summary: inout WriteSummary
    ) throws(StorageError) {
        // Values put by this batch, so a second record at the same key in the same batch sees
        // the first. Built only when the batch has a late record: in-order records cannot
        // collide, and the common batch needs no map at all.
        var pending: [PendingKey: [UInt8]]? = nil
        var layout = FieldLayoutCache()
        // Sealed blocks read by this write's late records, decoded once: a retried batch
        // into a sealed partition looks up many records of the same block.
        var blocks: [BlockCacheKey: SealedBlock?] = [:]
        // Per vehicle, fields whose latest value came from a record this write replaced, and
        // that the replacing record lacks: their newest value is looked up once all records are in.
        var orphaned: [UInt32: Set<UInt32>] = [:]
        // The records' puts, by index into `prepared`: added to the batch in key order at the end.
        // The key's parts are copied out so that sorting compares integers and retains nothing.
        var puts: [PutOrder] = []
        puts.reserveCapacity(change.records.count)

        // By index: binding each record copied it (its field array retained and released).
        for index in change.records.indices {
            if prepared[index] == nil {
                // Assigning codes never answers nil (it throws when none is left), so prepare
                // always encodes here.
                prepared[index] = try Self.prepare(change.records[index], codes: &assigning, layout: &layout, keys: recordKeys)
            }
            guard let p = prepared[index] else { continue }
            let code = p.code
            let partition = p.partition
            let timestamp = p.timestamp
            let existed = vehicles.contains(code)
            try vehicles.update(code, initial: VehicleState(code: code, vehicle: change.records[index].vehicle)) { (state) throws(StorageError) in
                if state.writeGeneration != generation {
                    undo.append((code, existed ? state : nil))
                    touched.append(code)
                    state.writeGeneration = generation
                }
                // Only a record at or before the vehicle's newest one can already exist: the
                // common, in-order case needs no read.
                var exists = false
                let isLate = state.count > 0 && timestamp <= state.last
                if isLate {
                    if pending == nil {
                        var map = [PendingKey: [UInt8]]()
                        for earlier in prepared[..<index] {
                            if let earlier { map[PendingKey(vehicle: earlier.code, timestamp: earlier.timestamp)] = earlier.value }
                        }
                        pending = map
                    }
                    let existing: [UInt8]?
                    if let p = pending?[PendingKey(vehicle: code, timestamp: timestamp)] {
                        existing = p
                    } else {
                        existing = try storedRecord(
                            db: db, key: recordKeys.key(.canonical, vehicle: code, timestamp: timestamp), partition: partition,
                            code: code, vehicle: change.records[index].vehicle,
                            timestamp: timestamp, sealed: highestSealed.map { partition <= $0 } ?? false,
                            blocks: &blocks)
                    }
                    if let existing {
                        if RecordCodec.sameContent(existing, p.value) {
                            summary.duplicates += 1
                            return
                        }
                        exists = true
                        summary.replaced += 1
                    }
                    if timestamp < state.last { summary.late += 1 }
                    // Neither the count nor a replaced newest record can be replayed from the
                    // records after the checkpoint: persist the state with this write.
                    state.mustPersist = true
                }
                if state.count == 0 {
                    state.mustPersist = true
                }
                if state.count == 0 || KeyLayout.partition(of: state.last, width: width) != partition || isLate {
                    batch.put(KeyLayout.partitionIndexKey(vehicle: code, partition: partition), [])
                }
                puts.append((recordKeys.slot(of: timestamp), code, timestamp, index))
                pending?[PendingKey(vehicle: code, timestamp: timestamp)] = p.value
                summary.written += 1
                if !exists { state.count += 1 }
                state.first = min(state.first, timestamp)
                // The common record (in order, same fields as the newest) needs only its ids; any
                // other reads its values back from the bytes just encoded.
                var lost: [UInt32] = []
                if !state.mergeSameLayout(timestamp: timestamp, ids: p.ids, value: p.value) {
                    let fields: [EncodedField]
                    do throws(ByteDecodingError) {
                        fields = try p.value.withUnsafeBufferPointer { (b) throws(ByteDecodingError) in try RecordCodec.decode(b) }.fields
                    } catch {
                        throw StorageError(
                            code: .dataLoss,
                            message: "record of vehicle \(change.records[index].vehicle) at \(timestamp) does not decode after encoding (a bug): \(error.reason)")
                    }
                    lost = state.merge(timestamp: timestamp, fields: fields, value: p.value, replacing: exists)
                }
                if !lost.isEmpty { orphaned[code, default: []].formUnion(lost) }
                if !state.mustPersist { state.unpersisted += 1 }
            }
        }
        // Key order (slot, vehicle, time; then batch order, so that of two records at one
        // key the later still wins): LevelDB inserts each entry into its memtable by a search
        // from the top of a skip list, and an insert next to the previous one finds its path
        // in the cache. In arrival order a batch jumps between a thousand vehicles' regions and
        // nearly every step of every search is a cache miss.
        puts.sort(by: Self.inKeyOrder)
        for put in puts {
            guard let value = prepared[put.index]?.value else { continue }
            KeyLayout.putRecordKey(.canonical, slot: put.slot, vehicle: put.code, timestamp: put.timestamp, value: value, into: batch)
        }
        for (code, fields) in orphaned {
            // A replacement implies a late record, so `pending` holds every record of this batch.
            try adoptNewestValues(
                of: fields, code: code, db: db, width: width, batchValues: pending ?? [:], vehicles: &vehicles)
        }

        for (vehicle, derived) in change.derivedStates {
            guard let code = try assigning.vehicleCode(vehicle) else { continue }
            // The same bytes again (a retried batch) change nothing: writing the state for them
            // would cost a LevelDB write, and an fsync under `.sync`.
            if let existing = vehicles[code], existing.derived == derived { continue }
            // Writers that map concurrently may commit out of order: a state older than the
            // stored one (a lower generation) must not replace it.
            if let existing = vehicles[code], let stored = Self.derivedGeneration(existing.derived),
                let incoming = Self.derivedGeneration(derived), incoming < stored
            {
                continue
            }
            let existed = vehicles.contains(code)
            vehicles.update(code, initial: VehicleState(code: code, vehicle: vehicle)) { state in
                if state.writeGeneration != generation {
                    undo.append((code, existed ? state : nil))
                    touched.append(code)
                    state.writeGeneration = generation
                }
                state.derived = derived
            }
            // Its own key: the latest state keeps its checkpoint cadence.
            batch.put(KeyLayout.derivedKey(vehicle: code), derived)
        }
        // The latest keyspace is a checkpoint: written when a change cannot be replayed, and
        // every `checkpointInterval` in-order records, not on every write. Opening the store
        // replays the records after each checkpoint (`recoverLatestStates`). In arrival-order
        // ingest this halves what LevelDB inserts per record.
        for code in touched {
            vehicles.updateExisting(code) { state in
                guard state.mustPersist || state.unpersisted >= Self.checkpointInterval else { return }
                state.mustPersist = false
                state.unpersisted = 0
                batch.put(KeyLayout.latestKey(vehicle: code), state.encoded())
            }
        }
        // Raw records too go in in key order (see `puts`).
        var rawPuts: [PutOrder] = []
        rawPuts.reserveCapacity(change.raw.count)
        // By index: binding each raw record would copy it (five references retained and released).
        for index in change.raw.indices {
            let code = try assigning.dictionaries.vehicleCode(change.raw[index].record.vehicle, batch: batch)
            let ts = change.raw[index].record.timestamp
            rawPuts.append((recordKeys.slot(of: ts), code, ts, index))
        }
        rawPuts.sort(by: Self.inKeyOrder)
        var rawLayout = FieldLayoutCache()
        for put in rawPuts {
            let value = try RawRecordCodec.encode(
                change.raw[put.index], dictionaries: &assigning.dictionaries, layout: &rawLayout, batch: batch)
            KeyLayout.putRecordKey(.raw, slot: put.slot, vehicle: put.code, timestamp: put.timestamp, value: value, into: batch)
        }
    }

    /// A record put's place in a batch: its key's parts, and its index in the write.
    typealias PutOrder = (slot: Int64, code: UInt32, timestamp: Int64, index: Int)

    /// Key order (slot, vehicle, time), then write order: of two records at one key, the
    /// later is put later and wins.
    private static func inKeyOrder(_ a: PutOrder, _ b: PutOrder) -> Bool {
        if a.slot != b.slot { return a.slot < b.slot }
        if a.code != b.code { return a.code < b.code }
        if a.timestamp != b.timestamp { return a.timestamp < b.timestamp }
        return a.index < b.index
    }

    /// Gives the latest state of vehicle `code` the newest remaining value of each of `fields`:
    /// fields whose value came from a record this write replaced, and which the replacing record
    /// lacks (`VehicleState.merge`). The replaced record no longer exists, so its values must
    /// not live on in the latest state.
    ///
    /// Reads the vehicle's records newest first, this write's own values (`batchValues`, not yet
    /// in LevelDB) taking the place of the stored ones at their timestamps, until every field is
    /// found or the records run out. A field no remaining record has is left out. Called with
    /// the writer lock held.
    private func adoptNewestValues(
        of fields: Set<UInt32>, code: UInt32, db: LevelDB, width: Int64, batchValues: [PendingKey: [UInt8]],
        vehicles: inout VehicleTable
    ) throws(StorageError) {
        guard let state = vehicles[code], state.count > 0 else { return }
        // Fields the newest record has are already right.
        var wanted = fields.filter { state.newestIDs.binarySearch($0) == nil }
        guard !wanted.isEmpty else { return }
        let vehicle = state.vehicle
        // This write's records of the vehicle, newest first.
        let overlay = batchValues.filter { $0.key.vehicle == code }.map { (ts: $0.key.timestamp, value: $0.value) }
            .sorted { $0.ts > $1.ts }
        var next = 0
        var found: [LatestEntry] = []
        func take(_ ts: Int64, _ recordFields: [EncodedField]) {
            for f in recordFields where wanted.remove(f.id) != nil {
                found.append(LatestEntry(id: f.id, timestamp: ts, value: f.value))
            }
        }
        func takeOverlay(_ ts: Int64, _ value: [UInt8]) throws(StorageError) {
            do throws(ByteDecodingError) {
                take(ts, try value.withUnsafeBufferPointer { (v) throws(ByteDecodingError) in try RecordCodec.decode(v) }.fields)
            } catch {
                // Our own encoding of this write: failing to read it back is a bug, but not a trap.
                throw StorageError(code: .dataLoss, message: "record of vehicle \(vehicle) at \(ts) does not decode: \(error.reason)")
            }
        }
        try scanCanonical(
            db: db, code: code, vehicle: vehicle, first: state.first, last: state.last, order: .descending, keep: wanted
        ) { ts, entry throws(StorageError) in
            while next < overlay.count, overlay[next].ts > ts, !wanted.isEmpty {
                try takeOverlay(overlay[next].ts, overlay[next].value)
                next += 1
            }
            guard !wanted.isEmpty else { return false }
            if next < overlay.count, overlay[next].ts == ts {
                // This write's value replaces the stored one.
                try takeOverlay(ts, overlay[next].value)
                next += 1
            } else {
                switch entry {
                case .record(let bytes):
                    do throws(ByteDecodingError) { take(ts, try RecordCodec.decode(bytes).fields) } catch {
                        throw StorageError(code: .dataLoss, message: "damaged record of vehicle \(vehicle) at \(ts): \(error.reason)")
                    }
                case .block(let block, let row):
                    take(ts, try blockRow(block, row, code: code, partition: KeyLayout.partition(of: ts, width: width)).fields)
                }
            }
            return !wanted.isEmpty
        }
        while next < overlay.count, !wanted.isEmpty {
            try takeOverlay(overlay[next].ts, overlay[next].value)
            next += 1
        }
        guard !found.isEmpty else { return }
        vehicles.updateExisting(code) { state in
            for entry in found where state.newestIDs.binarySearch(entry.id) == nil {
                state.upsertExtra(entry, force: false)
            }
        }
    }

    /// Encodes one record's key and value; nil when `codes` lacks a code it needs.
    static func prepare<Codes: CodeSource>(
        _ record: TelemetryRecord, codes: inout Codes, layout: inout FieldLayoutCache, keys: RecordKeys
    ) throws(StorageError) -> PreparedRecord? {
        guard let code = try codes.vehicleCode(record.vehicle) else { return nil }
        // The previous record's layout, already checked for duplicates, is reused as it is: its
        // fields are taken in id order with no sort, and no per-record field array is built.
        if !layout.matches(record.fields) {
            var fields = [EncodedField]()
            fields.reserveCapacity(record.fields.count)
            for f in record.fields {
                guard let id = try codes.fieldID(f.name) else { return nil }
                fields.append(EncodedField(id: id, value: f.value))
            }
            let ids = fields.map(\.id)
            fields.sort { $0.id < $1.id }
            if Self.firstDuplicateField(fields) != nil {
                let counts = Dictionary(record.fields.map { ($0.name, 1) }, uniquingKeysWith: +)
                let name = counts.first { $0.value > 1 }?.key ?? "?"
                throw StorageError(
                    code: .invalidArgument,
                    message: "record of vehicle \(record.vehicle) at \(record.timestamp) has field \"\(name)\" twice")
            }
            // Remembered only once known to be free of duplicates, so a match needs no check.
            layout.remember(record.fields, ids: ids)
        }
        // A batch comes from one provider and mapping version: compare with the previous
        // record's instead of hashing both strings again.
        let provenance: UInt32
        if let cached = layout.provenance, cached.key.provider == record.provenance.provider,
            cached.key.mappingVersion == record.provenance.mappingVersion
        {
            provenance = cached.id
        } else {
            let key = ProvenanceKey(provider: record.provenance.provider, mappingVersion: record.provenance.mappingVersion)
            guard let id = try codes.provenanceID(key) else { return nil }
            layout.provenance = (key, id)
            provenance = id
        }
        let n = layout.sortedIDs.count
        if layout.exponentHints.count != n { layout.exponentHints = Array(repeating: 0, count: n) }
        let value = RecordCodec.encode(
            receivedDelta: record.provenance.receivedAt &- record.timestamp, provenance: provenance, ids: layout.sortedIDs,
            fields: record.fields, order: layout.sortedOrder, exponentHints: &layout.exponentHints)
        let partition = keys.partition(of: record.timestamp)
        return PreparedRecord(code: code, timestamp: record.timestamp, ids: layout.sortedIDs, value: value, partition: partition)
    }

    /// The stored value of the record at (`code`, `timestamp`): its own key if it has one (it
    /// then overrides any block entry), else its row in the partition's sealed block,
    /// re-encoded as a record value. Called with the writer lock held, so nothing moves
    /// between the two reads.
    /// - Parameter sealed: whether the partition may have a block (it is not newer than every
    ///   partition sealed so far); when false, the block is not looked for.
    func storedRecord(
        db: LevelDB, key: [UInt8], partition: Int64, code: UInt32, vehicle: VehicleID, timestamp: Int64, sealed: Bool,
        blocks: inout [BlockCacheKey: SealedBlock?]
    ) throws(StorageError) -> [UInt8]? {
        do throws(LevelDBError) {
            if let value = try db.get(key) { return value }
        } catch {
            throw Self.readError(error, what: "vehicle \(vehicle) at \(timestamp)")
        }
        guard sealed else { return nil }
        let cacheKey = BlockCacheKey(partition: partition, code: code)
        let block: SealedBlock?
        if let cached = blocks[cacheKey] {
            block = cached
        } else {
            let bytes: [UInt8]?
            do throws(LevelDBError) { bytes = try db.get(KeyLayout.blockKey(partition: partition, vehicle: code)) } catch {
                throw Self.readError(error, what: "the sealed block of vehicle \(vehicle) in partition \(partition)")
            }
            if let bytes {
                let decoded: Result<SealedBlockCodec.Decoded, ByteDecodingError> = bytes.withUnsafeBufferPointer { v in
                    Result { () throws(ByteDecodingError) in try SealedBlockCodec.decode(v) }
                }
                switch decoded {
                case .success(let d): block = SealedBlock(d)
                case .failure(let e):
                    throw StorageError(
                        code: .dataLoss,
                        message: "damaged sealed block of vehicle \(vehicle) in partition \(partition) \(describePartition(partition)): \(e.reason)")
                }
            } else {
                block = nil
            }
            blocks[cacheKey] = .some(block)
        }
        guard let block, let row = block.decoded.index(of: timestamp) else { return nil }
        return try blockRow(block, row, code: code, partition: partition).recordValue
    }

    static func firstDuplicateField(_ sorted: [EncodedField]) -> UInt32? {
        guard sorted.count > 1 else { return nil }
        for i in 1..<sorted.count where sorted[i].id == sorted[i - 1].id { return sorted[i].id }
        return nil
    }
}

/// The field names of the previous record and their ids: records of one source share their
/// layout, and comparing names to the previous record's is cheaper than hashing each one.
struct FieldLayoutCache {
    private(set) var names: [String] = []
    private(set) var ids: [UInt32] = []
    /// Decimal exponent of each field's previous value, by position in the sorted fields.
    var exponentHints: [Int] = []
    /// The previous record's provenance and its id.
    var provenance: (key: ProvenanceKey, id: UInt32)? = nil

    func matches(_ fields: [Field]) -> Bool {
        guard fields.count == names.count, !names.isEmpty else { return false }
        for i in 0..<fields.count where fields[i].name != names[i] { return false }
        return true
    }

    /// Positions of `ids` in ascending id order: the order a record value lists its fields.
    private(set) var sortedOrder: [Int] = []
    /// `ids` in ascending order: every record of this layout shares this one array.
    private(set) var sortedIDs: [UInt32] = []

    mutating func remember(_ fields: [Field], ids: [UInt32]) {
        names = fields.map(\.name)
        self.ids = ids
        sortedOrder = ids.indices.sorted { ids[$0] < ids[$1] }
        sortedIDs = sortedOrder.map { ids[$0] }
        exponentHints = []
    }
}

/// A record encoded for the canonical keyspace.
struct PreparedRecord {
    var code: UInt32
    var timestamp: Int64
    /// The field ids, sorted: the layout's shared array.
    var ids: [UInt32]
    var value: [UInt8]
    var partition: Int64
}

/// Where `prepare` gets its codes.
protocol CodeSource {
    mutating func vehicleCode(_ vehicle: VehicleID) throws(StorageError) -> UInt32?
    mutating func fieldID(_ name: String) throws(StorageError) -> UInt32?
    mutating func provenanceID(_ key: ProvenanceKey) throws(StorageError) -> UInt32?
}

/// Codes already published to readers: never assigns, answers nil for a new name.
struct PublishedCodes: CodeSource {
    let dictionaries: Dictionaries
    func vehicleCode(_ vehicle: VehicleID) -> UInt32? { dictionaries.vehicleCodes[vehicle] }
    func fieldID(_ name: String) -> UInt32? { dictionaries.fieldIDs[name] }
    func provenanceID(_ key: ProvenanceKey) -> UInt32? { dictionaries.provenanceIDs[key] }
}

/// The writer's codes: assigns new ones, persisting them in the write's batch.
struct AssigningCodes: CodeSource {
    var dictionaries: Dictionaries
    let batch: WriteBatch
    mutating func vehicleCode(_ vehicle: VehicleID) throws(StorageError) -> UInt32? {
        try dictionaries.vehicleCode(vehicle, batch: batch)
    }
    mutating func fieldID(_ name: String) throws(StorageError) -> UInt32? { try dictionaries.fieldID(name, batch: batch) }
    mutating func provenanceID(_ key: ProvenanceKey) throws(StorageError) -> UInt32? {
        try dictionaries.provenanceID(key, batch: batch)
    }
}

struct BlockCacheKey: Hashable {
    var partition: Int64
    var code: UInt32
}

struct PendingKey: Hashable {
    var vehicle: UInt32
    var timestamp: Int64
}
