internal import CLevelDB

/// A cursor over a database's keys in byte order. Not thread-safe (iterator.h), so
/// not Sendable; it lives only inside `LevelDB.withIterator`.
///
/// iterator.h: the key and value memory is valid only until the next move, so every
/// accessor copies.
public final class LevelDBIterator {
    private let database: LevelDB  // strong: "The returned iterator should be deleted before this db is deleted."
    private let snapshot: Snapshot?  // keeps the snapshot alive as long as the iterator reads through it
    private let ownedOptions: OpaquePointer?
    private let pointer: OpaquePointer  // leveldb_iterator_t*

    init(database: LevelDB, options: OpaquePointer, ownedOptions: OpaquePointer?, snapshot: Snapshot?) {
        self.database = database
        self.snapshot = snapshot
        self.ownedOptions = ownedOptions
        self.pointer = leveldb_create_iterator(database.pointer, ownedOptions ?? options)
    }

    deinit {
        leveldb_iter_destroy(pointer)
        if let ownedOptions { leveldb_readoptions_destroy(ownedOptions) }
    }

    public var isValid: Bool { leveldb_iter_valid(pointer) != 0 }

    public func seekToFirst() { leveldb_iter_seek_to_first(pointer) }
    public func seekToLast() { leveldb_iter_seek_to_last(pointer) }
    public func next() { leveldb_iter_next(pointer) }
    public func previous() { leveldb_iter_prev(pointer) }

    /// Moves to the first key at or after `target`.
    public func seek(_ target: [UInt8]) {
        target.withUnsafeBufferPointer { t in
            t.withMemoryRebound(to: CChar.self) { leveldb_iter_seek(pointer, $0.baseAddress, $0.count) }
        }
    }

    /// The current key, copied. Only while `isValid`.
    public var key: [UInt8] {
        var length = 0
        let raw = leveldb_iter_key(pointer, &length)!
        return raw.withMemoryRebound(to: UInt8.self, capacity: length) { Array(UnsafeBufferPointer(start: $0, count: length)) }
    }

    /// The current value, copied. Only while `isValid`.
    public var value: [UInt8] {
        var length = 0
        let raw = leveldb_iter_value(pointer, &length)!
        return raw.withMemoryRebound(to: UInt8.self, capacity: length) { Array(UnsafeBufferPointer(start: $0, count: length)) }
    }

    /// Borrows the current key without copying; the buffer is valid only inside `body`.
    public func withUnsafeKey<T>(_ body: (UnsafeBufferPointer<UInt8>) throws -> T) rethrows -> T {
        var length = 0
        let raw = leveldb_iter_key(pointer, &length)!
        return try raw.withMemoryRebound(to: UInt8.self, capacity: length) {
            try body(UnsafeBufferPointer(start: $0, count: length))
        }
    }

    /// Borrows the current value without copying; the buffer is valid only inside `body`.
    public func withUnsafeValue<T>(_ body: (UnsafeBufferPointer<UInt8>) throws -> T) rethrows -> T {
        var length = 0
        let raw = leveldb_iter_value(pointer, &length)!
        return try raw.withMemoryRebound(to: UInt8.self, capacity: length) {
            try body(UnsafeBufferPointer(start: $0, count: length))
        }
    }

    /// The iterator's error, if iteration stopped on one (a corrupt block shows only here).
    public func checkError() throws(LevelDBError) {
        try withLevelDBError { leveldb_iter_get_error(pointer, $0) }
    }
}

@available(*, unavailable) extension LevelDBIterator: Sendable {}

extension LevelDBIterator {
    /// The iterator's error as a storage error naming what was being read.
    func checkStatus(reading what: @autoclosure () -> String) throws(StorageError) {
        do throws(LevelDBError) { try checkError() } catch { throw TelemetryStore.readError(error, what: what()) }
    }
}
