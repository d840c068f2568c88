import TelemetryCore
import Synchronization
import Foundation

/// A telemetry store in one folder: canonical records, latest state, raw records and dead
/// letters in one LevelDB (docs/storage-format.md).
///
/// Synchronous and thread-safe; every call blocks on disk, so servers call it from a
/// thread pool, never from an event loop. Writes are serialized (one writer at a time);
/// reads run concurrently with each other and with writes.
public final class TelemetryStore: Sendable {
    /// The on-disk format this build writes and reads.
    /// 2: sealed blocks (keyspace 0x07, docs/decisions/0003-sealed-partitions.md).
    /// 3: the highest dead-letter sequence is kept in metadata (`dead-letter-sequence`), so
    ///    dead-letter ids are never reused.
    /// 4: the mapping layer's per-vehicle state has its own keyspace (0x08) instead of riding
    ///    in the latest state, which it made rewrite with every batch.
    /// 5: record keys (canonical and raw) are keyed by key slot, a fraction of a partition
    ///    (`key-slot-ms`, docs/decisions/0006-key-slots.md).
    /// Formats 2 to 4 are upgraded in place when opened.
    public static let formatVersion: UInt32 = 5
    /// The older formats this build upgrades when it opens a folder: format 3 adds the
    /// dead-letter sequence entry, which a scan of the dead-letter keyspace provides; format 4
    /// moves each vehicle's derived state from its latest state into its own key; format 5
    /// records that the folder's record keys have one slot per partition, the layout they
    /// always had (no key is rewritten).
    static let upgradableFormatVersions: [UInt32] = [2, 3, 4]

    /// The data folder, with symbolic links resolved (`resolvedFolder`).
    public let path: String
    public let configuration: StoreConfiguration
    /// The partition width the store was created with.
    public let partitionWidthMs: Int64
    /// The key slot width the store was created with (the partition width for a folder
    /// created before format 5).
    public var keySlotWidthMs: Int64 { recordKeys.slotWidth }
    /// How record keys place timestamps.
    let recordKeys: RecordKeys

    let handle: Mutex<LevelDB?>
    /// The writer's state: dictionaries and vehicles as it assigns and updates them.
    /// Held for the whole of a write, which serializes writes.
    let writer: Mutex<WriterState>
    /// What readers see: updated by the writer after each successful write.
    let view: Mutex<ReadView>
    /// Test hook: makes writes fail on demand (see FaultInjection).
    package let faultInjection = FaultInjection()
    /// True while `reopen()` runs: one reopen at a time (TelemetryStore+Health.swift).
    let reopening = Mutex(false)

    struct WriterState: ~Copyable {
        var dictionaries: Dictionaries
        var vehicles: VehicleTable
        /// Counts writes, so each can tell the states it already changed (`VehicleState.writeGeneration`).
        var generation: UInt64 = 0
        var gatewaySequences: [String: UInt64]
        var deadLetterSequence: UInt64
        /// The highest partition that has (or had) a sealed block, nil before the first seal.
        /// A late record in a newer partition cannot be in a block: no block lookup for it.
        var highestSealedPartition: Int64?
        var failure: StorageError?
        var closed = false

        /// What every write meets first: a closed store, or a degraded one (an earlier write
        /// failed; section 15 of docs/storage-format.md) refuses it.
        func refuseWrites(path: String) throws(StorageError) {
            if closed { throw StorageError(code: .closed, message: "the store at \(path) is closed") }
            if let failure {
                throw StorageError(code: .degraded, message: "the store refuses writes since an earlier write failed (\(failure.message)); reopen it")
            }
        }
    }

    struct ReadView: Sendable {
        var dictionaries: Dictionaries
        var vehicles: VehicleTable
        var gatewaySequences: [String: UInt64]
        var failure: StorageError?
        var closed = false
    }

    /// Opens the store in `path`, creating the folder and an empty store if needed.
    /// - Throws: `StorageError`: `.unsupportedFormat` for a folder of another or newer format,
    ///   `.io` when LevelDB cannot open it (held lock, permissions), `.dataLoss` for damage.
    public init(path given: String, configuration: StoreConfiguration = StoreConfiguration()) throws {
        self.configuration = configuration
        do {
            try FileManager.default.createDirectory(atPath: given, withIntermediateDirectories: true)
        } catch {
            // A link whose target is missing (a volume not mounted, a moved folder) is named as
            // such; its target is not created, since that could put the store on the wrong disk.
            if let target = try? FileManager.default.destinationOfSymbolicLink(atPath: given) {
                throw StorageError(
                    code: .io,
                    message: "data folder \(given) is a symbolic link to \(target), which does not exist: mount or create it, or fix the link")
            }
            throw StorageError(code: .io, message: "cannot create data folder \(given): \(error.localizedDescription)")
        }
        let path = try Self.resolvedFolder(given)
        self.path = path
        let db: LevelDB
        do {
            db = try LevelDB(path: path, options: configuration.leveldb)
        } catch {
            let code: StorageError.Code = error.code == .corruption ? .dataLoss : .io
            throw StorageError(code: code, message: "cannot open the store in \(path): \(error.message)")
        }
        let loaded = try Self.load(db, path: path, configuration: configuration)
        self.partitionWidthMs = loaded.partitionWidth
        self.recordKeys = RecordKeys(width: loaded.partitionWidth, slotWidth: loaded.slotWidth)
        self.handle = Mutex(db)
        let highestSealed: Int64?
        do { highestSealed = try Self.highestSealedPartition(db) } catch { throw Self.readError(error, what: "the sealed keyspace") }
        self.writer = Mutex(
            WriterState(
                dictionaries: loaded.dictionaries, vehicles: VehicleTable(loaded.vehicles), gatewaySequences: loaded.gateways,
                deadLetterSequence: loaded.deadLetterSequence, highestSealedPartition: highestSealed, failure: nil))
        self.view = Mutex(
            ReadView(
                dictionaries: loaded.dictionaries, vehicles: VehicleTable(loaded.vehicles), gatewaySequences: loaded.gateways,
                failure: nil))
        // After a clean close every state is persisted: nothing to replay. The marker goes as
        // soon as the store is open, since a crash from now on would leave states behind.
        let marker = KeyLayout.metadataKey(KeyLayout.Meta.cleanClose)
        let clean: Bool
        do { clean = try db.get(marker) != nil } catch { throw Self.readError(error, what: "the clean-close marker") }
        if clean {
            let batch = WriteBatch()
            batch.delete(marker)
            do { try db.write(batch, sync: configuration.durability == .sync) } catch {
                throw StorageError(code: .io, message: "cannot open the store in \(path): \(error.message)")
            }
        } else {
            try recoverLatestStates(db)
        }
    }

    /// The partition of the last key in the sealed keyspace.
    static func highestSealedPartition(_ db: LevelDB) throws(LevelDBError) -> Int64? {
        try db.withIterator { it throws(LevelDBError) -> Int64? in
            it.seek(Keyspace.sealed.upperBound)
            if it.isValid { it.previous() } else { it.seekToLast() }
            try it.checkError()
            guard it.isValid else { return nil }
            return it.withUnsafeKey { key -> Int64? in
                guard key.count == KeyLayout.blockKeyLength, key.first == Keyspace.sealed.rawValue else { return nil }
                var bits: UInt64 = 0
                for i in 1..<9 { bits = (bits << 8) | UInt64(key[i]) }
                return Int64(bitPattern: bits ^ 0x8000_0000_0000_0000)
            }
        }
    }

    /// Brings each vehicle's state from its checkpoint up to date: the records after the
    /// checkpoint's newest timestamp were all appended in order after it (anything else forces
    /// a checkpoint), so taking them in, oldest first, repeats what the writes did.
    func recoverLatestStates(_ db: LevelDB) throws(StorageError) {
        let states = writer.withLock { $0.vehicles }
        var recovered: [UInt32: VehicleState] = [:]
        let width = partitionWidthMs
        for (code, checkpoint) in states where checkpoint.count > 0 && checkpoint.last < .max {
            var state = checkpoint
            try scanCanonical(
                db: db, code: code, vehicle: state.vehicle, first: checkpoint.last + 1, last: .max, order: .ascending, keep: nil
            ) { ts, entry throws(StorageError) in
                let fields: [EncodedField]
                let value: [UInt8]
                switch entry {
                case .record(let bytes):
                    do throws(ByteDecodingError) { fields = try RecordCodec.decode(bytes).fields } catch {
                        throw StorageError(code: .dataLoss, message: "damaged record of vehicle \(state.vehicle) at \(ts): \(error.reason)")
                    }
                    value = Array(bytes)
                case .block(let block, let row):
                    let r = try blockRow(block, row, code: code, partition: KeyLayout.partition(of: ts, width: width))
                    fields = r.fields
                    value = r.recordValue
                }
                state.count += 1
                state.first = min(state.first, ts)
                state.merge(timestamp: ts, fields: fields, value: value)
                state.unpersisted += 1
                return true
            }
            if state.count != checkpoint.count { recovered[code] = state }
        }
        guard !recovered.isEmpty else { return }
        writer.withLock { w in for (code, state) in recovered { w.vehicles[code] = state } }
        view.withLock { v in for (code, state) in recovered { v.vehicles[code] = state } }
    }

    /// In-order records a vehicle takes in before its latest state is persisted again. The
    /// latest keyspace is a checkpoint: opening a store after a crash replays the records
    /// written after it, at most this many per vehicle (none after a clean `close()`).
    static let checkpointInterval = 128

    /// Closes the store: later calls fail with `.closed`. LevelDB's files are released
    /// once calls already running have returned. Latest states not yet persisted are written
    /// first, so the next open has nothing to replay.
    public func close() {
        writer.withLock { w in
            if !w.closed, w.failure == nil, let db = handle.withLock({ $0 }) {
                let batch = WriteBatch()
                for (code, state) in w.vehicles where state.unpersisted > 0 {
                    batch.put(KeyLayout.latestKey(vehicle: code), state.encoded())
                }
                batch.put(KeyLayout.metadataKey(KeyLayout.Meta.cleanClose), [])
                // A failure here loses nothing: the next open replays the records instead.
                try? db.write(batch, sync: configuration.durability == .sync)
            }
            w.closed = true
        }
        view.withLock { $0.closed = true }
        handle.withLock { $0 = nil }
    }

    /// Whether the store takes writes.
    public var health: StoreHealth {
        view.withLock { v in
            if v.closed { return .closed }
            if let f = v.failure { return .degraded(reason: f.message) }
            return .ready
        }
    }

    /// The database, or `.closed`.
    func database() throws(StorageError) -> LevelDB {
        guard let db = handle.withLock({ $0 }) else {
            if let failure = view.withLock({ $0.closed ? nil : $0.failure }) {
                // Between the handles of a reopen (TelemetryStore+Health.swift), or after one failed.
                throw StorageError(code: .io, message: "the store at \(path) is being reopened after a write failure (\(failure.message)); retry shortly")
            }
            throw StorageError(code: .closed, message: "the store at \(path) is closed")
        }
        return db
    }

    /// The gateway's last committed sequence, if it ever committed one.
    public func lastCommittedSequence(gateway: String) -> UInt64? {
        view.withLock { $0.gatewaySequences[gateway] }
    }

    // MARK: - Opening

    struct Loaded {
        var partitionWidth: Int64
        var slotWidth: Int64
        var dictionaries = Dictionaries()
        var vehicles: [UInt32: VehicleState] = [:]
        var gateways: [String: UInt64] = [:]
        var deadLetterSequence: UInt64 = 0
    }

    /// `path` with every symbolic link in it resolved. The store works in the folder the data
    /// really lives in: an online restore stages its copy beside the folder and renames folders
    /// there, so with a symlinked data folder (`/var/lib/telemetryd -> /mnt/data/telemetryd`)
    /// it must do so on the data disk, leaving the link in place, not replace the link with a
    /// folder on the link's own disk.
    static func resolvedFolder(_ path: String) throws(StorageError) -> String {
        guard let resolved = realpath(path, nil) else {
            let reason = String(cString: strerror(errno))
            throw StorageError(code: .io, message: "cannot resolve the data folder \(path): \(reason)")
        }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    static func load(_ db: LevelDB, path: String, configuration: StoreConfiguration) throws(StorageError) -> Loaded {
        let formatKey = KeyLayout.metadataKey(KeyLayout.Meta.format)
        let widthKey = KeyLayout.metadataKey(KeyLayout.Meta.partitionWidth)
        let stored: [UInt8]?
        do { stored = try db.get(formatKey) } catch { throw Self.readError(error, what: "the format version") }
        guard let stored else { return try create(db, path: path, configuration: configuration) }
        // A damaged entry is data loss, like any other damaged metadata; only a readable
        // version this build does not know is an unsupported format.
        guard stored.count == 4 else {
            throw StorageError(code: .dataLoss, message: "\(path): the format version entry is damaged (\(stored.count) bytes)")
        }
        let version = stored.reduce(0) { ($0 << 8) | UInt32($1) }
        guard version == formatVersion || upgradableFormatVersions.contains(version) else {
            let hint = version > formatVersion
                ? "written by a newer TelemetryStore; upgrade this build"
                : "written by an older TelemetryStore; this build does not convert it, load its data into a new store"
            let readable = (upgradableFormatVersions + [formatVersion]).map(String.init).joined(separator: ", ")
            throw StorageError(
                code: .unsupportedFormat,
                message: "\(path) holds storage format \(version); this build reads formats \(readable) only (\(hint))")
        }
        let width: [UInt8]?
        do { width = try db.get(widthKey) } catch { throw Self.readError(error, what: "the partition width") }
        guard let width, width.count == 8,
            case let w = Int64(bitPattern: width.reduce(0) { ($0 << 8) | UInt64($1) }), w > 0
        else {
            throw StorageError(code: .dataLoss, message: "\(path): the partition width entry is missing or damaged")
        }
        // Before format 5 a record key's slot was its partition.
        var slotWidth = w
        if version >= 5 {
            let slot: [UInt8]?
            do { slot = try db.get(KeyLayout.metadataKey(KeyLayout.Meta.keySlotWidth)) } catch {
                throw Self.readError(error, what: "the key slot width")
            }
            guard let slot, slot.count == 8,
                case let s = Int64(bitPattern: slot.reduce(0) { ($0 << 8) | UInt64($1) }), s > 0, s <= w, w % s == 0
            else {
                throw StorageError(code: .dataLoss, message: "\(path): the key slot width entry is missing or damaged")
            }
            slotWidth = s
        }
        var loaded = Loaded(partitionWidth: w, slotWidth: slotWidth)
        var deadLetterSequence: UInt64? = nil

        // Dictionaries, gateway resume points and the dead-letter sequence from the metadata keyspace.
        let gatewayPrefix = Array(KeyLayout.Meta.gatewayPrefix.utf8)
        let sequenceName = Array(KeyLayout.Meta.deadLetterSequence.utf8)
        try db.withIterator { it throws(StorageError) in
            it.seek(Keyspace.metadata.lowerBound)
            while it.isValid {
                let key = it.key
                guard key.first == Keyspace.metadata.rawValue else { break }
                let value = it.value
                if try !loaded.dictionaries.load(key: key, value: value) {
                    let name = key.dropFirst()
                    if name.starts(with: gatewayPrefix) {
                        // The writer puts 8 bytes under a UTF-8 id: anything else is damage, which
                        // must not silently reset a gateway's resume point.
                        guard value.count == 8, let id = String(validating: name.dropFirst(gatewayPrefix.count), as: UTF8.self)
                        else { throw StorageError(code: .dataLoss, message: "damaged gateway resume point in metadata") }
                        loaded.gateways[id] = value.reduce(0) { ($0 << 8) | UInt64($1) }
                    } else if name.elementsEqual(sequenceName) {
                        guard value.count == 8 else {
                            throw StorageError(code: .dataLoss, message: "\(path): the dead-letter sequence entry is damaged (\(value.count) bytes)")
                        }
                        deadLetterSequence = value.reduce(0) { ($0 << 8) | UInt64($1) }
                    }
                }
                it.next()
            }
            try it.checkStatus(reading: "the metadata keyspace")

            /// Visits each entry of a per-vehicle keyspace (`| prefix | vehicle code |`), with
            /// its vehicle; a malformed key or a code without a dictionary entry is damage.
            func forEachVehicleEntry(
                _ keyspace: Keyspace, _ visit: (UInt32, VehicleID) throws(StorageError) -> Void
            ) throws(StorageError) {
                it.seek(keyspace.lowerBound)
                while it.isValid {
                    let key = it.key
                    guard key.first == keyspace.rawValue else { break }
                    guard key.count == 5 else {
                        throw StorageError(code: .dataLoss, message: "damaged key in the \(keyspace) keyspace")
                    }
                    let code = key.dropFirst().reduce(0) { ($0 << 8) | UInt32($1) }
                    guard let vehicle = loaded.dictionaries.vehicles[code] else {
                        throw StorageError(code: .dataLoss, message: "\(keyspace) state for vehicle code \(code) has no dictionary entry")
                    }
                    try visit(code, vehicle)
                    it.next()
                }
                try it.checkStatus(reading: "the \(keyspace) keyspace")
            }

            // Vehicle states from the latest keyspace.
            try forEachVehicleEntry(.latest) { code, vehicle throws(StorageError) in
                let decoded: Result<VehicleState, ByteDecodingError> = it.value.withUnsafeBufferPointer { v in
                    Result { () throws(ByteDecodingError) in try VehicleState.decode(code: code, vehicle: vehicle, v) }
                }
                switch decoded {
                case .success(let state): loaded.vehicles[code] = state
                case .failure(let e):
                    throw StorageError(code: .dataLoss, message: "damaged latest state of vehicle \(vehicle): \(e.reason)")
                }
            }
            if version >= 4 {
                // Derived states from their own keyspace; what a latest state still carries
                // from format 3 was moved there by the upgrade and is not read again.
                for code in loaded.vehicles.keys { loaded.vehicles[code]!.derived = [] }
                try forEachVehicleEntry(.derived) { code, vehicle in
                    loaded.vehicles[code, default: VehicleState(code: code, vehicle: vehicle)].derived = it.value
                }
            }

            if version == 2 {
                // Format 2 kept no sequence: the highest one stored is the best there is (the ids
                // of letters purged before this upgrade cannot be known). Every key is read: the
                // last key is the latest received time, not the highest sequence.
                var highest: UInt64 = 0
                it.seek(Keyspace.deadLetter.lowerBound)
                while it.isValid {
                    let key = it.key
                    guard key.first == Keyspace.deadLetter.rawValue else { break }
                    guard key.count == KeyLayout.deadLetterKeyLength else {
                        throw StorageError(code: .dataLoss, message: "damaged key in the dead-letter keyspace")
                    }
                    highest = max(highest, key[9...].reduce(0) { ($0 << 8) | UInt64($1) })
                    it.next()
                }
                try it.checkStatus(reading: "the dead-letter keyspace")
                deadLetterSequence = max(deadLetterSequence ?? 0, highest)
            }
        }
        guard let deadLetterSequence else {
            throw StorageError(code: .dataLoss, message: "\(path): the dead-letter sequence entry is missing")
        }
        loaded.deadLetterSequence = deadLetterSequence
        if version != formatVersion {
            // The upgrade is one batch: the new version with everything it needs, or nothing.
            let batch = WriteBatch()
            batch.put(formatKey, formatVersion.bigEndianBytes)
            batch.put(KeyLayout.metadataKey(KeyLayout.Meta.deadLetterSequence), deadLetterSequence.bigEndianBytes)
            // Format 4: each derived state into its own key. The latest states keep their copy
            // until they are next written (without one); a format 4 open does not read it.
            if version < 4 {
                for (code, state) in loaded.vehicles where !state.derived.isEmpty {
                    batch.put(KeyLayout.derivedKey(vehicle: code), state.derived)
                    // A latest state kept only for its derived state (no records) has no use left.
                    if state.count == 0 { batch.delete(KeyLayout.latestKey(vehicle: code)) }
                }
            }
            // Format 5: the folder's record keys stay as they are, one slot per partition.
            batch.put(KeyLayout.metadataKey(KeyLayout.Meta.keySlotWidth), UInt64(bitPattern: slotWidth).bigEndianBytes)
            do { try db.write(batch, sync: true) } catch {
                throw StorageError(code: .io, message: "cannot upgrade the store in \(path) to format \(formatVersion): \(error.message)")
            }
        }
        return loaded
    }

    /// Makes an empty database a new store; refuses one that holds anything.
    private static func create(_ db: LevelDB, path: String, configuration: StoreConfiguration) throws(StorageError) -> Loaded {
        let empty = try db.withIterator { it throws(StorageError) -> Bool in
            it.seekToFirst()
            // Checked even when the iterator is invalid: a read error must not make a damaged
            // database look empty, to be adopted as a new store and written to.
            try it.checkStatus(reading: "the database in \(path)")
            return !it.isValid
        }
        guard empty else {
            throw StorageError(
                code: .unsupportedFormat,
                message: "\(path) holds a LevelDB database that is not a TelemetryStore (no format version)")
        }
        guard configuration.partitionWidthMs > 0 else {
            throw StorageError(code: .invalidArgument, message: "partition width must be positive")
        }
        let width = configuration.partitionWidthMs
        let slotWidth = RecordKeys.slotWidth(forNewStoreWith: width, preferred: configuration.keySlotWidthMs)
        let batch = WriteBatch()
        batch.put(KeyLayout.metadataKey(KeyLayout.Meta.format), formatVersion.bigEndianBytes)
        batch.put(KeyLayout.metadataKey(KeyLayout.Meta.partitionWidth), UInt64(bitPattern: width).bigEndianBytes)
        batch.put(KeyLayout.metadataKey(KeyLayout.Meta.keySlotWidth), UInt64(bitPattern: slotWidth).bigEndianBytes)
        batch.put(KeyLayout.metadataKey(KeyLayout.Meta.deadLetterSequence), UInt64(0).bigEndianBytes)
        do { try db.write(batch, sync: true) } catch {
            throw StorageError(code: .io, message: "cannot initialise the store in \(path): \(error.message)")
        }
        return Loaded(partitionWidth: width, slotWidth: slotWidth)
    }

    /// A LevelDB read error as a storage error: corruption is data loss.
    static func readError(_ error: LevelDBError, what: String) -> StorageError {
        if error.code == .corruption {
            return StorageError(code: .dataLoss, message: "data loss while reading \(what): \(error.message)")
        }
        return StorageError(code: .io, message: "cannot read \(what): \(error.message)")
    }
}

extension TelemetryStore {
    /// Compacts the whole store (every keyspace); blocks until LevelDB is done. Reads and
    /// writes keep working meanwhile. Seals closed partitions first (`sealPartitions()`)
    /// unless `StoreConfiguration.sealOnCompact` is off, so the space their record keys took
    /// is given back by the same compaction.
    public func compact() throws {
        let db = try database()
        if configuration.sealOnCompact { try sealPartitions() }
        try compactFully(db: db, begin: nil, end: nil)
    }

    /// Compacts one keyspace.
    public func compact(_ keyspace: Keyspace) throws {
        try compactFully(db: try database(), begin: keyspace.lowerBound, end: keyspace.upperBound)
    }

    /// Compacts [begin, end] (nil: open) down to its deepest level, so that what deletes and
    /// replacements made obsolete leaves the disk.
    ///
    /// LevelDB's `CompactRange` compacts every level above the deepest one holding files in the
    /// range into the next, but never takes the deepest level itself as an input. A record and
    /// its delete that reach disk together (records written and expired before any flush: the
    /// flushed table goes straight to level 2 when nothing overlaps it) then stay there for
    /// good, however often the range is compacted. So after a first pass, a put and a delete of
    /// a key just past each end (the end plus a 0x00 byte: no keyspace has a key of that form,
    /// see docs/storage-format.md section 3) give the range a new upper-level table that
    /// overlaps every deepest-level table in it, and a second pass merges them all: obsolete
    /// entries are dropped at the deepest level, the markers with them. Readers never see a
    /// marker (its put and delete are one batch). The cost is one rewrite of the range's
    /// deepest level, which a full compaction is expected to do.
    ///
    /// Where the range's deepest level outweighs ten tables (`maxFileBytes`), LevelDB flushes
    /// the markers to level 0 and they drop out before reaching it, so the second pass changes
    /// nothing. A table stuck as above is rare there: a flush into a store that holds data
    /// also carries latest states and partition-index keys, spans keyspaces the deepest level
    /// already covers, and is merged down by LevelDB's own compactions.
    func compactFully(db: LevelDB, begin: [UInt8]?, end: [UInt8]?) throws(StorageError) {
        db.compactRange(begin: begin, end: end)
        let markers = WriteBatch()
        for marker in [(begin ?? [0x00]) + [0x00], (end ?? [0xFF]) + [0x00]] {
            markers.put(marker, [])
            markers.delete(marker)
        }
        try writeMaintenance(markers, db: db)
        db.compactRange(begin: begin, end: end)
    }
}

extension TelemetryStore {
    /// A LevelDB property such as `leveldb.stats`, `leveldb.sstables`,
    /// `leveldb.num-files-at-level0` or `leveldb.approximate-memory-usage`.
    public func leveldbProperty(_ name: String) throws -> String? {
        try database().property(name)
    }
}
