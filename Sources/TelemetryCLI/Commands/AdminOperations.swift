import ArgumentParser
import Foundation
import TelemetryClient
import TelemetryCore

/// How `admin stats` prints.
enum StatsFormat: String, ExpressibleByArgument, CaseIterable {
    case table, json
}

extension TelemetryCommand.Admin {
    /// `telemetryctl admin stats`.
    struct Stats: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Store health, size per level and keyspace, top vehicles, ingest rates, dead letters.")

        @OptionGroup var connection: ConnectionOptions

        @Option(name: .long, parsing: .unconditional, help: "How many vehicles to list by record count (default 10, at most 1000).")
        var top: Int = 10

        @Flag(name: .long, help: "Also count the keys of raw, sealed, partition-index and metadata (reads every one of them).")
        var countEntries = false

        @Option(name: .long, help: "table or json.")
        var format: StatsFormat = .table

        @Flag(name: .long, help: "Same as --format json.")
        var json = false

        func validate() throws {
            guard (1...1000).contains(top) else { throw ValidationError("--top must be between 1 and 1000") }
        }

        func run() async throws {
            let s = try await connection.withClient { client in try await client.stats(topVehicles: top, countEntries: countEntries) }
            write(json || format == .json ? AdminRendering.statsJSON(s) : AdminRendering.statsTable(s))
        }
    }

    /// `telemetryctl admin compact`.
    struct Compact: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Compact the store, one keyspace, or one vehicle over a time range; reads and writes go on meanwhile.")

        @OptionGroup var connection: ConnectionOptions

        @Option(name: .long, help: "Keyspace: metadata, canonical, latest, raw, dead-letter, partition-index, sealed, derived (default: all).")
        var keyspace: String?

        @Option(name: .long, help: "One vehicle: compact just its keys (with --from and --to).")
        var vehicle: String?

        @Option(name: .long, parsing: .unconditional, help: "With --vehicle: start (ms, RFC 3339, now-1d). Default: the beginning.")
        var from: String?

        @Option(name: .long, parsing: .unconditional, help: "With --vehicle: end, exclusive. Default: no end.")
        var to: String?

        @Flag(name: .long, help: "Also seal the partitions still open (after loading history that is complete).")
        var sealAll = false

        func validate() throws {
            if vehicle != nil && keyspace != nil { throw ValidationError("--vehicle and --keyspace exclude each other") }
            if vehicle == nil && (from != nil || to != nil) { throw ValidationError("--from and --to need --vehicle") }
            if vehicle != nil && sealAll { throw ValidationError("--seal-all applies to the whole store, not to --vehicle") }
        }

        func run() async throws {
            let r: CompactionResult
            // The meter's callback also restarts the client's timeout at each phase, so a long
            // compaction is bounded by its silences, not its length.
            let meter = ProgressMeter()
            if let vehicle {
                let id = try vehicleID(vehicle)
                let start = try from.map { try TimeArgument.parse($0) } ?? Int64.min
                let end = try to.map { try TimeArgument.parse($0) } ?? Int64.max
                r = try await connection.withClient { client in
                    try await client.compact(vehicle: id, from: start, to: end, onProgress: meter.callback)
                }
            } else {
                r = try await connection.withClient { client in
                    try await client.compact(keyspace: keyspace, sealAll: sealAll, onProgress: meter.callback)
                }
            }
            meter.finish()
            write(AdminRendering.compaction(r))
        }
    }

    /// `telemetryctl admin retention`.
    struct Retention: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove expired data now: canonical and raw records by whole time partitions, dead letters by received time.",
            discussion: """
                Each age is a duration with its unit (400d, 12h, 90m, 30s, 500ms) or keep (keep the keyspace whole; off \
                is the same); a keyspace not named \
                uses the server's configured retention. A partition goes when its end is older than now - age.
                """)

        @OptionGroup var connection: ConnectionOptions

        @Option(name: .long, help: "Canonical records older than this (e.g. 400d), or keep.")
        var canonical: String?

        @Option(name: .long, help: "Raw records older than this (e.g. 30d), or keep.")
        var raw: String?

        @Option(name: .customLong("dead-letters"), help: "Dead letters received longer ago than this (e.g. 90d), or keep.")
        var deadLetters: String?

        @Flag(name: .long, help: "Report what would be removed; remove nothing.")
        var dryRun = false

        /// An age with its unit. A bare number is refused: read as milliseconds, `--raw 7`
        /// meant as 7 days would remove nearly everything.
        static func age(_ text: String?) throws -> RetentionAge {
            guard let text else { return .configured }
            if text == "keep" || text == "off" { return .keepAll }
            if Int64(text) != nil {
                throw ValidationError("retention age \"\(text)\" has no unit: give e.g. \(text)d, \(text)h or \(text)ms, or keep")
            }
            return .milliseconds(try DurationArgument.parse(text))
        }

        func run() async throws {
            let (c, r, d) = (try Self.age(canonical), try Self.age(raw), try Self.age(deadLetters))
            let result = try await connection.withClient { client in
                try await client.retention(canonical: c, raw: r, deadLetters: d, dryRun: dryRun)
            }
            write(AdminRendering.retention(result))
        }
    }

    /// `telemetryctl admin reopen`.
    struct Reopen: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Reopen a degraded store (after a write error or a full disk) once the cause is fixed.")

        @OptionGroup var connection: ConnectionOptions

        func run() async throws {
            let health = try await connection.withClient { client in try await client.reopen() }
            write("health: \(health)\n")
        }
    }
}

/// Pure renderings of the admin answers.
enum AdminRendering {
    static func statsTable(_ s: StoreStats) -> String {
        var out = ""
        out += "health          \(s.health)\n"
        out += "vehicles        \(s.vehicles)\n"
        out += "records         \(s.records)\n"
        out += "disk            \(bytes(s.diskBytes)), of which \(bytes(s.writeAheadLogBytes)) write-ahead log (not yet in any keyspace)\n"
        out += "memory          \(bytes(s.memoryBytes))\n"
        out += "pending compact \(bytes(s.pendingCompactionBytes)) (estimate)\n"
        if s.storageFormat == 0 {
            out += "storage         not reported (a server older than this telemetryctl)\n"
        } else {
            out += "storage         format \(s.storageFormat), partitions of \(duration(s.partitionWidthMs)), key slots of \(duration(s.keySlotWidthMs))\n"
        }
        out += "ingested        \(s.recordsIngested) since start, \(rate(s.ingestRecordsPerSecond))/s over the last minute\n"
        out += "rejected        \(s.recordsRejected) since start, \(rate(s.rejectRecordsPerSecond))/s over the last minute\n"
        out += "late            \(s.recordsLate) since start\n"
        out += "dead letters    \(s.deadLetters)\n"

        var levels = TextTable(columns: ["level", "files", "bytes"])
        for l in s.levels { levels.rows.append([String(l.level), String(l.files), bytes(l.bytes)]) }
        out += "\n" + levels.tableText()

        var keyspaces = TextTable(columns: ["keyspace", "entries", "approx bytes"])
        for k in s.keyspaces { keyspaces.rows.append([k.name, k.entries.map(String.init) ?? "-", bytes(k.approximateBytes)]) }
        out += "\n" + keyspaces.tableText()

        if !s.topVehicles.isEmpty {
            var top = TextTable(columns: ["vehicle", "records", "first", "last"])
            for v in s.topVehicles {
                top.rows.append([v.vehicle.rawValue, String(v.recordCount), String(v.firstTimestamp), String(v.lastTimestamp)])
            }
            out += "\n" + top.tableText()
        }
        for (title, list) in [("dead-letter reason", s.deadLettersByReason), ("mapping", s.activeMappings)] where !list.isEmpty {
            var t = TextTable(columns: [title, "count"])
            for c in list { t.rows.append([c.name, String(c.count)]) }
            out += "\n" + t.tableText()
        }
        if !s.leveldbStats.isEmpty { out += "\n" + s.leveldbStats + (s.leveldbStats.hasSuffix("\n") ? "" : "\n") }
        return out
    }

    static func statsJSON(_ s: StoreStats) -> String {
        func counts(_ list: [NamedCount]) -> String {
            "[" + list.map { "{\"name\":\(JSONText.string($0.name)),\"count\":\($0.count)}" }.joined(separator: ",") + "]"
        }
        var fields: [String] = [
            "\"health\":\(JSONText.string(s.health))", "\"vehicles\":\(s.vehicles)", "\"records\":\(s.records)",
            "\"disk_bytes\":\(s.diskBytes)", "\"write_ahead_log_bytes\":\(s.writeAheadLogBytes)", "\"memory_bytes\":\(s.memoryBytes)", "\"pending_compaction_bytes\":\(s.pendingCompactionBytes)",
            "\"storage_format\":\(s.storageFormat)", "\"partition_width_ms\":\(s.partitionWidthMs)", "\"key_slot_width_ms\":\(s.keySlotWidthMs)",
            "\"records_ingested\":\(s.recordsIngested)", "\"records_rejected\":\(s.recordsRejected)", "\"records_late\":\(s.recordsLate)",
            "\"ingest_records_per_second\":\(JSONText.number(s.ingestRecordsPerSecond))",
            "\"reject_records_per_second\":\(JSONText.number(s.rejectRecordsPerSecond))", "\"dead_letters\":\(s.deadLetters)",
        ]
        fields.append(
            "\"levels\":[" + s.levels.map { "{\"level\":\($0.level),\"files\":\($0.files),\"bytes\":\($0.bytes)}" }.joined(separator: ",") + "]")
        fields.append(
            "\"keyspaces\":["
                + s.keyspaces.map {
                    "{\"name\":\(JSONText.string($0.name)),\"entries\":\($0.entries.map(String.init) ?? "null"),\"approximate_bytes\":\($0.approximateBytes)}"
                }.joined(separator: ",") + "]")
        fields.append(
            "\"top_vehicles\":["
                + s.topVehicles.map {
                    "{\"vehicle\":\(JSONText.string($0.vehicle.rawValue)),\"records\":\($0.recordCount),\"first_ms\":\($0.firstTimestamp),\"last_ms\":\($0.lastTimestamp)}"
                }.joined(separator: ",") + "]")
        fields.append("\"dead_letters_by_reason\":" + counts(s.deadLettersByReason))
        fields.append("\"active_mappings\":" + counts(s.activeMappings))
        fields.append("\"leveldb_stats\":\(JSONText.string(s.leveldbStats))")
        return "{" + fields.joined(separator: ",") + "}\n"
    }

    static func compaction(_ r: CompactionResult) -> String {
        var out = ""
        for phase in r.phases { out += "  \(phase)\n" }
        out += "compacted in \(String(format: "%.2f", r.seconds)) s: \(bytes(r.bytesBefore)) -> \(bytes(r.bytesAfter))\n"
        return out
    }

    static func retention(_ r: RetentionResult) -> String {
        let verb = r.dryRun ? "would remove" : "removed"
        return """
            \(r.dryRun ? "dry run: nothing removed" : "retention applied") (now = \(r.nowMs))
            canonical: \(verb) \(r.canonicalRecords) records from \(r.canonicalPartitions) time partition\(r.canonicalPartitions == 1 ? "" : "s")
            raw: \(verb) \(r.rawRecords) records
            dead letters: \(verb) \(r.deadLetters)

            """
    }

    /// Bytes with a binary unit, and the exact count for small values.
    static func bytes(_ n: UInt64) -> String {
        let units = ["KiB", "MiB", "GiB", "TiB"]
        guard n >= 1024 else { return "\(n) B" }
        var value = Double(n) / 1024
        var unit = 0
        while value >= 1024, unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return String(format: "%.1f", value) + " " + units[unit]
    }

    static func rate(_ perSecond: Double) -> String {
        String(format: "%.1f", perSecond)
    }

    /// A width in ms in the largest unit that divides it: `1 h`, `10 min`, `90 s`, `250 ms`.
    static func duration(_ ms: Int64) -> String {
        for (unit, size) in [("d", Int64(86_400_000)), ("h", 3_600_000), ("min", 60_000), ("s", 1000)] where ms >= size && ms % size == 0 {
            return "\(ms / size) \(unit)"
        }
        return "\(ms) ms"
    }
}
