import ArgumentParser
import Foundation
import Synchronization
import Testing
import TelemetryCLI
import TelemetryClient
import TelemetryCore
@testable import TelemetryServer
import TelemetryStorage

/// Serves a store through a `StoreHandle`, as telemetryd does, so that an online restore can
/// swap it; closes whichever store is current at the end.
func withRestorableServer(_ body: (_ port: Int, _ stores: StoreHandle, _ dir: String) async throws -> Void) async throws {
    try await withTemporaryDirectory { dir in
        let stores = StoreHandle(try TelemetryStore(path: dir + "/data"))
        defer { stores.current.close() }
        try await serve(stores: stores, path: dir + "/data") { server in try await body(server.port, stores, dir) }
    }
}

/// Ingests batches of 50 records (5 vehicles, increasing times) until told to stop; counts
/// the batches acknowledged. A client with many attempts: UNAVAILABLE is retried.
final class Ingester: Sendable {
    let acknowledged = Atomic(0)
    let failures = Mutex<[String]>([])
    let stop = Atomic(false)
    static let batchSize = 50

    func run(port: Int) async throws {
        var c = ClientConfiguration(host: "127.0.0.1", port: port, token: "", clientName: "ingester")
        c.retry = RetryPolicy(maxAttempts: 50, initialBackoff: .milliseconds(20), maxBackoff: .milliseconds(200))
        c.requestTimeout = .seconds(30)
        try await withTelemetryClient(c, logger: quietLogger) { client in
            var batch = 0
            while !stop.load(ordering: .relaxed) {
                let records = (0..<Self.batchSize).map { i in
                    record("veh-\(i % 5)", Int64(batch * Self.batchSize + i) * 1000, [Field("speed", .double(Double(i)))])
                }
                do {
                    let ack = try await client.ingest(records)
                    if ack.accepted != Self.batchSize { failures.withLock { $0.append("batch \(batch): \(ack.accepted) accepted") } }
                } catch {
                    failures.withLock { $0.append("batch \(batch): \(error)") }
                }
                batch += 1
                acknowledged.store(batch, ordering: .relaxed)
            }
        }
    }
}

@Suite("backup, verify and restore over the protocol")
struct BackupIntegrationTests {
    func adminClient(_ port: Int) -> ClientConfiguration {
        var c = ClientConfiguration(host: "127.0.0.1", port: port, token: "", clientName: "admin")
        c.retry = RetryPolicy(maxAttempts: 1)
        c.requestTimeout = .seconds(60)
        return c
    }

    @Test("backup during ingest, verify --deep, online restore: same data, same content hash")
    func backupVerifyRestore() async throws {
        try await withRestorableServer { port, stores, dir in
            let ingester = Ingester()
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await ingester.run(port: port) }
                while ingester.acknowledged.load(ordering: .relaxed) < 10 { try await Task.sleep(for: .milliseconds(5)) }
                let ackedBefore = ingester.acknowledged.load(ordering: .relaxed)
                let updates = Mutex<[ProgressUpdate]>([])
                let backup = try await withTelemetryClient(adminClient(port), logger: quietLogger) { client in
                    try await client.backup(to: dir + "/b1") { update in updates.withLock { $0.append(update) } }
                }
                while ingester.acknowledged.load(ordering: .relaxed) < ackedBefore + 20 { try await Task.sleep(for: .milliseconds(5)) }
                ingester.stop.store(true, ordering: .relaxed)
                try await group.waitForAll()
                #expect(ingester.failures.withLock { $0 } == [])
                #expect(updates.withLock { $0 }.contains { $0.phase == "copying" })

                let canonical = try #require(backup.manifest.keyspaces.first { $0.name == "canonical" }?.entries)
                #expect(canonical >= UInt64(ackedBefore * Ingester.batchSize), "every batch acknowledged before the backup is in it")
                #expect(canonical % UInt64(Ingester.batchSize) == 0, "batches are in whole or not at all")
                let liveRecords = try stores.current.vehicles().reduce(0) { $0 + $1.recordCount }
                #expect(liveRecords > canonical, "ingest went on after the snapshot")

                try await withTelemetryClient(adminClient(port), logger: quietLogger) { client in
                    let report = try await client.verifyBackup(at: dir + "/b1", deep: true)
                    #expect(report.problems == [])
                    #expect(report.manifest == backup.manifest)

                    let oldStore = stores.current
                    let restored = try await client.restore(from: dir + "/b1")
                    #expect(restored.contentHash == backup.manifest.contentHash)
                    #expect(restored.previousData.hasPrefix(dir + "/data.before-restore-"))
                    #expect(stores.current !== oldStore)
                    #expect(oldStore.health == .closed)

                    // The server answers from the restored store: the backup's records, and the
                    // restored store's own backup has the backup's content hash.
                    let vehicles = try await client.vehicles()
                    #expect(vehicles.reduce(0) { $0 + $1.recordCount } == canonical)
                    let again = try await client.backup(to: dir + "/b2")
                    #expect(again.manifest.contentHash == backup.manifest.contentHash)

                    // Writes go on into the restored store.
                    let ack = try await client.ingest([record("veh-new", 1, [Field("speed", .double(1))])])
                    #expect(ack.accepted == 1)
                    #expect(try await client.latest([vid("veh-new")]).states.count == 1)
                }
                // The replaced folder is intact, for rollback: it opens with everything ingested.
                let previous = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasPrefix("data.before-restore-") }
                #expect(previous.count == 1)
                let old = try TelemetryStore(path: dir + "/" + previous[0])
                defer { old.close() }
                #expect(try old.vehicles().reduce(0) { $0 + $1.recordCount } == liveRecords)
            }
        }
    }

    @Test("ingest keeps going through an online restore: refused calls are retried, none is lost")
    func ingestDuringRestore() async throws {
        try await withRestorableServer { port, stores, dir in
            try Self.seed(stores.current)
            _ = try stores.current.backup(to: dir + "/b")
            let ingester = Ingester()
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await ingester.run(port: port) }
                while ingester.acknowledged.load(ordering: .relaxed) < 5 { try await Task.sleep(for: .milliseconds(5)) }
                let restored = try await withTelemetryClient(adminClient(port), logger: quietLogger) { client in
                    try await client.restore(from: dir + "/b")
                }
                let afterRestore = ingester.acknowledged.load(ordering: .relaxed)
                while ingester.acknowledged.load(ordering: .relaxed) < afterRestore + 5 { try await Task.sleep(for: .milliseconds(5)) }
                ingester.stop.store(true, ordering: .relaxed)
                try await group.waitForAll()
                #expect(ingester.failures.withLock { $0 } == [])
                #expect(!restored.previousData.isEmpty)
            }
            // Batches after the swap landed in the restored store.
            #expect(try stores.current.vehicles().contains { $0.vehicle.rawValue == "veh-0" })
        }
    }

    @Test("during the swap, ingest and queries get UNAVAILABLE \"the store is being restored; retry\"")
    func answersDuringSwap() async throws {
        try await withRestorableServer { port, stores, dir in
            var once = ClientConfiguration(host: "127.0.0.1", port: port, token: "", clientName: "no-retry")
            once.retry = RetryPolicy(maxAttempts: 1)
            try await withTelemetryClient(once, logger: quietLogger) { client in
                // The swap's middle, held still: old store closed, new one not yet installed.
                try stores.beginRestore()
                stores.swapStarted()
                stores.current.close()
                let ingest = await #expect(throws: StatusError.self) { try await client.ingest([record("v", 1, [Field("x", .int(1))])]) }
                #expect(ingest == StatusError(.unavailable, "the store is being restored; retry"))
                let query = await #expect(throws: StatusError.self) { try await client.vehicles() }
                #expect(query == StatusError(.unavailable, "the store is being restored; retry"))
                stores.endRestore(installing: try TelemetryStore(path: dir + "/restored"))
                #expect(try await client.ingest([record("v", 1, [Field("x", .int(1))])]).accepted == 1)
            }
        }
    }

    @Test("restore refuses a tampered backup and keeps serving the store it has")
    func restoreRefusesTampered() async throws {
        try await withRestorableServer { port, stores, dir in
            try Self.seed(stores.current)
            let backup = try stores.current.backup(to: dir + "/b")
            let table = try #require(backup.manifest.files.first { $0.name.hasSuffix(".ldb") }?.name)
            var bytes = try Data(contentsOf: URL(fileURLWithPath: dir + "/b/" + table))
            bytes[bytes.count - 1] ^= 0x01
            try bytes.write(to: URL(fileURLWithPath: dir + "/b/" + table))
            let store = stores.current
            try await withTelemetryClient(adminClient(port), logger: quietLogger) { client in
                let report = try await client.verifyBackup(at: dir + "/b", deep: false)
                #expect(report.problems == ["file \(table): sha256 differs"])
                let error = await #expect(throws: StatusError.self) { try await client.restore(from: dir + "/b") }
                #expect(error?.code == .failedPrecondition)
                #expect(error?.message.contains("file \(table): sha256 differs") == true)
                #expect(try await client.vehicles().count == 3)
                let exists = await #expect(throws: StatusError.self) { try await client.backup(to: dir + "/b") }
                #expect(exists?.code == .alreadyExists)
            }
            #expect(stores.current === store)
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir).sorted() == ["b", "data"])
        }
    }

    static func seed(_ store: TelemetryStore) throws {
        let records = (0..<90).map { i in
            TelemetryRecord(
                vehicle: vid("veh-\(i % 3)"), timestamp: Int64(i) * 1000, fields: [Field("speed", .double(Double(i)))],
                provenance: Provenance(provider: "generic", mappingVersion: "1.0.0", receivedAt: Int64(i) * 1000))
        }
        try store.write(records)
    }

    @Test("telemetryctl admin backup, verify (online and offline), restore offline; exit codes")
    func commandLine() async throws {
        func run(_ arguments: [String]) async throws {
            var command = try TelemetryCommand.parseAsRoot(arguments)
            if var asyncCommand = command as? any AsyncParsableCommand { try await asyncCommand.run() } else { try command.run() }
        }
        try await withRestorableServer { port, stores, dir in
            try Self.seed(stores.current)
            let p = ["--port", "\(port)"]
            try await run(["admin", "backup"] + p + [dir + "/b", "--format", "json"])
            let manifest = try JSONDecoder().decode(BackupManifest.self, from: Data(contentsOf: URL(fileURLWithPath: dir + "/b/backup-manifest.json")))
            #expect(manifest.keyspaces.first { $0.name == "canonical" }?.entries == 90)
            try await run(["admin", "backup", "verify"] + p + [dir + "/b", "--deep"])
            try await run(["admin", "backup", "verify", dir + "/b", "--deep", "--offline"])
            let exists = await #expect(throws: ExitCode.self) { try await run(["admin", "backup"] + p + [dir + "/b"]) }
            #expect(exists == ExitCode(106))

            try await run(["admin", "restore", "--backup", dir + "/b", "--data", dir + "/copy"])
            let copy = try TelemetryStore(path: dir + "/copy")
            #expect(try copy.vehicles().reduce(0) { $0 + $1.recordCount } == 90)
            copy.close()

            let table = try #require(manifest.files.first { $0.name.hasSuffix(".ldb") }?.name)
            try FileManager.default.removeItem(atPath: dir + "/b/" + table)
            let failed = await #expect(throws: ExitCode.self) { try await run(["admin", "backup", "verify", dir + "/b", "--offline"]) }
            #expect(failed == ExitCode(2))
            let refused = await #expect(throws: ExitCode.self) {
                try await run(["admin", "restore", "--backup", dir + "/b", "--data", dir + "/copy2"])
            }
            #expect(refused == ExitCode(109))
            #expect(!FileManager.default.fileExists(atPath: dir + "/copy2"))
        }
    }
}
