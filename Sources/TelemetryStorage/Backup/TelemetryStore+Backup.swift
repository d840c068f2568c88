import Foundation
import Synchronization
public import TelemetryCore

/// How far a long backup, verification or restore has come.
public struct BackupProgress: Sendable, Hashable {
    /// "copying", "compacting", "hashing", "verifying", "reading the copy", ...
    public var phase: String
    public var done: UInt64
    /// 0 when unknown.
    public var total: UInt64
    /// "keys", "bytes".
    public var unit: String

    public init(phase: String, done: UInt64, total: UInt64, unit: String) {
        self.phase = phase
        self.done = done
        self.total = total
        self.unit = unit
    }
}

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
        to destination: String, options: BackupOptions = BackupOptions(), progress: (BackupProgress) -> Void = { _ in }
    ) throws -> BackupResult {
        let start = ContinuousClock.now
        guard !destination.isEmpty else { throw BackupError(code: .invalidArgument, message: "the backup destination is empty") }
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
        of db: LevelDB, into folder: String, options: BackupOptions, progress: (BackupProgress) -> Void
    ) throws -> (Int64, ContentDigest) {
        var tuning = configuration.leveldb
        tuning.createIfMissing = true
        let copy: LevelDB
        do { copy = try LevelDB(path: folder, options: tuning) } catch {
            throw BackupError.leveldb(error, "create the backup database in", folder)
        }
        var digest = ContentDigest()
        let snapshotTime = BackupFiles.nowMs()
        let readResult = try db.withSnapshot { snapshot throws(BackupError) in
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
                    progress(BackupProgress(phase: "copying", done: digest.entries, total: 0, unit: "keys"))
                }
                let result = try ContentDigest.read(it) { key, value throws(BackupError) in
                    digest.add(key: key, value: value)
                    batch.put(key, value)
                    batchBytes += key.count + value.count
                    if batchBytes >= options.batchBytes { try flush() }
                }
                if case .success = result { try flush() }
                return result
            }
        }
        if case .failure(let error) = readResult {
            throw BackupError(
                code: error.code == .corruption ? .dataLoss : .io,
                message: "cannot read the store in \(path) for the backup: \(error.message)")
        }
        progress(BackupProgress(phase: "compacting", done: digest.entries, total: digest.entries, unit: "keys"))
        // Moves everything from the log into sorted tables, so the copy is tables only.
        copy.compactRange(begin: nil, end: nil)
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
        while released != nil {
            if ContinuousClock.now >= deadline { return false }
            Thread.sleep(forTimeInterval: 0.01)
        }
        return true
    }
}
