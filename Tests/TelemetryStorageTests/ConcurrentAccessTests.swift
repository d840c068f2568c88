import Dispatch
import Foundation
import Synchronization
import Testing
import TelemetryCore
@testable import TelemetryStorage

@Suite("Store: concurrent readers and writers")
struct ConcurrentAccessTests {
    /// What the threads of one test share.
    final class Shared: Sendable {
        let writersDone = Atomic<Int>(0)
        let reads = Atomic<Int>(0)
        let failures = Mutex<[String]>([])
        let notes = Mutex<[String]>([])

        func fail(_ message: String) { failures.withLock { $0.append(message) } }
    }

    /// Runs each body on its own thread and waits for all of them.
    static func runThreads(_ bodies: [@Sendable () -> Void]) {
        let group = DispatchGroup()
        for body in bodies {
            group.enter()
            Thread {
                body()
                group.leave()
            }.start()
        }
        group.wait()
    }

    @Test("readers never report data loss while writers commit records with new field names and provenances")
    func readersDuringWrites() throws {
        try withTemporaryStore { store, _ in
            // A wide span first: the records that follow are late, inside what readers read.
            try store.write([record("v", 0, ["base": .int(0)]), record("v", 10_000_000, ["base": .int(1)])])
            let shared = Shared()
            let writers = 2
            let perWriter = 1000
            var bodies: [@Sendable () -> Void] = []
            for w in 0..<writers {
                bodies.append {
                    defer { shared.writersDone.add(1, ordering: .releasing) }
                    for i in 0..<perWriter {
                        // Every write brings a new field name and every tenth a new provenance;
                        // each also stores a raw record under a new provider field name.
                        let ts = Int64(1 + i * writers + w)
                        let canonical = record("v", ts, ["f-\(w)-\(i)": .int(Int64(i))], provider: "p-\(w)-\(i / 10)")
                        let raw = RawRecord(
                            record: ProviderRecord(
                                vehicle: vid("v"), timestamp: ts, provider: "raw", fields: [Field("raw-\(w)-\(i)", .int(Int64(i)))]),
                            receivedAt: ts, mappingVersion: "1")
                        do { _ = try store.write(StoreWrite(records: [canonical], raw: [raw])) } catch {
                            shared.fail("write \(w)/\(i): \(error)")
                            return
                        }
                    }
                }
            }
            for r in 0..<2 {
                bodies.append {
                    while shared.writersDone.load(ordering: .acquiring) < writers {
                        do {
                            if r == 0 {
                                _ = try allRecords(store, "v")
                                _ = try store.range(RangeQuery(vehicle: vid("v"), from: 0, to: .max, fields: ["f-0-1", "f-1-1"], limit: 50))
                            } else {
                                _ = try store.rawRecords(vehicle: vid("v"), from: .min, to: .max)
                                _ = try store.latest(vid("v"))
                            }
                            shared.reads.add(1, ordering: .relaxed)
                        } catch {
                            shared.fail("reader \(r): \(error)")
                            return
                        }
                    }
                }
            }
            Self.runThreads(bodies)
            #expect(shared.failures.withLock { $0 } == [])
            #expect(shared.reads.load(ordering: .relaxed) > 0)
            #expect(try allRecords(store, "v").count == 2 + writers * perWriter)
            #expect(try store.rawRecords(vehicle: vid("v"), from: .min, to: .max).count == writers * perWriter)
        }
    }

    @Test("a read between a commit and its publication to readers finds the names the new records use")
    func readBetweenCommitAndPublication() throws {
        try withTemporaryStore { store, _ in
            try store.write([record("v", 0, ["a": .int(0)]), record("v", 1000, ["a": .int(1)])])
            let shared = Shared()
            store.faultInjection.afterNextCommit { [store, shared] in
                do {
                    let records = try allRecords(store, "v")
                    let raw = try store.rawRecords(vehicle: vid("v"), from: .min, to: .max)
                    shared.notes.withLock {
                        $0.append("records \(records.map(\.timestamp)) raw \(raw.flatMap { $0.record.fields.map(\.name) })")
                    }
                } catch {
                    shared.fail("read inside the commit window: \(error)")
                }
            }
            let raw = RawRecord(
                record: ProviderRecord(vehicle: vid("v"), timestamp: 500, provider: "raw", fields: [Field("raw-new", .int(5))]),
                receivedAt: 500, mappingVersion: "1")
            _ = try store.write(StoreWrite(records: [record("v", 500, ["new": .int(5)], provider: "other")], raw: [raw]))
            // The hook ran, and its read saw the new record and the new raw field by name.
            #expect(shared.failures.withLock { $0 } == [])
            #expect(shared.notes.withLock { $0 } == ["records [0, 500, 1000] raw [\"raw-new\"]"])
        }
    }
}
