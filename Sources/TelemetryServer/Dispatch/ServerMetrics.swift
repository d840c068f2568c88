public import CoreMetrics
public import TelemetryStorage

/// The server's metrics, made once (never per request). Names follow
/// `telemetry_<noun>_<unit>[_total]`; dimensions are low-cardinality (request kind,
/// status code), never a vehicle or request id.
public struct ServerMetrics: Sendable {
    let recordsIngested: Counter
    let recordsDuplicate: Counter
    let recordsRejected: Counter
    let ingestBatches: Counter
    /// Frame bytes of ingest requests as received (compressed when the client compressed).
    let ingestBytes: Counter
    let connectionsOpened: Counter
    let connectionsRejected: Counter
    let connectionsActive: Gauge
    /// Requests read and not yet answered, over every connection: ingest batches waiting for
    /// the write or in it, queries waiting for a thread or on one. A value that stays high while
    /// `telemetry_requests_total` grows slowly says the server is behind its clients.
    let requestsInFlight: Meter
    /// Queries skipped because their connection closed while they waited for a thread.
    let queriesSkipped: Counter
    let writeLatency: Timer
    /// Time to serve a request, by kind: queries from their dispatch to their last answer
    /// frame; ingest from the start of its commit (mapping and write) to its answer.
    let requestLatency: [RequestKind: Timer]
    private let requests: [RequestKind: [UInt8: Counter]]
    /// Totals and last-minute rates for `admin stats`.
    public let ingestTally: IngestTally
    /// Removed by retention, by keyspace: `canonical`, `raw`, `dead_letters`.
    let retentionRemoved: [String: Counter]
    /// Dead letters that `admin dlq replay` stored (or found stored) and removed.
    let deadLettersReplayed: Counter
    /// Dead letters a replay tried that still fail, and stay.
    let deadLettersStillFailing: Counter

    /// - Parameter factory: where the metrics go; the server executable passes Prometheus's,
    ///   tests pass a test factory.
    public init(factory: any MetricsFactory = MetricsSystem.factory) {
        recordsIngested = Counter(label: "telemetry_ingest_records_total", dimensions: [("outcome", "stored")], factory: factory)
        recordsDuplicate = Counter(label: "telemetry_ingest_records_total", dimensions: [("outcome", "duplicate")], factory: factory)
        recordsRejected = Counter(label: "telemetry_ingest_records_total", dimensions: [("outcome", "rejected")], factory: factory)
        ingestBatches = Counter(label: "telemetry_ingest_batches_total", factory: factory)
        ingestBytes = Counter(label: "telemetry_ingest_bytes_total", factory: factory)
        connectionsOpened = Counter(label: "telemetry_connections_opened_total", factory: factory)
        connectionsRejected = Counter(label: "telemetry_connections_rejected_total", factory: factory)
        connectionsActive = Gauge(label: "telemetry_connections_active", factory: factory)
        requestsInFlight = Meter(label: "telemetry_requests_in_flight", factory: factory)
        queriesSkipped = Counter(label: "telemetry_queries_skipped_total", factory: factory)
        writeLatency = Timer(label: "telemetry_store_write_seconds", factory: factory)
        var latency: [RequestKind: Timer] = [:]
        for kind in RequestKind.allCases where kind != .hello {
            latency[kind] = Timer(label: "telemetry_request_seconds", dimensions: [("kind", kind.rawValue)], factory: factory)
        }
        requestLatency = latency
        var requests: [RequestKind: [UInt8: Counter]] = [:]
        for kind in RequestKind.allCases {
            var byCode: [UInt8: Counter] = [:]
            for code in UInt8(0)...16 {
                byCode[code] = Counter(
                    label: "telemetry_requests_total", dimensions: [("kind", kind.rawValue), ("code", String(code))], factory: factory)
            }
            requests[kind] = byCode
        }
        self.requests = requests
        ingestTally = IngestTally()
        var removed: [String: Counter] = [:]
        for keyspace in ["canonical", "raw", "dead_letters"] {
            removed[keyspace] = Counter(label: "telemetry_retention_removed_total", dimensions: [("keyspace", keyspace)], factory: factory)
        }
        retentionRemoved = removed
        deadLettersReplayed = Counter(label: "telemetry_dead_letters_replayed_total", dimensions: [("outcome", "stored")], factory: factory)
        deadLettersStillFailing = Counter(
            label: "telemetry_dead_letters_replayed_total", dimensions: [("outcome", "still_failing")], factory: factory)
    }

    /// Counts what a retention pass removed (a dry run removes nothing).
    public func retentionApplied(_ summary: RetentionSummary) {
        guard !summary.dryRun else { return }
        retentionRemoved["canonical"]?.increment(by: Int64(clamping: summary.canonicalRecords))
        retentionRemoved["raw"]?.increment(by: Int64(clamping: summary.rawRecords))
        retentionRemoved["dead_letters"]?.increment(by: Int64(clamping: summary.deadLetters))
    }

    func requestAnswered(_ kind: RequestKind, code: UInt32) {
        requests[kind]?[UInt8(clamping: code)]?.increment()
    }
}
