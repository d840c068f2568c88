import Foundation
import Logging
import ServiceLifecycleTestKit
import Testing
import TelemetryCore
import TelemetryServer
import TelemetryStorage

@Suite("Background maintenance")
struct MaintenanceServiceTests {
    /// A store holding one vehicle's records over three hourly partitions.
    func withStore(_ body: (TelemetryStore) async throws -> Void) async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("telemetry-maint-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let store = try TelemetryStore(path: path)
        defer { store.close() }
        let vehicle = try VehicleID("m-1")
        let records = (0..<30).map { i in
            TelemetryRecord(
                vehicle: vehicle, timestamp: Int64(i) * 360_000, fields: [Field("v", .int(Int64(i)))],
                provenance: Provenance(provider: "test", mappingVersion: "identity", receivedAt: 0))
        }
        try store.write(records)
        try await body(store)
    }

    @Test("seals closed partitions on its own, and stops at graceful shutdown")
    func seals() async throws {
        try await withStore { store in
            let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
            let (passes, passed) = AsyncStream.makeStream(of: SealSummary.self)
            let service = MaintenanceService(store: store, interval: .milliseconds(20), logger: logger) { passed.yield($0) }
            try await testGracefulShutdown { trigger in
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { try await service.run() }
                    var iterator = passes.makeAsyncIterator()
                    let first = await iterator.next()
                    #expect((first?.blocks ?? 0) > 0, "the first pass seals the closed partitions")
                    trigger.triggerGracefulShutdown()
                    try await group.waitForAll()
                }
            }
            // Everything closed is sealed already: another pass finds nothing to do, and the
            // records read back unchanged.
            let again = try store.sealPartitions()
            #expect(again.blocks == 0)
            let page = try store.range(RangeQuery(vehicle: try VehicleID("m-1"), from: .min, to: .max))
            #expect(page.records.map(\.timestamp) == (0..<30).map { Int64($0) * 360_000 })
        }
    }

    @Test("without it, the closed partitions stay unsealed")
    func control() async throws {
        try await withStore { store in
            let pass = try store.sealPartitions()
            #expect(pass.blocks > 0)
        }
    }

    @Test("trims the allocator's free memory on its schedule")
    func memoryTrim() async throws {
        try await withStore { store in
            let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
            let (passes, passed) = AsyncStream.makeStream(of: MaintenanceService.Pass.self)
            let service = MaintenanceService(
                store: store, schedule: MaintenanceService.Schedule(memoryTrim: .milliseconds(10)), logger: logger,
                onPass: { passed.yield($0) })
            try await testGracefulShutdown { trigger in
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { try await service.run() }
                    var trims = 0
                    for await pass in passes {
                        guard case .memoryTrimmed = pass else {
                            Issue.record("only the memory trim is scheduled, got \(pass)")
                            break
                        }
                        trims += 1
                        if trims == 2 { break }
                    }
                    #expect(trims == 2, "the trim runs again after its interval")
                    trigger.triggerGracefulShutdown()
                    try await group.waitForAll()
                }
            }
        }
    }

    @Test("applies retention on its schedule, and reopens a degraded store by itself")
    func retentionAndReopenProbe() async throws {
        try await withStore { store in
            let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
            store.faultInjection.failNextWrite()
            #expect(throws: StorageError.self) { try store.write([TelemetryRecord(vehicle: try VehicleID("m-1"), timestamp: 99_000_000, fields: [Field("v", .int(1))], provenance: Provenance(provider: "test", mappingVersion: "identity", receivedAt: 0))]) }
            guard case .degraded = store.health else {
                Issue.record("the injected fault did not degrade the store")
                return
            }
            let (passes, passed) = AsyncStream.makeStream(of: MaintenanceService.Pass.self)
            // Records at 0 .. 2h54m: "now" 3h30m with 2h of canonical retention expires hour 0.
            let schedule = MaintenanceService.Schedule(
                retention: .milliseconds(30), reopenProbe: .milliseconds(10), policy: RetentionPolicy(canonicalMs: 7_200_000))
            let service = MaintenanceService(
                store: store, schedule: schedule, logger: logger, clock: { 12_600_000 }, onPass: { passed.yield($0) })
            try await testGracefulShutdown { trigger in
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { try await service.run() }
                    var seen: [MaintenanceService.Pass] = []
                    for await pass in passes {
                        seen.append(pass)
                        if case .retention = pass { break }
                    }
                    #expect(seen.first == .reopen(.success(.ready)), "the probe reopens the store before retention runs")
                    if case .retention(let summary) = seen.last {
                        #expect(summary.canonicalRecords == 10 && summary.canonicalPartitions == 1)
                    }
                    trigger.triggerGracefulShutdown()
                    try await group.waitForAll()
                }
            }
            let page = try store.range(RangeQuery(vehicle: try VehicleID("m-1"), from: .min, to: .max))
            #expect(page.records.map(\.timestamp) == (10..<30).map { Int64($0) * 360_000 })
        }
    }
}
