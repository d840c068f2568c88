import Foundation
import Logging
import NIOPosix
import SwiftProtobuf
import TelemetryCore
import TelemetryStorage
import TelemetryWire

/// stats, compact, reopen, retention.
extension RequestDispatcher {
    static let defaultTopVehicles = 10
    static let maxTopVehicles = 1000

    func stats(_ r: Telemetry_V1_StatsRequest) async throws -> Telemetry_V1_StatsResponse {
        guard r.topVehicles <= Self.maxTopVehicles else {
            throw StatusError(.invalidArgument, "top_vehicles \(r.topVehicles) exceeds the maximum of \(Self.maxTopVehicles)")
        }
        let top = r.topVehicles == 0 ? Self.defaultTopVehicles : Int(r.topVehicles)
        let tally = metrics.ingestTally.snapshot()
        let draining = isDraining()
        // The versions mapping new records now: `provider@version` -> its mapping count.
        let active = (mappings?.list() ?? []).filter(\.active).map { ("\($0.file.provider)@\($0.file.version)", UInt64($0.file.mappings)) }
        return try await threadPool.runIfActive { [store] in
            // Health first: a closed store answers with its health, then fails on the reads.
            let health = draining ? "draining" : Self.healthText(store.health)
            let storage = try store.storageStats(countEntries: r.countEntries)
            let vehicles = try store.vehicles()
            let topVehicles = try store.topVehicles(top)
            return Telemetry_V1_StatsResponse.with { s in
                s.health = health
                s.vehicles = UInt64(vehicles.count)
                s.records = vehicles.reduce(0) { $0 + $1.recordCount }
                s.diskBytes = UInt64(StoreMetrics.directoryBytes(store.path))
                s.writeAheadLogBytes = UInt64(StoreMetrics.writeAheadLogBytes(store.path))
                s.leveldbStats = storage.leveldbStats
                s.memoryBytes = storage.memoryBytes
                s.pendingCompactionBytes = storage.pendingCompactionBytes
                s.storageFormat = TelemetryStore.formatVersion
                s.partitionWidthMs = store.partitionWidthMs
                s.keySlotWidthMs = store.keySlotWidthMs
                s.levels = storage.levels.map { l in
                    .with {
                        $0.level = UInt32(l.level)
                        $0.files = UInt32(l.files)
                        $0.bytes = l.bytes
                    }
                }
                s.keyspaces = storage.keyspaces.map { k in
                    .with {
                        $0.name = k.keyspace.description
                        $0.entries = k.entries ?? 0
                        $0.counted = k.entries != nil
                        $0.approximateBytes = k.approximateBytes
                    }
                }
                s.topVehicles = topVehicles.map(\.wire)
                s.recordsIngested = tally.stored
                s.recordsRejected = tally.rejected
                s.recordsLate = tally.late
                s.ingestRecordsPerSecond = tally.storedPerSecond
                s.rejectRecordsPerSecond = tally.rejectedPerSecond
                s.deadLetters = storage.deadLetters
                s.activeMappings = active.map { a in
                    .with {
                        $0.name = a.0
                        $0.count = a.1
                    }
                }
                s.deadLettersByReason = storage.deadLettersByReason.map { d in
                    .with {
                        $0.name = d.reason
                        $0.count = d.count
                    }
                }
            }
        }
    }

    static func healthText(_ health: StoreHealth) -> String {
        switch health {
        case .ready: return "ready"
        case .degraded(let reason): return "degraded: \(reason)"
        case .closed: return "closed"
        }
    }

    func compact(_ c: Telemetry_V1_CompactRequest, progress: AdminProgress) async throws -> Telemetry_V1_CompactResponse {
        let scope: CompactionScope
        if !c.vehicleID.isEmpty {
            guard c.keyspace.isEmpty else {
                throw StatusError(.invalidArgument, "keyspace and vehicle_id exclude each other: a vehicle's compaction covers its keyspaces")
            }
            let vehicle: VehicleID
            do { vehicle = try VehicleID(c.vehicleID) } catch { throw StatusError(.invalidArgument, "vehicle_id: \(error)") }
            let to = c.toMs == 0 ? Int64.max : c.toMs
            guard c.fromMs < to else { throw StatusError(.invalidArgument, "from_ms \(c.fromMs) must be before to_ms \(to)") }
            scope = .vehicle(vehicle, from: c.fromMs, to: to)
        } else if c.keyspace.isEmpty {
            scope = .all
        } else {
            guard let k = Keyspace.allCases.first(where: { $0.description == c.keyspace }) else {
                let names = Keyspace.allCases.map(\.description).joined(separator: ", ")
                throw StatusError(.invalidArgument, "unknown keyspace \"\(c.keyspace)\"; one of: \(names)")
            }
            scope = .keyspace(k)
        }
        // A degraded store's LevelDB holds a background error and would skip the work while
        // the answer said "compacted": say why instead.
        if case .degraded(let reason) = store.health {
            throw StatusError(.unavailable, "the store is degraded (\(reason)); reopen it before compacting (telemetryctl admin reopen)")
        }
        let before = StoreMetrics.dataBytes(store.path)
        let start = ContinuousClock.now
        try await withStorageProgress(progress) { [store] report in
            if c.sealAll {
                try report("sealing every partition", 0, 0, "keyspaces")
                try store.seal(upTo: .max)
            }
            try store.compact(scope, sealClosed: !c.sealAll) { phase, done, total in try report(phase, done, total, "keyspaces") }
        }
        let elapsed = ContinuousClock.now - start
        return Telemetry_V1_CompactResponse.with {
            $0.bytesBefore = UInt64(before)
            $0.bytesAfter = UInt64(StoreMetrics.dataBytes(store.path))
            $0.seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        }
    }

    func reopen(_ r: Telemetry_V1_ReopenRequest) async throws -> Telemetry_V1_ReopenResponse {
        let (before, health) = try await threadPool.runIfActive { [store] in (store.health, try store.reopen()) }
        if case .closed = health {
            throw StatusError(.unavailable, "the store is closed (shutting down, or replaced by a restore); retry on the running store")
        }
        if case .degraded(let reason) = before {
            logger.notice("store reopened by an admin request; writes resume", metadata: ["telemetry.failure": "\(reason)"])
        }
        return .with { $0.health = Self.healthText(health) }
    }

    func retention(_ r: Telemetry_V1_RetentionRequest, progress: AdminProgress) async throws -> Telemetry_V1_RetentionResponse {
        // 0 takes the configured retention; negative keeps the keyspace whole.
        func age(_ requested: Int64, _ configured: Int64?) -> Int64? {
            requested == 0 ? configured : (requested < 0 ? nil : requested)
        }
        let configured = configuration.retention
        let policy = RetentionPolicy(
            canonicalMs: age(r.canonicalMs, configured.canonicalMs), rawMs: age(r.rawMs, configured.rawMs),
            deadLettersMs: age(r.deadLettersMs, configured.deadLettersMs))
        let namesAKeep = [r.canonicalMs, r.rawMs, r.deadLettersMs].contains { $0 < 0 }
        if policy.keepsEverything, namesAKeep {
            // Every keyspace kept, on purpose: nothing to remove, and nothing to refuse.
            return .with {
                $0.nowMs = clock()
                $0.dryRun = r.dryRun
            }
        }
        guard !policy.keepsEverything else {
            throw StatusError(
                .failedPrecondition,
                "no retention is configured and the request names none: give canonical_ms, raw_ms or dead_letters_ms "
                    + "(telemetryctl admin retention --canonical, --raw or --dead-letters)")
        }
        let now = clock()
        let summary = try await withStorageProgress(progress) { [store] report in
            try store.applyRetention(policy, now: now, dryRun: r.dryRun) { phase, done, total, unit in try report(phase, done, total, unit) }
        }
        metrics.retentionApplied(summary)
        return .with {
            $0.nowMs = summary.nowMs
            $0.dryRun = summary.dryRun
            $0.canonicalPartitions = summary.canonicalPartitions
            $0.canonicalRecords = summary.canonicalRecords
            $0.rawRecords = summary.rawRecords
            $0.deadLetters = summary.deadLetters
        }
    }

    /// Runs blocking storage work on the maintenance threads while its progress reports (made on that
    /// thread) become progress frames: a frame at each phase change, throttled within a phase.
    func withStorageProgress<T: Sendable>(
        _ progress: AdminProgress,
        _ work: @escaping @Sendable (_ report: (String, UInt64, UInt64, String) throws -> Void) throws -> T
    ) async throws -> T {
        let (stream, continuation) = AsyncStream.makeStream(of: (String, UInt64, UInt64, String).self, bufferingPolicy: .bufferingNewest(16))
        async let result = maintenancePool.runIfActive {
            defer { continuation.finish() }
            return try work { phase, done, total, unit in continuation.yield((phase, done, total, unit)) }
        }
        var phase = ""
        for await (p, done, total, unit) in stream {
            try await progress.report(p, done: done, total: total, unit: unit, force: p != phase)
            phase = p
        }
        return try await result
    }
}
