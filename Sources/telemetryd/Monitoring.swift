import CoreMetrics
import Metrics
import Prometheus
import TelemetryServer
import TelemetryStorage

/// The process's Prometheus registry and the store gauges refreshed on each scrape.
struct Monitoring: Sendable {
    let registry = PrometheusCollectorRegistry()
    private let store: StoreMetrics

    init(stores: StoreHandle) {
        // Only the executable bootstraps the metrics system (STYLE.md 1.6).
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        self.store = StoreMetrics(stores: stores)
    }

    /// The Prometheus text exposition, with the store gauges read now.
    func render() -> String {
        store.refresh()
        return registry.emitToString()
    }
}
