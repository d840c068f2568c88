import ArgumentParser
import Foundation
import Glibc
import TelemetryClient
import TelemetryCore

/// `telemetryctl admin mappings|assets|dlq|remap`.
extension TelemetryCommand.Admin {
    struct Mappings: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Mapping files: list, show, validate, load, dry-run.",
            subcommands: [List.self, Show.self, Validate.self, Load.self, Activate.self, DryRun.self])

        struct List: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Every loaded mapping version; * marks the active one.")
            @OptionGroup var connection: ConnectionOptions
            @Flag(name: .long, help: "Print JSON lines instead of a table.") var json = false

            func run() async throws {
                let list = try await connection.withClient { try await $0.mappings() }
                if json {
                    for m in list { write(m.jsonLine + "\n") }
                    return
                }
                var rows = [["", "PROVIDER", "VERSION", "MAPPINGS", "ORIGIN", "FILE", "LOADED"]]
                for m in list {
                    rows.append([m.active ? "*" : "", m.provider, m.version, String(m.mappings), m.origin, m.file, isoTime(m.loadedAt)])
                }
                write(table(rows))
            }
        }

        struct Show: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Print a loaded mapping file (the active version by default).")
            @OptionGroup var connection: ConnectionOptions
            @Argument(help: "Provider, e.g. navixy.") var provider: String
            @Option(name: .long, help: "Version (default: the active one).") var version: String?

            func run() async throws {
                let (info, yaml) = try await connection.withClient { try await $0.mapping(provider: provider, version: version) }
                printError("\(info.provider) \(info.version)\(info.active ? " (active)" : ""), \(info.mappings) mappings, from \(info.file) (\(info.origin))")
                write(yaml.hasSuffix("\n") ? yaml : yaml + "\n")
            }
        }

        struct Validate: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Check mapping files against the server's catalog and functions; loads nothing.",
                discussion: "Exit status 0 when every file is valid (warnings allowed), \(ExitCodes.badInput) when any has an error.")
            @OptionGroup var connection: ConnectionOptions
            @Argument(help: "Mapping files (YAML).") var files: [String]

            func run() async throws {
                let contents = try readFiles(files)
                let problems = try await connection.withClient { try await $0.validateMappings(contents) }
                for p in problems { write("\(p)\n") }
                let errors = problems.filter { $0.severity != "warning" }
                if errors.isEmpty {
                    write("\(files.count) file\(files.count == 1 ? "" : "s") valid\n")
                } else {
                    printError("\(errors.count) error\(errors.count == 1 ? "" : "s")")
                    throw ExitCode(ExitCodes.badInput)
                }
            }
        }

        struct Load: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Validate and load mapping files (all or none); a newer version becomes active at once.",
                discussion: "The server keeps the files in its mapping folder, so a restart finds them.")
            @OptionGroup var connection: ConnectionOptions
            @Argument(help: "Mapping files (YAML).") var files: [String]

            func run() async throws {
                let contents = try readFiles(files)
                let result = try await connection.withClient { try await $0.loadMappings(contents) }
                for w in result.warnings { printError("\(w)") }
                for m in result.loaded {
                    write("\(m.provider) \(m.version): \(m.active ? "active" : "loaded, not active (the active version is newer, or was chosen with admin mappings activate)"), \(m.mappings) mappings\n")
                }
            }
        }

        struct Activate: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Make a loaded version the active one (roll back, or forward again).",
                discussion: """
                    Any version but the provider's default one (its newest loaded file, else its newest built-in) \
                    is a rollback: the server keeps it across restarts and reloads (a newer version loaded later \
                    carries it on, or ends it when it is the default one). Activating the default version ends it.
                    """)
            @OptionGroup var connection: ConnectionOptions
            @Argument(help: "Provider, e.g. navixy.") var provider: String
            @Argument(help: "A loaded version (see mappings list).") var version: String

            func run() async throws {
                let previous = try await connection.withClient { try await $0.activateMapping(provider: provider, version: version) }
                write("\(provider) \(version) active (was \(previous ?? "none"))\n")
            }
        }

        struct DryRun: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Map records from a file without storing them; prints each result as a JSON line.",
                discussion: "With --mapping, the given files are tried instead of the active versions.")
            @OptionGroup var connection: ConnectionOptions
            @Argument(help: "Records (CSV, JSON lines or line protocol), at most the server's batch limit.") var records: String
            @Option(name: .long, help: "A mapping file to try (repeatable).") var mapping: [String] = []
            @Option(name: .long, help: "Provider of the records (as for ingest).") var provider: String?
            @Option(name: .long, help: "Input format: csv, jsonl or lp (default: from the extension).") var format: String?

            func run() async throws {
                var options = InputOptions()
                options.provider = provider
                let batch: [ProviderRecord]
                do {
                    let reader = try RecordFileReader(path: records, format: format.flatMap(InputFormat.init(rawValue:)), options: options)
                    batch = try reader.nextBatch(maxRecords: 10_000) ?? []
                    for note in reader.notes { printError(note) }
                } catch {
                    printError("\(error)")
                    throw ExitCode(ExitCodes.badInput)
                }
                guard !batch.isEmpty else {
                    printError("\(records): no records")
                    throw ExitCode(ExitCodes.badInput)
                }
                let files = try readFiles(mapping)
                let outcomes = try await connection.withClient { try await $0.dryRunMapping(batch, files: files) }
                var failed = 0
                for o in outcomes {
                    var object = JSONObjectBuilder()
                    object.add("index", json: String(o.index))
                    object.add("vehicle", string: batch[o.index].vehicle.rawValue)
                    object.add("timestamp", json: String(batch[o.index].timestamp))
                    if let record = o.record {
                        object.add("mapping_version", string: record.provenance.mappingVersion)
                        var fields = JSONObjectBuilder()
                        for f in record.fields { fields.add(f.name, json: JSONText.value(f.value)) }
                        object.add("fields", json: fields.json)
                        if !o.fieldErrors.isEmpty { object.add("field_errors", json: "[" + o.fieldErrors.map(JSONText.string).joined(separator: ",") + "]") }
                    } else {
                        failed += 1
                        object.add("dead_letter_reason", string: o.reason ?? "")
                        object.add("message", string: o.message ?? "")
                    }
                    write(object.json + "\n")
                }
                printError("\(outcomes.count - failed) mapped, \(failed) would be dead-lettered")
            }
        }
    }

    struct Assets: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The asset registry.", subcommands: [Load.self])

        struct Load: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Replace the server's asset registry with a YAML or JSON file (docs/mapping.md, section 11).")
            @OptionGroup var connection: ConnectionOptions
            @Argument(help: "The asset registry file.") var file: String

            func run() async throws {
                let content = try readFiles([file])[0]
                let s = try await connection.withClient { try await $0.loadAssets(content.yaml, name: content.name) }
                write("asset registry replaced: \(s.assets) assets, \(s.drivers) drivers, \(s.geofences) geofences\n")
            }
        }
    }

    /// The filters shared by `dlq list`, `replay` and `purge`.
    struct DeadLetterFilterOptions: ParsableArguments {
        @Option(name: .long, help: "Only this provider's dead letters.") var provider: String?
        @Option(name: .long, help: "Only this reason: \(DeadLetterReason.all.joined(separator: ", ")).") var reason: String?
        @Option(name: .long, help: "Only this vehicle id.") var vehicle: String?
        @Option(name: .long, parsing: .unconditional, help: "Received at or after: ms, RFC 3339, now-1h.") var since: String?
        @Option(name: .long, parsing: .unconditional, help: "Received before, same forms.") var until: String?

        func validate() throws {
            // A misspelt reason would select nothing: an empty list, replay or purge, exit 0.
            if let reason, !DeadLetterReason.all.contains(reason) {
                throw ValidationError("--reason \(reason) is not a dead-letter reason; known: \(DeadLetterReason.all.joined(separator: ", "))")
            }
        }

        func selection() throws -> DeadLetterSelection {
            DeadLetterSelection(
                provider: provider, reason: reason, vehicleID: vehicle, receivedFrom: try since.map { try TimeArgument.parse($0) },
                receivedTo: try until.map { try TimeArgument.parse($0) })
        }

        var isEmpty: Bool { provider == nil && reason == nil && vehicle == nil && since == nil && until == nil }
    }

    struct DLQ: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "dlq", abstract: "Dead letters: records that could not be mapped, kept with why.",
            subcommands: [List.self, Show.self, Replay.self, Purge.self])

        struct List: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "List dead letters in received order.")
            @OptionGroup var connection: ConnectionOptions
            @OptionGroup var filter: DeadLetterFilterOptions
            @Option(name: .long, parsing: .unconditional, help: "Most entries to print.") var limit: Int = 100
            @Option(name: .long, help: "Continue after this id (the last of a previous page).") var after: String?
            @Flag(name: .long, help: "Print JSON lines (with the raw fields) instead of a table.") var json = false
            @Flag(
                name: .long,
                help: """
                    Print the raw records as JSON lines that ingest and mappings dry-run read back. A letter without a \
                    vehicle id or a timestamp (missing_vehicle_or_timestamp) is not a record: it is left out, and the \
                    number left out is said on standard error (--json prints them).
                    """)
            var asRecords = false

            func validate() throws {
                if limit <= 0 { throw ValidationError("--limit must be positive") }
            }

            func run() async throws {
                let selection = try filter.selection()
                let page = try await connection.withClient { try await $0.deadLetters(selection, after: after, limit: limit) }
                if asRecords {
                    let (lines, leftOut) = Self.recordLines(page.entries)
                    for line in lines { write(line + "\n") }
                    if leftOut > 0 {
                        printError(
                            "\(leftOut) dead letter\(leftOut == 1 ? "" : "s") left out: no vehicle id or no timestamp "
                                + "(missing_vehicle_or_timestamp), so not a record that ingest or mappings dry-run can read; --json prints "
                                + (leftOut == 1 ? "it" : "them"))
                    }
                } else if json {
                    for e in page.entries { write(e.jsonLine + "\n") }
                } else {
                    var rows = [["ID", "RECEIVED", "PROVIDER", "VEHICLE", "TIMESTAMP", "REASON", "MAPPING", "MESSAGE"]]
                    for e in page.entries {
                        rows.append([
                            e.id, isoTime(e.receivedAt), e.provider, e.vehicleID, e.timestamp.map(isoTime) ?? "-", e.reason,
                            e.mappingVersion.isEmpty ? "-" : e.mappingVersion, e.message,
                        ])
                    }
                    write(table(rows))
                }
                if let next = page.next { printError("more dead letters: continue with --after \(next)") }
            }

            /// The `--as-records` lines of a page, and how many letters could not be records. A
            /// record needs a vehicle id and a timestamp: a letter kept because it lacked one
            /// (timestamp 0 is the wire's "absent") would print `"timestamp":null` or
            /// `"vehicle":""`, and the reader would refuse the whole file at that line.
            static func recordLines(_ entries: [DeadLetterEntry]) -> (lines: [String], leftOut: Int) {
                var lines: [String] = []
                var leftOut = 0
                for e in entries {
                    guard e.timestamp != nil, (try? VehicleID(e.vehicleID)) != nil else {
                        leftOut += 1
                        continue
                    }
                    lines.append(e.recordLine)
                }
                return (lines, leftOut)
            }
        }

        struct Show: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Print one dead letter, raw fields included, as JSON.")
            @OptionGroup var connection: ConnectionOptions
            @Argument(help: "The dead letter's id.") var id: String

            func run() async throws {
                let e = try await connection.withClient { try await $0.deadLetter(id: id) }
                write(e.jsonLine + "\n")
            }
        }

        struct Replay: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Map dead letters again (after a mapping fix); those that now map are stored and removed.",
                discussion: "Name ids, or select with filters; with neither, every dead letter is tried.")
            @OptionGroup var connection: ConnectionOptions
            @OptionGroup var filter: DeadLetterFilterOptions
            @Argument(help: "Dead letter ids.") var ids: [String] = []

            /// The answer, saying when named ids held no dead letter (never stored, replayed or
            /// purged already): purging is idempotent, but a mistyped id should not pass unseen.
            static func summary(purged: UInt64, idsNamed: Int) -> String {
                var text = "\(purged) dead letter\(purged == 1 ? "" : "s") purged"
                let missing = idsNamed - Int(clamping: purged)
                if idsNamed > 0, missing > 0 { text += "; \(missing) of the \(idsNamed) ids named none (never stored, replayed or purged already)" }
                return text + "\n"
            }
            @Flag(name: .long, help: "Report what would happen; store and remove nothing.") var dryRun = false

            func run() async throws {
                let selection = try filter.selection()
                let progress = ProgressMeter()
                let r = try await connection.withClient { client in
                    try await client.replayDeadLetters(ids: ids, selection, dryRun: dryRun, onProgress: progress.callback)
                }
                progress.finish()
                let verb = dryRun ? "would be replayed" : "replayed"
                write("\(r.replayed) \(verb), \(r.duplicates) already stored, \(r.stillFailing) still failing\n")
                for (reason, n) in r.failingByReason.sorted(by: { $0.key < $1.key }) { write("  \(reason): \(n)\n") }
            }
        }

        struct Purge: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Delete dead letters for good: by id, by filter, or --all.")
            @OptionGroup var connection: ConnectionOptions
            @OptionGroup var filter: DeadLetterFilterOptions
            @Argument(help: "Dead letter ids.") var ids: [String] = []

            /// The answer, saying when named ids held no dead letter (never stored, replayed or
            /// purged already): purging is idempotent, but a mistyped id should not pass unseen.
            static func summary(purged: UInt64, idsNamed: Int) -> String {
                var text = "\(purged) dead letter\(purged == 1 ? "" : "s") purged"
                let missing = idsNamed - Int(clamping: purged)
                if idsNamed > 0, missing > 0 { text += "; \(missing) of the \(idsNamed) ids named none (never stored, replayed or purged already)" }
                return text + "\n"
            }
            @Flag(name: .long, help: "Delete every dead letter (required when no id and no filter is given).") var all = false

            func validate() throws {
                if ids.isEmpty && filter.isEmpty && !all {
                    throw ValidationError("name dead letter ids, a filter (--provider, --reason, --vehicle, --since, --until), or --all")
                }
            }

            func run() async throws {
                let selection = try filter.selection()
                let n = try await connection.withClient { try await $0.purgeDeadLetters(ids: ids, selection, all: all) }
                write(Self.summary(purged: n, idsNamed: Set(ids).count))
            }
        }
    }

    struct Remap: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Recompute a vehicle's canonical records in [--from, --to) from its raw records, and report what changed.",
            discussion: """
                Stateful fields (last_changed_at, transit, trip) start from the state that the raw records of the \
                --warmup window before --from give (default 24h); nothing in that window is compared or written.
                """)
        @OptionGroup var connection: ConnectionOptions
        @Option(name: .long, help: "Vehicle id.") var vehicle: String
        @Option(name: .long, parsing: .unconditional, help: "Start (inclusive): ms, RFC 3339, now-1d.") var from: String
        @Option(name: .long, parsing: .unconditional, help: "End (exclusive), same forms.") var to: String
        @Option(name: .long, help: "Mapping version to use, provider@version or version (default: the active one).") var mapping: String?
        @Flag(name: .long, help: "Report what would change; write nothing.") var dryRun = false
        @Option(name: .long, parsing: .unconditional, help: "How many changed and failing records to describe (0: none).") var show: Int = 20
        @Option(
            name: .long,
            help: "How far before --from to map raw records into the rules' state first: a duration (30m, 24h, 7d), 0 for none, or all (default: 24h).")
        var warmup: String?

        func validate() throws {
            if show < 0 { throw ValidationError("--show must be 0 or more") }
        }

        /// A failure as the server words it (`<ms>: <reason>: <message>`) with its time written
        /// as the changed records' are: RFC 3339, then the milliseconds.
        static func failureLine(_ failure: String) -> String {
            guard let colon = failure.firstIndex(of: ":"), let ms = Int64(failure[..<colon]) else { return failure }
            return "\(isoTime(ms)) (\(ms))\(failure[colon...])"
        }

        /// The warm-up in ms for the request: nil leaves the server's default.
        static func warmupMs(_ text: String?) throws -> Int64? {
            guard let text else { return nil }
            switch text {
            case "0": return 0
            case "all": return .max
            default: return try DurationArgument.parse(text)
            }
        }

        func run() async throws {
            let v = try vehicleID(vehicle)
            let start = try TimeArgument.parse(from)
            let end = try TimeArgument.parse(to)
            guard start < end else { throw ValidationError("--from must be before --to") }
            let warmupMs = try Self.warmupMs(warmup)
            let progress = ProgressMeter()
            let r = try await connection.withClient { client in
                // The protocol reads max_changes 0 as its default (20): ask for one, print none.
                try await client.remap(
                    vehicle: v, from: start, to: end, mappingVersion: mapping, dryRun: dryRun, maxChanges: Swift.max(show, 1),
                    warmupMs: warmupMs, onProgress: progress.callback)
            }
            progress.finish()
            write(Self.report(r, show: show, dryRun: dryRun))
        }

        /// The command's output: the counts, then at most `show` failing and `show` changed records.
        static func report(_ r: RemapResult, show: Int, dryRun: Bool) -> String {
            let verb = dryRun ? "would change" : "changed"
            var text = "warm-up: \(r.warmupRecords) raw records before the range mapped into the state\n"
            text += "\(r.rawRecords) raw records: \(r.changed) \(verb), \(r.unchanged) unchanged, \(r.failed) failing (left as stored)\n"
            if r.otherProvider > 0 {
                text += "\(r.otherProvider) of another provider than --mapping's (left as stored)\n"
            }
            for f in r.failures.prefix(show) { text += "  failing: \(Self.failureLine(f))\n" }
            for c in r.changes.prefix(show) {
                let versions = c.mappingVersionBefore == c.mappingVersionAfter ? c.mappingVersionAfter : "\(c.mappingVersionBefore.isEmpty ? "-" : c.mappingVersionBefore) -> \(c.mappingVersionAfter)"
                text += "\(isoTime(c.timestamp)) (\(c.timestamp)) \(versions)\n"
                for f in c.changes {
                    text += "  \(f.field): \(f.before.map(JSONText.value) ?? "absent") -> \(f.after.map(JSONText.value) ?? "absent")\n"
                }
            }
            return text
        }
    }
}

/// Reads files named on the command line, or exits with a clear message.
private func readFiles(_ paths: [String]) throws -> [(name: String, yaml: String)] {
    try paths.map { path in
        guard let data = FileManager.default.contents(atPath: path) else {
            printError("cannot read \(path)")
            throw ExitCode(ExitCodes.badInput)
        }
        return ((path as NSString).lastPathComponent, String(decoding: data, as: UTF8.self))
    }
}

/// Milliseconds since 1970 as RFC 3339 UTC with milliseconds.
func isoTime(_ ms: Int64) -> String {
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    return formatter.string(from: Date(timeIntervalSince1970: Double(ms) / 1000))
}

/// Left-aligned columns separated by two spaces.
func table(_ rows: [[String]]) -> String {
    guard let first = rows.first else { return "" }
    var widths = [Int](repeating: 0, count: first.count)
    for row in rows { for (i, cell) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], cell.count) } }
    return rows.map { row in
        row.enumerated().map { i, cell in i == row.count - 1 ? cell : cell.padding(toLength: widths[i], withPad: " ", startingAt: 0) }
            .joined(separator: "  ")
    }.joined(separator: "\n") + "\n"
}


extension MappingFileInfo {
    var jsonLine: String {
        var o = JSONObjectBuilder()
        o.add("provider", string: provider)
        o.add("version", string: version)
        o.add("active", json: active ? "true" : "false")
        o.add("mappings", json: String(mappings))
        o.add("origin", string: origin)
        o.add("file", string: file)
        o.add("loaded_at", json: String(loadedAt))
        return o.json
    }
}

extension DeadLetterEntry {
    /// The record as `ingest` reads JSON lines: vehicle, timestamp (ms), provider, then the
    /// fields as keys of their own.
    var recordLine: String {
        var o = JSONObjectBuilder()
        o.add("vehicle", string: vehicleID)
        o.add("timestamp", json: timestamp.map { String($0) } ?? "null")
        o.add("provider", string: provider)
        // Under `fields`: a raw field named vehicle, time, provider, provenance or sequence would
        // collide with the reserved keys at the top level (dropped, or the line refused).
        var fieldsObject = JSONObjectBuilder()
        for f in fields { fieldsObject.add(f.name, json: JSONText.value(f.value)) }
        o.add("fields", json: fieldsObject.json)
        return o.json
    }

    var jsonLine: String {
        var o = JSONObjectBuilder()
        o.add("id", string: id)
        o.add("received_at", json: String(receivedAt))
        o.add("provider", string: provider)
        o.add("vehicle", string: vehicleID)
        o.add("timestamp", json: timestamp.map { String($0) } ?? "null")
        o.add("reason", string: reason)
        o.add("message", string: message)
        o.add("mapping_version", string: mappingVersion)
        if let gatewaySequence { o.add("gateway_sequence", json: String(gatewaySequence)) }
        var fields = JSONObjectBuilder()
        for f in self.fields { fields.add(f.name, json: JSONText.value(f.value)) }
        o.add("fields", json: fields.json)
        return o.json
    }
}
