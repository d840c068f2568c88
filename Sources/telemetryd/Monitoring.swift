import CoreMetrics
import Metrics
import Prometheus
import TelemetryServer
import TelemetryStorage

/// The process's Prometheus registry and the store gauges refreshed on each scrape.
struct Monitoring: Sendable {
    let registry = PrometheusCollectorRegistry()
    private let levelFiles: [CoreMetrics.Gauge]
    private let memory: CoreMetrics.Gauge
    private let degraded: CoreMetrics.Gauge
    private let diskBytes: CoreMetrics.Gauge
    private let stores: StoreHandle
    /// Read at each scrape: an online restore swaps the store.
    private var store: TelemetryStore { stores.current }

    init(stores: StoreHandle) {
        self.stores = stores
        // Only the executable bootstraps the metrics system (STYLE.md 1.6).
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        levelFiles = (0..<7).map { CoreMetrics.Gauge(label: "telemetry_leveldb_files", dimensions: [("level", String($0))]) }
        memory = CoreMetrics.Gauge(label: "telemetry_leveldb_memory_bytes")
        degraded = CoreMetrics.Gauge(label: "telemetry_store_degraded")
        diskBytes = CoreMetrics.Gauge(label: "telemetry_store_disk_bytes")
    }

    /// The Prometheus text exposition, with the store gauges read now. Level-0 file count is
    /// LevelDB's compaction backlog: writes slow down at 8 files and stop at 12.
    func render() -> String {
        for (level, gauge) in levelFiles.enumerated() {
            if let n = (try? store.leveldbProperty("leveldb.num-files-at-level\(level)")).flatMap({ $0 }).flatMap(Int.init) {
                gauge.record(n)
            }
        }
        if let m = (try? store.leveldbProperty("leveldb.approximate-memory-usage")).flatMap({ $0 }).flatMap(Int.init) {
            memory.record(m)
        }
        if case .degraded = store.health { degraded.record(1) } else { degraded.record(0) }
        diskBytes.record(Self.directoryBytes(store.path))
        return registry.emitToString()
    }

    static func directoryBytes(_ path: String) -> Int {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        return names.reduce(0) { sum, name in
            let attributes = try? FileManager.default.attributesOfItem(atPath: path + "/" + name)
            return sum + ((attributes?[.size] as? Int) ?? 0)
        }
    }
}

import Foundation
