import Synchronization
import TelemetryCore

/// How long each keyspace keeps its data, in milliseconds; nil keeps it forever.
public struct RetentionPolicy: Sendable, Hashable {
    /// Canonical records (and their sealed blocks), by record time, whole partitions at a time.
    public var canonicalMs: Int64?
    /// Raw records, by record time, whole partitions at a time.
    public var rawMs: Int64?
    /// Dead letters, by received time.
    public var deadLettersMs: Int64?

    public init(canonicalMs: Int64? = nil, rawMs: Int64? = nil, deadLettersMs: Int64? = nil) {
        self.canonicalMs = canonicalMs
        self.rawMs = rawMs
        self.deadLettersMs = deadLettersMs
    }

    /// True when no keyspace has a limit.
    public var keepsEverything: Bool { canonicalMs == nil && rawMs == nil && deadLettersMs == nil }
}

/// What a retention pass removed (or, in a dry run, would remove).
public struct RetentionSummary: Sendable, Hashable {
    public var nowMs: Int64
    public var dryRun: Bool
    /// Distinct time partitions canonical records were removed from.
    public var canonicalPartitions: UInt64 = 0
    public var canonicalRecords: UInt64 = 0
    public var rawRecords: UInt64 = 0
    public var deadLetters: UInt64 = 0

    public init(nowMs: Int64, dryRun: Bool) {
        self.nowMs = nowMs
        self.dryRun = dryRun
    }
}

extension TelemetryStore {
    /// Keys deleted per batch when a keyspace is trimmed by key range: bounds the memory of
    /// one batch and how long one batch holds the writer.
    static let retentionBatchKeys = 10_000

    /// The first partition start that a retention of `age` keeps at `now`: a partition is
    /// expired when its end is at or before `now - age`, so every record at or after the
    /// returned time stays (records in the partition that straddles the cutoff stay too).
    public func retentionCutoff(now: Int64, age: Int64) -> Int64 {
        let (edge, overflow) = now.subtractingReportingOverflow(age)
        if overflow { return age > 0 ? .min : .max }
        let p = KeyLayout.partition(of: edge, width: partitionWidthMs)
        let (start, o) = p.multipliedReportingOverflow(by: partitionWidthMs)
        return o ? (p < 0 ? .min : .max) : start
    }

    /// Removes what `policy` says has expired at `now`: canonical and raw records of whole
    /// expired partitions, dead letters received before `now - deadLettersMs`.
    ///
    /// Canonical records go vehicle by vehicle, each in one atomic batch that also brings the
    /// vehicle's count, first timestamp, partition index and latest state in line (the same
    /// path as `deleteRecords`), so `vehicles()` and `latest` agree with what remains after
    /// every step. Raw records and dead letters are deleted by key range in batches of
    /// `retentionBatchKeys`. Writes go on meanwhile; a pass stopped half-way (error, shutdown)
    /// leaves a consistent store and the next pass finishes the job.
    /// - Parameters:
    ///   - dryRun: count what would go, delete nothing.
    ///   - progress: told the phase (`canonical`, `raw`, `dead letters`), the count so far, the total
    ///     when known (vehicles for canonical) and the unit.
    /// - Throws: `StorageError` (`.degraded`, `.closed`, `.io`, `.dataLoss`).
    public func applyRetention(
        _ policy: RetentionPolicy, now: Int64, dryRun: Bool = false,
        progress: (_ phase: String, _ done: UInt64, _ total: UInt64, _ unit: String) throws -> Void = { _, _, _, _ in }
    ) throws -> RetentionSummary {
        for (name, age) in [("canonical", policy.canonicalMs), ("raw", policy.rawMs), ("dead letters", policy.deadLettersMs)] {
            if let age, age <= 0 { throw StorageError(code: .invalidArgument, message: "\(name) retention must be positive, got \(age) ms") }
        }
        let db = try database()
        // Refused up front on a degraded store, as every write is, even when nothing has
        // expired: an operator freeing space must not read "retention applied, removed 0" as
        // a retention that works (docs/operations/storage-failure.md).
        if !dryRun { try writableWriter() }
        var summary = RetentionSummary(nowMs: now, dryRun: dryRun)
        if let age = policy.canonicalMs {
            try expireCanonical(db: db, before: retentionCutoff(now: now, age: age), dryRun: dryRun, summary: &summary, progress: progress)
        }
        if let age = policy.rawMs {
            let cutoff = retentionCutoff(now: now, age: age)
            let end = KeyLayout.recordKey(.raw, slot: recordKeys.slot(of: cutoff), vehicle: 0, timestamp: .min)
            summary.rawRecords = try deleteKeys(db: db, .raw, before: cutoff == .max ? Keyspace.raw.upperBound : end, dryRun: dryRun) {
                try progress("raw", $0, 0, "records")
            }
        }
        if let age = policy.deadLettersMs {
            let (edge, overflow) = now.subtractingReportingOverflow(age)
            let end = overflow ? Keyspace.deadLetter.lowerBound : KeyLayout.deadLetterKey(receivedAt: edge, sequence: 0)
            summary.deadLetters = try deleteKeys(db: db, .deadLetter, before: end, dryRun: dryRun) {
                try progress("dead letters", $0, 0, "letters")
            }
            if !dryRun { try deleteDeadLetterDigests(db: db, before: end) }
        }
        return summary
    }

    /// Deletes the digest entries of the dead letters before `end` (a dead-letter key): the
    /// letters are gone, and their digests would only take space (section 11).
    private func deleteDeadLetterDigests(db: LevelDB, before end: [UInt8]) throws {
        let prefix = KeyLayout.metadataKey(KeyLayout.Meta.deadLetterDigestPrefix)
        let batch = try db.withIterator(fillCache: false) { it throws(StorageError) -> WriteBatch in
            let batch = WriteBatch()
            it.seek(prefix)
            while it.isValid {
                let key = it.key
                guard key.starts(with: prefix) else { break }
                if ([Keyspace.deadLetter.rawValue] + it.value).lexicographicallyPrecedes(end) { batch.delete(key) }
                it.next()
            }
            try it.checkStatus(reading: "the dead-letter digest entries")
            return batch
        }
        if batch.count > 0 { try writeMaintenance(batch, db: db) }
    }

    /// Canonical records before `cutoff` (a partition start), vehicle by vehicle.
    private func expireCanonical(
        db: LevelDB, before cutoff: Int64, dryRun: Bool, summary: inout RetentionSummary,
        progress: (String, UInt64, UInt64, String) throws -> Void
    ) throws {
        guard cutoff > .min else { return }
        let width = partitionWidthMs
        let due = view.withLock { v in
            v.vehicles.values.filter { $0.count > 0 && $0.first < cutoff }.map { ($0.code, $0.vehicle) }.sorted { $0.0 < $1.0 }
        }
        var partitions = Set<Int64>()
        for (i, (code, vehicle)) in due.enumerated() {
            try progress("canonical", UInt64(i), UInt64(due.count), "vehicles")
            if dryRun {
                try scanCanonical(db: db, code: code, vehicle: vehicle, first: .min, last: cutoff - 1, order: .ascending, keep: []) { ts, _ in
                    summary.canonicalRecords += 1
                    partitions.insert(KeyLayout.partition(of: ts, width: width))
                    return true
                }
            } else {
                let gone = try expireByPartition(code: code, vehicle: vehicle, before: cutoff)
                summary.canonicalRecords += gone.records
                partitions.formUnion(gone.partitions)
            }
        }
        try progress("canonical", UInt64(due.count), UInt64(due.count), "vehicles")
        summary.canonicalPartitions = UInt64(partitions.count)
    }

    /// `expire` one partition at a time, oldest first: each step holds the writer for one
    /// partition of the vehicle's records, so the first pass over a long history (a year of
    /// hourly partitions) pauses ingest for a partition's worth of deletes at a time, not for
    /// the whole history at once. Partitions without records are skipped (each step starts at
    /// the vehicle's oldest remaining record).
    func expireByPartition(code: UInt32, vehicle: VehicleID, before cutoff: Int64) throws(StorageError) -> (records: UInt64, partitions: Set<Int64>) {
        let width = partitionWidthMs
        var total: (records: UInt64, partitions: Set<Int64>) = (0, [])
        var previous: Int64?
        while let first = view.withLock({ v in v.vehicles[code].flatMap { $0.count > 0 ? $0.first : nil } }), first < cutoff {
            let p = KeyLayout.partition(of: first, width: width)
            let (start, o1) = p.multipliedReportingOverflow(by: width)
            let (end, o2) = start.addingReportingOverflow(width)
            let overflow = o1 || o2
            // The oldest record did not move (a step removed nothing it could see): finish in
            // one call rather than loop.
            let step = overflow || first == previous ? cutoff : min(cutoff, end)
            previous = first
            let gone = try expire(vehicle: vehicle, before: step)
            total.records += gone.records
            total.partitions.formUnion(gone.partitions)
            if step == cutoff { break }
        }
        return total
    }

    /// Deletes one vehicle's canonical records before `cutoff` (a partition start) in one batch,
    /// with its partition index entries, and brings its latest state in line.
    ///
    /// Unlike `deleteRecords`, which recounts what remains (its range can be anywhere), this
    /// reads only the expired records and the first one kept: the remaining count is the old
    /// one minus the records deleted, the newest record is untouched (it is at or after the
    /// cutoff unless everything goes), and fields last reported before the cutoff leave the
    /// latest state with their records. So an hourly pass costs what expired, not the
    /// vehicle's whole history.
    /// - Returns: the records deleted and the partitions they left.
    func expire(vehicle: VehicleID, before cutoff: Int64) throws(StorageError) -> (records: UInt64, partitions: Set<Int64>) {
        let db = try database()
        let outcome = try writer.withLock { (w: inout WriterState) throws(StorageError) -> (UInt64, Set<Int64>, Bool) in
            try w.refuseWrites(path: path)
            guard let code = w.dictionaries.vehicleCodes[vehicle], let old = w.vehicles[code], old.count > 0, old.first < cutoff
            else { return (0, [], false) }
            // Everything expires: the general path rebuilds an empty state exactly as a delete does.
            guard old.last >= cutoff else { return (0, [], true) }
            let batch = WriteBatch()
            var partitions = Set<Int64>()
            let deleted = try deleteCanonical(
                db: db, code: code, vehicle: vehicle, first: old.first, last: cutoff - 1, batch: batch, partitions: &partitions)
            var first: Int64?
            try scanCanonical(db: db, code: code, vehicle: vehicle, first: cutoff, last: .max, order: .ascending, keep: []) { ts, _ in
                first = ts
                return false
            }
            // A count that disagrees with the records (damage) must not underflow: let the
            // general path recount.
            guard let first, deleted < old.count else { return (0, [], true) }
            // Every partition touched lies wholly before the cutoff: none keeps a record.
            for p in partitions { batch.delete(KeyLayout.partitionIndexKey(vehicle: code, partition: p)) }
            var state = old
            state.count = old.count - deleted
            state.first = first
            state.extras.removeAll { $0.timestamp < cutoff }
            state.unpersisted = 0
            state.mustPersist = false
            batch.put(KeyLayout.latestKey(vehicle: code), state.encoded())
            try commit(batch, db: db, durability: configuration.durability, writer: &w)
            w.vehicles[code] = state
            view.withLock { $0.vehicles[code] = state }
            return (deleted, partitions, false)
        }
        if outcome.2 { return try deleteRecords(vehicle: vehicle, from: .min, to: cutoff, includeRaw: false) }
        return (outcome.0, outcome.1)
    }

    /// Deletes (or counts) the keys of `keyspace` below `end`, in batches.
    /// - Returns: how many keys there were.
    private func deleteKeys(
        db: LevelDB, _ keyspace: Keyspace, before end: [UInt8], dryRun: Bool, progress: (UInt64) throws -> Void
    ) throws -> UInt64 {
        var total: UInt64 = 0
        var start = keyspace.lowerBound
        while true {
            // One iterator per batch: its snapshot must not pin the files the deletes free.
            let (batch, next) = try db.withIterator(fillCache: false) { it throws(StorageError) -> (WriteBatch, [UInt8]?) in
                let batch = WriteBatch()
                it.seek(start)
                while it.isValid, batch.count < Self.retentionBatchKeys {
                    let key = it.key
                    guard key.first == keyspace.rawValue, key.lexicographicallyPrecedes(end) else { break }
                    batch.delete(key)
                    it.next()
                }
                try it.checkStatus(reading: "the \(keyspace) keyspace")
                guard batch.count == Self.retentionBatchKeys, it.isValid else { return (batch, nil) }
                return (batch, it.key)
            }
            total += UInt64(batch.count)
            if !dryRun, batch.count > 0 { try writeMaintenance(batch, db: db) }
            try progress(total)
            guard let next else { return total }
            start = next
        }
    }
}
