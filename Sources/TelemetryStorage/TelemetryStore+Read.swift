public import TelemetryCore
import Synchronization

extension TelemetryStore {
    // MARK: - Range queries

    /// One page of a vehicle's canonical records in [from, to).
    /// - Returns: up to `limit` records in the asked order, and a cursor when more remain.
    /// - Throws: `StorageError`: `.invalidArgument` (from after to, bad limit, bad cursor),
    ///   `.dataLoss` naming the damaged key range.
    public func range(_ query: RangeQuery) throws -> RangePage {
        guard let bounds = try pageBounds(query) else { return RangePage(records: [], nextCursor: nil) }
        var records = [TelemetryRecord]()
        var more = false
        let limit = query.limit ?? .max
        try forEachRecord(vehicle: query.vehicle, first: bounds.first, last: bounds.last, fields: query.fields, order: query.order) { record in
            if records.count == limit {
                more = true
                return false
            }
            records.append(record)
            return true
        }
        return RangePage(records: records, nextCursor: more ? Self.nextCursor(after: records.last?.timestamp, query) : nil)
    }

    /// `range` as columns: the same records, built column by column straight from sealed
    /// blocks and record values, never as a `TelemetryRecord` each. Columns come in the
    /// order their fields first appear (a record's fields by dictionary id), which is the
    /// layout `RecordColumns(vehicle:records:)` gives for `range`'s records.
    public func rangeColumns(_ query: RangeQuery) throws -> ColumnarRangePage {
        guard let bounds = try pageBounds(query) else {
            return ColumnarRangePage(columns: RecordColumns(vehicle: query.vehicle), nextCursor: nil)
        }
        var more = false
        let limit = query.limit ?? .max
        var page: ColumnPageBuilder? = nil
        try withCanonicalEntries(vehicle: query.vehicle, first: bounds.first, last: bounds.last, fields: query.fields, order: query.order) {
            lookup, ts, entry throws(StorageError) in
            let p: ColumnPageBuilder
            if let existing = page {
                p = existing
            } else {
                p = ColumnPageBuilder(vehicle: query.vehicle, names: lookup.names, provenances: lookup.provenances)
                page = p
            }
            if p.count == limit {
                more = true
                return false
            }
            switch entry {
            case .record(let value): try p.append(timestamp: ts, value: value, keep: lookup.keepID)
            case .block(let block, let row): try p.append(block: block, row: row, descending: query.order == .descending)
            }
            return true
        }
        guard let page else { return ColumnarRangePage(columns: RecordColumns(vehicle: query.vehicle), nextCursor: nil) }
        try page.flush()
        return ColumnarRangePage(
            columns: page.build(), nextCursor: more ? Self.nextCursor(after: page.lastTimestamp, query) : nil)
    }

    /// A page's inclusive timestamp bounds after its cursor; nil when the page is empty.
    private func pageBounds(_ query: RangeQuery) throws(StorageError) -> (first: Int64, last: Int64)? {
        guard query.from <= query.to else {
            throw StorageError(code: .invalidArgument, message: "range start \(query.from) is after its end \(query.to)")
        }
        if let limit = query.limit, limit <= 0 {
            throw StorageError(code: .invalidArgument, message: "limit must be positive, got \(limit)")
        }
        // Inclusive bounds from here on: `to == Int64.max` means "no upper bound" for the
        // query's own end only, never for a cursor's.
        guard var last = Self.lastIncluded(before: query.to) else { return nil }
        var first = query.from
        if let cursor = query.cursor {
            let bound = try RangeCursor.parse(cursor, vehicle: query.vehicle, order: query.order, from: query.from, to: query.to)
            if query.order == .ascending {
                first = bound
            } else {
                // A descending cursor is the previous page's oldest timestamp, exclusive. Taken as
                // a `to`, Int64.max would mean "no upper bound" again, and a record at Int64.max
                // would start every page, forever.
                guard bound > .min else { return nil }
                last = bound - 1
            }
        }
        return first <= last ? (first, last) : nil
    }

    /// The cursor of the page after one that ended with a record at `timestamp`.
    private static func nextCursor(after timestamp: Int64?, _ query: RangeQuery) -> String? {
        // Ascending: a later record exists, so this one is below Int64.max.
        timestamp.map { RangeCursor.make(vehicle: query.vehicle, order: query.order, bound: query.order == .ascending ? $0 + 1 : $0) }
    }

    /// Streams a vehicle's canonical records in [from, to) to `body`, which returns false to
    /// stop; `to == Int64.max` means "no upper bound", so a record at Int64.max is reachable.
    /// - Parameter fields: names to decode; nil decodes all.
    public func forEachRecord(
        vehicle: VehicleID, from: Int64, to: Int64, fields: [String]? = nil, order: TimeOrder = .ascending,
        _ body: (TelemetryRecord) throws -> Bool
    ) throws {
        guard let last = Self.lastIncluded(before: to), from <= last else { return }
        try forEachRecord(vehicle: vehicle, first: from, last: last, fields: fields, order: order, body)
    }

    /// `forEachRecord` over timestamps in [first, last], both inclusive.
    func forEachRecord(
        vehicle: VehicleID, first: Int64, last: Int64, fields: [String]?, order: TimeOrder,
        _ body: (TelemetryRecord) throws -> Bool
    ) throws {
        var userError: (any Error)? = nil
        var builder: RecordBuilder? = nil
        try withCanonicalEntries(vehicle: vehicle, first: first, last: last, fields: fields, order: order) {
            lookup, ts, entry throws(StorageError) in
            // Moved out and back (see `rangeColumns`): `builder!.record` copied it per row.
            var b = builder.take() ?? RecordBuilder(vehicle: vehicle, names: lookup.names, provenances: lookup.provenances)
            let record: TelemetryRecord
            switch entry {
            case .record(let value):
                let decoded = try RecordCodec.decodeStored(value, keep: lookup.keepID, vehicle: vehicle, timestamp: ts)
                record = try b.record(timestamp: ts, decoded: decoded)
            case .block(let block, let row):
                record = try b.record(block: block, row: row)
            }
            // After a throw the builder is dropped, so it goes back only here.
            builder = b
            do { return try body(record) } catch {
                userError = error
                return false
            }
        }
        if let userError { throw userError }
    }

    /// What a scan of one vehicle's canonical entries resolves them with: the dictionaries
    /// as of the scan's snapshot, and the field ids a projection keeps.
    struct ScanLookup {
        var names: [UInt32: String]
        var provenances: [UInt32: ProvenanceKey]
        /// nil keeps every field.
        var keepID: ((UInt32) -> Bool)?
    }

    /// Visits one vehicle's canonical entries (individual record values and sealed block
    /// rows) with timestamps in [first, last], both inclusive, in `order`; `visit` returns
    /// false to stop. Nothing is visited for a vehicle the store does not know.
    func withCanonicalEntries(
        vehicle: VehicleID, first: Int64, last: Int64, fields: [String]?, order: TimeOrder,
        _ visit: (ScanLookup, Int64, CanonicalEntry) throws(StorageError) -> Bool
    ) throws(StorageError) {
        let db = try database()
        try db.withIterator { it throws(StorageError) in
            // The view is read after the iterator exists. The writer publishes dictionary entries
            // before the batch that first uses them (`write`), so every record this iterator can
            // see has its names and provenance here. Read before the iterator, a record committed
            // in between could use an id the copy lacks: data loss reported for a sound store.
            let snapshot = view.withLock { v in
                (
                    code: v.vehicleCodesLookup(vehicle), fieldIDs: v.dictionaries.fieldIDs, names: v.dictionaries.fieldNames,
                    provenances: v.dictionaries.provenances, state: v.vehicleState(for: vehicle)
                )
            }
            guard let code = snapshot.code, let state = snapshot.state, state.count > 0 else { return }
            // Names the store never saw are simply absent from every record.
            let keep = fields.map { names in Set(names.compactMap { snapshot.fieldIDs[$0] }) }
            let lo = max(first, state.first)
            let hi = min(last, state.last)
            guard lo <= hi else { return }
            let lookup = ScanLookup(
                names: snapshot.names, provenances: snapshot.provenances, keepID: keep.map { set in { (id: UInt32) in set.contains(id) } })
            try scanCanonical(it, code: code, vehicle: vehicle, first: lo, last: hi, order: order, keep: keep) { ts, entry throws(StorageError) in
                try visit(lookup, ts, entry)
            }
        }
    }

    /// The last timestamp a range ending at `to` includes: ranges are half-open, except that
    /// `to == Int64.max` means "no upper bound", so a record at Int64.max stays reachable.
    /// Nil for `to == Int64.min`: nothing is below it (a remap's warm-up before a range that
    /// starts at Int64.min ends there), and `to - 1` would overflow.
    static func lastIncluded(before to: Int64) -> Int64? {
        to == .max ? .max : (to == .min ? nil : to - 1)
    }

    // MARK: - Downsampling

    /// Buckets of width `bucketMs` (aligned to multiples of it since 1970) over [from, to), with
    /// count, min, max, sum, first and last of each numeric field (bools count as 0 and 1).
    /// - Parameter fields: the fields to aggregate; empty aggregates every numeric field.
    public func aggregate(vehicle: VehicleID, from: Int64, to: Int64, bucketMs: Int64, fields: [String]) throws -> [AggregateBucket] {
        guard bucketMs > 0 else {
            throw StorageError(code: .invalidArgument, message: "bucket width must be positive, got \(bucketMs) ms")
        }
        guard from <= to else {
            throw StorageError(code: .invalidArgument, message: "range start \(from) is after its end \(to)")
        }
        guard let last = Self.lastIncluded(before: to), from <= last else { return [] }
        // Straight from record values and block rows, by field id: no `TelemetryRecord` per row
        // and no hashing of names per value (a 2000-row downsample took about 1.3 ms that way).
        var buckets = BucketAggregator(bucketMs: bucketMs)
        var names: [UInt32: String] = [:]
        try withCanonicalEntries(vehicle: vehicle, first: from, last: last, fields: fields.isEmpty ? nil : fields, order: .ascending) {
            lookup, ts, entry throws(StorageError) in
            if names.isEmpty { names = lookup.names }
            buckets.startRow(at: ts, names: names)
            switch entry {
            case .record(let value):
                let decoded = try RecordCodec.decodeStored(value, keep: lookup.keepID, vehicle: vehicle, timestamp: ts)
                for f in decoded.fields { buckets.add(f.value, field: f.id) }
            case .block(let block, let row):
                for column in block.decoded.columns {
                    if let v = column.value(row: row) { buckets.add(v, field: column.id) }
                }
            }
            return true
        }
        return try buckets.finish(names: names, vehicle: vehicle)
    }

    // MARK: - Latest state and vehicles

    /// The latest state of one vehicle, or nil when the store has no record of it.
    /// - Parameter fields: names to return; nil returns all.
    public func latest(_ vehicle: VehicleID, fields: [String]? = nil) throws -> LatestState? {
        try latest([vehicle], fields: fields).first
    }

    /// The latest state of each known vehicle among `vehicles` (unknown ones are left out).
    ///
    /// Reads only memory (the latest state is kept in memory and checkpointed to disk by the
    /// writer), so unlike the other reads it never blocks on I/O.
    public func latest(_ vehicles: [VehicleID], fields: [String]? = nil) throws -> [LatestState] {
        _ = try database()
        let wanted = fields.map(Set.init)
        // Copy out under the lock (cheap: copy-on-write), decode outside it.
        let (states, names) = view.withLock { v in
            (vehicles.map { v.vehicleState(for: $0) }, v.dictionaries.fieldNames)
        }
        var out = [LatestState]()
        for (vehicle, state) in zip(vehicles, states) {
            guard let state, state.count > 0 else { continue }
            let latest: [LatestEntry]
            do throws(ByteDecodingError) { latest = try state.latestEntries() } catch {
                throw StorageError(code: .dataLoss, message: "damaged latest state of vehicle \(vehicle): \(error.reason)")
            }
            var entries = [LatestField]()
            entries.reserveCapacity(latest.count)
            for e in latest {
                guard let name = names[e.id] else {
                    throw StorageError(code: .dataLoss, message: "latest state of \(vehicle) uses field id \(e.id), which has no dictionary entry")
                }
                if let wanted, !wanted.contains(name) { continue }
                entries.append(LatestField(name: name, value: e.value, timestamp: e.timestamp))
            }
            entries.sort { $0.name < $1.name }
            out.append(LatestState(vehicle: vehicle, timestamp: state.last, fields: entries))
        }
        return out
    }

    /// Every vehicle with at least one record: its first and last timestamps and record count.
    public func vehicles() throws -> [VehicleSummary] {
        _ = try database()
        return view.withLock { v in
            v.vehicles.values.filter { $0.count > 0 }
                .map { VehicleSummary(vehicle: $0.vehicle, firstTimestamp: $0.first, lastTimestamp: $0.last, recordCount: $0.count) }
        }.sorted { $0.vehicle < $1.vehicle }
    }

    // MARK: - Raw records and dead letters

    /// Raw records of one vehicle in [from, to), in time order; `to == Int64.max` means "no
    /// upper bound".
    /// - Parameter limit: at most this many (the first ones); it must be positive.
    /// - Throws: `StorageError`: `.invalidArgument` for a limit below 1, `.dataLoss` for a
    ///   damaged record.
    public func rawRecords(vehicle: VehicleID, from: Int64, to: Int64, limit: Int? = nil) throws -> [RawRecord] {
        if let limit, limit <= 0 {
            // As `range`: the scan below checks the limit after each record, so 0 would give one.
            throw StorageError(code: .invalidArgument, message: "limit must be positive, got \(limit)")
        }
        guard let last = Self.lastIncluded(before: to), from <= last else { return [] }
        let db = try database()
        let limit = limit ?? .max
        return try db.withIterator { it throws(StorageError) -> [RawRecord] in
            // After the iterator, for the reason given in `forEachRecord`.
            let lookup = view.withLock { v in (code: v.vehicleCodesLookup(vehicle), names: v.dictionaries.fieldNames) }
            guard let code = lookup.code else { return [] }
            var out = [RawRecord]()
            try scanRaw(it, code: code, vehicle: vehicle, first: from, last: last) { ts, value throws(StorageError) in
                do throws(ByteDecodingError) {
                    out.append(try RawRecordCodec.decode(value, vehicle: vehicle, timestamp: ts, fieldNames: lookup.names))
                } catch {
                    throw StorageError(code: .dataLoss, message: "damaged raw record of vehicle \(vehicle) at \(ts): \(error.reason)")
                }
                return out.count < limit
            }
            return out
        }
    }

    /// Dead letters in received order, starting after the one named `after`.
    public func deadLetters(after: String? = nil, limit: Int = 100) throws -> [StoredDeadLetter] {
        let db = try database()
        var start = Keyspace.deadLetter.lowerBound
        if let after {
            guard let (t, s) = Self.parseDeadLetterID(after) else {
                throw StorageError(code: .invalidArgument, message: "\"\(after)\" is not a dead letter id (expected <received-ms>-<sequence>)")
            }
            // The smallest key after the named one: every dead-letter key is 17 bytes, so the key
            // plus a zero byte sorts right after it. (Sequence + 1 would wrap at UInt64.max and
            // start over at the same received time.)
            start = KeyLayout.deadLetterKey(receivedAt: t, sequence: s) + [0]
        }
        return try db.withIterator { it throws(StorageError) in
            var out = [StoredDeadLetter]()
            it.seek(start)
            while it.isValid, out.count < limit {
                let key = it.key
                guard key.first == Keyspace.deadLetter.rawValue else { break }
                guard key.count == KeyLayout.deadLetterKeyLength else {
                    throw StorageError(code: .dataLoss, message: "damaged key in the dead-letter keyspace")
                }
                let receivedAt = Int64(bitPattern: key[1..<9].reduce(0) { ($0 << 8) | UInt64($1) } ^ 0x8000_0000_0000_0000)
                let sequence = key[9...].reduce(0) { ($0 << 8) | UInt64($1) }
                let id = "\(receivedAt)-\(sequence)"
                let decoded: Result<DeadLetter, ByteDecodingError> = it.value.withUnsafeBufferPointer { v in
                    Result { () throws(ByteDecodingError) in try DeadLetterCodec.decode(v, receivedAt: receivedAt) }
                }
                switch decoded {
                case .success(let letter): out.append(StoredDeadLetter(id: id, letter: letter))
                case .failure(let e): throw StorageError(code: .dataLoss, message: "damaged dead letter \(id): \(e.reason)")
                }
                it.next()
            }
            try it.checkStatus(reading: "the dead-letter keyspace")
            return out
        }
    }

    /// Deletes the named dead letters; returns how many existed.
    @discardableResult
    public func deleteDeadLetters(ids: [String]) throws -> Int {
        let db = try database()
        let batch = WriteBatch()
        var found = 0
        // An id named twice is one letter: counted once.
        var seen = Set<[UInt8]>()
        for id in ids {
            guard let (t, s) = Self.parseDeadLetterID(id) else {
                throw StorageError(code: .invalidArgument, message: "\"\(id)\" is not a dead letter id (expected <received-ms>-<sequence>)")
            }
            let key = KeyLayout.deadLetterKey(receivedAt: t, sequence: s)
            guard seen.insert(key).inserted else { continue }
            let existing: [UInt8]?
            do throws(LevelDBError) { existing = try db.get(key) } catch { throw Self.readError(error, what: "dead letter \(id)") }
            if let existing {
                found += 1
                batch.delete(key)
                // Its digest entry goes too, when it names this letter (section 11). A letter
                // too damaged to decode is still purged (that is how it goes away); its digest
                // entry then stays, naming nothing, which the write path reads as absent.
                if let letter = try? existing.withUnsafeBufferPointer({ v throws(ByteDecodingError) in try DeadLetterCodec.decode(v, receivedAt: t) }) {
                    let digestKey = KeyLayout.deadLetterDigestKey(letter)
                    let named: [UInt8]?
                    do throws(LevelDBError) { named = try db.get(digestKey) } catch { throw Self.readError(error, what: "dead letter \(id)'s digest entry") }
                    if named.map({ [Keyspace.deadLetter.rawValue] + $0 }) == key { batch.delete(digestKey) }
                }
            }
        }
        guard batch.count > 0 else { return 0 }
        try writeMaintenance(batch, db: db)
        return found
    }

    static func parseDeadLetterID(_ id: String) -> (Int64, UInt64)? {
        // The received time may be negative: split at the last '-'.
        guard let dash = id.lastIndex(of: "-"), dash != id.startIndex,
            let t = Int64(id[..<dash]), let s = UInt64(id[id.index(after: dash)...])
        else { return nil }
        return (t, s)
    }

    /// Applies a maintenance batch (deletes) through the writer, honouring degraded mode.
    /// Throws what a write would throw now on a closed or degraded store; writes nothing.
    func writableWriter() throws(StorageError) {
        try writer.withLock { (w: inout WriterState) throws(StorageError) in try w.refuseWrites(path: path) }
    }

    func writeMaintenance(_ batch: WriteBatch, db: LevelDB) throws(StorageError) {
        try writer.withLock { (w: inout WriterState) throws(StorageError) in
            try w.refuseWrites(path: path)
            try commit(batch, db: db, durability: configuration.durability, writer: &w)
        }
    }

    /// Writes a batch with the store's durability; a failure degrades the store.
    func commit(_ batch: WriteBatch, db: LevelDB, durability: Durability, writer w: inout WriterState) throws(StorageError) {
        do throws(LevelDBError) {
            let afterCommit = try faultInjection.check()
            try db.write(batch, sync: durability == .sync)
            afterCommit?()
        } catch {
            let failure = StorageError(code: .degraded, message: "write failed: \(error.message)")
            w.failure = failure
            view.withLock { $0.failure = failure }
            // LevelDB reports ENOSPC as an IO error carrying strerror's text.
            let full = error.message.contains("No space left on device")
            throw StorageError(
                code: full ? .diskFull : .io,
                message: "the write was not stored: \(error.message); the store now refuses writes until reopened (telemetryctl admin reopen)")
        }
    }
}

extension TelemetryStore.ReadView {
    func vehicleCodesLookup(_ vehicle: VehicleID) -> UInt32? { dictionaries.vehicleCodes[vehicle] }

    func vehicleState(for vehicle: VehicleID) -> VehicleState? {
        guard let code = dictionaries.vehicleCodes[vehicle] else { return nil }
        return vehicles[code]
    }
}

extension LevelDBIterator {
    /// `withUnsafeValue` for a body with a typed error.
    func withUnsafeValueTyped<T>(_ body: (UnsafeBufferPointer<UInt8>) throws(StorageError) -> T) throws(StorageError) -> T {
        let result: Result<T, StorageError> = withUnsafeValue { v in Result { () throws(StorageError) in try body(v) } }
        return try result.get()
    }
}

/// Range cursors: `v2:a:<next from>:<vehicle>` or `v2:d:<next to>:<vehicle>`, where
/// `<vehicle>` is 8 hex digits of the vehicle id's FNV-1a hash, so that a cursor sent with
/// another vehicle is refused rather than read as a timestamp of that one. `v1:a:<from>` /
/// `v1:d:<to>` (before the vehicle was in it) are still read. Opaque to clients; they only
/// pass them back.
enum RangeCursor {
    static func make(vehicle: VehicleID, order: TimeOrder, bound: Int64) -> String {
        "v2:\(order == .ascending ? "a" : "d"):\(bound):\(fingerprint(vehicle))"
    }

    /// FNV-1a (32 bits) of the id's UTF-8 bytes, as 8 lowercase hex digits.
    static func fingerprint(_ vehicle: VehicleID) -> String {
        var hash: UInt32 = 0x811C_9DC5
        for byte in vehicle.rawValue.utf8 {
            hash ^= UInt32(byte)
            hash = hash &* 0x0100_0193
        }
        let hex = String(hash, radix: 16)
        return String(repeating: "0", count: 8 - hex.count) + hex
    }

    static func parse(_ cursor: String, vehicle: VehicleID, order: TimeOrder, from: Int64, to: Int64) throws(StorageError) -> Int64 {
        let parts = cursor.split(separator: ":", omittingEmptySubsequences: false)
        // A v2 fingerprint is 8 lowercase hex digits: one cut or extended is no cursor at all,
        // not another vehicle's.
        let wellFormed =
            (parts.count == 3 && parts[0] == "v1")
            || (parts.count == 4 && parts[0] == "v2" && parts[3].utf8.count == 8
                && parts[3].utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) })
        guard wellFormed, parts[1] == "a" || parts[1] == "d", let bound = Int64(parts[2]) else {
            throw StorageError(code: .invalidArgument, message: "cursor \"\(cursor)\" is not a cursor this store issued")
        }
        guard parts.count == 3 || parts[3] == fingerprint(vehicle) else {
            throw StorageError(
                code: .invalidArgument,
                message: "cursor \"\(cursor)\" belongs to a query of another vehicle than \(vehicle); send it with the vehicle_id it came with")
        }
        guard (parts[1] == "a") == (order == .ascending) else {
            throw StorageError(code: .invalidArgument, message: "cursor \"\(cursor)\" belongs to a query in the other order")
        }
        guard bound >= from, bound <= to else {
            throw StorageError(code: .invalidArgument, message: "cursor \"\(cursor)\" lies outside the range [\(from), \(to))")
        }
        return bound
    }
}

/// Folds one vehicle's rows, in time order, into aggregate buckets. Within a bucket, fields
/// come in the order of their first numeric value, row by row and within a row in stored
/// order: the order a scan of the bucket's records meets them.
struct BucketAggregator {
    let bucketMs: Int64
    private(set) var buckets: [AggregateBucket] = []
    private var current: Int64? = nil
    /// The current bucket's fields, by id, in order of first value.
    private var ids: [UInt32] = []
    private var values: [FieldAggregate] = []
    /// The exact sums of the fields whose samples are all integers so far, by slot.
    private var integerSums: [Int128] = []
    private var slotOfID: [UInt32: Int] = [:]
    private var failure: StorageError? = nil

    init(bucketMs: Int64) {
        self.bucketMs = bucketMs
    }

    /// Starts a row at `timestamp`: a row in a new bucket closes the current one.
    mutating func startRow(at timestamp: Int64, names: [UInt32: String]) {
        // floor(timestamp / bucket) x bucket is below Int64.min only for the lowest bucket of
        // the time line, which then starts at Int64.min: wrapping would put it at a huge
        // positive time, out of order.
        let (product, overflow) = KeyLayout.partition(of: timestamp, width: bucketMs).multipliedReportingOverflow(by: bucketMs)
        let start = overflow ? Int64.min : product
        guard start != current else { return }
        close(names: names)
        current = start
    }

    /// Adds a value of field `id` to the current bucket; values that are not numbers (strings,
    /// bytes, arrays, null) are left out, and bools count as 0 and 1. The exact integer
    /// aggregates are kept while every sample is an int and their sum fits Int64.
    mutating func add(_ value: FieldValue, field id: UInt32) {
        let x: Double
        var integer: Int64? = nil
        switch value {
        case .double(let d): x = d
        case .int(let i):
            x = Double(i)
            integer = i
        case .bool(let b): x = b ? 1 : 0
        case .null, .string, .bytes, .array: return
        }
        if let slot = slotOfID[id] {
            values[slot].count += 1
            values[slot].min = Swift.min(values[slot].min, x)
            values[slot].max = Swift.max(values[slot].max, x)
            values[slot].sum += x
            values[slot].last = x
            if var exact = values[slot].integers {
                if let i = integer {
                    exact.min = Swift.min(exact.min, i)
                    exact.max = Swift.max(exact.max, i)
                    exact.last = i
                    values[slot].integers = exact
                    // 128 bits cannot overflow on 2^64 samples: whether the sum fits Int64 is
                    // decided once, at the bucket's close, not by the order of the samples.
                    integerSums[slot] += Int128(i)
                } else {
                    values[slot].integers = nil
                }
            }
        } else {
            slotOfID[id] = ids.count
            ids.append(id)
            values.append(
                FieldAggregate(field: "", count: 1, min: x, max: x, sum: x, first: x, last: x, integers: integer.map(IntegerAggregate.init)))
            integerSums.append(Int128(integer ?? 0))
        }
    }

    private mutating func close(names: [UInt32: String]) {
        guard let start = current else { return }
        for (i, id) in ids.enumerated() {
            guard let name = names[id] else {
                if failure == nil {
                    failure = StorageError(
                        code: .dataLoss, message: "a record in the bucket at \(start) uses field id \(id), which has no dictionary entry")
                }
                continue
            }
            values[i].field = name
            if values[i].integers != nil {
                if let sum = Int64(exactly: integerSums[i]) { values[i].integers?.sum = sum } else { values[i].integers = nil }
            }
        }
        buckets.append(AggregateBucket(start: start, fields: values))
        ids.removeAll(keepingCapacity: true)
        values.removeAll(keepingCapacity: true)
        integerSums.removeAll(keepingCapacity: true)
        slotOfID.removeAll(keepingCapacity: true)
    }

    /// The buckets, the last one closed.
    /// - Throws: `.dataLoss` when a field id had no name.
    mutating func finish(names: [UInt32: String], vehicle: VehicleID) throws(StorageError) -> [AggregateBucket] {
        close(names: names)
        current = nil
        if let failure {
            throw StorageError(code: failure.code, message: "downsampling vehicle \(vehicle): \(failure.message)")
        }
        return buckets
    }
}
