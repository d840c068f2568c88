import Foundation
import Synchronization
public import TelemetryCore

/// Settings of one backup.
public struct BackupOptions: Sendable {
    /// Written into the manifest's `created_by`, e.g. `telemetryd 0.1.0`.
    public var createdBy = "TelemetryStore"
    /// Keys and values per write into the copy, in bytes.
    public var batchBytes = 4 << 20
    /// Test hook: runs at each stage, inside the backup; throwing (or removing the partial
    /// folder) drives the failure paths. Never set in production.
    package var stageHook: (@Sendable (BackupStage, String) throws -> Void)?

    public init() {}

    func runHook(_ stage: BackupStage, _ folder: String) throws(BackupError) {
        guard let stageHook else { return }
        do { try stageHook(stage, folder) } catch {
            throw error as? BackupError ?? BackupError(code: .io, message: "test hook at \(stage): \(error)")
        }
    }
}

/// The stages a backup passes, for `BackupOptions.stageHook`.
package enum BackupStage: Sendable, Hashable {
    /// After a batch was written into the copy (the partial folder path is given to the hook).
    case copied(keys: UInt64)
    case beforeManifest
    case beforeRename
}

/// A finished backup.
public struct BackupResult: Sendable, Hashable {
    /// The backup folder (absolute).
    public var path: String
    public var manifest: BackupManifest
    public var seconds: Double
}

extension TelemetryStore {
    /// Backs the store up, online, into a new folder `destination`.
    ///
    /// Reads a LevelDB snapshot (writes go on meanwhile; the copy holds every write that
    /// returned before the snapshot and none after), writes it into a fresh LevelDB in
    /// `<destination>.partial-<random>` beside the destination, compacts it, fsyncs every file,
    /// writes the manifest last, fsyncs the folder and renames it into place. On any failure
    /// the partial folder is removed: a folder named `destination` is always a complete backup.
    /// - Parameter progress: called on the calling thread, a few times per second at most.
    /// - Throws: `BackupError`: `.alreadyExists` when `destination` exists, `.notFound` when its
    ///   parent does not (or disappears), `.resourceExhausted` when the disk fills up;
    ///   `StorageError.closed` when the store is closed.
    public func backup(
        to destination: String, options: BackupOptions = BackupOptions(), progress: (ProgressUpdate) -> Void = { _ in }
    ) throws -> BackupResult {
        let start = ContinuousClock.now
        guard !destination.isEmpty else { throw BackupError(code: .invalidArgument, message: "the backup destination is empty") }
        // The file system would cut the name there (Foundation writes it as %00 instead): refused.
        guard !destination.utf8.contains(0) else {
            throw BackupError(code: .invalidArgument, message: "the backup destination contains a NUL byte")
        }
        let target = BackupFiles.absolute(destination)
        guard BackupFiles.kind(target) == .missing else {
            throw BackupError(code: .alreadyExists, message: "backup destination \(target) already exists; a backup never overwrites, choose a new folder")
        }
        let parent = BackupFiles.parent(of: target)
        guard BackupFiles.kind(parent) == .directory else {
            throw BackupError(code: .notFound, message: "the folder \(parent) (where backup \(target) goes) does not exist")
        }
        let db = try database()
        let partial = try BackupFiles.makeSibling(of: target, tag: "partial")
        do {
            let (snapshotTime, digest) = try copySnapshot(of: db, into: partial, options: options, progress: progress)
            for name in BackupFiles.notCopied { try BackupFiles.remove(partial + "/" + name) }
            let files = try BackupFolder.hashFiles(in: partial, phase: "hashing", progress: progress)
            try options.runHook(.beforeManifest, partial)
            let manifest = BackupManifest(
                storeFormatVersion: Self.formatVersion, snapshotTimeMs: snapshotTime, keyspaces: digest.keyspaces, files: files,
                contentHash: digest.finalize(), createdBy: options.createdBy)
            try BackupFolder.writeManifest(manifest, in: partial)
            try BackupFiles.sync(partial)
            try options.runHook(.beforeRename, partial)
            try BackupFiles.rename(partial, to: target)
            let elapsed = ContinuousClock.now - start
            return BackupResult(
                path: target, manifest: manifest,
                seconds: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
        } catch {
            throw BackupFiles.removeAfterFailure(partial, error)
        }
    }

    /// Copies a snapshot of `db` into a new LevelDB in `folder`; returns the snapshot's time and
    /// the digest of what was copied. The copy is closed (its handle released) on return.
    private func copySnapshot(
        of db: LevelDB, into folder: String, options: BackupOptions, progress: (ProgressUpdate) -> Void
    ) throws -> (Int64, ContentDigest) {
        var tuning = configuration.leveldb
        tuning.createIfMissing = true
        let copy: LevelDB
        do { copy = try LevelDB(path: folder, options: tuning) } catch {
            throw BackupError.leveldb(error, "create the backup database in", folder)
        }
        var digest = ContentDigest()
        let snapshotTime = BackupFiles.nowMs()
        let (readResult, lastKey) = try db.withSnapshot { snapshot throws(BackupError) in
            try db.withIterator(snapshot: snapshot, fillCache: false) { it throws(BackupError) in
                let batch = WriteBatch()
                var batchBytes = 0
                func flush() throws(BackupError) {
                    guard batch.count > 0 else { return }
                    // Synced: the copy is durable batch by batch, like the store's own sync writes.
                    do { try copy.write(batch, sync: true) } catch { throw BackupError.leveldb(error, "write the backup in", folder) }
                    batch.clear()
                    batchBytes = 0
                    try options.runHook(.copied(keys: digest.entries), folder)
                    progress(ProgressUpdate(phase: "copying", done: digest.entries, total: 0, unit: "keys"))
                }
                let result = try ContentDigest.read(it) { key, value throws(BackupError) in
                    digest.add(key: key, value: value)
                    batch.put(key, value)
                    batchBytes += key.count + value.count
                    if batchBytes >= options.batchBytes { try flush() }
                }
                if case .success = result { try flush() }
                it.seekToLast()
                return (result, it.isValid ? it.key : nil)
            }
        }
        if case .failure(let error) = readResult {
            throw BackupError(
                code: error.code == .corruption ? .dataLoss : .io,
                message: "cannot read the store in \(path) for the backup: \(error.message)")
        }
        progress(ProgressUpdate(phase: "compacting", done: digest.entries, total: digest.entries, unit: "keys"))
        // Moves the memtable (the log's content) into a sorted table, so the copy is tables
        // only. LevelDB's CompactRange always flushes the memtable first, then compacts the
        // files overlapping the range: the range of the last key alone keeps that part short
        // (a full compaction would rewrite the whole copy once more, for no gain).
        if let lastKey { copy.compactRange(begin: lastKey, end: lastKey) }
        // A background error (a table that could not be written) shows only on the next write.
        do { try copy.write(WriteBatch(), sync: true) } catch { throw BackupError.leveldb(error, "write the backup in", folder) }
        return (snapshotTime, digest)
    }

    /// Closes the store and waits until LevelDB has really let go of its files (calls still
    /// running hold the handle), so that the folder can be moved away.
    /// - Returns: false when a call still held the handle after `timeout`.
    public func closeAndWaitForRelease(timeout: Duration) -> Bool {
        weak let released = handle.withLock { $0 }
        close()
        let deadline = ContinuousClock.now + timeout
        // A reopen may hold the old handle outside `handle` while reads drain: the folder is
        // free only once it has given up (it sees the store closed) and the handle is gone.
        while released != nil || reopening.withLock({ $0 }) {
            if ContinuousClock.now >= deadline { return false }
            Thread.sleep(forTimeInterval: 0.01)
        }
        return true
    }
}

/// How an online restore's swap ended.
public enum RestoreSwapOutcome: Sendable {
    /// The restored store, open in the old store's folder; the old folder was moved to `previous`.
    case restored(TelemetryStore, previous: String)
    /// The swap failed and was undone: the old store, reopened from its own folder.
    case rolledBack(TelemetryStore, BackupError)
    /// The swap failed and the old store could not be reopened either: no store is open. The
    /// message says where each folder is.
    case failed(BackupError)
}

extension TelemetryStore {
    /// The swap of an online restore: closes this store (waiting for calls still running),
    /// moves its folder to `<path>.before-restore-<UTC time>` (kept for rollback), moves the
    /// `staged` folder (from `BackupFolder.stageRestore(besides:)`) into `path` and opens it.
    /// Entries of the old folder that are not LevelDB's (the server's `mappings/` folder,
    /// `assets.yaml`) are copied into the restored one. Any step that fails is undone and the
    /// old store reopened.
    /// - Parameter timeout: how long calls still running may keep the old store's files open.
    public func swapForRestore(staged: String, timeout: Duration = .seconds(120)) -> RestoreSwapOutcome {
        // Absolute and without a trailing slash: "<data>/" would make "<data>/.before-restore-..."
        // a folder inside itself, which rename refuses.
        let data = BackupFiles.absolute(path)
        let configuration = self.configuration
        let stamp = Self.restoreStamp(Date())
        let previous = Self.unusedPath("\(data).before-restore-\(stamp)")
        /// The swap failed before anything moved, or was undone: the old store opens again.
        func reopenOld(_ error: BackupError) -> RestoreSwapOutcome {
            do { return .rolledBack(try TelemetryStore(path: data, configuration: configuration), error) } catch let reopening {
                return .failed(BackupError(code: .io, message: "\(error.message); and the previous store in \(data) could not be reopened: \(reopening)"))
            }
        }
        // A store closed before (an earlier restore that could not finish) may still have calls
        // holding its LevelDB open, which nothing here could wait for: refuse to move its folder.
        if writer.withLock({ $0.closed }) {
            return .failed(
                BackupError(
                    code: .failedPrecondition,
                    message: "the store in \(data) was already closed (an earlier restore did not finish); restart the server, then restore"))
        }
        guard closeAndWaitForRelease(timeout: timeout) else {
            // Moving the folder now would pull it from under LevelDB's open files (and its
            // compactions would write into the restored folder): nothing is moved.
            let error = BackupError(
                code: .io,
                message: "the store in \(data) was still in use \(timeout) after it was closed; nothing was restored, restart the server")
            return .failed(BackupFiles.removeAfterFailure(staged, error))
        }
        do { try BackupFiles.rename(data, to: previous) } catch {
            return reopenOld(BackupFiles.removeAfterFailure(staged, error))
        }
        do {
            // What else the data folder held (the server's mapping files, the asset registry)
            // is configuration, not in the backup: the restored folder keeps the current one.
            // Copied, so that the previous folder stays whole for a rollback.
            try BackupFiles.copyForeignEntries(from: previous, to: staged)
            try BackupFiles.sync(staged)
            try BackupFiles.rename(staged, to: data)
        } catch {
            do { try BackupFiles.rename(previous, to: data) } catch let back {
                return .failed(
                    BackupError(
                        code: error.code,
                        message: "\(error.message); moving the previous store back also failed (\(back.message)): it is in \(previous), the restored copy in \(staged)"))
            }
            return reopenOld(BackupFiles.removeAfterFailure(staged, error))
        }
        do {
            return .restored(try TelemetryStore(path: data, configuration: configuration), previous: previous)
        } catch {
            let failedPath = Self.unusedPath("\(data).failed-restore-\(stamp)")
            let opening = "the restored store does not open (\(error)); it was moved to \(failedPath)"
            do {
                try BackupFiles.rename(data, to: failedPath)
                try BackupFiles.rename(previous, to: data)
            } catch let back {
                return .failed(BackupError(code: .io, message: "\(opening); moving the previous store back failed (\(back.message)): it is in \(previous)"))
            }
            return reopenOld(BackupError(code: .failedPrecondition, message: opening))
        }
    }

    /// `path`, or `path-2`, `path-3`, ... when it exists: two restores within one second must
    /// not collide on the folder the first one kept.
    static func unusedPath(_ path: String) -> String {
        var candidate = path
        var n = 1
        while FileManager.default.fileExists(atPath: candidate) {
            n += 1
            candidate = "\(path)-\(n)"
        }
        return candidate
    }

    /// `20261123T040800Z`: sorts in time order, and has no character a shell or a file system minds.
    static func restoreStamp(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
        return formatter.string(from: date)
    }
}
