import Foundation
import Synchronization
import Testing
import TelemetryCore
@testable import TelemetryStorage

@Suite("Store: backup, verify and restore")
struct BackupTests {
    /// Records of three vehicles over a few partitions, a dead letter and a gateway sequence:
    /// every keyspace the writer fills.
    static func fill(_ store: TelemetryStore, records: Int = 300) throws {
        var batch = [TelemetryRecord]()
        for i in 0..<records {
            batch.append(record("veh-\(i % 3)", Int64(i) * 60_000, ["speed": .double(Double(i) / 2), "odo": .int(Int64(i))]))
        }
        let letter = DeadLetter(
            vehicleID: "", timestamp: 5, provider: "navixy", fields: [Field("x", .int(1))], receivedAt: 10, reason: "invalid_vehicle",
            message: "empty vehicle id", mappingVersion: "1.0.0")
        _ = try store.write(StoreWrite(records: batch, deadLetters: [letter], gatewaySequences: ["gw-1": 42]))
    }

    /// Every record, latest state and dead letter of a store, for comparisons.
    static func contents(_ store: TelemetryStore) throws -> (records: [[TelemetryRecord]], latest: [LatestState], letters: [StoredDeadLetter]) {
        let vehicles = try store.vehicles().map(\.vehicle)
        return (
            try vehicles.map { try allRecords(store, $0.rawValue) }, try store.latest(vehicles), try store.deadLetters()
        )
    }

    /// Names of the entries of a folder (to see what a failure left behind).
    static func entries(_ folder: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: folder).sorted()
    }

    @Test("a backup opens as the same store: records, latest state, dead letters, gateway resume point")
    func backupAndRestore() throws {
        try withTemporaryDirectory { dir in
            let store = try TelemetryStore(path: dir + "/data")
            defer { store.close() }
            try Self.fill(store)
            let before = try Self.contents(store)
            let result = try store.backup(to: dir + "/b1")
            #expect(result.path == dir + "/b1")
            let counts = Dictionary(uniqueKeysWithValues: result.manifest.keyspaces.map { ($0.name, $0.entries) })
            #expect(counts["canonical"] == 300)
            #expect(counts["dead-letter"] == 1)
            #expect(counts["latest"] == 3)
            #expect(result.manifest.storeFormatVersion == TelemetryStore.formatVersion)
            #expect(result.manifest.contentHash.count == 64)
            // Exactly the manifest's files, plus the manifest: no LOCK, no LOG, no partial folder.
            #expect(try Self.entries(dir + "/b1") == (result.manifest.files.map(\.name) + ["backup-manifest.json"]).sorted())
            #expect(try Self.entries(dir) == ["b1", "data"])

            let verification = try BackupFolder(path: dir + "/b1").verify(deep: true)
            #expect(verification.problems == [])
            #expect(verification.manifest == result.manifest)
            #expect(try Self.entries(dir) == ["b1", "data"], "the deep check's scratch folder is removed")

            let restored = try BackupFolder(path: dir + "/b1").restore(into: dir + "/restored")
            #expect(restored.manifest.contentHash == result.manifest.contentHash)
            let copy = try TelemetryStore(path: dir + "/restored")
            defer { copy.close() }
            let after = try Self.contents(copy)
            #expect(after.records == before.records)
            #expect(after.latest == before.latest)
            #expect(after.letters == before.letters)
            #expect(copy.lastCommittedSequence(gateway: "gw-1") == 42)
            // The restored store holds exactly the backup's content: its own backup hashes the same.
            #expect(try copy.backup(to: dir + "/b2").manifest.contentHash == result.manifest.contentHash)
        }
    }

    @Test("latest state behind its checkpoint is replayed in the restored copy")
    func latestReplayedAfterRestore() throws {
        try withTemporaryDirectory { dir in
            let store = try TelemetryStore(path: dir + "/data")
            defer { store.close() }
            // One record at a time: the latest keyspace is a checkpoint written every
            // `checkpointInterval` records, so the snapshot's checkpoint lags behind the records.
            let count = TelemetryStore.checkpointInterval + 10
            for i in 0..<count { try store.write([record("veh", Int64(i) * 1000, ["n": .int(Int64(i))])]) }
            let backup = try store.backup(to: dir + "/b")
            _ = try BackupFolder(path: dir + "/b").restore(into: dir + "/r")
            let copy = try TelemetryStore(path: dir + "/r")
            defer { copy.close() }
            // Restored byte for byte: opening replays in memory and writes nothing, so the
            // restored store's own backup has the backup's content hash.
            #expect(try copy.backup(to: dir + "/b2").manifest.contentHash == backup.manifest.contentHash)
            let latest = try #require(try copy.latest(vid("veh")))
            #expect(latest.timestamp == Int64(count - 1) * 1000)
            #expect(try copy.latest(vid("veh")) == store.latest(vid("veh")))
            #expect(try copy.vehicles().first?.recordCount == UInt64(count))
            #expect(backup.manifest.keyspaces.first { $0.name == "canonical" }?.entries == UInt64(count))
        }
    }

    @Test("two backups of an unchanged store have the same content hash")
    func contentHashIsStable() throws {
        try withTemporaryStore { store, path in
            try Self.fill(store)
            let a = try store.backup(to: path + "-a")
            let b = try store.backup(to: path + "-b")
            defer { for p in [a.path, b.path] { try? FileManager.default.removeItem(atPath: p) } }
            #expect(a.manifest.contentHash == b.manifest.contentHash)
            try store.write([record("veh-9", 1, ["x": .int(1)])])
            let c = try store.backup(to: path + "-c")
            defer { try? FileManager.default.removeItem(atPath: c.path) }
            #expect(c.manifest.contentHash != a.manifest.contentHash)
        }
    }

    @Test("a backup taken during writes holds every write acknowledged before it, and whole batches only")
    func backupDuringWrites() throws {
        try withTemporaryDirectory { dir in
            let store = try TelemetryStore(path: dir + "/data")
            defer { store.close() }
            let acknowledged = Mutex(0)  // batches whose write returned
            let stop = Atomic(false)
            let batchSize = 25
            let writer = Thread {
                var i = 0
                while !stop.load(ordering: .relaxed) {
                    let batch = (0..<batchSize).map { j in record("veh-\(j % 5)", Int64(i * batchSize + j) * 1000, ["i": .int(Int64(i))]) }
                    do { try store.write(batch) } catch { break }
                    i += 1
                    acknowledged.withLock { $0 = i }
                }
            }
            writer.start()
            while acknowledged.withLock({ $0 }) < 20 { Thread.sleep(forTimeInterval: 0.001) }
            let ackedBefore = acknowledged.withLock { $0 }
            var options = BackupOptions()
            options.batchBytes = 4096  // many small copy batches: the writer runs between them
            let backup = try store.backup(to: dir + "/b", options: options)
            stop.store(true, ordering: .relaxed)
            while !writer.isFinished { Thread.sleep(forTimeInterval: 0.001) }
            #expect(acknowledged.withLock { $0 } > ackedBefore, "writes went on during the backup")

            _ = try BackupFolder(path: dir + "/b").restore(into: dir + "/r")
            let copy = try TelemetryStore(path: dir + "/r")
            defer { copy.close() }
            let stored = try (0..<5).reduce(0) { $0 + (try allRecords(copy, "veh-\($1)").count) }
            #expect(stored >= ackedBefore * batchSize)
            #expect(stored % batchSize == 0, "a batch is in the snapshot whole or not at all")
            #expect(UInt64(stored) == backup.manifest.keyspaces.first { $0.name == "canonical" }?.entries)
            let live = try (0..<5).flatMap { try allRecords(store, "veh-\($0)") }
            let restored = try (0..<5).flatMap { try allRecords(copy, "veh-\($0)") }
            let liveSet = Set(live.map { "\($0.vehicle.rawValue)/\($0.timestamp)" })
            #expect(restored.allSatisfy { liveSet.contains("\($0.vehicle.rawValue)/\($0.timestamp)") })
        }
    }

    @Test("verify names a changed byte, a missing file, an extra file and a missing manifest")
    func verifyFindsTampering() throws {
        try withTemporaryStore { store, path in
            try Self.fill(store)
            let backup = try store.backup(to: path + "-b")
            defer { try? FileManager.default.removeItem(atPath: backup.path) }
            let table = try #require(backup.manifest.files.first { $0.name.hasSuffix(".ldb") }?.name)
            let other = try #require(backup.manifest.files.first { $0.name.hasPrefix("MANIFEST-") }?.name)

            // One flipped byte in a table.
            let tablePath = backup.path + "/" + table
            var bytes = try Data(contentsOf: URL(fileURLWithPath: tablePath))
            bytes[bytes.count / 2] ^= 0xFF
            try bytes.write(to: URL(fileURLWithPath: tablePath))
            var report = try BackupFolder(path: backup.path).verify(deep: true)
            #expect(report.problems == ["file \(table): sha256 differs", "deep check skipped: the files differ from the manifest"])
            #expect(!report.ok)

            // A missing file and an extra one.
            try FileManager.default.removeItem(atPath: backup.path + "/" + other)
            try Data("x".utf8).write(to: URL(fileURLWithPath: backup.path + "/stray.txt"))
            report = try BackupFolder(path: backup.path).verify(deep: false)
            #expect(report.problems.contains("file stray.txt: not in the manifest"))
            #expect(report.problems.contains("file \(other): missing"))
            #expect(report.problems.contains("file \(table): sha256 differs"))

            // A damaged manifest, and one that points outside the folder.
            let manifestURL = URL(fileURLWithPath: backup.path + "/backup-manifest.json")
            let original = try Data(contentsOf: manifestURL)
            try Data("{ \"manifest_version\" : 1,".utf8).write(to: manifestURL)
            report = try BackupFolder(path: backup.path).verify(deep: true)
            #expect(report.problems.count == 1 && report.problems[0].hasPrefix("backup-manifest.json is damaged: not a backup manifest"))
            var escaping = backup.manifest
            escaping.files[0].name = "../data/CURRENT"
            try FileManager.default.removeItem(at: manifestURL)
            try BackupFolder.writeManifest(escaping, in: backup.path)
            report = try BackupFolder(path: backup.path).verify(deep: false)
            #expect(report.problems == ["backup-manifest.json names files outside the folder: ../data/CURRENT"])
            // Sizes that add up past 2^64 (a crafted manifest) are refused, not trapped on.
            var huge = backup.manifest
            huge.files = [huge.files[0], huge.files[0]].enumerated().map { i, f in
                var f = f
                f.name = "big-\(i).ldb"
                f.bytes = 1 << 63
                return f
            }
            try FileManager.default.removeItem(at: manifestURL)
            try BackupFolder.writeManifest(huge, in: backup.path)
            report = try BackupFolder(path: backup.path).verify(deep: true)
            #expect(report.problems == ["backup-manifest.json is damaged: its file sizes add up past 2^64 bytes"])
            var twice = backup.manifest
            twice.files.append(twice.files[0])
            try FileManager.default.removeItem(at: manifestURL)
            try BackupFolder.writeManifest(twice, in: backup.path)
            report = try BackupFolder(path: backup.path).verify(deep: false)
            #expect(report.problems == ["backup-manifest.json is damaged: it names a file twice"])
            try FileManager.default.removeItem(at: manifestURL)
            try original.write(to: manifestURL)

            // No manifest: not a complete backup.
            try FileManager.default.removeItem(atPath: backup.path + "/backup-manifest.json")
            report = try BackupFolder(path: backup.path).verify(deep: true)
            #expect(report.manifest == nil)
            #expect(report.problems.count == 1 && report.problems[0].contains("backup-manifest.json is missing"))
        }
    }

    @Test("a deep verify catches content that differs from the manifest even when the files match")
    func deepVerifyComparesContent() throws {
        try withTemporaryStore { store, path in
            try Self.fill(store)
            let backup = try store.backup(to: path + "-b")
            defer { try? FileManager.default.removeItem(atPath: backup.path) }
            // A manifest that lies about the content (its files are right).
            var manifest = backup.manifest
            manifest.keyspaces = manifest.keyspaces.map { $0.name == "raw" ? .init(name: "raw", entries: 12) : $0 }
            manifest.contentHash = String(repeating: "0", count: 64)
            try FileManager.default.removeItem(atPath: backup.path + "/backup-manifest.json")
            try BackupFolder.writeManifest(manifest, in: backup.path)
            #expect(try BackupFolder(path: backup.path).verify(deep: false).ok)
            let report = try BackupFolder(path: backup.path).verify(deep: true)
            #expect(report.problems.contains("keyspace raw: 0 entries, manifest says 12"))
            #expect(report.problems.contains { $0.hasPrefix("content hash ") && $0.hasSuffix("differs from the manifest's \(manifest.contentHash)") })
        }
    }

    @Test("restore refuses a tampered backup and leaves nothing behind")
    func restoreRefusesTampered() throws {
        try withTemporaryDirectory { dir in
            let store = try TelemetryStore(path: dir + "/data")
            try Self.fill(store)
            let backup = try store.backup(to: dir + "/b")
            store.close()
            let table = try #require(backup.manifest.files.first { $0.name.hasSuffix(".ldb") }?.name)
            let handle = try FileHandle(forUpdating: URL(fileURLWithPath: backup.path + "/" + table))
            try handle.seek(toOffset: 10)
            try handle.write(contentsOf: Data([0x42, 0x42]))
            try handle.close()
            let error = #expect(throws: BackupError.self) { try BackupFolder(path: backup.path).restore(into: dir + "/r") }
            #expect(error?.code == .failedPrecondition)
            #expect(error?.message.contains("file \(table): sha256 differs") == true)
            #expect(try Self.entries(dir) == ["b", "data"])
        }
    }

    @Test("restore refuses a data folder that is not empty, and accepts an empty one")
    func restoreTarget() throws {
        try withTemporaryDirectory { dir in
            let store = try TelemetryStore(path: dir + "/data")
            try Self.fill(store, records: 10)
            _ = try store.backup(to: dir + "/b")
            store.close()
            let error = #expect(throws: BackupError.self) { try BackupFolder(path: dir + "/b").restore(into: dir + "/data") }
            #expect(error?.message == "data folder \(dir)/data is not empty; restore into a new or empty folder")
            try FileManager.default.createDirectory(atPath: dir + "/empty", withIntermediateDirectories: false)
            let restored = try BackupFolder(path: dir + "/b").restore(into: dir + "/empty")
            #expect(restored.path == dir + "/empty")
            let missingParent = #expect(throws: BackupError.self) { try BackupFolder(path: dir + "/b").restore(into: dir + "/no/such") }
            #expect(missingParent?.code == .notFound)
            #expect(missingParent?.message.contains("\(dir)/no") == true)
        }
    }

    @Test("a backup never overwrites, and names a missing parent folder")
    func destinationChecks() throws {
        try withTemporaryStore { store, path in
            let exists = #expect(throws: BackupError.self) { try store.backup(to: path) }
            #expect(exists?.code == .alreadyExists)
            #expect(exists?.message.contains(path) == true)
            let missing = #expect(throws: BackupError.self) { try store.backup(to: path + "-missing/b") }
            #expect(missing?.code == .notFound)
            #expect(missing?.message == "the folder \(path)-missing (where backup \(path)-missing/b goes) does not exist")
            #expect(throws: BackupError.self) { try BackupFolder(path: path + "-nothing") }
        }
    }

    @Test("a backup whose folder disappears mid-way fails, names the folder, and leaves no backup")
    func folderDisappears() throws {
        try withTemporaryDirectory { dir in
            let store = try TelemetryStore(path: dir + "/data")
            defer { store.close() }
            try Self.fill(store)
            var options = BackupOptions()
            options.batchBytes = 512
            options.stageHook = { stage, partial in
                if case .copied(let keys) = stage, keys > 20 { try? FileManager.default.removeItem(atPath: partial) }
            }
            let error = #expect(throws: BackupError.self) { try store.backup(to: dir + "/b", options: options) }
            #expect(error?.message.contains(dir + "/b.partial-") == true)
            #expect(try Self.entries(dir) == ["data"])
            // The store is unaffected: a second backup works.
            #expect(try store.backup(to: dir + "/b").manifest.keyspaces.first { $0.name == "canonical" }?.entries == 300)
        }
    }

    @Test("a full disk during a backup is RESOURCE_EXHAUSTED and removes the partial folder")
    func diskFull() throws {
        try withTemporaryDirectory { dir in
            let store = try TelemetryStore(path: dir + "/data")
            defer { store.close() }
            try Self.fill(store)
            var options = BackupOptions()
            options.stageHook = { stage, partial in
                if stage == .beforeManifest { throw BackupError.system("write", partial + "/backup-manifest.json", errno: ENOSPC) }
            }
            let error = #expect(throws: BackupError.self) { try store.backup(to: dir + "/b", options: options) }
            #expect(error?.code == .resourceExhausted)
            #expect(error?.statusCode == .resourceExhausted)
            #expect(try Self.entries(dir) == ["data"])
        }
    }

    /// Whether this machine lets the tests mount a tmpfs (root with CAP_SYS_ADMIN).
    static let canMountTmpfs: Bool = {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("telemetry-mount-probe-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        guard (try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: false)) != nil,
            run("/bin/mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", dir])
        else { return false }
        return run("/bin/umount", [dir])
    }()

    static func run(_ tool: String, _ arguments: [String]) -> Bool {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = arguments
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return false }
        process.waitUntilExit()
        return process.terminationStatus == 0
    }

    @Test(
        "a backup into a tmpfs that fills up is RESOURCE_EXHAUSTED, leaves the tmpfs empty, and the store serves on",
        .enabled(if: BackupTests.canMountTmpfs, "needs permission to mount a tmpfs (root with CAP_SYS_ADMIN)"))
    func realDiskFull() throws {
        try withTemporaryDirectory { dir in
            let store = try TelemetryStore(path: dir + "/data")
            defer { store.close() }
            // Values that do not compress: the copy needs well over the 256 KiB of the mount.
            var generator = SystemRandomNumberGenerator()
            let records = (0..<20_000).map { i in
                record("veh-\(i % 7)", Int64(i) * 1000, ["a": .double(Double.random(in: 0..<1, using: &generator)), "b": .int(Int64.random(in: .min ... .max, using: &generator))])
            }
            try store.write(records)
            try FileManager.default.createDirectory(atPath: dir + "/small", withIntermediateDirectories: false)
            try #require(Self.run("/bin/mount", ["-t", "tmpfs", "-o", "size=256k", "tmpfs", dir + "/small"]))
            defer { _ = Self.run("/bin/umount", [dir + "/small"]) }
            let error = #expect(throws: BackupError.self) { try store.backup(to: dir + "/small/b") }
            #expect(error?.code == .resourceExhausted)
            #expect(error?.message.contains(dir + "/small/b.partial-") == true)
            #expect(try Self.entries(dir + "/small") == [])
            #expect(try store.write([record("veh-0", -1, ["a": .double(1)])]).written == 1)
            #expect(try store.backup(to: dir + "/b").manifest.keyspaces.first { $0.name == "canonical" }?.entries == 20_001)
        }
    }

    @Test("a destination filled while the backup ran is not replaced")
    func destinationAppears() throws {
        try withTemporaryDirectory { dir in
            let store = try TelemetryStore(path: dir + "/data")
            defer { store.close() }
            try Self.fill(store, records: 10)
            var options = BackupOptions()
            options.stageHook = { stage, _ in
                if stage == .beforeRename {
                    try FileManager.default.createDirectory(atPath: dir + "/b", withIntermediateDirectories: false)
                    try Data("mine".utf8).write(to: URL(fileURLWithPath: dir + "/b/notes.txt"))
                }
            }
            let error = #expect(throws: BackupError.self) { try store.backup(to: dir + "/b", options: options) }
            #expect(error?.code == .alreadyExists)
            #expect(try Self.entries(dir) == ["b", "data"])
            #expect(try Self.entries(dir + "/b") == ["notes.txt"])
        }
    }

    @Test("a path with a NUL byte is refused, and nothing is written")
    func nulInPath() throws {
        try withTemporaryDirectory { dir in
            let store = try TelemetryStore(path: dir + "/data")
            defer { store.close() }
            try Self.fill(store, records: 3)
            let backup = #expect(throws: BackupError.self) { try store.backup(to: dir + "/a\u{0}b") }
            #expect(backup?.code == .invalidArgument && backup?.message.contains("NUL") == true)
            #expect(try Self.entries(dir) == ["data"])
            let verify = #expect(throws: BackupError.self) { try BackupFolder(path: dir + "/a\u{0}b") }
            #expect(verify?.code == .invalidArgument)
        }
    }

    @Test("an online swap keeps the data folder's other files, and the previous folder whole")
    func swapKeepsConfiguration() throws {
        try withTemporaryDirectory { dir in
            let store = try TelemetryStore(path: dir + "/data")
            try Self.fill(store, records: 30)
            let backup = try store.backup(to: dir + "/b")
            try store.write([record("veh-after", 1, ["x": .int(1)])])
            try FileManager.default.createDirectory(atPath: dir + "/data/mappings", withIntermediateDirectories: false)
            try Data("provider: navixy\n".utf8).write(to: URL(fileURLWithPath: dir + "/data/mappings/navixy.yaml"))
            try Data("assets: []\n".utf8).write(to: URL(fileURLWithPath: dir + "/data/assets.yaml"))
            let (staged, _) = try BackupFolder(path: backup.path).stageRestore(besides: dir + "/data")
            guard case .restored(let restored, let previous) = store.swapForRestore(staged: staged) else {
                Issue.record("the swap did not restore")
                return
            }
            defer { restored.close() }
            #expect(previous.hasPrefix(dir + "/data.before-restore-"))
            #expect(try restored.vehicles().map(\.vehicle.rawValue) == ["veh-0", "veh-1", "veh-2"])
            #expect(try String(contentsOfFile: dir + "/data/mappings/navixy.yaml", encoding: .utf8) == "provider: navixy\n")
            #expect(FileManager.default.fileExists(atPath: dir + "/data/assets.yaml"))
            #expect(FileManager.default.fileExists(atPath: previous + "/mappings/navixy.yaml"))
            let old = try TelemetryStore(path: previous)
            defer { old.close() }
            #expect(try old.vehicles().contains { $0.vehicle.rawValue == "veh-after" })
            #expect(try Self.entries(dir).filter { $0.contains(".restore-") || $0.contains(".partial-") } == [])
        }
    }

    @Test("two online swaps within one second keep both previous folders")
    func swapTwiceInOneSecond() throws {
        try withTemporaryDirectory { dir in
            let store = try TelemetryStore(path: dir + "/data")
            try Self.fill(store, records: 30)
            let backup = try store.backup(to: dir + "/b")
            var current = store
            var kept: [String] = []
            for round in 0..<2 {
                try current.write([record("veh-round-\(round)", 1, ["x": .int(1)])])
                let (staged, _) = try BackupFolder(path: backup.path).stageRestore(besides: dir + "/data")
                guard case .restored(let restored, let previous) = current.swapForRestore(staged: staged) else {
                    Issue.record("swap \(round) did not restore")
                    return
                }
                current = restored
                kept.append(previous)
            }
            defer { current.close() }
            #expect(Set(kept).count == 2)
            // Each kept folder is the store as it was before its own restore.
            for (round, path) in kept.enumerated() {
                let old = try TelemetryStore(path: path)
                defer { old.close() }
                #expect(try old.vehicles().contains { $0.vehicle.rawValue == "veh-round-\(round)" })
            }
        }
    }

    @Test("a data folder reached through a symbolic link is restored where the data lives, and the link stays")
    func swapThroughSymlink() throws {
        try withTemporaryDirectory { dir in
            // /srv/disk/telemetry is the data disk; /srv/etc/data links to it.
            let fm = FileManager.default
            try fm.createDirectory(atPath: dir + "/disk/telemetry", withIntermediateDirectories: true)
            try fm.createDirectory(atPath: dir + "/etc", withIntermediateDirectories: true)
            try fm.createSymbolicLink(atPath: dir + "/etc/data", withDestinationPath: dir + "/disk/telemetry")
            let store = try TelemetryStore(path: dir + "/etc/data")
            #expect(store.path == dir + "/disk/telemetry")
            try Self.fill(store, records: 30)
            let backup = try store.backup(to: dir + "/b")
            try store.write([record("veh-after", 1, ["x": .int(1)])])
            let (staged, _) = try BackupFolder(path: backup.path).stageRestore(besides: store.path)
            #expect(staged.hasPrefix(dir + "/disk/telemetry.restore-"))
            guard case .restored(let restored, let previous) = store.swapForRestore(staged: staged) else {
                Issue.record("the swap did not restore")
                return
            }
            defer { restored.close() }
            // The link still names the data disk's folder, which now holds the restored store.
            #expect(try fm.destinationOfSymbolicLink(atPath: dir + "/etc/data") == dir + "/disk/telemetry")
            #expect(try Self.entries(dir + "/etc") == ["data"])
            #expect(previous.hasPrefix(dir + "/disk/telemetry.before-restore-"))
            #expect(restored.path == dir + "/disk/telemetry")
            #expect(try restored.vehicles().map(\.vehicle.rawValue) == ["veh-0", "veh-1", "veh-2"])
            restored.close()
            let reopened = try TelemetryStore(path: dir + "/etc/data")
            defer { reopened.close() }
            #expect(try reopened.vehicles().map(\.vehicle.rawValue) == ["veh-0", "veh-1", "veh-2"])
        }
    }

    @Test("a backup named through a symbolic link verifies and restores as the folder it names")
    func backupThroughSymlink() throws {
        try withTemporaryDirectory { dir in
            let store = try TelemetryStore(path: dir + "/data")
            defer { store.close() }
            try Self.fill(store, records: 30)
            _ = try store.backup(to: dir + "/telemetry-1")
            try FileManager.default.createSymbolicLink(atPath: dir + "/latest", withDestinationPath: dir + "/telemetry-1")
            let folder = try BackupFolder(path: dir + "/latest")
            #expect(folder.path == dir + "/telemetry-1")
            let report = try folder.verify(deep: true)
            #expect(report.problems.isEmpty)
            _ = try folder.restore(into: dir + "/restored")
            let restored = try TelemetryStore(path: dir + "/restored")
            defer { restored.close() }
            #expect(try restored.vehicles().map(\.vehicle.rawValue) == ["veh-0", "veh-1", "veh-2"])
            // A link to nothing is a missing backup, named as given.
            try FileManager.default.createSymbolicLink(atPath: dir + "/dangling", withDestinationPath: dir + "/nothing")
            let error = #expect(throws: BackupError.self) { try BackupFolder(path: dir + "/dangling") }
            #expect(error?.code == .notFound)
            #expect(error?.message.contains(dir + "/dangling") == true)
        }
    }

    @Test("LevelDB's own file names, and the others")
    func levelDBFileNames() {
        for name in ["CURRENT", "LOCK", "LOG", "LOG.old", "MANIFEST-000002", "000005.ldb", "000030.log", "000001.sst", "000009.dbtmp"] {
            #expect(BackupFiles.isLevelDBFile(name), "\(name)")
        }
        for name in ["mappings", "assets.yaml", "MANIFEST-backup.json", "backup-manifest.json", "x.log", ".ldb", "CURRENT.bak"] {
            #expect(!BackupFiles.isLevelDBFile(name), "\(name)")
        }
    }

    @Test("closeAndWaitForRelease lets the folder go: it can be opened again at once")
    func closeAndWait() throws {
        try withTemporaryDirectory { dir in
            let store = try TelemetryStore(path: dir + "/data")
            try Self.fill(store, records: 10)
            #expect(store.closeAndWaitForRelease(timeout: .seconds(60)))
            let again = try TelemetryStore(path: dir + "/data")
            defer { again.close() }
            #expect(try again.vehicles().count == 3)
        }
    }
}
