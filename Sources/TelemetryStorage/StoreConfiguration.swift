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

    public init(durability: Durability = .buffered) {
        self.durability = durability
    }
}
