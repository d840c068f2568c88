public import TelemetryCore

/// How a store is opened.
public struct StoreConfiguration: Sendable, Hashable {
    /// What an acknowledged write survives. Default: `.buffered` (a process crash).
    public var durability: Durability = .buffered
    /// LevelDB tuning (cache, bloom filter, memtable).
    public var leveldb = LevelDBOptions()
    /// Width of a time partition in ms, fixed when a store is created (later opens read
    /// the stored value). Default 1 hour: see docs/decisions/0002-time-partitions.md.
    public var partitionWidthMs: Int64 = 3_600_000
    /// Width of a key slot in ms, fixed when a store is created: record keys put the slot
    /// before the vehicle, so ingest writes into a narrow band of keys and LevelDB's compaction
    /// does not rewrite the whole open partition on every flush
    /// (docs/decisions/0006-key-slots.md). Used only when it divides the partition width;
    /// otherwise, and when nil, a slot is a whole partition. Default 10 minutes: a range
    /// over an open partition takes one seek per slot, and 1-minute slots made those ranges
    /// 30 % slower for no clear gain in ingest (docs/BENCHMARKS.md).
    public var keySlotWidthMs: Int64? = 600_000
    /// How long a partition stays open for late records before `sealPartitions()` turns it
    /// into sealed blocks, in partition widths: a partition is sealed once its end is more
    /// than this many widths older than the newest timestamp the store has seen. Default 1
    /// (with hourly partitions, an hour's data is sealed once records an hour past its end
    /// arrive). Records arriving later still are stored and read correctly, at the cost of a
    /// block lookup on write and a merge on read until the next seal folds them in.
    public var sealGracePartitions: Int64 = 1
    /// Whether `compact()` seals closed partitions before compacting. Default true.
    public var sealOnCompact = true

    public init(durability: Durability = .buffered) {
        self.durability = durability
    }
}
