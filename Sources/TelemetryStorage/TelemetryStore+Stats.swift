public import TelemetryCore
import Synchronization

/// One LevelDB level: how many table files and how many bytes.
public struct LevelUsage: Sendable, Hashable {
    public var level: Int
    public var files: Int
    public var bytes: UInt64
}

/// One keyspace: its entries (when known) and the bytes its key range takes on disk.
public struct KeyspaceUsage: Sendable, Hashable {
    public var keyspace: Keyspace
    /// Keys in the keyspace; nil when it was not counted (see `StorageStats`).
    public var entries: UInt64?
    /// LevelDB's approximate on-disk size of the keyspace's key range (tables only: what is
    /// still in the memtable and the log counts 0).
    public var approximateBytes: UInt64
}

/// What the storage layer can tell about itself (`admin stats`).
public struct StorageStats: Sendable, Hashable {
    /// Levels 0 to 6, from `leveldb.sstables` (exact file sizes).
    public var levels: [LevelUsage] = []
    /// `leveldb.approximate-memory-usage`: memtables and block cache in use.
    public var memoryBytes: UInt64 = 0
    /// LevelDB's own `leveldb.stats` text (per-level compaction table).
    public var leveldbStats = ""
    public var keyspaces: [KeyspaceUsage] = []
    /// An estimate of the bytes compaction still has to rewrite (`pendingCompactionEstimate`).
    public var pendingCompactionBytes: UInt64 = 0
    /// Stored dead letters, counted by scanning their keyspace.
    public var deadLetters: UInt64 = 0
    /// Stored dead letters by reason code, most first.
    public var deadLettersByReason: [(reason: String, count: UInt64)] = []

    public init() {}

    public static func == (a: StorageStats, b: StorageStats) -> Bool {
        a.levels == b.levels && a.memoryBytes == b.memoryBytes && a.leveldbStats == b.leveldbStats && a.keyspaces == b.keyspaces
            && a.pendingCompactionBytes == b.pendingCompactionBytes && a.deadLetters == b.deadLetters
            && a.deadLettersByReason.map(\.reason) == b.deadLettersByReason.map(\.reason)
            && a.deadLettersByReason.map(\.count) == b.deadLettersByReason.map(\.count)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(levels)
        hasher.combine(keyspaces)
        hasher.combine(deadLetters)
    }
}

/// LevelDB's cheap figures: properties and approximate sizes, no key read.
public struct LevelDBUsage: Sendable, Hashable {
    public var levels: [LevelUsage]
    public var memoryBytes: UInt64
    public var pendingCompactionBytes: UInt64
    public var keyspaceBytes: [Keyspace: UInt64]
}

extension TelemetryStore {
    /// LevelDB's per-level files and bytes, memory, pending compaction and the approximate size
    /// of each keyspace; nil when the store is closed. Reads no keys: cheap enough for every scrape.
    public func leveldbUsage() -> LevelDBUsage? {
        guard let db = try? database() else { return nil }  // closed: nothing to report, not an error
        let levels = Self.parseLevels(db.property("leveldb.sstables") ?? "")
        var bytes: [Keyspace: UInt64] = [:]
        for k in Keyspace.allCases { bytes[k] = db.approximateSize(begin: k.lowerBound, end: k.upperBound) }
        return LevelDBUsage(
            levels: levels, memoryBytes: UInt64(db.property("leveldb.approximate-memory-usage") ?? "") ?? 0,
            pendingCompactionBytes: Self.pendingCompactionEstimate(levels), keyspaceBytes: bytes)
    }

    /// LevelDB's levels (0 to 6): `config::kNumLevels` in LevelDB 1.23.
    public static let leveldbLevels = 7

    /// Statistics of the store's storage.
    ///
    /// Cost: the LevelDB properties and sizes are cheap. Entries come from counters the store
    /// keeps for canonical records (the vehicles' record counts, exact) and latest states;
    /// the dead-letter keyspace is scanned (its values are decoded for the reasons). The other
    /// keyspaces (raw, sealed, partition index, metadata) are counted with a key-only scan only
    /// when `countEntries` is set: that reads every key of them, about a second per few million keys.
    /// - Throws: `StorageError` (`.closed`, `.io`, `.dataLoss` for a damaged dead letter).
    public func storageStats(countEntries: Bool = false) throws -> StorageStats {
        let db = try database()
        var stats = StorageStats()
        guard let usage = leveldbUsage() else { throw StorageError(code: .closed, message: "the store at \(path) is closed") }
        stats.levels = usage.levels
        stats.memoryBytes = usage.memoryBytes
        stats.leveldbStats = db.property("leveldb.stats") ?? ""
        stats.pendingCompactionBytes = usage.pendingCompactionBytes

        let (records, states, derived) = view.withLock { v -> (UInt64, UInt64, UInt64) in
            var records: UInt64 = 0
            var states: UInt64 = 0
            var derived: UInt64 = 0
            for state in v.vehicles.values {
                records += state.count
                // A vehicle has a latest key while it has records, a derived key once the
                // mapping layer stored a state for it.
                if state.count > 0 { states += 1 }
                if !state.derived.isEmpty { derived += 1 }
            }
            return (records, states, derived)
        }
        var reasons: [String: UInt64] = [:]
        let letters = try scanDeadLetterReasons(db) { reasons[$0, default: 0] += 1 }
        stats.deadLetters = letters
        stats.deadLettersByReason = reasons.map { ($0.key, $0.value) }.sorted { $0.1 != $1.1 ? $0.1 > $1.1 : $0.0 < $1.0 }

        for keyspace in Keyspace.allCases {
            var entries: UInt64?
            switch keyspace {
            case .canonical: entries = records
            case .latest: entries = states
            case .derived: entries = derived
            case .deadLetter: entries = letters
            case .metadata, .raw, .partitionIndex, .sealed:
                entries = countEntries ? try countKeys(db, keyspace) : nil
            }
            stats.keyspaces.append(
                KeyspaceUsage(
                    keyspace: keyspace, entries: entries,
                    approximateBytes: usage.keyspaceBytes[keyspace] ?? 0))
        }
        return stats
    }

    /// The vehicles with the most canonical records, most first (ties by id).
    public func topVehicles(_ n: Int) throws -> [VehicleSummary] {
        let all = try vehicles()
        return Array(all.sorted { $0.recordCount != $1.recordCount ? $0.recordCount > $1.recordCount : $0.vehicle < $1.vehicle }.prefix(max(0, n)))
    }

    /// Keys in one keyspace, by a key-only scan that does not fill the block cache.
    func countKeys(_ db: LevelDB, _ keyspace: Keyspace) throws(StorageError) -> UInt64 {
        try db.withIterator(fillCache: false) { it throws(StorageError) -> UInt64 in
            var n: UInt64 = 0
            it.seek(keyspace.lowerBound)
            while it.isValid, it.withUnsafeKey({ $0.first == keyspace.rawValue }) {
                n += 1
                it.next()
            }
            try it.checkStatus(reading: "the \(keyspace) keyspace")
            return n
        }
    }

    /// Visits the reason of every stored dead letter; returns how many there are.
    private func scanDeadLetterReasons(_ db: LevelDB, _ visit: (String) -> Void) throws(StorageError) -> UInt64 {
        try db.withIterator(fillCache: false) { it throws(StorageError) -> UInt64 in
            var n: UInt64 = 0
            it.seek(Keyspace.deadLetter.lowerBound)
            while it.isValid {
                let key = it.key
                guard key.first == Keyspace.deadLetter.rawValue else { break }
                // Only the head is read: a backlog of millions of letters must not be decoded whole.
                let decoded: Result<String, ByteDecodingError> = it.value.withUnsafeBufferPointer { v in
                    Result { () throws(ByteDecodingError) in try DeadLetterCodec.reason(of: v) }
                }
                switch decoded {
                case .success(let reason): visit(reason)
                case .failure(let e): throw StorageError(code: .dataLoss, message: "damaged dead letter in the dead-letter keyspace: \(e.reason)")
                }
                n += 1
                it.next()
            }
            try it.checkStatus(reading: "the dead-letter keyspace")
            return n
        }
    }

    /// Files and bytes per level from `leveldb.sstables`, whose lines read
    /// `--- level N ---` and then one ` <file number>:<file size>[<smallest> .. <largest>]` per
    /// table (`Version::DebugString`; keys are escaped there, so a line never breaks inside one).
    static func parseLevels(_ text: String) -> [LevelUsage] {
        var levels = (0..<leveldbLevels).map { LevelUsage(level: $0, files: 0, bytes: 0) }
        var current: Int?
        for line in text.split(separator: "\n") {
            if line.hasPrefix("--- level ") {
                current = Int(line.dropFirst("--- level ".count).prefix { $0.isNumber })
                continue
            }
            guard let level = current, level < levels.count, line.hasPrefix(" "),
                let colon = line.firstIndex(of: ":"), let bracket = line.firstIndex(of: "["), colon < bracket,
                let size = UInt64(line[line.index(after: colon)..<bracket])
            else { continue }
            levels[level].files += 1
            levels[level].bytes += size
        }
        return levels
    }

    /// LevelDB 1.23 exposes no pending-compaction figure, so it is estimated from its own
    /// triggers (`VersionSet::Finalize`): level 0 is compacted once it holds 4 files (then all
    /// its bytes are due), level L >= 1 once it exceeds 10 MiB x 10^(L-1) (then the excess is
    /// due). The real rewrite is larger (each byte moved also rewrites the overlapping bytes of
    /// the next level), so read the figure as "how far behind", not as an exact amount.
    static func pendingCompactionEstimate(_ levels: [LevelUsage]) -> UInt64 {
        var pending: UInt64 = 0
        var target: Double = 10 * 1_048_576
        for usage in levels {
            if usage.level == 0 {
                if usage.files >= 4 { pending += usage.bytes }
                continue
            }
            if usage.level == leveldbLevels - 1 { break }  // the last level has no target
            if Double(usage.bytes) > target { pending += usage.bytes - UInt64(target) }
            target *= 10
        }
        return pending
    }
}
