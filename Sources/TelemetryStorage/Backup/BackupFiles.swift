import Crypto
import Foundation
import Glibc

/// The file operations of backup and restore, on POSIX calls so that every failure keeps its
/// errno (a full disk must read as one) and so that files and folders can be fsynced.
enum BackupFiles {
    /// The manifest's name inside a backup folder. Not `MANIFEST-...`: that prefix is LevelDB's.
    static let manifestName = "backup-manifest.json"
    /// LevelDB's lock file and info logs: recreated on every open, never part of a copy.
    static let notCopied: Set<String> = ["LOCK", "LOG", "LOG.old"]
    static let chunkBytes = 1 << 20

    /// Whether LevelDB owns a file of this name (its `ParseFileName`: CURRENT, LOCK, LOG,
    /// LOG.old, MANIFEST-<n>, <n>.log, <n>.ldb, <n>.sst, <n>.dbtmp). Anything else in a data
    /// folder is someone else's, e.g. the server's `mappings/` folder and `assets.yaml`.
    static func isLevelDBFile(_ name: String) -> Bool {
        if ["CURRENT", "LOCK", "LOG", "LOG.old"].contains(name) { return true }
        func isNumber(_ s: Substring) -> Bool { !s.isEmpty && s.allSatisfy { $0.isASCII && $0.isNumber } }
        if name.hasPrefix("MANIFEST-") { return isNumber(name.dropFirst("MANIFEST-".count)) }
        for suffix in [".log", ".ldb", ".sst", ".dbtmp"] where name.hasSuffix(suffix) {
            return isNumber(name.dropLast(suffix.count))
        }
        return false
    }

    /// Copies every entry of `source` that LevelDB does not own (files and folders, with their
    /// content) into `destination`.
    static func copyForeignEntries(from source: String, to destination: String) throws(BackupError) {
        for name in try list(source) where !isLevelDBFile(name) {
            do { try FileManager.default.copyItem(atPath: source + "/" + name, toPath: destination + "/" + name) } catch {
                throw BackupError(code: .io, message: "cannot copy \(source)/\(name) into the restored folder: \(error.localizedDescription)")
            }
        }
    }

    enum Kind { case missing, directory, other }

    static func kind(_ path: String) -> Kind {
        var info = stat()
        guard lstat(path, &info) == 0 else { return .missing }
        return (info.st_mode & S_IFMT) == S_IFDIR ? .directory : .other
    }

    /// An absolute, normalized path (the server resolves relative paths against its working folder).
    static func absolute(_ path: String) -> String {
        URL(fileURLWithPath: path).standardizedFileURL.path
    }

    /// `path` with every symbolic link resolved; nil when it (or a link's target) does not exist.
    static func resolved(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    static func parent(of path: String) -> String {
        URL(fileURLWithPath: path).deletingLastPathComponent().path
    }

    /// A new folder `<base>.<tag>-<random>` beside `base`: on the same file system, so the
    /// final rename is atomic.
    static func makeSibling(of base: String, tag: String) throws(BackupError) -> String {
        for _ in 0..<8 {
            let path = "\(base).\(tag)-\(String(UInt32.random(in: .min ... .max), radix: 16))"
            if mkdir(path, 0o755) == 0 { return path }
            if errno != EEXIST { throw .system("create the folder", path, errno: errno) }
        }
        throw BackupError(code: .io, message: "cannot create a temporary folder beside \(base)")
    }

    /// The names of the entries of a folder (without `.` and `..`), sorted.
    static func list(_ folder: String) throws(BackupError) -> [String] {
        guard let dir = opendir(folder) else { throw .system("list the folder", folder, errno: errno) }
        defer { closedir(dir) }
        var names = [String]()
        while true {
            errno = 0
            guard let entry = readdir(dir) else {
                if errno != 0 { throw .system("list the folder", folder, errno: errno) }
                break
            }
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    /// Removes a file or a folder with its content; a path that is already gone is fine.
    static func remove(_ path: String) throws(BackupError) {
        guard kind(path) != .missing else { return }
        do { try FileManager.default.removeItem(atPath: path) } catch {
            guard kind(path) != .missing else { return }
            throw BackupError(code: .io, message: "cannot remove \(path): \(error.localizedDescription)")
        }
    }

    /// Removes what a failed operation left, and says so in the error when even that failed,
    /// so that the operator knows to delete it.
    static func removeAfterFailure(_ path: String, _ error: any Error) -> BackupError {
        let original = error as? BackupError ?? BackupError(code: .io, message: "\(error)")
        do throws(BackupError) { try remove(path) } catch {
            return BackupError(code: original.code, message: "\(original.message) (and \(path) could not be removed: \(error.message))")
        }
        return original
    }

    /// fsyncs a file or a folder (a folder's fsync makes its entries, new or renamed, durable).
    static func sync(_ path: String) throws(BackupError) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .system("open", path, errno: errno) }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw .system("fsync", path, errno: errno) }
    }

    /// Renames `source` to `destination`, then fsyncs the destination's parent. Callers check
    /// first that `destination` does not exist; should one appear meanwhile, rename(2) fails on a
    /// file or a non-empty folder, and replaces only an empty folder (which held nothing).
    static func rename(_ source: String, to destination: String) throws(BackupError) {
        guard Glibc.rename(source, destination) == 0 else {
            let number = errno
            if number == EEXIST || number == ENOTEMPTY || number == ENOTDIR || number == EISDIR {
                throw BackupError(code: .alreadyExists, message: "\(destination) already exists; nothing was replaced")
            }
            throw .system("rename \(source) to", destination, errno: number)
        }
        try sync(parent(of: destination))
    }

    /// Reads a file through, fsyncing it and returning its size and SHA-256 (hex).
    /// - Parameters:
    ///   - copyTo: also writes the bytes to this new file, fsynced, so a copy is hashed from the
    ///     bytes that were actually copied.
    ///   - readOnly: a file of a finished backup (perhaps on read-only media): not fsynced.
    static func hash(
        _ path: String, copyTo: String? = nil, readOnly: Bool = false, onBytes: (Int) -> Void
    ) throws(BackupError) -> (bytes: UInt64, sha256: String) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .system("open", path, errno: errno) }
        defer { close(fd) }
        var out: Int32 = -1
        if let copyTo {
            out = open(copyTo, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
            guard out >= 0 else { throw .system("create", copyTo, errno: errno) }
        }
        defer { if out >= 0 { close(out) } }
        var hasher = SHA256()
        var total: UInt64 = 0
        var buffer = [UInt8](repeating: 0, count: chunkBytes)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw .system("read", path, errno: errno)
            }
            if n == 0 { break }
            buffer.withUnsafeBytes { hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
            if let copyTo { try writeAll(out, buffer, count: n, path: copyTo) }
            total += UInt64(n)
            onBytes(n)
        }
        if let copyTo {
            guard fsync(out) == 0 else { throw .system("fsync", copyTo, errno: errno) }
        } else if !readOnly {
            // The file was written by LevelDB, which syncs tables but not every log write.
            guard fsync(fd) == 0 else { throw .system("fsync", path, errno: errno) }
        }
        return (total, hex(hasher.finalize()))
    }

    /// Writes `data` as a new file and fsyncs it.
    static func write(_ data: [UInt8], to path: String) throws(BackupError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .system("create", path, errno: errno) }
        defer { close(fd) }
        try writeAll(fd, data, count: data.count, path: path)
        guard fsync(fd) == 0 else { throw .system("fsync", path, errno: errno) }
    }

    private static func writeAll(_ fd: Int32, _ buffer: [UInt8], count: Int, path: String) throws(BackupError) {
        var offset = 0
        while offset < count {
            let n = buffer.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, count - offset) }
            if n < 0 {
                if errno == EINTR { continue }
                throw .system("write", path, errno: errno)
            }
            offset += n
        }
    }

    /// Makes `destination` a hard link to `source` when the file system allows, else a copy.
    static func linkOrCopy(_ source: String, to destination: String) throws(BackupError) {
        if link(source, destination) == 0 { return }
        _ = try hash(source, copyTo: destination, readOnly: true, onBytes: { _ in })
    }

    static func hex(_ digest: some Sequence<UInt8>) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        for byte in digest {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Milliseconds since 1970, now.
    static func nowMs() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }
}
