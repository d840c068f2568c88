import Synchronization
public import TelemetryCore
import TelemetryWire

/// A name and a count (dead letters by reason, records by mapping version).
public struct NamedCount: Sendable, Hashable {
    public var name: String
    public var count: UInt64
}

/// One LevelDB level.
public struct LevelSize: Sendable, Hashable {
    public var level: Int
    public var files: Int
    public var bytes: UInt64
}

/// One keyspace's size.
public struct KeyspaceSize: Sendable, Hashable {
    public var name: String
    /// Keys in it; nil when the server did not count them (`stats(countEntries:)`).
    public var entries: UInt64?
    public var approximateBytes: UInt64
}

/// A store's vital signs (`admin stats`).
public struct StoreStats: Sendable, Hashable {
    /// `ready`, `degraded: <reason>` or `closed`.
    public var health: String
    public var vehicles: UInt64
    public var records: UInt64
    public var diskBytes: UInt64
    /// LevelDB's write-ahead log: records since the last flush, part of `diskBytes` but of no
    /// keyspace's size (0 from a server older than this field).
    public var writeAheadLogBytes: UInt64
    /// LevelDB's own `leveldb.stats` text.
    public var leveldbStats: String
    public var memoryBytes: UInt64
    /// An estimate (docs/operations/README.md): bytes LevelDB's compaction is behind by.
    public var pendingCompactionBytes: UInt64
    public var levels: [LevelSize]
    public var keyspaces: [KeyspaceSize]
    /// Vehicles with the most records, most first.
    public var topVehicles: [VehicleSummary]
    /// Since the server started.
    public var recordsIngested: UInt64
    public var recordsRejected: UInt64
    public var recordsLate: UInt64
    /// Over the last minute.
    public var ingestRecordsPerSecond: Double
    public var rejectRecordsPerSecond: Double
    public var deadLetters: UInt64
    public var deadLettersByReason: [NamedCount]
    public var activeMappings: [NamedCount]
    /// The data folder's storage format, and its partition and key slot widths in ms.
    public var storageFormat: UInt32
    public var partitionWidthMs: Int64
    public var keySlotWidthMs: Int64
}

/// What a compaction did.
public struct CompactionResult: Sendable, Hashable {
    public var bytesBefore: UInt64
    public var bytesAfter: UInt64
    public var seconds: Double
    /// The phases the server reported, in order (`compacting canonical`, ...).
    public var phases: [String]
}

/// What a retention pass removed, or would remove in a dry run.
public struct RetentionResult: Sendable, Hashable {
    /// The server's "now" the ages were counted from, ms since 1970.
    public var nowMs: Int64
    public var dryRun: Bool
    public var canonicalPartitions: UInt64
    public var canonicalRecords: UInt64
    public var rawRecords: UInt64
    public var deadLetters: UInt64
}

/// How long a keyspace keeps its data, in a retention request.
public enum RetentionAge: Sendable, Hashable {
    /// The server's configured retention.
    case configured
    /// Keep everything, whatever is configured.
    case keepAll
    /// Remove what is older than this many milliseconds.
    case milliseconds(Int64)

    var wire: Int64 {
        switch self {
        case .configured: return 0
        case .keepAll: return -1
        case .milliseconds(let ms): return ms
        }
    }
}

extension TelemetryClient {
    /// Store statistics (admin role).
    /// - Parameters:
    ///   - topVehicles: how many vehicles to list by record count (0: the server's default, 10).
    ///   - countEntries: also count the keys of raw, sealed, partition-index and metadata (reads them all).
    public func stats(topVehicles: Int = 0, countEntries: Bool = false) async throws -> StoreStats {
        var request = Telemetry_V1_StatsRequest()
        request.topVehicles = UInt32(clamping: topVehicles)
        request.countEntries = countEntries
        let s = try await admin { $0.stats = request }.stats
        var top = [VehicleSummary]()
        for v in s.topVehicles { top.append(try VehicleSummary(wire: v)) }
        return StoreStats(
            health: s.health, vehicles: s.vehicles, records: s.records, diskBytes: s.diskBytes,
            writeAheadLogBytes: s.writeAheadLogBytes, leveldbStats: s.leveldbStats,
            memoryBytes: s.memoryBytes, pendingCompactionBytes: s.pendingCompactionBytes,
            levels: s.levels.map { LevelSize(level: Int($0.level), files: Int($0.files), bytes: $0.bytes) },
            keyspaces: s.keyspaces.map { KeyspaceSize(name: $0.name, entries: $0.counted ? $0.entries : nil, approximateBytes: $0.approximateBytes) },
            topVehicles: top, recordsIngested: s.recordsIngested, recordsRejected: s.recordsRejected, recordsLate: s.recordsLate,
            ingestRecordsPerSecond: s.ingestRecordsPerSecond, rejectRecordsPerSecond: s.rejectRecordsPerSecond,
            deadLetters: s.deadLetters, deadLettersByReason: s.deadLettersByReason.map { NamedCount(name: $0.name, count: $0.count) },
            activeMappings: s.activeMappings.map { NamedCount(name: $0.name, count: $0.count) },
            storageFormat: s.storageFormat, partitionWidthMs: s.partitionWidthMs, keySlotWidthMs: s.keySlotWidthMs)
    }

    /// Compacts the store, or one keyspace (admin role).
    /// - Parameter sealAll: also seal the partitions still open (after a backfill).
    /// - Parameter onProgress: told each phase as the server reports it.
    public func compact(
        keyspace: String? = nil, sealAll: Bool = false, onProgress: (@Sendable (ProgressUpdate) -> Void)? = nil
    ) async throws -> CompactionResult {
        var c = Telemetry_V1_CompactRequest()
        c.keyspace = keyspace ?? ""
        c.sealAll = sealAll
        return try await compact(c, onProgress: onProgress)
    }

    /// Compacts one vehicle's keys over [from, to) (admin role).
    public func compact(
        vehicle: VehicleID, from: Int64, to: Int64, onProgress: (@Sendable (ProgressUpdate) -> Void)? = nil
    ) async throws -> CompactionResult {
        var c = Telemetry_V1_CompactRequest()
        c.vehicleID = vehicle.rawValue
        c.fromMs = from
        c.toMs = to
        return try await compact(c, onProgress: onProgress)
    }

    private func compact(_ c: Telemetry_V1_CompactRequest, onProgress: (@Sendable (ProgressUpdate) -> Void)?) async throws -> CompactionResult {
        let phases = PhaseLog()
        var request = Telemetry_V1_AdminRequest()
        request.compact = c
        let frames = try await call(.admin(request)) { p in
            phases.add(p.phase)
            onProgress?(p)
        }
        let r = frames.last?.admin.compact ?? Telemetry_V1_CompactResponse()
        return CompactionResult(bytesBefore: r.bytesBefore, bytesAfter: r.bytesAfter, seconds: r.seconds, phases: phases.phases)
    }

    /// Applies retention now (admin role): each keyspace's configured age unless given here.
    /// - Parameter dryRun: report what would go, remove nothing.
    public func retention(
        canonical: RetentionAge = .configured, raw: RetentionAge = .configured, deadLetters: RetentionAge = .configured,
        dryRun: Bool = false
    ) async throws -> RetentionResult {
        var q = Telemetry_V1_RetentionRequest()
        q.canonicalMs = canonical.wire
        q.rawMs = raw.wire
        q.deadLettersMs = deadLetters.wire
        q.dryRun = dryRun
        let r = try await admin { $0.retention = q }.retention
        return RetentionResult(
            nowMs: r.nowMs, dryRun: r.dryRun, canonicalPartitions: r.canonicalPartitions, canonicalRecords: r.canonicalRecords,
            rawRecords: r.rawRecords, deadLetters: r.deadLetters)
    }

    /// Reopens a degraded store after the operator fixed the cause (admin role).
    /// - Returns: the health afterwards (`ready`).
    public func reopen() async throws -> String {
        try await admin { $0.reopen = Telemetry_V1_ReopenRequest() }.reopen.health
    }

    /// Sends an admin request; returns the final answer (after any progress frames).
    private func admin(_ fill: (inout Telemetry_V1_AdminRequest) -> Void) async throws -> Telemetry_V1_AdminResponse {
        try await adminFrames(fill).last ?? Telemetry_V1_AdminResponse()
    }

    private func adminFrames(_ fill: (inout Telemetry_V1_AdminRequest) -> Void) async throws -> [Telemetry_V1_AdminResponse] {
        var request = Telemetry_V1_AdminRequest()
        fill(&request)
        return try await call(.admin(request)).map(\.admin)
    }
}

/// The distinct phases a long operation reported, in order.
final class PhaseLog: Sendable {
    private let log = Mutex<[String]>([])
    func add(_ phase: String) { log.withLock { if $0.last != phase { $0.append(phase) } } }
    var phases: [String] { log.withLock { $0 } }
}
