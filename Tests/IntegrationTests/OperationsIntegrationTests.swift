import Foundation
import Glibc
import Prometheus
import ServiceLifecycleTestKit
import Testing
import TelemetryClient
import TelemetryCore
import TelemetryServer
import TelemetryStorage

/// Whether this machine lets the tests mount a tmpfs (root in a container that allows mounts).
/// Tried once, on a probe folder that is unmounted at once.
let tmpfsMountAllowed: Bool = {
    guard geteuid() == 0 else { return false }
    let probe = FileManager.default.temporaryDirectory.appendingPathComponent("telemetry-tmpfs-probe-\(UUID().uuidString)").path
    defer { try? FileManager.default.removeItem(atPath: probe) }
    guard (try? FileManager.default.createDirectory(atPath: probe, withIntermediateDirectories: true)) != nil,
        run("/bin/mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", probe])
    else { return false }
    return run("/bin/umount", [probe])
}()

/// Runs a program; true when it exited 0.
@discardableResult
func run(_ program: String, _ arguments: [String]) -> Bool {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: program)
    process.arguments = arguments
    process.standardError = FileHandle.nullDevice
    do { try process.run() } catch { return false }
    process.waitUntilExit()
    return process.terminationStatus == 0
}

@Suite("Operations over the protocol: stats, compact, retention, reopen, disk full")
struct OperationsIntegrationTests {
    static let day: Int64 = 86_400_000

    func batch(_ vehicle: String, from: Int64, count: Int, step: Int64 = 1000, padding: Int = 0) -> [ProviderRecord] {
        (0..<count).map { i in
            var fields = [Field("speed", .double(Double(i))), Field("odometer", .int(Int64(i)))]
            if padding > 0 { fields.append(Field("note", .string(String(repeating: "x", count: padding) + "\(i)"))) }
            return record(vehicle, from + Int64(i) * step, fields)
        }
    }

    @Test("stats and compaction while ingest runs: both answer, every acknowledged record is stored")
    func statsAndCompactionDuringIngest() async throws {
        try await withServer { server in
            try await withTelemetryClient(server.clientConfiguration()) { client in
                _ = try await client.ingest(batch("busy", from: 1_700_000_000_000, count: 2000))
                _ = try await client.ingest(batch("quiet", from: 1_700_000_000_000, count: 10))
                let acked = try await withThrowingTaskGroup(of: Int.self) { group in
                    group.addTask {
                        var n = 0
                        for k in 0..<20 {
                            n += try await client.ingest(self.batch("flow", from: 1_700_000_000_000 + Int64(k) * 1_000_000, count: 500)).accepted
                        }
                        return n
                    }
                    let compaction = try await client.compact()
                    #expect(compaction.phases.contains("compacting canonical"))
                    #expect(compaction.phases.last == "done")
                    let keyspace = try await client.compact(keyspace: "raw")
                    #expect(keyspace.phases.first == "compacting raw")
                    let vehicle = try await client.compact(vehicle: vid("busy"), from: 1_700_000_000_000, to: 1_700_003_600_000)
                    #expect(vehicle.phases.first == "compacting canonical")
                    let stats = try await client.stats(topVehicles: 2)
                    #expect(stats.health == "ready")
                    // "flow" grows meanwhile and may be ahead of "busy" already.
                    #expect(stats.topVehicles.contains { $0.vehicle.rawValue == "busy" && $0.recordCount == 2000 })
                    #expect(stats.topVehicles.map(\.recordCount) == stats.topVehicles.map(\.recordCount).sorted(by: >))
                    return try await group.next() ?? 0
                }
                #expect(acked == 10_000)
                let stats = try await client.stats(topVehicles: 3, countEntries: true)
                #expect(stats.records == 12_010)
                #expect(stats.recordsIngested == 12_010)
                #expect(stats.ingestRecordsPerSecond > 0)
                #expect(stats.levels.count == 7)
                #expect(stats.levels.reduce(0) { $0 + $1.files } > 0)
                #expect(stats.keyspaces.first { $0.name == "canonical" }?.entries == 12_010)
                #expect(stats.keyspaces.first { $0.name == "raw" }?.entries != nil)
                #expect(stats.topVehicles.map(\.vehicle.rawValue) == ["flow", "busy", "quiet"])
                #expect(stats.leveldbStats.contains("Compactions"))
                // A new store: the current format, hourly partitions, 10-minute key slots.
                #expect(stats.storageFormat == TelemetryStore.formatVersion)
                #expect(stats.partitionWidthMs == 3_600_000 && stats.keySlotWidthMs == 600_000)
                let page = try await client.range(RangeQuery(vehicle: vid("flow"), from: .min, to: .max))
                #expect(page.records.count == 10_000)
                await #expect(throws: StatusError.self) { try await client.compact(keyspace: "nope") }
                await #expect(throws: StatusError.self) { try await client.stats(topVehicles: 5000) }
                // Records written since the last flush are in the write-ahead log, part of the disk figure.
                // Written after the compactions, which flush the memtable and may leave an empty log behind.
                _ = try await client.ingest(batch("tail", from: 1_700_000_000_000, count: 5))
                let after = try await client.stats()
                #expect(after.writeAheadLogBytes > 0 && after.writeAheadLogBytes <= after.diskBytes)
            }
        }
    }

    @Test("retention over the protocol: the dry run counts, the real run removes exactly that, list and latest agree")
    func retention() async throws {
        try await withServer { server in
            try await withTelemetryClient(server.clientConfiguration()) { client in
                let now = Int64(Date().timeIntervalSince1970 * 1000)
                _ = try await client.ingest(batch("r", from: now - 500 * Self.day, count: 24, step: 3_600_000))
                _ = try await client.ingest(batch("r", from: now - Self.day, count: 5))
                await #expect(throws: StatusError.self) { try await client.retention() }  // nothing configured, nothing named
                // Every keyspace kept on purpose is a request that removes nothing, not an error.
                let kept = try await client.retention(canonical: .keepAll, raw: .keepAll, deadLetters: .keepAll, dryRun: true)
                #expect(kept.canonicalRecords == 0 && kept.rawRecords == 0 && kept.deadLetters == 0 && kept.dryRun)
                let dry = try await client.retention(canonical: .milliseconds(400 * Self.day), dryRun: true)
                #expect(dry.dryRun && dry.canonicalRecords == 24 && dry.canonicalPartitions == 24)
                #expect(try await client.vehicles().first?.recordCount == 29)
                let done = try await client.retention(canonical: .milliseconds(400 * Self.day), raw: .keepAll)
                #expect(!done.dryRun && done.canonicalRecords == 24 && done.canonicalPartitions == 24)
                let summary = try await client.vehicles().first
                #expect(summary?.recordCount == 5 && summary?.firstTimestamp == now - Self.day)
                let latest = try await client.latest([vid("r")])
                #expect(latest.states.first?.timestamp == now - Self.day + 4000)
            }
        }
    }

    @Test(
        "disk full during ingest: RESOURCE_EXHAUSTED, reads and stats go on, nothing acknowledged is lost, writes resume after reopen",
        .enabled(if: tmpfsMountAllowed, "needs root and permission to mount a tmpfs; not available on this machine"))
    func diskFull() async throws {
        try await withTemporaryDirectory { dir in
            let mount = dir + "/small"
            try FileManager.default.createDirectory(atPath: mount, withIntermediateDirectories: true)
            #expect(run("/bin/mount", ["-t", "tmpfs", "-o", "size=16m", "tmpfs", mount]))
            defer { run("/bin/umount", ["-l", mount]) }
            let path = mount + "/store"
            let store = try TelemetryStore(path: path)
            defer { store.close() }
            // Leave about 3 MiB: the log fills it within a few batches.
            var fs = statvfs()
            #expect(statvfs(mount, &fs) == 0)
            let free = Int(fs.f_bavail) * Int(fs.f_frsize)
            let filler = mount + "/filler"
            #expect(FileManager.default.createFile(atPath: filler, contents: Data(count: max(0, free - (3 << 20)))))

            try await serve(store: store, path: path) { server in
                try await withTelemetryClient(server.clientConfiguration()) { client in
                    var acked = 0
                    var failure: StatusError?
                    for k in 0..<200 {
                        do {
                            acked += try await client.ingest(
                                self.batch("full", from: 1_700_000_000_000 + Int64(k) * 1_000_000, count: 500, padding: 200)
                            ).accepted
                        } catch let error as StatusError {
                            failure = error
                            break
                        }
                    }
                    let error = try #require(failure, "the disk never filled")
                    #expect(error.code == .resourceExhausted)
                    #expect(error.message.contains("No space left on device"))
                    #expect(acked > 0)
                    // Later writes are refused too, saying why.
                    let again = await #expect(throws: StatusError.self) {
                        try await client.ingest(self.batch("full", from: 1_600_000_000_000, count: 1))
                    }
                    #expect(again?.message.contains("No space left on device") == true)

                    // Reads and stats keep working.
                    var page = try await client.range(RangeQuery(vehicle: vid("full"), from: .min, to: .max))
                    #expect(page.records.count == acked)
                    let stats = try await client.stats()
                    #expect(stats.health.hasPrefix("degraded: "))
                    // Reopen refuses while the disk is still full, and the store keeps serving reads.
                    let refused = await #expect(throws: StatusError.self) { try await client.reopen() }
                    #expect(refused?.code == .resourceExhausted)
                    #expect(try await client.range(RangeQuery(vehicle: vid("full"), from: .min, to: .max)).records.count == acked)

                    try FileManager.default.removeItem(atPath: filler)
                    #expect(try await client.reopen() == "ready")
                    page = try await client.range(RangeQuery(vehicle: vid("full"), from: .min, to: .max))
                    #expect(page.records.count == acked, "every acknowledged record is there after the reopen")
                    let resumed = try await client.ingest(self.batch("full", from: 1_650_000_000_000, count: 10))
                    #expect(resumed.accepted == 10)
                    #expect(try await client.vehicles().first?.recordCount == UInt64(acked + 10))
                }
            }
        }
    }

    @Test("/metrics carries the store gauges and retention counters; /health and /ready follow a degraded store")
    func storeMetrics() async throws {
        try await withTemporaryDirectory { dir in
            let store = try TelemetryStore(path: dir + "/store")
            defer { store.close() }
            let registry = PrometheusCollectorRegistry()
            let factory = PrometheusMetricsFactory(registry: registry)
            let metrics = ServerMetrics(factory: factory)
            let storeMetrics = StoreMetrics(store: store, factory: factory)
            let http = try await ObservabilityServer.bind(
                host: "127.0.0.1", port: 0, logger: quietLogger,
                health: {
                    switch store.health {
                    case .ready: return HealthReport(state: .ready)
                    case .degraded(let reason): return HealthReport(state: .degraded, reason: reason)
                    case .closed: return HealthReport(state: .closed)
                    }
                },
                metrics: {
                    storeMetrics.refresh()
                    return registry.emitToString()
                })
            try await testGracefulShutdown { trigger in
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { try await http.run() }
                    try await serve(store: store, path: dir + "/store", metrics: metrics) { server in
                        try await withTelemetryClient(server.clientConfiguration()) { client in
                            let now = Int64(Date().timeIntervalSince1970 * 1000)
                            _ = try await client.ingest(batch("m", from: now - 10 * Self.day, count: 3))
                            _ = try await client.ingest(batch("m", from: now, count: 2))
                            _ = try await client.compact()
                            _ = try await client.retention(canonical: .milliseconds(5 * Self.day))
                        }
                    }
                    let scraped = try await httpGet(port: http.localPort, "/metrics").1
                    #expect(!scraped.contains("vehicle=") && !scraped.contains("\"m\""), "no vehicle ids as labels")
                    let values = MonitoringTests().parse(scraped)
                    #expect(values["telemetry_store_health{state=\"ready\"}"] == 1)
                    #expect(values["telemetry_store_health{state=\"degraded\"}"] == 0)
                    #expect(values["telemetry_store_degraded"] == 0)
                    #expect((values["telemetry_leveldb_files{level=\"0\"}"] ?? -1) >= 0)
                    let tableBytes = (0..<7).compactMap { values["telemetry_leveldb_bytes{level=\"\($0)\"}"] }
                    #expect(tableBytes.count == 7 && tableBytes.reduce(0, +) > 0, "after a compaction the data is in tables")
                    #expect(values["telemetry_leveldb_pending_compaction_bytes"] != nil)
                    #expect(values["telemetry_keyspace_bytes{keyspace=\"canonical\"}"] != nil)
                    #expect(values["telemetry_retention_removed_total{keyspace=\"canonical\"}"] == 3)
                    #expect((values["telemetry_store_disk_bytes"] ?? 0) > 0)

                    // A failed write: the gauges, /health and /ready say so.
                    store.faultInjection.failNextWrite()
                    #expect(throws: StorageError.self) { try store.write([TelemetryRecord(vehicle: vid("m"), timestamp: 1, fields: [Field("a", .int(1))], provenance: Provenance(provider: "p", mappingVersion: "1", receivedAt: 1))]) }
                    let degraded = MonitoringTests().parse(try await httpGet(port: http.localPort, "/metrics").1)
                    #expect(degraded["telemetry_store_health{state=\"degraded\"}"] == 1)
                    #expect(degraded["telemetry_store_degraded"] == 1)
                    let (status, body) = try await httpGet(port: http.localPort, "/health")
                    #expect(status == 200 && body.contains("\"status\":\"degraded\"") && body.contains("injected fault"))
                    #expect(try await httpGet(port: http.localPort, "/ready").0 == 503)
                    #expect(try store.reopen() == .ready)
                    #expect(try await httpGet(port: http.localPort, "/ready").0 == 200)
                    trigger.triggerGracefulShutdown()
                    try await group.waitForAll()
                }
            }
        }
    }
}
