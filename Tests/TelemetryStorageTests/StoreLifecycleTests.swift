import Foundation
import Testing
import TelemetryCore
@testable import TelemetryStorage

@Suite("Store: persistence, format, failures")
struct StoreLifecycleTests {
    @Test("everything written is there after a reopen, and codes keep their meaning")
    func persistence() throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/store"
            var config = StoreConfiguration(durability: .sync)
            config.partitionWidthMs = 60_000
            do {
                let store = try TelemetryStore(path: path, configuration: config)
                let s = try store.write(StoreWrite(
                    records: (0..<300).map { record("v\($0 % 3)", Int64($0) * 1000 - 100_000, ["n": .int(Int64($0)), "s": .string("x\($0)")]) },
                    deadLetters: [DeadLetter(vehicleID: "v0", timestamp: 1, provider: "p", fields: [], receivedAt: 9, reason: "r", message: "m", mappingVersion: "1")],
                    gatewaySequences: ["gw": 41]))
                #expect(s.durability == .sync)
                store.close()
            }
            // Reopened with another partition width: the stored one wins.
            let store = try TelemetryStore(path: path, configuration: StoreConfiguration())
            defer { store.close() }
            #expect(store.partitionWidthMs == 60_000)
            let counts: [UInt64] = try store.vehicles().map { $0.recordCount }
            #expect(counts == [100, 100, 100])
            let v1 = try allRecords(store, "v1")
            #expect(v1.count == 100)
            #expect(v1.first?.fieldMap == ["n": .int(1), "s": .string("x1")])
            #expect(try store.latest(vid("v2"))?.fields.map(\.value) == [.int(299), .string("x299")])
            #expect(store.lastCommittedSequence(gateway: "gw") == 41)
            #expect(try store.deadLetters().map(\.id) == ["9-1"])
            // New names after the reopen get new codes, and old data keeps its own.
            try store.write([record("new", 1, ["t": .bool(true)]), record("v0", 10_000_000, ["n": .int(-1)])])
            #expect(try allRecords(store, "new").map(\.fieldMap) == [["t": .bool(true)]])
            #expect(try allRecords(store, "v0").count == 101)
            _ = try store.write(StoreWrite(deadLetters: [DeadLetter(vehicleID: "x", timestamp: nil, provider: "p", fields: [], receivedAt: 9, reason: "r", message: "m", mappingVersion: "1")]))
            #expect(try store.deadLetters().map(\.id) == ["9-1", "9-2"])
        }
    }

    @Test("a folder of a newer format is refused with a clear error")
    func newerFormat() throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/store"
            try TelemetryStore(path: path).close()
            do {
                let db = try LevelDB(path: path, options: LevelDBOptions())
                let batch = WriteBatch()
                batch.put(KeyLayout.metadataKey("format"), (TelemetryStore.formatVersion + 1).bigEndianBytes)
                try db.write(batch, sync: true)
            }
            let error = #expect(throws: StorageError.self) { try TelemetryStore(path: path) }
            #expect(error?.code == .unsupportedFormat)
            #expect(error?.message.contains("format \(TelemetryStore.formatVersion + 1)") == true)
            #expect(error?.message.contains("newer") == true)
            #expect(error?.statusCode == .failedPrecondition)
        }
    }

    @Test("a folder of format 1 (before sealed blocks) is refused with a clear error")
    func olderFormat() throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/store"
            try TelemetryStore(path: path).close()
            do {
                let db = try LevelDB(path: path, options: LevelDBOptions())
                let batch = WriteBatch()
                batch.put(KeyLayout.metadataKey("format"), [0, 0, 0, 1])
                try db.write(batch, sync: true)
            }
            let error = #expect(throws: StorageError.self) { try TelemetryStore(path: path) }
            #expect(error?.code == .unsupportedFormat)
            #expect(error?.message.contains("format 1") == true)
            #expect(error?.message.contains("older") == true)
        }
    }

    @Test("a LevelDB folder that is not a store is refused, not adopted")
    func foreignDatabase() throws {
        try withTemporaryDirectory { dir in
            do {
                let db = try LevelDB(path: dir + "/other", options: LevelDBOptions())
                let batch = WriteBatch()
                batch.put(Array("hello".utf8), Array("world".utf8))
                try db.write(batch, sync: true)
            }
            let error = #expect(throws: StorageError.self) { try TelemetryStore(path: dir + "/other") }
            #expect(error?.code == .unsupportedFormat)
            #expect(error?.message.contains("not a TelemetryStore") == true)
        }
    }

    @Test("a data folder that is a link to a missing folder is named as such, and nothing is created behind it")
    func danglingLink() throws {
        try withTemporaryDirectory { dir in
            try FileManager.default.createSymbolicLink(atPath: dir + "/data", withDestinationPath: dir + "/volume/data")
            let error = #expect(throws: StorageError.self) { try TelemetryStore(path: dir + "/data") }
            #expect(error?.message.contains("is a symbolic link to \(dir)/volume/data, which does not exist") == true)
            #expect(!FileManager.default.fileExists(atPath: dir + "/volume"))
        }
    }

    @Test("a second open of the same folder fails while the first holds it")
    func lockHeld() throws {
        try withTemporaryStore { _, path in
            let error = #expect(throws: StorageError.self) { try TelemetryStore(path: path) }
            #expect(error?.code == .io)
        }
    }

    @Test("after a failed write the store takes no write until reopened; acknowledged data survives")
    func degradedMode() throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/store"
            do {
                let store = try TelemetryStore(path: path)
                try store.write([record("v", 1, ["a": .int(1)])])
                store.faultInjection.failNextWrite()
                let failed = #expect(throws: StorageError.self) { try store.write([record("v", 2, ["a": .int(2)])]) }
                #expect(failed?.statusCode == .unavailable)
                guard case .degraded = store.health else {
                    Issue.record("health is \(store.health), expected degraded")
                    return
                }
                // No fault armed any more, and still refused: nothing after a failure is acknowledged.
                let refused = #expect(throws: StorageError.self) { try store.write([record("v", 3, ["a": .int(3)])]) }
                #expect(refused?.code == .degraded)
                #expect(throws: StorageError.self) { try store.deleteRecords(vehicle: vid("v"), from: 0, to: 10) }
                // Reads keep working.
                #expect(try allRecords(store, "v").map(\.timestamp) == [1])
                #expect(try store.latest(vid("v"))?.timestamp == 1)
                store.close()
            }
            let store = try TelemetryStore(path: path)
            defer { store.close() }
            #expect(store.health == .ready)
            #expect(try allRecords(store, "v").map(\.timestamp) == [1])
            try store.write([record("v", 4, ["a": .int(4)])])
            #expect(try allRecords(store, "v").map(\.timestamp) == [1, 4])
        }
    }

    @Test("a corrupted table file gives a data-loss error naming the range, never wrong data")
    func corruption() throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/store"
            var config = StoreConfiguration()
            config.leveldb.blockCacheBytes = 0
            do {
                let store = try TelemetryStore(path: path, configuration: config)
                for batch in 0..<20 {
                    try store.write((0..<1000).map { i in
                        let n = batch * 1000 + i
                        return record("veh-1", Int64(n) * 1000, ["a": .double(Double(n) * 1.37), "b": .int(Int64(n) &* 7919), "c": .string("s\(n)")])
                    })
                }
                let db = try store.database()
                db.compactRange(begin: nil, end: nil)
                store.close()
            }
            let tables = try FileManager.default.contentsOfDirectory(atPath: path).filter { $0.hasSuffix(".ldb") }
            let table = try #require(tables.max { (try? size(path + "/" + $0)) ?? 0 < (try? size(path + "/" + $1)) ?? 0 })
            let file = path + "/" + table
            var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: file)))
            // The canonical records fill the middle of the file (metadata sorts before them, latest after).
            for i in stride(from: bytes.count / 3, to: bytes.count / 3 + 64, by: 1) { bytes[i] ^= 0x5A }
            try Data(bytes).write(to: URL(fileURLWithPath: file))

            let store = try TelemetryStore(path: path, configuration: config)
            defer { store.close() }
            let error = #expect(throws: StorageError.self) { try allRecords(store, "veh-1") }
            #expect(error?.code == .dataLoss)
            #expect(error?.statusCode == .dataLoss)
            #expect(error?.message.contains("veh-1") == true, "\(error?.message ?? "")")
            #expect(error?.message.contains("between") == true, "\(error?.message ?? "")")
        }
    }

    private func size(_ path: String) throws -> Int {
        (try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
    }
}

@Suite("Store: LevelDB compression setting")
struct CompressionSettingTests {
    /// Whether some table file of the store holds `run` bytes of `A` in a row: a value that
    /// repetitive is stored as it is without compression, and as a few bytes with snappy.
    static func tablesHoldRun(_ path: String, run: Int) throws -> Bool {
        let needle = [UInt8](repeating: UInt8(ascii: "A"), count: run)
        for name in try FileManager.default.contentsOfDirectory(atPath: path) where name.hasSuffix(".ldb") {
            let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path + "/" + name)))
            guard bytes.count >= run else { continue }
            var i = 0
            while i <= bytes.count - run {
                if bytes[i] == UInt8(ascii: "A"), Array(bytes[i..<(i + run)]) == needle { return true }
                i += 1
            }
        }
        return false
    }

    @Test("compression off writes table blocks as they are; snappy (the default) compresses them")
    func compressionReachesLevelDB() throws {
        for compressed in [true, false] {
            var configuration = StoreConfiguration()
            configuration.leveldb.compression = compressed
            try withTemporaryStore(configuration: configuration) { store, path in
                try store.write([record("v", 1, ["text": .string(String(repeating: "A", count: 4000))])])
                try store.compact()
                #expect(try Self.tablesHoldRun(path, run: 4000) == !compressed, "compression \(compressed)")
                #expect(try store.range(RangeQuery(vehicle: vid("v"), from: .min, to: .max)).records.first?["text"]
                    == .string(String(repeating: "A", count: 4000)))
            }
        }
    }
}
