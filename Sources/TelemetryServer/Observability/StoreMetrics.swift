public import CoreMetrics
import Foundation
public import TelemetryStorage

/// Gauges of the store, read from it on each scrape (`refresh()`): LevelDB's files and bytes
/// per level, pending compaction, memory, the store's health and the data folder's size. No
/// vehicle appears as a dimension; levels and keyspaces are the only ones.
public struct StoreMetrics: Sendable {
    private let stores: StoreHandle
    /// Read at each refresh: an online restore swaps the store.
    private var store: TelemetryStore { stores.current }
    private let levelFiles: [Gauge]
    private let levelBytes: [Gauge]
    private let keyspaceBytes: [(Keyspace, Gauge)]
    private let pendingCompaction: Gauge
    private let memory: Gauge
    private let degraded: Gauge
    private let health: [(String, Gauge)]
    private let diskBytes: Gauge

    public init(store: TelemetryStore, factory: any MetricsFactory = MetricsSystem.factory) {
        self.init(stores: StoreHandle(store), factory: factory)
    }

    /// Gauges of whichever store `stores` holds.
    public init(stores: StoreHandle, factory: any MetricsFactory = MetricsSystem.factory) {
        self.stores = stores
        let levels = 0..<TelemetryStore.leveldbLevels
        levelFiles = levels.map { Gauge(label: "telemetry_leveldb_files", dimensions: [("level", String($0))], factory: factory) }
        levelBytes = levels.map { Gauge(label: "telemetry_leveldb_bytes", dimensions: [("level", String($0))], factory: factory) }
        keyspaceBytes = Keyspace.allCases.map {
            ($0, Gauge(label: "telemetry_keyspace_bytes", dimensions: [("keyspace", $0.description)], factory: factory))
        }
        pendingCompaction = Gauge(label: "telemetry_leveldb_pending_compaction_bytes", factory: factory)
        memory = Gauge(label: "telemetry_leveldb_memory_bytes", factory: factory)
        degraded = Gauge(label: "telemetry_store_degraded", factory: factory)
        health = ["ready", "degraded", "closed"].map { ($0, Gauge(label: "telemetry_store_health", dimensions: [("state", $0)], factory: factory)) }
        diskBytes = Gauge(label: "telemetry_store_disk_bytes", factory: factory)
    }

    /// Reads the store's figures into the gauges. A closed store leaves the LevelDB gauges as
    /// they were and reports its health.
    public func refresh() {
        let state: String
        switch store.health {
        case .ready: state = "ready"
        case .degraded: state = "degraded"
        case .closed: state = "closed"
        }
        degraded.record(state == "degraded" ? 1 : 0)
        for (name, gauge) in health { gauge.record(name == state ? 1 : 0) }
        diskBytes.record(Self.directoryBytes(store.path))
        // Cheap figures only (no key scans): a scrape every few seconds must not load the store.
        guard let db = store.leveldbUsage() else { return }
        for usage in db.levels where usage.level < levelFiles.count {
            levelFiles[usage.level].record(usage.files)
            levelBytes[usage.level].record(Int64(clamping: usage.bytes))
        }
        pendingCompaction.record(Int64(clamping: db.pendingCompactionBytes))
        memory.record(Int64(clamping: db.memoryBytes))
        for (keyspace, gauge) in keyspaceBytes {
            gauge.record(Int64(clamping: db.keyspaceBytes[keyspace] ?? 0))
        }
    }

    /// Bytes of LevelDB's write-ahead log files (`*.log`) in the data folder: what was written
    /// since the last memtable flush, which no keyspace's table size includes yet.
    public static func writeAheadLogBytes(_ path: String) -> Int {
        directoryBytes(path) { $0.hasSuffix(".log") }
    }

    /// Bytes of the database's data: every file but LevelDB's own text log (`LOG`, `LOG.old`),
    /// which grows with each compaction it describes. What a compaction reports before and
    /// after, so that compacting a small store does not read as growing it.
    public static func dataBytes(_ path: String) -> Int {
        directoryBytes(path) { $0 != "LOG" && $0 != "LOG.old" }
    }

    /// Bytes of the files directly in `path` whose names pass `include` (LevelDB keeps no
    /// subfolders).
    public static func directoryBytes(_ path: String, where include: (String) -> Bool = { _ in true }) -> Int {
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: path) } catch { return 0 }
        return names.filter(include).reduce(0) { sum, name in
            // A file removed between the listing and its stat (a compaction) counts 0.
            let attributes = try? FileManager.default.attributesOfItem(atPath: path + "/" + name)
            return sum + ((attributes?[.size] as? Int) ?? 0)
        }
    }
}
