import Testing
import TelemetryCore
import TelemetryStorage
@testable import TelemetryServer

@Suite("Configuration: retention, the reopen probe and the memory trim")
struct RetentionConfigurationTests {
    @Test("the retention section takes durations or off; the schedule follows it")
    func retentionSection() throws {
        let file = try ConfigurationFile.parse(
            """
            limits:
              reopen_probe_seconds: 15
            retention:
              canonical: 400d
              raw: 30d
              dead_letters: off
              interval_seconds: 600
            """, source: "t.yaml")
        #expect(file.server.retention == RetentionPolicy(canonicalMs: 400 * 86_400_000, rawMs: 30 * 86_400_000, deadLettersMs: nil))
        #expect(file.server.retentionIntervalSeconds == 600 && file.server.reopenProbeSeconds == 15)
        let schedule = MaintenanceService.Schedule(file.server)
        #expect(schedule.retention == .seconds(600) && schedule.reopenProbe == .seconds(15) && schedule.seal == .seconds(300))
        // Nothing limited: no retention job, whatever the interval.
        #expect(MaintenanceService.Schedule(ServerConfiguration()).retention == nil)
    }

    @Test("the memory trim runs every 5 s unless configured otherwise or off")
    func memoryTrim() throws {
        #expect(MaintenanceService.Schedule(ServerConfiguration()).memoryTrim == .seconds(5))
        let every = try ConfigurationFile.parse("limits:\n  memory_trim_seconds: 30\n", source: "t.yaml").server
        #expect(MaintenanceService.Schedule(every).memoryTrim == .seconds(30))
        let off = try ConfigurationFile.parse("limits:\n  memory_trim_seconds: off\n", source: "t.yaml").server
        #expect(off.memoryTrimSeconds == nil && MaintenanceService.Schedule(off).memoryTrim == nil)
        var zero = try ConfigurationFile.parse("limits:\n  memory_trim_seconds: 0\n", source: "t.yaml").server
        zero.port = 7400
        #expect { try zero.validate() } throws: { "\($0)".contains("memory trim interval") }
    }

    @Test("a bad retention value names the key")
    func badValues() {
        for (text, key) in [("retention:\n  raw: 30w", "retention.raw"), ("retention:\n  canonical: -1d", "retention.canonical"),
            ("retention:\n  forever: 1d", "retention.forever"), ("retention:\n  raw: 7", "retention.raw needs a unit"), ("limits:\n  reopen_probe_seconds: 0", "reopen probe")] {
            #expect("\(text)") {
                var c = try ConfigurationFile.parse(text, source: "t.yaml").server
                c.port = 7400
                try c.validate()
            } throws: { error in
                "\(error)".contains(key)
            }
        }
    }
}
