import Foundation
import Synchronization
import Testing
import TelemetryCore
@testable import TelemetryStorage

@Suite("Store: retention, stats, compaction scopes, reopen")
struct OperationsTests {
    static let hour: Int64 = 3_600_000

    /// Vehicles a and b, a record every 30 minutes over hours 0..<10 (20 each), raw records at the
    /// same times, and dead letters received at 0, 1h, ..., 9h.
    func fill(_ store: TelemetryStore) throws {
        for v in ["a", "b"] {
            let records = (0..<20).map { i in record(v, Int64(i) * Self.hour / 2, ["x": .int(Int64(i))]) }
            let raw = records.map {
                RawRecord(
                    record: ProviderRecord(vehicle: $0.vehicle, timestamp: $0.timestamp, provider: "test", fields: $0.fields),
                    receivedAt: $0.timestamp, mappingVersion: "1.0.0")
            }
            try _ = store.write(StoreWrite(records: records, raw: raw))
        }
        let letters = (0..<10).map { i in
            DeadLetter(
                vehicleID: "a-\(i)", timestamp: nil, provider: "p", fields: [], receivedAt: Int64(i) * Self.hour,
                reason: i % 3 == 0 ? "unknown_provider" : "bad_value", message: "m", mappingVersion: "1")
        }
        try _ = store.write(StoreWrite(deadLetters: letters))
    }

    @Test("retention removes exactly the expired partitions; a dry run removes nothing and counts the same")
    func retentionBoundaries() throws {
        try withTemporaryStore { store, _ in
            try fill(store)
            // Hours 0..<7 sealed: retention must remove block rows as well as record keys.
            try _ = store.seal(upTo: 7 * Self.hour)
            // now - 5h30m = 4h30m: partitions 0..3 end at or before it (expired); partition 4
            // ends at 5h, after it, and stays whole, its record at 4h included.
            let now = 9 * Self.hour + Self.hour / 2
            let policy = RetentionPolicy(canonicalMs: 5 * Self.hour + Self.hour / 2, rawMs: 7 * Self.hour, deadLettersMs: 3 * Self.hour)
            #expect(store.retentionCutoff(now: now, age: policy.canonicalMs!) == 4 * Self.hour)

            let dry = try store.applyRetention(policy, now: now, dryRun: true)
            #expect(dry.canonicalRecords == 16 && dry.canonicalPartitions == 4)
            // Raw: now - 7h = 2h30m, partitions 0 and 1 expire: 4 records per vehicle.
            #expect(dry.rawRecords == 8)
            // Dead letters received before 6h30m: 0h..6h, 7 letters.
            #expect(dry.deadLetters == 7)
            #expect(try allRecords(store, "a").count == 20, "a dry run removes nothing")
            #expect(try store.deadLetters(limit: 100).count == 10)

            let done = try store.applyRetention(policy, now: now)
            #expect(done.canonicalRecords == dry.canonicalRecords && done.canonicalPartitions == dry.canonicalPartitions)
            #expect(done.rawRecords == dry.rawRecords && done.deadLetters == dry.deadLetters)

            for v in ["a", "b"] {
                let kept = try allRecords(store, v).map(\.timestamp)
                #expect(kept == (8..<20).map { Int64($0) * Self.hour / 2 }, "records from 4h on stay, the one at 4h included")
                let raw = try store.rawRecords(vehicle: vid(v), from: .min, to: .max).map(\.record.timestamp)
                #expect(raw == (4..<20).map { Int64($0) * Self.hour / 2 })
            }
            let summaries = try store.vehicles()
            #expect(summaries.map(\.recordCount) == [12, 12])
            #expect(summaries.map(\.firstTimestamp) == [4 * Self.hour, 4 * Self.hour])
            #expect(summaries.map(\.lastTimestamp) == [19 * Self.hour / 2, 19 * Self.hour / 2])
            #expect(try store.latest(vid("a"))?.timestamp == 19 * Self.hour / 2)
            #expect(try store.deadLetters(limit: 100).map(\.letter.receivedAt) == [7, 8, 9].map { $0 * Self.hour })

            // Again: nothing left to remove.
            let again = try store.applyRetention(policy, now: now)
            #expect(again.canonicalRecords == 0 && again.rawRecords == 0 && again.deadLetters == 0)

            // The state survives a reopen of the folder (counts come from the latest keyspace).
            let stats = try store.storageStats()
            #expect(stats.keyspaces.first { $0.keyspace == .canonical }?.entries == 24)
        }
    }

    @Test("after retention, latest drops fields last reported in expired records; the state survives a reopen")
    func retentionLatestFields() throws {
        try withTemporaryStore { store, path in
            try store.write([
                record("l", 0, ["x": .int(0), "y": .int(7)]), record("l", 2 * Self.hour, ["x": .int(2)]),
                record("l", 3 * Self.hour, ["x": .int(3), "z": .int(9)]), record("l", 4 * Self.hour, ["x": .int(4)]),
            ])
            #expect(try store.latest(vid("l"))?.fields.map(\.name) == ["x", "y", "z"])
            let summary = try store.applyRetention(RetentionPolicy(canonicalMs: 2 * Self.hour), now: 5 * Self.hour + 1)
            #expect(summary.canonicalRecords == 2 && summary.canonicalPartitions == 2)
            let latest = try store.latest(vid("l"))
            #expect(latest?.timestamp == 4 * Self.hour)
            #expect(latest?.fields.map(\.name) == ["x", "z"])
            #expect(try store.vehicles().map(\.firstTimestamp) == [3 * Self.hour])
            store.close()
            let reopened = try TelemetryStore(path: path)
            defer { reopened.close() }
            #expect(try reopened.vehicles().map(\.recordCount) == [2])
            #expect(try reopened.vehicles().map(\.firstTimestamp) == [3 * Self.hour])
            #expect(try reopened.latest(vid("l"))?.fields.map(\.name) == ["x", "z"])
        }
    }

    @Test("retention that expires all of a vehicle's records removes it from the vehicle list")
    func retentionEmptiesVehicle() throws {
        try withTemporaryStore { store, path in
            try store.write([record("old", 0, ["x": .int(1)]), record("new", 10 * Self.hour, ["x": .int(2)])])
            let summary = try store.applyRetention(RetentionPolicy(canonicalMs: Self.hour), now: 10 * Self.hour + 1)
            #expect(summary.canonicalRecords == 1 && summary.canonicalPartitions == 1)
            #expect(try store.vehicles().map(\.vehicle.rawValue) == ["new"])
            #expect(try store.latest(vid("old")) == nil)
            store.close()
            let reopened = try TelemetryStore(path: path)
            defer { reopened.close() }
            #expect(try reopened.vehicles().map(\.vehicle.rawValue) == ["new"])
        }
    }

    @Test("retention steps through a long, sparse history partition by partition and ends where one pass would")
    func retentionSparseHistory() throws {
        try withTemporaryStore { store, path in
            // Records in partitions -3, 0, 5, 100 and 1000 (hours), a late one written after
            // the others, and the kept ones from hour 2000 on.
            let expired: [Int64] = [-3, 0, 5, 100, 1000].map { $0 * Self.hour + 7 }
            try store.write(expired.map { record("s", $0, ["x": .int($0), "old": .bool(true)]) })
            try store.write([record("s", 2000 * Self.hour, ["x": .int(1)]), record("s", 2001 * Self.hour, ["x": .int(2)])])
            try store.write([record("s", 50 * Self.hour, ["x": .int(50)])])
            let summary = try store.applyRetention(RetentionPolicy(canonicalMs: 10 * Self.hour), now: 2010 * Self.hour + 1)
            #expect(summary.canonicalRecords == 6 && summary.canonicalPartitions == 6)
            #expect(try allRecords(store, "s").map(\.timestamp) == [2000 * Self.hour, 2001 * Self.hour])
            #expect(try store.vehicles().map(\.recordCount) == [2])
            #expect(try store.vehicles().map(\.firstTimestamp) == [2000 * Self.hour])
            #expect(try store.latest(vid("s"))?.fields.map(\.name) == ["x"])
            store.close()
            let reopened = try TelemetryStore(path: path)
            defer { reopened.close() }
            #expect(try reopened.vehicles().map(\.recordCount) == [2])
            #expect(try reopened.latest(vid("s"))?.fields.map(\.name) == ["x"])
        }
    }

    @Test("retention refuses a non-positive age")
    func retentionRefusesZero() throws {
        try withTemporaryStore { store, _ in
            #expect(throws: StorageError.self) { try store.applyRetention(RetentionPolicy(rawMs: 0), now: 1) }
            return ()
        }
    }

    @Test("stats: levels, keyspaces, dead letters by reason, top vehicles")
    func stats() throws {
        try withTemporaryStore { store, _ in
            try fill(store)
            try store.write([record("c", 1, ["x": .int(1)])])
            try store.compact()
            let stats = try store.storageStats(countEntries: true)
            #expect(stats.levels.count == 7)
            #expect(stats.levels.reduce(0) { $0 + $1.files } > 0, "after a compaction the data is in tables")
            #expect(stats.levels.reduce(0) { $0 + $1.bytes } > 0)
            #expect(stats.leveldbStats.contains("Compactions"))
            let entries = Dictionary(uniqueKeysWithValues: stats.keyspaces.map { ($0.keyspace, $0.entries) })
            #expect(entries[.canonical] == 41)
            #expect(entries[.latest] == 3)
            #expect(entries[.raw] == 40)
            #expect(entries[.deadLetter] == 10)
            #expect(entries[.sealed] != nil)
            // Approximate sizes resolve to 16 KiB blocks: on this little data only the sum is sure to be positive.
            #expect(stats.keyspaces.reduce(0) { $0 + $1.approximateBytes } > 0)
            #expect(stats.deadLetters == 10)
            #expect(stats.deadLettersByReason.map(\.reason) == ["bad_value", "unknown_provider"])
            #expect(stats.deadLettersByReason.map(\.count) == [6, 4])
            let cheap = try store.storageStats()
            #expect(cheap.keyspaces.first { $0.keyspace == .raw }?.entries == nil, "raw is only counted on request")
            #expect(try store.topVehicles(2).map(\.vehicle.rawValue) == ["a", "b"])
        }
    }

    @Test("compaction gives back the space of records deleted before any of them reached disk")
    func compactionDropsWhatDeletesMadeObsolete() throws {
        for scope in ["all", "keyspace", "vehicle"] {
            try withTemporaryStore { store, path in
                // Written and deleted while all of it is in the memtable: the first flush holds
                // the records with their deletes, and lands in the deepest level.
                let records = (0..<5000).map { i in
                    record("v", Int64(i) * 1000, ["x": .double(Double(i) / 7), "s": .string("status-\(i % 13)")])
                }
                try store.write(records)
                try store.write([record("keep", 1, ["x": .int(1)])])
                #expect(try store.deleteRecords(vehicle: vid("v"), from: .min, to: .max) == 5000)
                switch scope {
                case "all": try store.compact()
                case "keyspace": try store.compact(.canonical)
                default: try store.compact(.vehicle(vid("keep"), from: .min, to: .max), progress: { _, _, _ in })
                }
                let canonical = try #require(try store.storageStats(countEntries: false).keyspaces.first { $0.keyspace == .canonical })
                if scope != "vehicle" {
                    // Before compacting fully, about 100 KB stayed on disk here.
                    #expect(canonical.approximateBytes < 16_384, "\(scope): \(canonical.approximateBytes) bytes")
                }
                #expect(try allRecords(store, "v").isEmpty)
                #expect(try allRecords(store, "keep").count == 1)
                // The markers are neither visible nor left as keys.
                let db = try store.database()
                let keys = try db.withIterator(fillCache: false) { it throws(StorageError) -> [[UInt8]] in
                    var keys: [[UInt8]] = []
                    it.seek([])
                    while it.isValid {
                        keys.append(it.key)
                        it.next()
                    }
                    return keys
                }
                #expect(keys.allSatisfy { (0x01...0x08).contains($0[0]) })
                #expect(!keys.contains { [2, 14, 22].contains($0.count) }, "a marker (an end key plus 0x00) was left")
                _ = path
            }
        }
    }

    @Test("level parsing and the pending-compaction estimate")
    func levelParsing() {
        let text = "--- level 0 ---\n 7:1000['a' @ 1 : 1 .. 'b' @ 2 : 1]\n 8:500['c' @ 3 : 1 .. 'd' @ 4 : 1]\n--- level 1 ---\n--- level 2 ---\n 5:20971520['e' @ 5 : 1 .. 'f' @ 6 : 1]\n"
        let levels = TelemetryStore.parseLevels(text)
        #expect(levels[0].files == 2 && levels[0].bytes == 1500)
        #expect(levels[1].files == 0)
        #expect(levels[2].files == 1 && levels[2].bytes == 20_971_520)
        // Level 0 below its 4-file trigger owes nothing; level 2 is under its 100 MiB target.
        #expect(TelemetryStore.pendingCompactionEstimate(levels) == 0)
        var over = levels
        over[1].bytes = 15 * 1_048_576
        over[0].files = 4
        #expect(TelemetryStore.pendingCompactionEstimate(over) == 1500 + 5 * 1_048_576)
    }

    @Test("compaction of a vehicle's range reports each keyspace, and writes during a compaction succeed")
    func compactionScopesAndConcurrentWrites() throws {
        try withTemporaryStore { store, _ in
            try fill(store)
            var phases: [String] = []
            try store.compact(.vehicle(vid("a"), from: 0, to: 5 * OperationsTests.hour)) { phase, _, _ in phases.append(phase) }
            #expect(phases == ["compacting canonical", "compacting raw", "compacting sealed", "compacting partition-index", "done"])
            #expect(throws: StorageError.self) { try store.compact(.vehicle(vid("nobody"), from: 0, to: 1)) { _, _, _ in } }

            // A writer runs while the whole store is compacted, many times over.
            let written = Atomic<Int>(0)
            let stop = Atomic<Bool>(false)
            let failures = Mutex<[String]>([])
            let writer = Thread {
                var i: Int64 = 0
                while !stop.load(ordering: .acquiring) {
                    do {
                        try store.write([record("w", 100 * Self.hour + i, ["x": .int(i)])])
                        written.add(1, ordering: .relaxed)
                    } catch {
                        failures.withLock { $0.append("\(error)") }
                    }
                    i += 1
                }
            }
            writer.start()
            while written.load(ordering: .relaxed) == 0 { Thread.sleep(forTimeInterval: 0.001) }
            let before = written.load(ordering: .relaxed)
            for _ in 0..<5 { try store.compact(.all) { _, _, _ in } }
            let during = written.load(ordering: .relaxed) - before
            stop.store(true, ordering: .releasing)
            while !writer.isFinished { Thread.sleep(forTimeInterval: 0.001) }
            #expect(failures.withLock { $0 }.isEmpty)
            #expect(during > 0, "writes went on during the compactions")
            #expect(try allRecords(store, "w").count == written.load(ordering: .relaxed))
        }
    }

    @Test("a failed write degrades the store; reads and stats go on; reopen brings writes back and loses nothing")
    func reopenAfterWriteFailure() throws {
        try withTemporaryStore { store, _ in
            try store.write((0..<50).map { record("r", Int64($0), ["x": .int(Int64($0))]) })
            store.faultInjection.failNextWrite(
                with: LevelDBError(code: .ioError, message: "IO error: /data/000005.log: No space left on device"))
            do {
                try store.write([record("r", 100, ["x": .int(100)])])
                Issue.record("the write should have failed")
            } catch let error as StorageError {
                #expect(error.code == .diskFull)
                #expect(error.statusCode == .resourceExhausted)
                #expect(error.message.contains("No space left on device"))
            }
            guard case .degraded(let reason) = store.health else {
                Issue.record("not degraded: \(store.health)")
                return
            }
            #expect(reason.contains("No space left on device"))
            #expect(throws: StorageError.self) { try store.write([record("r", 101, ["x": .int(101)])]) }
            #expect(try allRecords(store, "r").count == 50, "reads work while degraded")
            #expect(try store.storageStats().keyspaces.isEmpty == false, "stats work while degraded")

            #expect(try store.reopen() == .ready)
            #expect(try allRecords(store, "r").count == 50, "nothing acknowledged is lost")
            try store.write([record("r", 102, ["x": .int(102)])])
            #expect(try allRecords(store, "r").map(\.timestamp).last == 102)
            #expect(try store.vehicles().first?.recordCount == 51)
            #expect(try store.reopen() == .ready, "reopening a ready store changes nothing")
        }
    }

    @Test("a degraded store refuses retention even when nothing has expired; a dry run still counts")
    func retentionOnDegradedStore() throws {
        try withTemporaryStore { store, _ in
            try store.write([record("d", 1, ["x": .int(1)])])
            store.faultInjection.failNextWrite()
            #expect(throws: StorageError.self) { try store.write([record("d", 2, ["x": .int(2)])]) }
            let nothingDue = RetentionPolicy(canonicalMs: nil, rawMs: 7 * 86_400_000, deadLettersMs: nil)
            #expect { try store.applyRetention(nothingDue, now: 10) } throws: { ($0 as? StorageError)?.code == .degraded }
            let dry = try store.applyRetention(RetentionPolicy(canonicalMs: 1, rawMs: nil, deadLettersMs: nil), now: 10 * Self.hour, dryRun: true)
            #expect(dry.canonicalRecords == 1, "a dry run reads, so it still answers")
            #expect(try store.reopen() == .ready)
            #expect(try store.applyRetention(nothingDue, now: 10).rawRecords == 0)
        }
    }

    @Test("two reopens at once: one reopens, the other is told to retry or finds the store ready; writes work after")
    func concurrentReopens() throws {
        try withTemporaryStore { store, _ in
            try store.write([record("c", 1, ["x": .int(1)])])
            store.faultInjection.failNextWrite()
            #expect(throws: StorageError.self) { try store.write([record("c", 2, ["x": .int(2)])]) }
            let outcomes = Mutex<[String]>([])
            DispatchQueue.concurrentPerform(iterations: 2) { _ in
                do {
                    let health = try store.reopen()
                    outcomes.withLock { $0.append("\(health)") }
                } catch let error as StorageError {
                    outcomes.withLock { $0.append(error.message) }
                } catch {
                    outcomes.withLock { $0.append("unexpected \(error)") }
                }
            }
            let seen = outcomes.withLock { $0 }
            #expect(seen.contains("ready"))
            #expect(seen.allSatisfy { $0 == "ready" || $0.contains("being reopened already") }, "\(seen)")
            #expect(store.health == .ready)
            try store.write([record("c", 3, ["x": .int(3)])])
            #expect(try allRecords(store, "c").map(\.timestamp) == [1, 3])
        }
    }
}
