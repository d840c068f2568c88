import Testing
import TelemetryCore
@testable import TelemetryStorage

@Suite("Store: dead letters")
struct DeadLetterTests {
    static func letter(at receivedAt: Int64, _ reason: String = "r") -> DeadLetter {
        DeadLetter(
            vehicleID: "v", timestamp: nil, provider: "p", fields: [], receivedAt: receivedAt, reason: reason, message: "m",
            mappingVersion: "1")
    }

    @Test("after a reopen, numbering goes on from the highest sequence, not from the last key; nothing is overwritten")
    func numberingAfterReopenWithReceivedTimesOutOfOrder() throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/store"
            do {
                let store = try TelemetryStore(path: path)
                // Sequence 1 at 100, sequence 2 at 50: the last key, (100, 1), holds the lower sequence.
                _ = try store.write(StoreWrite(deadLetters: [Self.letter(at: 100, "first")]))
                _ = try store.write(StoreWrite(deadLetters: [Self.letter(at: 50, "second")]))
                store.close()
            }
            let store = try TelemetryStore(path: path)
            defer { store.close() }
            _ = try store.write(StoreWrite(deadLetters: [Self.letter(at: 50, "third")]))
            let letters = try store.deadLetters()
            #expect(letters.map(\.id) == ["50-2", "50-3", "100-1"])
            #expect(letters.map(\.letter.reason) == ["second", "third", "first"])
        }
    }

    static func failing(at receivedAt: Int64, sequence: UInt64? = nil, fields: [Field]) -> DeadLetter {
        DeadLetter(
            vehicleID: "truck-1", timestamp: 1_000, provider: "acme", fields: fields, gatewaySequence: sequence,
            receivedAt: receivedAt, reason: "unknown_provider", message: "no mapping for provider acme (received \(receivedAt))",
            mappingVersion: "")
    }

    @Test("a re-sent failing record is kept once: same answer, one letter; after a purge or retention it is kept again")
    func resentRecordIsKeptOnce() throws {
        try withTemporaryStore { store, _ in
            let fields = [Field("x", .double(1.5)), Field("code", .string("042"))]
            let first = try store.write(StoreWrite(deadLetters: [Self.failing(at: 100, sequence: 7, fields: fields)]))
            #expect(first.deadLettered == 1 && first.deadLettersAlreadyKept == 0)
            // The retry: received later, another message and sequence, fields in another order.
            let retry = try store.write(StoreWrite(deadLetters: [
                Self.failing(at: 200, sequence: 9, fields: fields.reversed()), Self.failing(at: 200, fields: fields),
            ]))
            #expect(retry.deadLettered == 2 && retry.deadLettersAlreadyKept == 2)
            #expect(try store.deadLetters().map(\.id) == ["100-1"])
            // Another value, reason or vehicle is another letter.
            var other = Self.failing(at: 300, fields: [Field("x", .double(1.6)), Field("code", .string("042"))])
            var reason = Self.failing(at: 300, fields: fields)
            reason.reason = "no_active_mapping"
            other.vehicleID = "truck-1"
            _ = try store.write(StoreWrite(deadLetters: [other, reason]))
            #expect(try store.deadLetters().map(\.id) == ["100-1", "300-2", "300-3"])

            // Purged, the record is kept again when it comes back, and its digest entry went with it.
            #expect(try store.deleteDeadLetters(ids: ["100-1"]) == 1)
            #expect(try store.write(StoreWrite(deadLetters: [Self.failing(at: 400, fields: fields)])).deadLettersAlreadyKept == 0)
            #expect(try store.deadLetters().map(\.id) == ["300-2", "300-3", "400-4"])
            #expect(try digestEntries(store) == 3)

            // Retention takes the letters received before the edge and their digest entries.
            _ = try store.applyRetention(RetentionPolicy(deadLettersMs: 1), now: 402)
            #expect(try store.deadLetters().isEmpty)
            #expect(try digestEntries(store) == 0)
            #expect(try store.write(StoreWrite(deadLetters: [Self.failing(at: 500, fields: fields)])).deadLettersAlreadyKept == 0)
            #expect(try store.deadLetters().map(\.id) == ["500-5"])
        }
    }

    func digestEntries(_ store: TelemetryStore) throws -> Int {
        let prefix = KeyLayout.metadataKey(KeyLayout.Meta.deadLetterDigestPrefix)
        return try store.database().withIterator(fillCache: true) { it throws(StorageError) -> Int in
            var n = 0
            it.seek(prefix)
            while it.isValid, it.key.starts(with: prefix) {
                n += 1
                it.next()
            }
            return n
        }
    }

    @Test("the ids of purged dead letters are not issued again after a reopen")
    func purgedIDsAreNotReused() throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/store"
            do {
                let store = try TelemetryStore(path: path)
                _ = try store.write(StoreWrite(deadLetters: [Self.letter(at: 10, "a"), Self.letter(at: 10, "b"), Self.letter(at: 10, "c")]))
                // Named twice, deleted once.
                #expect(try store.deleteDeadLetters(ids: ["10-3", "10-3"]) == 1)
                store.close()
            }
            let store = try TelemetryStore(path: path)
            defer { store.close() }
            _ = try store.write(StoreWrite(deadLetters: [Self.letter(at: 10, "d")]))
            #expect(try store.deadLetters().map(\.id) == ["10-1", "10-2", "10-4"])
        }
    }

    @Test("a format 2 folder is upgraded to format 3 in place, the sequence taken from its highest stored letter")
    func upgradeFromFormat2() throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/store"
            do {
                let store = try TelemetryStore(path: path)
                try store.write([record("v", 1, ["a": .int(1)])])
                _ = try store.write(StoreWrite(deadLetters: [Self.letter(at: 100, "a"), Self.letter(at: 5, "b")]))
                store.close()
            }
            do {
                // What a format 2 build leaves: no sequence entry.
                let db = try LevelDB(path: path, options: LevelDBOptions())
                let batch = WriteBatch()
                batch.put(KeyLayout.metadataKey(KeyLayout.Meta.format), UInt32(2).bigEndianBytes)
                batch.delete(KeyLayout.metadataKey(KeyLayout.Meta.deadLetterSequence))
                try db.write(batch, sync: true)
            }
            do {
                let store = try TelemetryStore(path: path)
                _ = try store.write(StoreWrite(deadLetters: [Self.letter(at: 5, "c")]))
                #expect(try store.deadLetters().map(\.id) == ["5-2", "5-3", "100-1"])
                #expect(try allRecords(store, "v").count == 1)
                store.close()
            }
            let db = try LevelDB(path: path, options: LevelDBOptions())
            #expect(try db.get(KeyLayout.metadataKey(KeyLayout.Meta.format)) == TelemetryStore.formatVersion.bigEndianBytes)
            #expect(try db.get(KeyLayout.metadataKey(KeyLayout.Meta.deadLetterSequence)) == UInt64(3).bigEndianBytes)
        }
    }

    @Test("a format 3 folder without its dead-letter sequence is damaged")
    func missingSequence() throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/store"
            try TelemetryStore(path: path).close()
            do {
                let db = try LevelDB(path: path, options: LevelDBOptions())
                let batch = WriteBatch()
                batch.delete(KeyLayout.metadataKey(KeyLayout.Meta.deadLetterSequence))
                try db.write(batch, sync: true)
            }
            let error = #expect(throws: StorageError.self) { try TelemetryStore(path: path) }
            #expect(error?.code == .dataLoss)
        }
    }

    @Test("listing after the id with sequence UInt64.max goes on to later received times, not back to the same one")
    func listingAfterTheLastSequence() throws {
        try withTemporaryStore { store, _ in
            _ = try store.write(StoreWrite(deadLetters: [Self.letter(at: 5, "a"), Self.letter(at: 5, "b"), Self.letter(at: 6, "c")]))
            #expect(try store.deadLetters(after: "5-\(UInt64.max)").map(\.id) == ["6-3"])
            #expect(try store.deadLetters(after: "\(Int64.max)-\(UInt64.max)").isEmpty)
            #expect(try store.deadLetters(after: "5-1").map(\.id) == ["5-2", "6-3"])
        }
    }
}
