internal import CLevelDB
internal import CLevelDBEnv
import Foundation
import Synchronization

/// One open LevelDB database: the single owner of its C handles.
///
/// leveldb/db.h: "A DB is safe for concurrent access from multiple threads without
/// any external synchronization." The handles below are only freed in `deinit`, after
/// every child (iterator, snapshot) has released its strong reference, which is why
/// sharing the class across threads is sound.
public final class LevelDB: @unchecked Sendable {
    let pointer: OpaquePointer  // leveldb_t*
    private let options: OpaquePointer  // leveldb_options_t*
    private let cache: OpaquePointer?  // leveldb_cache_t*
    private let filterPolicy: OpaquePointer?  // leveldb_filterpolicy_t*
    private let readOptions: OpaquePointer  // verify_checksums on
    private let scanReadOptions: OpaquePointer  // verify_checksums on, fill_cache off
    private let bufferedWriteOptions: OpaquePointer
    private let syncWriteOptions: OpaquePointer
    /// The folder the database lives in.
    public let path: String

    /// Opens (or creates) the database in `path`.
    /// - Throws: `LevelDBError` with LevelDB's message (a held lock, a corrupt manifest, ...);
    ///   `.corruption` for a folder that holds a database's files without its `CURRENT`.
    public init(path: String, options tuning: LevelDBOptions) throws(LevelDBError) {
        if tuning.createIfMissing, let orphans = Self.filesWithoutCurrent(in: path) {
            // LevelDB reads a folder without CURRENT as no database at all: it would create an
            // empty one there and then delete every table and log it does not know, the data.
            throw LevelDBError(
                code: .corruption,
                message: "the folder holds LevelDB files (\(orphans)) but no CURRENT file; opening it would create an empty "
                    + "database and delete them. Write CURRENT back (one line: the name of the newest MANIFEST-<number> file, "
                    + "then a newline) or restore from a backup (docs/operations/storage-failure.md)")
        }
        self.path = path
        let options = leveldb_options_create()!
        leveldb_options_set_create_if_missing(options, tuning.createIfMissing ? 1 : 0)
        leveldb_options_set_paranoid_checks(options, tuning.paranoidChecks ? 1 : 0)
        leveldb_options_set_compression(
            options, Int32(tuning.compression ? leveldb_snappy_compression : leveldb_no_compression))
        leveldb_options_set_write_buffer_size(options, tuning.writeBufferBytes)
        leveldb_options_set_max_file_size(options, tuning.maxFileBytes)
        leveldb_options_set_block_size(options, tuning.blockBytes)
        leveldb_options_set_max_open_files(options, Int32(tuning.maxOpenFiles))
        if !tuning.memoryMappedReads { telemetry_leveldb_options_use_pread(options) }
        var cache: OpaquePointer? = nil
        if tuning.blockCacheBytes > 0 {
            cache = leveldb_cache_create_lru(tuning.blockCacheBytes)
            leveldb_options_set_cache(options, cache)
        }
        var filter: OpaquePointer? = nil
        if tuning.bloomFilterBitsPerKey > 0 {
            filter = leveldb_filterpolicy_create_bloom(Int32(tuning.bloomFilterBitsPerKey))
            leveldb_options_set_filter_policy(options, filter)
        }
        let opened: OpaquePointer?
        do {
            opened = try withLevelDBError { leveldb_open(options, path, $0) }
        } catch {
            // A failed open returns no handle; release what we created for it.
            if let filter { leveldb_filterpolicy_destroy(filter) }
            if let cache { leveldb_cache_destroy(cache) }
            leveldb_options_destroy(options)
            throw error
        }
        guard let opened else {
            if let filter { leveldb_filterpolicy_destroy(filter) }
            if let cache { leveldb_cache_destroy(cache) }
            leveldb_options_destroy(options)
            throw LevelDBError(code: .unknown, message: "leveldb_open returned no handle for \(path)")
        }
        self.pointer = opened
        self.options = options
        self.cache = cache
        self.filterPolicy = filter
        self.readOptions = leveldb_readoptions_create()!
        leveldb_readoptions_set_verify_checksums(readOptions, 1)
        self.scanReadOptions = leveldb_readoptions_create()!
        leveldb_readoptions_set_verify_checksums(scanReadOptions, 1)
        leveldb_readoptions_set_fill_cache(scanReadOptions, 0)
        self.bufferedWriteOptions = leveldb_writeoptions_create()!
        leveldb_writeoptions_set_sync(bufferedWriteOptions, 0)
        self.syncWriteOptions = leveldb_writeoptions_create()!
        leveldb_writeoptions_set_sync(syncWriteOptions, 1)
    }

    deinit {
        // Order matters: the database first, then what it was opened with.
        leveldb_close(pointer)
        leveldb_readoptions_destroy(readOptions)
        leveldb_readoptions_destroy(scanReadOptions)
        leveldb_writeoptions_destroy(bufferedWriteOptions)
        leveldb_writeoptions_destroy(syncWriteOptions)
        if let filterPolicy { leveldb_filterpolicy_destroy(filterPolicy) }
        if let cache { leveldb_cache_destroy(cache) }
        leveldb_options_destroy(options)
    }

    /// Reads one key.
    /// - Returns: the value's bytes, or nil when the key is absent.
    /// - Throws: `LevelDBError` (a checksum failure is `.corruption`).
    public func get(_ key: [UInt8]) throws(LevelDBError) -> [UInt8]? {
        var length = 0
        let value: UnsafeMutablePointer<CChar>? = try key.withUnsafeBufferPointer { k throws(LevelDBError) in
            try withLevelDBError { err in
                k.withMemoryRebound(to: CChar.self) { kc in
                    leveldb_get(pointer, readOptions, kc.baseAddress, kc.count, &length, err)
                }
            }
        }
        guard let value else { return nil }
        // > leveldb_get: "Returns NULL if not found. A malloc()ed array otherwise."
        defer { leveldb_free(value) }
        return value.withMemoryRebound(to: UInt8.self, capacity: length) { Array(UnsafeBufferPointer(start: $0, count: length)) }
    }

    /// Applies a batch atomically: all of it or, on error, none of it.
    /// - Parameter sync: fsync the log before returning.
    public func write(_ batch: WriteBatch, sync: Bool) throws(LevelDBError) {
        try withLevelDBError { err in
            leveldb_write(pointer, sync ? syncWriteOptions : bufferedWriteOptions, batch.pointer, err)
        }
    }

    /// Gives `body` an iterator over the whole database (all keyspaces), valid only inside it.
    /// - Parameters:
    ///   - snapshot: read as of this snapshot instead of the current state.
    ///   - fillCache: false for long scans, so they don't evict the hot blocks.
    public func withIterator<T, E: Error>(
        snapshot: Snapshot? = nil, fillCache: Bool = true, _ body: (LevelDBIterator) throws(E) -> T
    ) throws(E) -> T {
        let iterator: LevelDBIterator
        if let snapshot {
            let options = leveldb_readoptions_create()!
            leveldb_readoptions_set_verify_checksums(options, 1)
            leveldb_readoptions_set_fill_cache(options, fillCache ? 1 : 0)
            leveldb_readoptions_set_snapshot(options, snapshot.pointer)
            iterator = LevelDBIterator(database: self, options: fillCache ? readOptions : scanReadOptions, ownedOptions: options, snapshot: snapshot)
        } else {
            iterator = LevelDBIterator(database: self, options: fillCache ? readOptions : scanReadOptions, ownedOptions: nil, snapshot: nil)
        }
        return try body(iterator)
    }

    /// Gives `body` a consistent, read-only view as of now.
    public func withSnapshot<T, E: Error>(_ body: (Snapshot) throws(E) -> T) throws(E) -> T {
        let snapshot = Snapshot(database: self)
        return try body(snapshot)
    }

    /// A LevelDB property (`leveldb.stats`, `leveldb.sstables`, `leveldb.num-files-at-level0`,
    /// `leveldb.approximate-memory-usage`), or nil when LevelDB does not know the name.
    public func property(_ name: String) -> String? {
        guard let value = leveldb_property_value(pointer, name) else { return nil }
        // > "Returns NULL if property name is unknown. Else returns a pointer to a malloc()-ed
        // > null-terminated value."
        defer { leveldb_free(value) }
        return String(cString: value)
    }

    /// The first few LevelDB files (manifests, tables, logs) of a folder that has no `CURRENT`,
    /// or nil when it has one, or none of them (a new or empty folder).
    static func filesWithoutCurrent(in path: String) -> String? {
        let manager = FileManager.default
        guard !manager.fileExists(atPath: (path as NSString).appendingPathComponent("CURRENT")),
            let names = try? manager.contentsOfDirectory(atPath: path)
        else { return nil }
        let isDigits = { (s: Substring) in !s.isEmpty && s.allSatisfy(\.isASCII) && s.allSatisfy(\.isNumber) }
        let found = names.filter { name in
            if name.hasPrefix("MANIFEST-") { return isDigits(name.dropFirst("MANIFEST-".count)) }
            for ext in [".ldb", ".sst", ".log"] where name.hasSuffix(ext) { return isDigits(name.dropLast(ext.count)) }
            return false
        }.sorted()
        guard !found.isEmpty else { return nil }
        return found.prefix(3).joined(separator: ", ") + (found.count > 3 ? ", ... \(found.count) in all" : "")
    }

    /// Compacts the key range [begin, end] (nil = open end); blocks until done.
    public func compactRange(begin: [UInt8]?, end: [UInt8]?) {
        func call(_ b: UnsafeBufferPointer<CChar>?, _ e: UnsafeBufferPointer<CChar>?) {
            leveldb_compact_range(pointer, b?.baseAddress, b?.count ?? 0, e?.baseAddress, e?.count ?? 0)
        }
        withOptionalBytes(begin) { b in withOptionalBytes(end) { e in call(b, e) } }
    }

    /// Approximate on-disk bytes of the key range [begin, end).
    public func approximateSize(begin: [UInt8], end: [UInt8]) -> UInt64 {
        var size: UInt64 = 0
        begin.withUnsafeBufferPointer { b in
            end.withUnsafeBufferPointer { e in
                b.withMemoryRebound(to: CChar.self) { bc in
                    e.withMemoryRebound(to: CChar.self) { ec in
                        var start: UnsafePointer<CChar>? = bc.baseAddress
                        var startLength = bc.count
                        var limit: UnsafePointer<CChar>? = ec.baseAddress
                        var limitLength = ec.count
                        leveldb_approximate_sizes(pointer, 1, &start, &startLength, &limit, &limitLength, &size)
                    }
                }
            }
        }
        return size
    }
}

private func withOptionalBytes<T>(_ bytes: [UInt8]?, _ body: (UnsafeBufferPointer<CChar>?) -> T) -> T {
    guard let bytes else { return body(nil) }
    return bytes.withUnsafeBufferPointer { $0.withMemoryRebound(to: CChar.self) { body($0) } }
}

/// Runs a LevelDB call that reports failure through `char** errptr`, and turns the
/// malloc'ed message into a typed error (freeing it).
func withLevelDBError<T>(_ body: (UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> T) throws(LevelDBError) -> T {
    var err: UnsafeMutablePointer<CChar>? = nil
    let result = body(&err)
    if let err {
        defer { leveldb_free(err) }
        throw LevelDBError(statusMessage: String(cString: err))
    }
    return result
}

/// A consistent read view; released when the last reference goes.
public final class Snapshot {
    let database: LevelDB  // strong: the snapshot must be released before the database closes
    let pointer: OpaquePointer  // const leveldb_snapshot_t*

    init(database: LevelDB) {
        self.database = database
        self.pointer = leveldb_create_snapshot(database.pointer)
    }

    deinit { leveldb_release_snapshot(database.pointer, pointer) }
}

@available(*, unavailable) extension Snapshot: Sendable {}

/// Destroys the database in `path` (all its files). Used by tests and restore.
public func destroyLevelDB(path: String) throws(LevelDBError) {
    let options = leveldb_options_create()!
    defer { leveldb_options_destroy(options) }
    try withLevelDBError { leveldb_destroy_db(options, path, $0) }
}
