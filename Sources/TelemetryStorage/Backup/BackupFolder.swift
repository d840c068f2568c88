import Foundation
public import TelemetryCore

/// A backup folder written by `TelemetryStore.backup(to:)`: verified file by file against its
/// manifest, deeply by opening a copy, and restored into a new data folder.
///
/// Works without a running server (`telemetryctl admin backup verify --offline`, `admin restore --data`).
public struct BackupFolder: Sendable {
    /// The folder (absolute).
    public let path: String
    /// LevelDB settings used to open the copy (the store's, for a restore).
    public var configuration: StoreConfiguration

    /// - Throws: `BackupError.notFound` when `path` does not exist, `.failedPrecondition` when
    ///   it is not a folder.
    public init(path: String, configuration: StoreConfiguration = StoreConfiguration()) throws(BackupError) {
        guard !path.isEmpty else { throw BackupError(code: .invalidArgument, message: "the backup path is empty") }
        guard !path.utf8.contains(0) else { throw BackupError(code: .invalidArgument, message: "the backup path contains a NUL byte") }
        let given = BackupFiles.absolute(path)
        self.configuration = configuration
        // A link to a backup (`/backups/latest -> telemetry-2026-11-23`) is the backup it
        // names: the folder itself is used, so that a deep verify's scratch copy of hard links
        // lands beside it, on its file system.
        guard let resolved = BackupFiles.resolved(given) else {
            throw BackupError(code: .notFound, message: "backup \(given) does not exist")
        }
        self.path = resolved
        switch BackupFiles.kind(resolved) {
        case .missing: throw BackupError(code: .notFound, message: "backup \(given) does not exist")
        case .other: throw BackupError(code: .failedPrecondition, message: "backup \(given) is not a folder")
        case .directory: break
        }
    }

    // MARK: - Verify

    /// Checks the backup: every file against the manifest (missing, extra and changed files
    /// each named); with `deep`, also opens a scratch copy (hard links beside the backup when
    /// the file system allows, else a copy), reads every key and compares the counts per
    /// keyspace and the content hash, and checks that the copy opens as a store.
    /// The backup folder itself is never written.
    /// - Throws: `BackupError` only when the check itself cannot run (a scratch folder
    ///   cannot be made); everything wrong with the backup is in `problems`.
    public func verify(deep: Bool, progress: (ProgressUpdate) -> Void = { _ in }) throws(BackupError) -> BackupVerification {
        let manifest: BackupManifest
        switch readManifest() {
        case .failure(let problem): return BackupVerification(problems: [problem.message], manifest: nil, deep: deep)
        case .success(let m): manifest = m
        }
        var problems = checkFiles(manifest, progress: progress)
        if deep {
            if problems.isEmpty {
                let scratch = try scratchFolder()
                defer {
                    // A scratch folder left behind is only wasted space, never taken for a backup
                    // (it has no manifest); the next verify makes a new one.
                    try? BackupFiles.remove(scratch)
                }
                for file in manifest.files { try BackupFiles.linkOrCopy(path + "/" + file.name, to: scratch + "/" + file.name) }
                problems += Self.deepCheck(scratch, against: manifest, configuration: configuration, progress: progress)
            } else {
                problems.append("deep check skipped: the files differ from the manifest")
            }
        }
        return BackupVerification(problems: problems, manifest: manifest, deep: deep)
    }

    /// The manifest, or why it cannot be used.
    func readManifest() -> Result<BackupManifest, BackupError> {
        func refuse(_ problem: String) -> Result<BackupManifest, BackupError> {
            .failure(BackupError(code: .failedPrecondition, message: problem))
        }
        let name = BackupFiles.manifestName
        let file = path + "/" + name
        guard BackupFiles.kind(file) != .missing else {
            return refuse(
                "\(name) is missing: \(path) is not a complete backup (an interrupted backup has no manifest)")
        }
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: file)) } catch {
            return refuse("\(name) cannot be read: \(error.localizedDescription)")
        }
        let manifest: BackupManifest
        do { manifest = try JSONDecoder().decode(BackupManifest.self, from: data) } catch {
            return refuse("\(name) is damaged: not a backup manifest (\(error))")
        }
        guard manifest.manifestVersion == 1 else {
            return refuse("\(name) has manifest version \(manifest.manifestVersion); this build reads version 1")
        }
        let bad = manifest.files.filter { [".", "..", "", name].contains($0.name) || $0.name.contains("/") }
        guard bad.isEmpty else {
            return refuse("\(name) names files outside the folder: \(bad.map(\.name).joined(separator: ", "))")
        }
        // A damaged or crafted manifest must be refused here, not trap in the sums below.
        let fileNames = manifest.files.map(\.name)
        if Set(fileNames).count != fileNames.count { return refuse("\(name) is damaged: it names a file twice") }
        let keyspaceNames = manifest.keyspaces.map(\.name)
        if Set(keyspaceNames).count != keyspaceNames.count { return refuse("\(name) is damaged: it names a keyspace twice") }
        var bytes: UInt64 = 0
        for f in manifest.files {
            let (sum, overflow) = bytes.addingReportingOverflow(f.bytes)
            if overflow { return refuse("\(name) is damaged: its file sizes add up past 2^64 bytes") }
            bytes = sum
        }
        var entries: UInt64 = 0
        for k in manifest.keyspaces {
            let (sum, overflow) = entries.addingReportingOverflow(k.entries)
            if overflow { return refuse("\(name) is damaged: its key counts add up past 2^64") }
            entries = sum
        }
        return .success(manifest)
    }

    /// Compares the folder with the manifest's file list, hashing every file.
    func checkFiles(_ manifest: BackupManifest, progress: (ProgressUpdate) -> Void) -> [String] {
        var problems = [String]()
        let present: Set<String>
        do { present = Set(try BackupFiles.list(path)) } catch { return [error.message] }
        let listed = Set(manifest.files.map(\.name))
        for name in present.subtracting(listed).subtracting([BackupFiles.manifestName]).sorted() {
            problems.append("file \(name): not in the manifest")
        }
        let total = manifest.totalBytes
        var done: UInt64 = 0
        for file in manifest.files {
            guard present.contains(file.name) else {
                problems.append("file \(file.name): missing")
                continue
            }
            do {
                let (bytes, sha) = try BackupFiles.hash(path + "/" + file.name, readOnly: true) { n in
                    done += UInt64(n)
                    progress(ProgressUpdate(phase: "verifying files", done: done, total: total, unit: "bytes"))
                }
                if bytes != file.bytes {
                    problems.append("file \(file.name): \(bytes) bytes, manifest says \(file.bytes)")
                } else if sha != file.sha256 {
                    problems.append("file \(file.name): sha256 differs")
                }
            } catch {
                problems.append("file \(file.name): \(error.message)")
            }
        }
        return problems
    }

    /// Opens the database in `folder` (a copy: opening writes), reads every key, compares with
    /// the manifest, then opens it as a store.
    static func deepCheck(
        _ folder: String, against manifest: BackupManifest, configuration: StoreConfiguration, progress: (ProgressUpdate) -> Void
    ) -> [String] {
        var problems = [String]()
        var digest = ContentDigest()
        do {
            var tuning = configuration.leveldb
            // The copy must already be a database: never create an empty one in its place.
            tuning.createIfMissing = false
            let db = try LevelDB(path: folder, options: tuning)
            let total = manifest.totalEntries
            let read = try db.withIterator(fillCache: false) { it throws(BackupError) in
                try ContentDigest.read(it) { key, value throws(BackupError) in
                    digest.add(key: key, value: value)
                    if digest.entries % 65_536 == 0 {
                        progress(ProgressUpdate(phase: "reading the copy", done: digest.entries, total: total, unit: "keys"))
                    }
                }
            }
            if case .failure(let error) = read { problems.append("reading the copy: \(error.message)") }
        } catch let error as LevelDBError {
            return problems + ["the copy does not open as a LevelDB database: \(error.message)"]
        } catch {
            return problems + ["reading the copy: \(error)"]
        }
        let expected = Dictionary(manifest.keyspaces.map { ($0.name, $0.entries) }, uniquingKeysWith: +)
        let found = Dictionary(digest.keyspaces.map { ($0.name, $0.entries) }, uniquingKeysWith: +)
        for name in Set(expected.keys).union(found.keys).sorted() where expected[name, default: 0] != found[name, default: 0] {
            problems.append("keyspace \(name): \(found[name, default: 0]) entries, manifest says \(expected[name, default: 0])")
        }
        let hash = digest.finalize()
        if hash != manifest.contentHash {
            problems.append("content hash \(hash) differs from the manifest's \(manifest.contentHash)")
        }
        guard problems.isEmpty else { return problems }
        progress(ProgressUpdate(phase: "opening the copy as a store", done: 0, total: 0, unit: "keys"))
        return opensAsStore(folder, configuration: configuration)
    }

    /// Opens the database in `folder` as a store (format version, dictionaries, latest-state
    /// replay), in a scratch folder of hard links beside it: opening and closing a store writes
    /// (the clean-close marker, latest-state checkpoints), and `folder` must keep exactly the
    /// backup's content. LevelDB never changes a file it wrote; it only adds and deletes files,
    /// so the links leave `folder`'s files as they are.
    static func opensAsStore(_ folder: String, configuration: StoreConfiguration) -> [String] {
        let scratch: String
        do {
            scratch = try BackupFiles.makeSibling(of: folder, tag: "open-check")
            for name in try BackupFiles.list(folder) where !BackupFiles.notCopied.contains(name) {
                try BackupFiles.linkOrCopy(folder + "/" + name, to: scratch + "/" + name)
            }
        } catch {
            return ["cannot make a scratch copy to open as a store: \(error.message)"]
        }
        // A scratch folder left behind is only wasted space (it has no manifest, so it is never
        // taken for a backup); the error would hide the check's real answer.
        defer { try? BackupFiles.remove(scratch) }
        do {
            let store = try TelemetryStore(path: scratch, configuration: configuration)
            store.close()
        } catch {
            return ["the copy does not open as a store: \(error)"]
        }
        return []
    }

    /// A scratch folder for the deep check: beside the backup (same file system, so hard
    /// links work), or in the temporary folder when the backup's folder is read-only.
    private func scratchFolder() throws(BackupError) -> String {
        do { return try BackupFiles.makeSibling(of: path, tag: "verify") } catch {
            let base = FileManager.default.temporaryDirectory.appendingPathComponent(URL(fileURLWithPath: path).lastPathComponent).path
            return try BackupFiles.makeSibling(of: base, tag: "verify")
        }
    }

    // MARK: - Restore

    /// Copies the backup into a new folder beside `dataPath` and checks the copy (files
    /// against the manifest, then every key, then opening it as a store).
    /// - Returns: the staged folder, ready to be renamed to `dataPath`, and the manifest.
    /// - Throws: `BackupError.failedPrecondition` naming the problems when the backup fails
    ///   verification (nothing is left behind then).
    public func stageRestore(besides dataPath: String, progress: (ProgressUpdate) -> Void = { _ in }) throws(BackupError) -> (
        staged: String, manifest: BackupManifest
    ) {
        let manifest: BackupManifest
        switch readManifest() {
        case .failure(let problem): throw Self.refusal(path, [problem.message])
        case .success(let m): manifest = m
        }
        let problems = checkFiles(manifest, progress: progress)
        guard problems.isEmpty else { throw Self.refusal(path, problems) }
        let target = BackupFiles.absolute(dataPath)
        let staged = try BackupFiles.makeSibling(of: target, tag: "restore")
        do {
            var copied: UInt64 = 0
            let total = manifest.totalBytes
            var changed = [String]()
            for file in manifest.files {
                // Hashed again as copied: a file changed since the check above is caught too.
                let (_, sha) = try BackupFiles.hash(path + "/" + file.name, copyTo: staged + "/" + file.name, readOnly: true) { n in
                    copied += UInt64(n)
                    progress(ProgressUpdate(phase: "copying", done: copied, total: total, unit: "bytes"))
                }
                if sha != file.sha256 { changed.append("file \(file.name): sha256 differs") }
            }
            guard changed.isEmpty else { throw Self.refusal(path, changed) }
            let deep = Self.deepCheck(staged, against: manifest, configuration: configuration, progress: progress)
            guard deep.isEmpty else { throw Self.refusal(path, deep) }
            try BackupFiles.sync(staged)
            return (staged, manifest)
        } catch {
            throw BackupFiles.removeAfterFailure(staged, error)
        }
    }

    /// Restores the backup into a new data folder, offline (no server runs on it): verifies it
    /// (deep), copies it beside `dataPath`, then renames the copy into place.
    /// - Parameter dataPath: must not exist, or be an empty folder; its parent must exist.
    /// - Throws: `BackupError`: `.failedPrecondition` for a backup that fails verification or a
    ///   non-empty `dataPath`, `.notFound` for a missing parent.
    public func restore(into dataPath: String, progress: (ProgressUpdate) -> Void = { _ in }) throws(BackupError) -> RestoreResult {
        let start = ContinuousClock.now
        guard !dataPath.isEmpty else { throw BackupError(code: .invalidArgument, message: "the data folder is empty") }
        let target = BackupFiles.absolute(dataPath)
        switch BackupFiles.kind(target) {
        case .missing: break
        case .other: throw BackupError(code: .alreadyExists, message: "\(target) exists and is not a folder; restore into a new folder")
        case .directory:
            guard try BackupFiles.list(target).isEmpty else {
                throw BackupError(code: .failedPrecondition, message: "data folder \(target) is not empty; restore into a new or empty folder")
            }
        }
        let parent = BackupFiles.parent(of: target)
        guard BackupFiles.kind(parent) == .directory else {
            throw BackupError(code: .notFound, message: "the folder \(parent) (where data folder \(target) goes) does not exist")
        }
        let (staged, manifest) = try stageRestore(besides: target, progress: progress)
        do {
            if BackupFiles.kind(target) == .directory {
                // Empty (checked above): replaced by the restored folder.
                guard rmdir(target) == 0 else { throw BackupError.system("remove the empty folder", target, errno: errno) }
            }
            try BackupFiles.rename(staged, to: target)
        } catch {
            throw BackupFiles.removeAfterFailure(staged, error)
        }
        return RestoreResult(path: target, manifest: manifest, seconds: Self.seconds(since: start))
    }

    static func refusal(_ path: String, _ problems: [String]) -> BackupError {
        let shown = problems.prefix(5).joined(separator: "; ")
        let more = problems.count > 5 ? " (and \(problems.count - 5) more)" : ""
        return BackupError(code: .failedPrecondition, message: "backup \(path) fails verification, nothing restored: \(shown)\(more)")
    }

    static func seconds(since start: ContinuousClock.Instant) -> Double {
        let elapsed = ContinuousClock.now - start
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }

    // MARK: - Writing (used by the backup)

    /// Hashes (and fsyncs) every file of a folder being written as a backup.
    static func hashFiles(in folder: String, phase: String, progress: (ProgressUpdate) -> Void) throws(BackupError) -> [BackupManifest.File] {
        let names = try BackupFiles.list(folder)
        var sizes = [String: UInt64]()
        for name in names {
            let attributes = try? FileManager.default.attributesOfItem(atPath: folder + "/" + name)
            // Only for the progress total: a size that cannot be read shows as 0 there.
            sizes[name] = (attributes?[.size] as? NSNumber)?.uint64Value ?? 0
        }
        let total = sizes.values.reduce(0, +)
        var done: UInt64 = 0
        var files = [BackupManifest.File]()
        for name in names {
            guard BackupFiles.kind(folder + "/" + name) != .directory else {
                throw BackupError(code: .io, message: "unexpected folder \(name) in the backup \(folder)")
            }
            let (bytes, sha) = try BackupFiles.hash(folder + "/" + name) { n in
                done += UInt64(n)
                progress(ProgressUpdate(phase: phase, done: done, total: total, unit: "bytes"))
            }
            files.append(BackupManifest.File(name: name, bytes: bytes, sha256: sha))
        }
        return files
    }

    static func writeManifest(_ manifest: BackupManifest, in folder: String) throws(BackupError) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let data: Data
        do { data = try encoder.encode(manifest) } catch {
            throw BackupError(code: .io, message: "cannot encode the manifest of \(folder): \(error)")
        }
        try BackupFiles.write(Array(data) + [0x0A], to: folder + "/" + BackupFiles.manifestName)
    }
}

/// A finished restore.
public struct RestoreResult: Sendable, Hashable {
    /// The restored data folder.
    public var path: String
    /// The manifest of the backup restored; the content hash was checked against the copy.
    public var manifest: BackupManifest
    public var seconds: Double
}
