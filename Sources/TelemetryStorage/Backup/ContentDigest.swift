import Crypto
import TelemetryCore

/// Counts keys per keyspace and hashes every key and value, in the order given (key order,
/// when fed from an iterator).
///
/// Each key and each value is preceded by its length as 8 big-endian bytes, so that no two
/// different contents hash the same bytes (a key's last byte cannot pass for the value's first).
///
///     | key length: u64 BE | key | value length: u64 BE | value |   ... for every entry
struct ContentDigest {
    private var counts = [UInt64](repeating: 0, count: 256)
    private var hasher = SHA256()
    private(set) var entries: UInt64 = 0

    mutating func add(key: UnsafeBufferPointer<UInt8>, value: UnsafeBufferPointer<UInt8>) {
        if let prefix = key.first { counts[Int(prefix)] += 1 }
        entries += 1
        for part in [key, value] {
            withUnsafeBytes(of: UInt64(part.count).bigEndian) { hasher.update(bufferPointer: $0) }
            hasher.update(bufferPointer: UnsafeRawBufferPointer(part))
        }
    }

    /// Every keyspace of this build (with 0 for an empty one), then any unknown prefix found.
    var keyspaces: [BackupManifest.KeyspaceCount] {
        var out = [BackupManifest.KeyspaceCount]()
        for prefix in 0..<256 {
            if let keyspace = Keyspace(rawValue: UInt8(prefix)) {
                out.append(.init(name: keyspace.description, entries: counts[prefix]))
            } else if counts[prefix] > 0 {
                out.append(.init(name: Self.unknownName(UInt8(prefix)), entries: counts[prefix]))
            }
        }
        return out
    }

    static func unknownName(_ prefix: UInt8) -> String {
        "unknown-0x" + String(prefix, radix: 16).uppercased().leftPadded(to: 2)
    }

    /// The hash so far, lowercase hex.
    func finalize() -> String { BackupFiles.hex(hasher.finalize()) }

    /// Reads a whole database through `iterator` (from its first key), feeding every entry.
    /// - Throws: the iterator's error (a corrupt block shows only there).
    static func read(
        _ iterator: LevelDBIterator, onEntry: (UnsafeBufferPointer<UInt8>, UnsafeBufferPointer<UInt8>) throws(BackupError) -> Void
    ) throws(BackupError) -> Result<Void, LevelDBError> {
        iterator.seekToFirst()
        while iterator.isValid {
            let failure: BackupError? = iterator.withUnsafeKey { key in
                iterator.withUnsafeValue { value in
                    do throws(BackupError) { try onEntry(key, value) } catch { return error }
                    return nil
                }
            }
            if let failure { throw failure }
            iterator.next()
        }
        do throws(LevelDBError) { try iterator.checkError() } catch { return .failure(error) }
        return .success(())
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
