public import TelemetryCore
import SwiftProtobuf
import TelemetryWire

/// A backup the server wrote.
public struct BackupSummary: Sendable, Hashable {
    /// The backup folder on the server's machine.
    public var path: String
    public var manifest: BackupManifest
    public var seconds: Double
    public var bytes: UInt64
}

/// An online restore the server did.
public struct RestoreSummary: Sendable, Hashable {
    /// Where the replaced data folder now is (for rollback).
    public var previousData: String
    /// The content hash of the restored store (the backup's, checked against the copy).
    public var contentHash: String
    public var seconds: Double
}

extension TelemetryClient {
    /// Backs the store up into a new folder on the server's machine (admin role). Ingest goes
    /// on meanwhile; the backup holds every write acknowledged before it began.
    /// - Parameters:
    ///   - destination: a folder that must not exist yet; its parent must.
    ///   - onProgress: told each progress frame; the request timeout then bounds the time
    ///     between frames rather than the whole backup.
    /// - Throws: `ClientError`: ALREADY_EXISTS, NOT_FOUND (parent folder), RESOURCE_EXHAUSTED (disk full), ...
    public func backup(to destination: String, onProgress: (@Sendable (ProgressUpdate) -> Void)? = nil) async throws -> BackupSummary {
        var request = Telemetry_V1_AdminRequest()
        request.backup = .with { $0.destination = destination }
        let r = try await call(.admin(request), onProgress: onProgress).last?.admin.backup ?? Telemetry_V1_BackupResponse()
        return BackupSummary(path: r.path, manifest: BackupManifest(wire: r.manifest), seconds: r.seconds, bytes: r.bytes)
    }

    /// Checks a backup folder on the server's machine against its manifest; `deep` also opens
    /// a copy and compares every key with the manifest's counts and content hash.
    public func verifyBackup(at path: String, deep: Bool, onProgress: (@Sendable (ProgressUpdate) -> Void)? = nil) async throws
        -> BackupVerification
    {
        var request = Telemetry_V1_AdminRequest()
        request.verifyBackup = .with {
            $0.path = path
            $0.deep = deep
        }
        let r = try await call(.admin(request), onProgress: onProgress).last?.admin.verifyBackup ?? Telemetry_V1_VerifyBackupResponse()
        return BackupVerification(problems: r.problems, manifest: r.hasManifest ? BackupManifest(wire: r.manifest) : nil, deep: deep)
    }

    /// Replaces the running store with a backup on the server's machine (verified first; the
    /// replaced data folder is kept for rollback). Writes acknowledged after the backup was
    /// taken are not in the restored store: they stay in the replaced folder.
    /// - Throws: `ClientError` FAILED_PRECONDITION naming the problems when the backup fails verification;
    ///   UNAVAILABLE is not retried (check the server's state before sending it again).
    public func restore(from backup: String, onProgress: (@Sendable (ProgressUpdate) -> Void)? = nil) async throws -> RestoreSummary {
        var request = Telemetry_V1_AdminRequest()
        request.restore = .with { $0.backup = backup }
        // Sent once, never retried: a restore whose answer was lost may have swapped the store,
        // and a second one would move away what was written since.
        let r = try await callOnce(.admin(request), onProgress: onProgress).last?.admin.restore ?? Telemetry_V1_RestoreResponse()
        return RestoreSummary(previousData: r.previousData, contentHash: r.contentHash, seconds: r.seconds)
    }
}

extension BackupManifest {
    init(wire m: Telemetry_V1_BackupManifest) {
        self.init(
            storeFormatVersion: m.formatVersion, snapshotTimeMs: m.snapshotTimeMs,
            keyspaces: m.keyspaces.map { KeyspaceCount(name: $0.name, entries: $0.entries) },
            files: m.files.map { File(name: $0.name, bytes: $0.bytes, sha256: $0.sha256) }, contentHash: m.contentHash,
            createdBy: m.serverVersion)
    }
}
