import Foundation
import NIOPosix
import Synchronization
import Testing
import TelemetryClient
import TelemetryCore
@testable import TelemetryServer

/// Long storage work runs on its own threads: a backup and a seal pass at once used to hold
/// both request threads of a 2-core machine, and ingest and range queries stopped for as long
/// as they ran.
/// A flag the test opens once, read by the threads it holds.
final class Gate: Sendable {
    private let flag = Atomic<Bool>(false)
    var isOpen: Bool { flag.load(ordering: .acquiring) }
    func open() { flag.store(true, ordering: .releasing) }
}

@Suite("Maintenance threads")
struct MaintenanceThreadsTests {
    @Test("with every maintenance thread busy, ingest and queries are served, and a backup waits its turn")
    func requestsDoNotWaitForMaintenance() async throws {
        try await withServer { server in
            try await withTemporaryDirectory { dir in
                // Hold both maintenance threads until the test lets go.
                let release = Gate()
                let busy = (0..<2).map { _ in
                    Task {
                        try await MaintenanceThreads.pool.runIfActive {
                            while !release.isOpen { usleep(5_000) }
                        }
                    }
                }
                defer { release.open() }
                try await withTelemetryClient(server.clientConfiguration()) { client in
                    let backup = Task { try await client.backup(to: dir + "/backup") }
                    let vehicle = try VehicleID("held")
                    let records = (0..<100).map {
                        ProviderRecord(vehicle: vehicle, timestamp: 1_000 + Int64($0), provider: "p", fields: [Field("x", .int(Int64($0)))])
                    }
                    #expect(try await client.ingest(records).accepted == 100)
                    #expect(try await client.range(RangeQuery(vehicle: vehicle, from: .min, to: .max)).records.count == 100)
                    // A started backup makes its partial folder beside the destination at once.
                    try await Task.sleep(for: .milliseconds(300))
                    #expect(try FileManager.default.contentsOfDirectory(atPath: dir).isEmpty, "the backup waits for a maintenance thread")
                    release.open()
                    for task in busy { try await task.value }
                    let summary = try await backup.value
                    #expect(summary.bytes > 0 && FileManager.default.fileExists(atPath: dir + "/backup"))
                }
            }
        }
    }
}
