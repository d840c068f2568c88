import Foundation
import Logging
import MetricsTestKit
import NIOPosix
import Testing
import TelemetryCore
@testable import TelemetryServer
import TelemetryStorage
import TelemetryWire

@Suite("StoreHandle: the swappable store of an online restore")
struct StoreHandleTests {
    func withStore(_ body: (TelemetryStore, String) throws -> Void) throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("telemetry-handle-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try TelemetryStore(path: dir + "/data")
        defer { store.close() }
        try body(store, dir)
    }

    @Test("a request that meets the store a restore closed is told to retry")
    func closedDuringRestore() throws {
        try withStore { store, dir in
            let stores = StoreHandle(store)
            let closed = StorageError(code: .closed, message: "the store at \(dir)/data is closed")
            #expect(stores.statusDuringRestore(for: closed) == nil, "an open store and no restore: the error stands")
            try stores.beginRestore()
            stores.swapStarted()
            store.close()
            #expect(stores.statusDuringRestore(for: closed) == StatusError(.unavailable, "the store is being restored; retry"))
            let restored = try TelemetryStore(path: dir + "/restored")
            defer { restored.close() }
            stores.endRestore(installing: restored)
            #expect(stores.current === restored)
            // A late request that still held the replaced store: retrying reaches the new one.
            #expect(stores.statusDuringRestore(for: closed)?.code == .unavailable)
            #expect(stores.statusDuringRestore(for: StorageError(code: .io, message: "x")) == nil)
            restored.close()
            #expect(stores.statusDuringRestore(for: closed) == nil, "closed at shutdown: no retry hint")
        }
    }

    @Test("a request cut short because its connection closed counts as CANCELLED, not as an internal error")
    func cancelledRequest() throws {
        try withStore { store, _ in
            let metrics = TestMetrics()
            let dispatcher = RequestDispatcher(
                stores: StoreHandle(store), configuration: ServerConfiguration(), mappings: nil, threadPool: .singleton,
                metrics: ServerMetrics(factory: metrics), logger: Logger(label: "test"))
            let answer = dispatcher.failure(7, CancellationError(), kind: .rangeQuery)
            #expect(answer.requestID == 7 && answer.status.code == UInt32(StatusCode.cancelled.rawValue))
            let count = { (code: String) in
                (try? metrics.expectCounter("telemetry_requests_total", [("kind", "range_query"), ("code", code)]))?.totalValue ?? -1
            }
            #expect(count("1") == 1 && count("13") == 0)
            // Anything else unknown is still INTERNAL.
            struct Odd: Error {}
            #expect(dispatcher.failure(8, Odd(), kind: .rangeQuery).status.code == UInt32(StatusCode.internal.rawValue))
            #expect(count("13") == 1)
        }
    }

    @Test("backups and a restore exclude each other")
    func exclusion() throws {
        try withStore { store, _ in
            let stores = StoreHandle(store)
            try stores.beginBackup()
            try stores.beginBackup()
            #expect(throws: StatusError(.failedPrecondition, "2 backup(s) running; restore after they finish")) { try stores.beginRestore() }
            stores.endBackup()
            stores.endBackup()
            try stores.beginRestore()
            #expect(throws: StatusError(.failedPrecondition, "a restore is running; back up after it")) { try stores.beginBackup() }
            #expect(throws: StatusError(.failedPrecondition, "a restore is already running")) { try stores.beginRestore() }
            stores.endRestore(installing: nil)
            #expect(stores.current === store)
            try stores.beginBackup()
            stores.endBackup()
        }
    }
}
