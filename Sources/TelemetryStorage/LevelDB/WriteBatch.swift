internal import CLevelDB

/// A set of puts and deletes applied atomically by `LevelDB.write`. Not thread-safe.
public final class WriteBatch {
    let pointer: OpaquePointer  // leveldb_writebatch_t*
    /// Puts and deletes added since creation or the last `clear()`.
    public private(set) var count = 0

    public init() { pointer = leveldb_writebatch_create() }

    deinit { leveldb_writebatch_destroy(pointer) }

    public func put(_ key: [UInt8], _ value: [UInt8]) {
        key.withUnsafeBufferPointer { k in
            value.withUnsafeBufferPointer { v in
                k.withMemoryRebound(to: CChar.self) { kc in
                    v.withMemoryRebound(to: CChar.self) { vc in
                        leveldb_writebatch_put(pointer, kc.baseAddress, kc.count, vc.baseAddress, vc.count)
                    }
                }
            }
        }
        count += 1
    }

    /// Adds a put from borrowed bytes (an iterator's, when copying a database); LevelDB copies them.
    func put(_ key: UnsafeBufferPointer<UInt8>, _ value: UnsafeBufferPointer<UInt8>) {
        key.withMemoryRebound(to: CChar.self) { k in
            value.withMemoryRebound(to: CChar.self) { v in
                leveldb_writebatch_put(pointer, k.baseAddress, k.count, v.baseAddress, v.count)
            }
        }
        count += 1
    }

    public func delete(_ key: [UInt8]) {
        key.withUnsafeBufferPointer { k in
            k.withMemoryRebound(to: CChar.self) { leveldb_writebatch_delete(pointer, $0.baseAddress, $0.count) }
        }
        count += 1
    }

    public func clear() {
        leveldb_writebatch_clear(pointer)
        count = 0
    }
}

@available(*, unavailable) extension WriteBatch: Sendable {}
