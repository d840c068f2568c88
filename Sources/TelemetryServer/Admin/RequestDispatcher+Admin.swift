import Synchronization
import Foundation
import SwiftProtobuf
import TelemetryCore
import TelemetryWire

/// Admin requests: routed here by operation; each area lives in its own file
/// (+Operations: stats, compact, reopen, retention; +Backup: backup, verify, restore;
/// +Mappings: mappings, assets, dead letters, remap).
extension RequestDispatcher {
    func admin(_ q: Telemetry_V1_AdminRequest, requestID: UInt64, sink: some ResponseSink) async throws {
        let progress = AdminProgress(requestID: requestID, sink: sink)
        var result = Telemetry_V1_AdminResponse()
        do {
            switch q.operation {
            case .none:
                throw StatusError(.unimplemented, "admin request names no operation this server knows")
            case .stats(let r): result.stats = try await stats(r)
            case .compact(let r): result.compact = try await compact(r, progress: progress)
            case .reopen(let r): result.reopen = try await reopen(r)
            case .retention(let r): result.retention = try await retention(r, progress: progress)
            case .backup(let r): result.backup = try await backup(r, progress: progress)
            case .verifyBackup(let r): result.verifyBackup = try await verifyBackup(r, progress: progress)
            case .restore(let r): result.restore = try await restore(r, progress: progress)
            case .mappingsLoad(let r): result.mappingsLoad = try await mappingsLoad(r)
            case .mappingsList(let r): result.mappingsList = try await mappingsList(r)
            case .mappingsShow(let r): result.mappingsShow = try await mappingsShow(r)
            case .mappingsValidate(let r): result.mappingsValidate = try await mappingsValidate(r)
            case .mappingsDryRun(let r): result.mappingsDryRun = try await mappingsDryRun(r)
            case .assetsLoad(let r): result.assetsLoad = try await assetsLoad(r)
            case .dlqList(let r): result.dlqList = try await deadLetterList(r)
            case .dlqShow(let r): result.dlqShow = try await deadLetterShow(r)
            case .dlqReplay(let r): result.dlqReplay = try await deadLetterReplay(r, progress: progress)
            case .dlqPurge(let r): result.dlqPurge = try await deadLetterPurge(r)
            case .remap(let r): result.remap = try await remap(r, progress: progress)
            case .mappingsActivate(let r): result.mappingsActivate = try await mappingsActivate(r)
            }
        } catch {
            try await sink.send(failure(requestID, error, kind: .admin))
            return
        }
        metrics.requestAnswered(.admin, code: 0)
        try await sink.send(.ok(requestID) { $0.admin = result })
    }
}

/// Sends progress frames of a long admin operation (more = true), at most a few per second
/// so that a fast loop does not flood the connection.
final class AdminProgress: Sendable {
    private let requestID: UInt64
    private let send: @Sendable (Telemetry_V1_ResponseEnvelope) async throws -> Void
    private let lastSent = Mutex<ContinuousClock.Instant?>(nil)
    static let interval = Duration.milliseconds(250)

    init(requestID: UInt64, sink: some ResponseSink) {
        self.requestID = requestID
        self.send = { try await sink.send($0) }
    }

    /// Reports progress; throttled unless `force` (phase changes, the end of a phase).
    func report(_ phase: String, done: UInt64, total: UInt64 = 0, unit: String, force: Bool = false) async throws {
        let now = ContinuousClock.now
        let due = lastSent.withLock { last -> Bool in
            if !force, let last, now - last < Self.interval { return false }
            last = now
            return true
        }
        guard due else { return }
        let requestID = self.requestID
        try await send(
            .ok(requestID, more: true) { r in
                r.admin = .with {
                    $0.progress = .with {
                        $0.phase = phase
                        $0.done = done
                        $0.total = total
                        $0.unit = unit
                    }
                }
            })
    }
}
