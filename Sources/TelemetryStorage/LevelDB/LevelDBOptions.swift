/// Tuning of one LevelDB database. Defaults suit the telemetry workload on a small machine.
public struct LevelDBOptions: Sendable, Hashable {
    /// Create the database when the folder holds none.
    public var createIfMissing = true
    /// LRU block cache, bytes. LevelDB's own default is 8 MiB.
    public var blockCacheBytes = 32 << 20
    /// Bloom filter bits per key; 0 disables the filter. 10 gives about 1 % false positives.
    public var bloomFilterBitsPerKey = 10
    /// Memtable size, bytes: larger means fewer, larger level-0 files (LevelDB default 4 MiB).
    public var writeBufferBytes = 48 << 20
    /// Target size of a table file (LevelDB default 2 MiB).
    public var maxFileBytes = 4 << 20
    /// Uncompressed size of a table block (LevelDB default 4 KiB).
    public var blockBytes = 16 << 10
    /// Open files LevelDB may keep for its table cache.
    public var maxOpenFiles = 500
    /// Read table files through mmap, LevelDB's default on 64-bit systems. Off (the
    /// default here), they are read with pread: every page of a mapped table that a
    /// compaction or scan touched counts in the process's resident memory (up to the whole
    /// database), while read blocks stay in the kernel's page cache and the bounded block
    /// cache. On the TCP benchmark mapped tables made up 75 to 100 MiB of the server's peak
    /// resident memory (docs/BENCHMARKS.md, "Memory").
    public var memoryMappedReads = false
    /// Snappy block compression.
    public var compression = true
    /// Paranoid checks: a damaged log or manifest stops the open instead of silently
    /// dropping what it holds (acknowledged writes).
    public var paranoidChecks = true

    public init() {}
}
