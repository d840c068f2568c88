import Foundation
import Logging
import NIOPosix
import SwiftProtobuf
import TelemetryCore
import TelemetryStorage
import TelemetryWire

/// backup, verify, restore (docs/operations/backup-restore.md). Paths are on the server's
/// machine; relative ones are resolved against the server's working folder.
extension RequestDispatcher {
    func backup(_ r: Telemetry_V1_BackupRequest, progress: AdminProgress) async throws -> Telemetry_V1_BackupResponse {
        guard r.base.isEmpty else {
            throw StatusError(.unimplemented, "incremental backups (base) are not supported: this server makes full backups only; leave base empty")
        }
        guard !r.destination.isEmpty else { throw StatusError(.invalidArgument, "backup needs a destination folder") }
        try stores.beginBackup()
        defer { stores.endBackup() }
        let store = self.store
        let options = {
            var o = BackupOptions()
            o.createdBy = Self.serverVersion
            return o
        }()
        let destination = r.destination
        let result = try await runReporting(progress) { report in try store.backup(to: destination, options: options, progress: report) }
        logger.info(
            "backup written",
            metadata: [
                "telemetry.backup.path": "\(result.path)", "telemetry.backup.bytes": "\(result.manifest.totalBytes)",
                "telemetry.backup.entries": "\(result.manifest.totalEntries)", "telemetry.duration": "\(result.seconds)",
            ])
        return .with {
            $0.path = result.path
            $0.manifest = Telemetry_V1_BackupManifest(result.manifest)
            $0.seconds = result.seconds
            $0.bytes = result.manifest.totalBytes
            $0.reusedBytes = 0
        }
    }

    func verifyBackup(_ r: Telemetry_V1_VerifyBackupRequest, progress: AdminProgress) async throws -> Telemetry_V1_VerifyBackupResponse {
        let folder = try BackupFolder(path: r.path, configuration: store.configuration)
        let deep = r.deep
        let report = try await runReporting(progress) { report in try folder.verify(deep: deep, progress: report) }
        return .with {
            $0.ok = report.ok
            $0.problems = report.problems
            if let manifest = report.manifest { $0.manifest = Telemetry_V1_BackupManifest(manifest) }
        }
    }

    /// Online restore: the backup is verified and copied beside the data folder while the old
    /// store still serves; then the old store closes, its folder moves to
    /// `<data>.before-restore-<time>`, the copy moves in and opens. Requests that meet the
    /// closed store meanwhile get UNAVAILABLE "the store is being restored; retry".
    func restore(_ r: Telemetry_V1_RestoreRequest, progress: AdminProgress) async throws -> Telemetry_V1_RestoreResponse {
        let start = ContinuousClock.now
        guard !r.backup.isEmpty else { throw StatusError(.invalidArgument, "restore needs a backup folder") }
        try stores.beginRestore()
        var installed: TelemetryStore? = nil
        defer { stores.endRestore(installing: installed) }
        let old = store
        let folder = try BackupFolder(path: r.backup, configuration: old.configuration)
        let (staged, manifest) = try await runReporting(progress) { report in try folder.stageRestore(besides: old.path, progress: report) }
        let outcome: RestoreSwapOutcome
        do {
            try await progress.report("swapping the store", done: 0, unit: "steps", force: true)
            stores.swapStarted()
            outcome = try await threadPool.runIfActive { old.swapForRestore(staged: staged) }
        } catch {
            // Not swapped (the client left, or the server is shutting down): the staged copy,
            // a whole store beside the data folder, must not stay behind.
            try? FileManager.default.removeItem(atPath: staged)
            throw error
        }
        switch outcome {
        case .restored(let store, let previous):
            installed = store
            // The vehicles' mapping states in memory belong to the replaced store: forget
            // them, so each vehicle continues from the state the restored store holds.
            mappings?.forgetAll()
            let elapsed = ContinuousClock.now - start
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            logger.notice(
                "store restored",
                metadata: [
                    "telemetry.backup.path": "\(folder.path)", "telemetry.data": "\(store.path)", "telemetry.restore.previous": "\(previous)",
                    "telemetry.duration": "\(seconds)",
                ])
            return .with {
                $0.previousData = previous
                $0.contentHash = manifest.contentHash
                $0.seconds = seconds
            }
        case .rolledBack(let store, let error):
            installed = store
            logger.error("restore failed and was undone", metadata: ["telemetry.backup.path": "\(folder.path)", "error": "\(error)"])
            throw BackupError(code: error.code, message: "\(error.message); the previous store was reopened, nothing changed")
        case .failed(let error):
            logger.critical("restore failed; no store is open", metadata: ["telemetry.backup.path": "\(folder.path)", "error": "\(error)"])
            throw error
        }
    }

    /// Runs blocking storage work on the maintenance threads while its progress goes out as progress
    /// frames (the newest only, when the connection is slower than the work).
    private func runReporting<T: Sendable>(
        _ progress: AdminProgress, _ work: @escaping @Sendable (_ report: @escaping (ProgressUpdate) -> Void) throws -> T
    ) async throws -> T {
        let (updates, continuation) = AsyncStream.makeStream(of: ProgressUpdate.self, bufferingPolicy: .bufferingNewest(1))
        let pool = maintenancePool
        let logger = self.logger
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask {
                defer { continuation.finish() }
                return try await pool.runIfActive { try work { continuation.yield($0) } }
            }
            group.addTask {
                var phase = ""
                for await update in updates {
                    // A client that went away must not end the group before the work: its
                    // result (a staged restore copy) would be dropped and never cleaned up.
                    // The work finishes; its answer is simply not delivered.
                    do {
                        try await progress.report(
                            update.phase, done: update.done, total: update.total, unit: update.unit, force: update.phase != phase)
                    } catch {
                        logger.debug("progress not delivered", metadata: ["error": "\(error)"])
                    }
                    phase = update.phase
                }
                return nil
            }
            var result: T? = nil
            for try await value in group where value != nil { result = value }
            guard let result else { throw StatusError(.internal, "backup work ended without a result") }
            return result
        }
    }
}

extension Telemetry_V1_BackupManifest {
    init(_ m: BackupManifest) {
        self = .with {
            $0.formatVersion = m.storeFormatVersion
            $0.snapshotTimeMs = m.snapshotTimeMs
            $0.keyspaces = m.keyspaces.map { k in .with { $0.name = k.name; $0.entries = k.entries } }
            $0.files = m.files.map { f in .with { $0.name = f.name; $0.bytes = f.bytes; $0.sha256 = f.sha256 } }
            $0.contentHash = m.contentHash
            $0.serverVersion = m.createdBy
        }
    }
}
