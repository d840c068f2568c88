import Foundation
import Testing
import TelemetryCore
@testable import TelemetryStorage

/// Damage must come back as a data-loss error: never as a trap, never as "no data".
@Suite("Store: damaged metadata and tables")
struct DamagedStoreTests {
    /// Applies `body`'s puts to the folder's database directly, as damage would.
    static func damage(_ path: String, _ body: (WriteBatch) throws -> Void) throws {
        let db = try LevelDB(path: path, options: LevelDBOptions())
        let batch = WriteBatch()
        try body(batch)
        try db.write(batch, sync: true)
    }

    /// Flips the bits of every occurrence of `marker` in the folder's table files.
    /// - Returns: how many occurrences were changed.
    static func corruptTables(_ path: String, marker: String) throws -> Int {
        let sample = Array(marker.utf8)
        var hits = 0
        for table in try FileManager.default.contentsOfDirectory(atPath: path) where table.hasSuffix(".ldb") {
            let url = URL(fileURLWithPath: path + "/" + table)
            var bytes = try [UInt8](Data(contentsOf: url))
            guard bytes.count >= sample.count else { continue }
            for start in 0...(bytes.count - sample.count) where bytes[start..<(start + sample.count)].elementsEqual(sample) {
                for i in start..<(start + sample.count) { bytes[i] ^= 0x5A }
                hits += 1
            }
            try Data(bytes).write(to: url)
        }
        return hits
    }

    static func openError(_ path: String) -> StorageError? {
        #expect(throws: StorageError.self) { try TelemetryStore(path: path) }
    }

    @Test("a damaged format version entry is data loss; an unknown version is an unsupported format")
    func damagedFormatEntry() throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/store"
            try TelemetryStore(path: path).close()
            try Self.damage(path) { $0.put(KeyLayout.metadataKey(KeyLayout.Meta.format), [0, 0, 3]) }
            #expect(Self.openError(path)?.code == .dataLoss)
            try Self.damage(path) { $0.put(KeyLayout.metadataKey(KeyLayout.Meta.format), [0, 0, 0, 0]) }
            #expect(Self.openError(path)?.code == .unsupportedFormat)
        }
    }

    @Test("a stored dictionary code of UInt32.max is data loss at open, not a trap", arguments: ["vehicle/x", "field/x", "provenance/"])
    func codeAtUInt32Max(_ name: String) throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/store"
            try TelemetryStore(path: path).close()
            try Self.damage(path) { batch in
                if name == "provenance/" {
                    // The id is the key's suffix; the value holds provider and mapping version.
                    batch.put(KeyLayout.metadataKey(name, UInt32.max.bigEndianBytes), [1, 0x70, 1, 0x31])
                } else {
                    batch.put(KeyLayout.metadataKey(name), UInt32.max.bigEndianBytes)
                }
            }
            let error = Self.openError(path)
            #expect(error?.code == .dataLoss)
            #expect(error?.message.contains("code 4294967295") == true, "\(error?.message ?? "")")
        }
    }

    @Test("a dictionary with no code left refuses the write that needs one, without a trap or a degraded store")
    func dictionaryExhausted() throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/store"
            try TelemetryStore(path: path).close()
            try Self.damage(path) { $0.put(KeyLayout.metadataKey("field/x"), (UInt32.max - 1).bigEndianBytes) }
            let store = try TelemetryStore(path: path)
            defer { store.close() }
            try store.write([record("v", 1, ["x": .int(1)])])
            let error = #expect(throws: StorageError.self) { try store.write([record("v", 2, ["y": .int(1)])]) }
            #expect(error?.code == .dataLoss)
            #expect(store.health == .ready)
            #expect(try allRecords(store, "v").map(\.fieldMap) == [["x": .int(1)]])
        }
    }

    @Test("two names stored with one code is data loss at open: their records would be read as each other's")
    func codeClaimedTwice() throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/store"
            do {
                let store = try TelemetryStore(path: path)
                try store.write([record("a", 1, ["x": .int(1)])])
                store.close()
            }
            try Self.damage(path) { $0.put(KeyLayout.metadataKey("vehicle/b"), UInt32(1).bigEndianBytes) }
            #expect(Self.openError(path)?.code == .dataLoss)
        }
    }

    @Test("a gateway resume point that is not 8 bytes is data loss, not a silent reset")
    func damagedGatewayEntry() throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/store"
            try TelemetryStore(path: path).close()
            try Self.damage(path) { $0.put(KeyLayout.metadataKey("gateway/gw"), [0, 0, 7]) }
            #expect(Self.openError(path)?.code == .dataLoss)
        }
    }

    /// Rewrites the stored latest state of vehicle code 1 with `count`.
    static func setLatestCount(_ path: String, _ count: UInt64) throws {
        let db = try LevelDB(path: path, options: LevelDBOptions())
        let key = KeyLayout.latestKey(vehicle: 1)
        let stored = try #require(try db.get(key))
        var state = try stored.withUnsafeBufferPointer { (b) throws(ByteDecodingError) in
            try VehicleState.decode(code: 1, vehicle: vid("v"), b)
        }
        state.count = count
        let batch = WriteBatch()
        batch.put(key, state.encoded())
        try db.write(batch, sync: true)
    }

    @Test("a delete where the stored count is below the records found recounts them instead of trapping")
    func deleteWithACountTooLow() throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/store"
            do {
                let store = try TelemetryStore(path: path)
                try store.write([1000, 2000, 3000].map { record("v", $0, ["n": .int($0)]) })
                store.close()
            }
            try Self.setLatestCount(path, 1)
            let store = try TelemetryStore(path: path)
            defer { store.close() }
            #expect(try store.vehicles().first?.recordCount == 1)
            #expect(try store.deleteRecords(vehicle: vid("v"), from: 1000, to: 2500) == 2)
            #expect(try store.vehicles().first?.recordCount == 1)
            #expect(try store.latest(vid("v"))?.timestamp == 3000)
        }
    }

    @Test("a stored count larger than the time span can hold is data loss at open")
    func countBeyondTheSpan() throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/store"
            do {
                let store = try TelemetryStore(path: path)
                try store.write([1000, 3000].map { record("v", $0, ["n": .int($0)]) })
                store.close()
            }
            try Self.setLatestCount(path, .max)
            #expect(Self.openError(path)?.code == .dataLoss)
        }
    }

    @Test("a LevelDB folder whose only table is damaged is data loss, not an empty folder to adopt")
    func damagedForeignDatabase() throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/other"
            do {
                var options = LevelDBOptions()
                options.compression = false
                let db = try LevelDB(path: path, options: options)
                let batch = WriteBatch()
                // After "\u{1}format", so opening the store reads the table only to see if it is empty.
                for i in 0..<3 { batch.put(Array("\u{7F}foreign-\(i)".utf8), Array("FOREIGN-VALUE-MARKER-\(i)".utf8)) }
                try db.write(batch, sync: true)
                db.compactRange(begin: nil, end: nil)
            }
            #expect(try Self.corruptTables(path, marker: "FOREIGN-VALUE-MARKER-1") == 1)
            let error = Self.openError(path)
            #expect(error?.code == .dataLoss, "\(String(describing: error))")
            // Nothing was written into it.
            let db = try LevelDB(path: path, options: LevelDBOptions())
            #expect(try db.get(KeyLayout.metadataKey(KeyLayout.Meta.format)) == nil)
        }
    }

    @Test("a folder whose CURRENT file is gone is refused, and its tables and logs stay")
    func missingCurrentIsRefused() throws {
        for alsoLogs in [false, true] {
            try withTemporaryDirectory { dir in
                let path = dir + "/store"
                do {
                    let store = try TelemetryStore(path: path)
                    try store.write((0..<1000).map { record("v", Int64($0), ["x": .int(Int64($0))]) })
                    try store.compact()
                    try store.write([record("v", 5000, ["x": .int(1)])])
                    store.close()
                }
                let manager = FileManager.default
                try manager.removeItem(atPath: path + "/CURRENT")
                if alsoLogs {
                    for name in try manager.contentsOfDirectory(atPath: path) where name.hasSuffix(".log") {
                        try manager.removeItem(atPath: path + "/" + name)
                    }
                }
                let before = try manager.contentsOfDirectory(atPath: path).filter { $0.hasSuffix(".ldb") || $0.hasPrefix("MANIFEST-") }.sorted()
                #expect(before.contains { $0.hasSuffix(".ldb") })
                let error = Self.openError(path)
                #expect(error?.code == .dataLoss, "\(String(describing: error))")
                #expect(error?.message.contains("no CURRENT file") == true)
                let after = try manager.contentsOfDirectory(atPath: path).filter { $0.hasSuffix(".ldb") || $0.hasPrefix("MANIFEST-") }.sorted()
                #expect(after == before, "nothing was deleted")
                #expect(!manager.fileExists(atPath: path + "/CURRENT"), "no empty database was created over them")
                // The runbook's repair: CURRENT names the newest manifest again.
                let manifest = try #require(before.filter { $0.hasPrefix("MANIFEST-") }.last)
                try (manifest + "\n").write(toFile: path + "/CURRENT", atomically: false, encoding: .utf8)
                let store = try TelemetryStore(path: path)
                defer { store.close() }
                // The record after the compaction was only in the log: without it, it is gone.
                #expect(try allRecords(store, "v").count == (alsoLogs ? 1000 : 1001))
            }
        }
    }

    @Test("damage at the end of the raw keyspace is data loss, not a narrower keyspace with no records")
    func damagedRawBound() throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/store"
            var config = StoreConfiguration()
            config.partitionWidthMs = 1000
            config.leveldb.compression = false
            config.leveldb.blockCacheBytes = 0
            // LevelDB's smallest block (1 KiB), and raw records larger than that: each raw record
            // ends a block, so the damage hits the last one alone.
            config.leveldb.blockBytes = 1024
            do {
                let store = try TelemetryStore(path: path, configuration: config)
                let pad = Field("pad", .string(String(repeating: "x", count: 1500)))
                let raw = [(1000, "ok-provider"), (5000, "DAMAGED-RAW-PROVIDER-MARKER")].map { ts, provider in
                    RawRecord(
                        record: ProviderRecord(vehicle: vid("r"), timestamp: Int64(ts), provider: provider, fields: [pad]),
                        receivedAt: Int64(ts), mappingVersion: "1")
                }
                // Two dead letters, so that keys follow the raw keyspace: stepping backwards, LevelDB
                // reads one entry ahead, and opening the store looks for the last key.
                _ = try store.write(StoreWrite(raw: raw, deadLetters: [DeadLetterTests.letter(at: 1, "a"), DeadLetterTests.letter(at: 2, "b")]))
                try store.compact()
                store.close()
            }
            #expect(try Self.corruptTables(path, marker: "DAMAGED-RAW-PROVIDER-MARKER") == 1)
            let store = try TelemetryStore(path: path, configuration: config)
            defer { store.close() }
            let error = #expect(throws: StorageError.self) { try store.rawRecords(vehicle: vid("r"), from: 5000, to: .max) }
            #expect(error?.code == .dataLoss, "\(String(describing: error))")
        }
    }
}
