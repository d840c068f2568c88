import ArgumentParser
import Foundation
@testable import TelemetryClient
import TelemetryCore
import Testing
@testable import TelemetryCLI

@Suite("admin commands")
struct AdminCommandTests {
    @Test("remap --show N describes at most N failing and N changed records; 0 none (the protocol's 0 means 20)")
    func remapShow() {
        let change = RecordChange(
            timestamp: 0, mappingVersionBefore: "1.0.0", mappingVersionAfter: "1.1.0", changes: [FieldChange(field: "speed", before: .int(1), after: .int(2))])
        var result = RemapResult(rawRecords: 5, changed: 3, unchanged: 0, failed: 2, changes: [change, change, change], dryRun: true)
        result.failures = ["0: unknown_provider: x", "1: unknown_provider: y"]
        let none = TelemetryCommand.Admin.Remap.report(result, show: 0, dryRun: true)
        #expect(none == "warm-up: 0 raw records before the range mapped into the state\n5 raw records: 3 would change, 0 unchanged, 2 failing (left as stored)\n")
        let one = TelemetryCommand.Admin.Remap.report(result, show: 1, dryRun: true)
        #expect(one.components(separatedBy: "failing: ").count == 2)
        #expect(one.components(separatedBy: "1.0.0 -> 1.1.0").count == 2)
        #expect(one.contains("  speed: 1 -> 2\n"))
    }

    @Test("retention takes an age per keyspace or keep; compact a vehicle's range; usage errors")
    func parsing() throws {
        let command = try TelemetryCommand.parseAsRoot(["admin", "retention", "--canonical", "400d", "--raw", "keep", "--dry-run"])
        let retention = try #require(command as? TelemetryCommand.Admin.Retention)
        #expect(try TelemetryCommand.Admin.Retention.age(retention.canonical) == .milliseconds(400 * 86_400_000))
        #expect(try TelemetryCommand.Admin.Retention.age(retention.raw) == .keepAll)
        #expect(try TelemetryCommand.Admin.Retention.age(retention.deadLetters) == .configured)
        #expect(retention.dryRun)
        #expect(throws: ValidationError.self) { try TelemetryCommand.Admin.Retention.age("30 days") }
        #expect(try TelemetryCommand.Admin.Retention.age("off") == .keepAll)
        #expect(try TelemetryCommand.Admin.Retention.age("500ms") == .milliseconds(500))
        // A bare number would be milliseconds: `--raw 7` meant as a week would remove nearly everything.
        #expect { try TelemetryCommand.Admin.Retention.age("7") } throws: { "\($0)".contains("has no unit") }

        let compact = try #require(
            try TelemetryCommand.parseAsRoot(["admin", "compact", "--vehicle", "truck-1", "--from", "0", "--to", "1000"])
                as? TelemetryCommand.Admin.Compact)
        #expect(compact.vehicle == "truck-1" && compact.from == "0")
        #expect(throws: (any Error).self) { try TelemetryCommand.parseAsRoot(["admin", "compact", "--vehicle", "v", "--keyspace", "raw"]) }
        #expect(throws: (any Error).self) { try TelemetryCommand.parseAsRoot(["admin", "compact", "--from", "0"]) }
        #expect(throws: (any Error).self) { try TelemetryCommand.parseAsRoot(["admin", "stats", "--top", "0"]) }
        let stats = try #require(try TelemetryCommand.parseAsRoot(["admin", "stats", "--top", "3", "--format", "json"]) as? TelemetryCommand.Admin.Stats)
        #expect(stats.top == 3 && stats.format == .json)
    }

    @Test("remap's warm-up: a duration, 0 for none, all, or the server's default; anything else is a usage error")
    func remapWarmup() throws {
        let command = try TelemetryCommand.parseAsRoot(
            ["admin", "remap", "--vehicle", "truck-1", "--from", "0", "--to", "1000", "--warmup", "7d", "--dry-run"])
        let remap = try #require(command as? TelemetryCommand.Admin.Remap)
        #expect(try TelemetryCommand.Admin.Remap.warmupMs(remap.warmup) == 7 * 86_400_000)
        #expect(try TelemetryCommand.Admin.Remap.warmupMs("30m") == 1_800_000)
        #expect(try TelemetryCommand.Admin.Remap.warmupMs("0") == 0)
        #expect(try TelemetryCommand.Admin.Remap.warmupMs("all") == .max)
        #expect(try TelemetryCommand.Admin.Remap.warmupMs(nil) == nil)
        #expect(throws: ValidationError.self) { try TelemetryCommand.Admin.Remap.warmupMs("-1h") }
        #expect(throws: ValidationError.self) { try TelemetryCommand.Admin.Remap.warmupMs("forever") }
        // A failing record's time is written as the changed records' are.
        #expect(
            TelemetryCommand.Admin.Remap.failureLine("1763880501000: function_error_fatal: boom")
                == "2025-11-23T06:48:21.000Z (1763880501000): function_error_fatal: boom")
        #expect(TelemetryCommand.Admin.Remap.failureLine("odd text") == "odd text")
    }

    @Test("dlq list --as-records leaves out the letters that are not records, and its lines read back as records")
    func deadLettersAsRecords() throws {
        func letter(_ vehicle: String, _ timestamp: Int64?, _ reason: String) -> DeadLetterEntry {
            DeadLetterEntry(
                id: "5-\(vehicle)", vehicleID: vehicle, timestamp: timestamp, provider: "acme", fields: [Field("spd", .double(12.5))],
                gatewaySequence: nil, receivedAt: 5, reason: reason, message: "m", mappingVersion: "")
        }
        let (lines, leftOut) = TelemetryCommand.Admin.DLQ.List.recordLines([
            letter("v1", 1_000, "unknown_provider"), letter("v2", nil, "missing_vehicle_or_timestamp"),
            letter("", 2_000, "missing_vehicle_or_timestamp"), letter("v3", 3_000, "function_error_fatal"),
        ])
        #expect(leftOut == 2)
        // What ingest and mappings dry-run read: every line, none refused.
        let records = try readAll(lines.map { $0 + "\n" }.joined(), name: "dl.jsonl")
        #expect(records.map(\.vehicle.rawValue) == ["v1", "v3"])
        #expect(records.map(\.timestamp) == [1_000, 3_000])
        #expect(records.allSatisfy { $0.provider == "acme" && $0.fields == [Field("spd", .double(12.5))] })

        // Raw fields named like the reserved keys stay fields: nothing dropped, no line refused.
        let reserved = ["vehicle", "timestamp", "time", "ts", "vehicle_id", "provider", "provenance", "sequence", "fields"]
        let odd = DeadLetterEntry(
            id: "6-v", vehicleID: "v4", timestamp: 4_000, provider: "acme", fields: reserved.map { Field($0, .string("x")) },
            gatewaySequence: nil, receivedAt: 6, reason: "unknown_provider", message: "m", mappingVersion: "")
        let back = try readAll(TelemetryCommand.Admin.DLQ.List.recordLines([odd]).lines.map { $0 + "\n" }.joined(), name: "dl.jsonl")
        #expect(back.first?.vehicle.rawValue == "v4" && back.first?.timestamp == 4_000 && back.first?.provider == "acme")
        #expect(back.first?.fields.map(\.name) == reserved)
    }

    @Test("dlq purge says when named ids held no dead letter")
    func purgeSummary() {
        typealias Purge = TelemetryCommand.Admin.DLQ.Purge
        #expect(Purge.summary(purged: 2, idsNamed: 2) == "2 dead letters purged\n")
        #expect(Purge.summary(purged: 0, idsNamed: 1) == "0 dead letters purged; 1 of the 1 ids named none (never stored, replayed or purged already)\n")
        #expect(Purge.summary(purged: 1, idsNamed: 3).hasPrefix("1 dead letter purged; 2 of the 3 ids named none"))
        // By filter or --all, no id was named: nothing to say.
        #expect(Purge.summary(purged: 0, idsNamed: 0) == "0 dead letters purged\n")
    }

    @Test("dlq list, replay and purge take a known --reason only; another is a usage error (exit 64) that lists the known ones")
    func deadLetterReasonIsChecked() throws {
        for command in ["list", "replay", "purge"] {
            let error = #expect(throws: (any Error).self) { try TelemetryCommand.parseAsRoot(["admin", "dlq", command, "--reason", "bogus"]) }
            if let error {
                #expect(TelemetryCommand.exitCode(for: error) == .validationFailure)
                #expect(
                    TelemetryCommand.message(for: error)
                        == "--reason bogus is not a dead-letter reason; known: unknown_provider, no_active_mapping, "
                        + "missing_vehicle_or_timestamp, function_error_fatal")
            }
            for reason in DeadLetterReason.all {
                #expect(throws: Never.self) { try TelemetryCommand.parseAsRoot(["admin", "dlq", command, "--reason", reason]) }
            }
        }
    }

    @Test("renderings")
    func rendering() {
        let r = RetentionResult(nowMs: 5, dryRun: true, canonicalPartitions: 2, canonicalRecords: 40, rawRecords: 7, deadLetters: 1)
        #expect(AdminRendering.retention(r) == """
            dry run: nothing removed (now = 5)
            canonical: would remove 40 records from 2 time partitions
            raw: would remove 7 records
            dead letters: would remove 1

            """)
        let one = RetentionResult(nowMs: 5, dryRun: false, canonicalPartitions: 1, canonicalRecords: 40, rawRecords: 0, deadLetters: 0)
        #expect(AdminRendering.retention(one).contains("removed 40 records from 1 time partition\n"))
        #expect(AdminRendering.bytes(512) == "512 B")
        #expect(AdminRendering.bytes(3 << 20) == "3.0 MiB")
        let c = CompactionResult(bytesBefore: 2048, bytesAfter: 1024, seconds: 0.5, phases: ["compacting raw", "done"])
        #expect(AdminRendering.compaction(c) == "  compacting raw\n  done\ncompacted in 0.50 s: 2.0 KiB -> 1.0 KiB\n")
        #expect(AdminRendering.duration(3_600_000) == "1 h")
        #expect(AdminRendering.duration(600_000) == "10 min")
        #expect(AdminRendering.duration(90_000) == "90 s")
        #expect(AdminRendering.duration(172_800_000) == "2 d")
        #expect(AdminRendering.duration(1_500) == "1500 ms")
        #expect(AdminRendering.duration(0) == "0 ms")
    }
}
