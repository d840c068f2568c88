import Foundation
import Testing
import TelemetryServer

@Suite("StoreMetrics folder sizes")
struct StoreMetricsTests {
    @Test("a compaction's before and after leave out LevelDB's text log, which each compaction lengthens")
    func dataBytesLeaveOutTheTextLog() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("telemetry-sizes-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for (name, size) in [("LOG", 100), ("LOG.old", 50), ("000005.ldb", 10), ("000007.log", 3), ("CURRENT", 5)] {
            try Data(repeating: 0x41, count: size).write(to: URL(fileURLWithPath: dir + "/" + name))
        }
        #expect(StoreMetrics.directoryBytes(dir) == 168)
        #expect(StoreMetrics.dataBytes(dir) == 18)
        #expect(StoreMetrics.writeAheadLogBytes(dir) == 3)
    }
}
