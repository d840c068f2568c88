import ArgumentParser
import Foundation
import TelemetryClient
import TelemetryCore

extension TelemetryCommand {
    /// `telemetryctl latest V...`: the newest value of every field of each vehicle.
    struct Latest: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the latest state of one or more vehicles.",
            discussion: """
                The states of the vehicles the store knows are printed; the ids it has no records for are \
                named on standard error, and the command then exits with 105 (NOT_FOUND), so that a script \
                notices a misspelt id. A table shows the canonical datetime fields (milliseconds, such as \
                ignition_last_changed_at) as RFC 3339 times; CSV and JSON lines keep the milliseconds.
                """)

        @OptionGroup var connection: ConnectionOptions

        @Argument(help: "Vehicle ids.")
        var vehicles: [String]

        @Option(name: .long, help: "Comma-separated fields (default: all).")
        var fields: String?

        @Option(name: .long, help: "table, csv or jsonl.")
        var format: OutputFormat = .table

        /// The ids in the order given, each once: an id given twice is asked (and printed, or
        /// named as unknown) once.
        static func unique(_ ids: [String]) -> [String] {
            var seen = Set<String>()
            return ids.filter { seen.insert($0).inserted }
        }

        func run() async throws {
            let ids = try Self.unique(vehicles).map(vehicleID)
            let fieldList = try splitList(fields)
            let result = try await connection.withClient { client in try await client.latest(ids, fields: fieldList) }
            write(render(latest: result.states, format: format))
            if !result.unknownVehicles.isEmpty {
                printError("no records for: \(result.unknownVehicles.joined(separator: ", "))")
                throw ExitCode(ExitCodes.server(.notFound))
            }
        }
    }

    /// `telemetryctl aggregate VEHICLE`: downsampling.
    struct Aggregate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Per time bucket: count, min, max, avg, sum, first and last of numeric fields.",
            discussion: """
                Buckets are aligned to multiples of the width since 1970, and only buckets that hold records \
                are printed. Integers, doubles and booleans (as 0 and 1) count; other values are skipped. \
                A field whose every value in the bucket is an integer, and whose sum fits a 64-bit integer, \
                prints min, max, sum, first and last as exact integers (avg from the exact sum); otherwise \
                they are doubles, which round integers beyond 2^53. avg is always a double. A range with no \
                record prints the header only, exits 0, and says so on standard error.
                """)

        @OptionGroup var connection: ConnectionOptions

        @OptionGroup var range: VehicleRangeOptions

        @Option(name: .long, help: "Bucket width: 500ms, 30s, 1m, 1h, 1d.")
        var bucket: String = "1m"

        @Option(name: .long, help: "Comma-separated numeric fields.")
        var fields: String

        @Option(name: .long, help: "table, csv or jsonl.")
        var format: OutputFormat = .table

        func run() async throws {
            let (v, fromMs, toMs) = try range.resolved()
            let width = try DurationArgument.parse(bucket)
            guard let fieldList = try splitList(fields) else { throw ValidationError("--fields names no field") }
            let buckets = try await connection.withClient { client in
                try await client.aggregate(vehicle: v, from: fromMs, to: toMs, bucketMs: width, fields: fieldList)
            }
            write(render(buckets: buckets, vehicle: v, format: format))
            if buckets.isEmpty { printError(emptyRangeNote(vehicle: v, from: fromMs, to: toMs)) }
        }
    }

    /// `telemetryctl vehicles`.
    struct Vehicles: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the vehicles with their first and last times and record counts.")

        @OptionGroup var connection: ConnectionOptions

        @Option(name: .long, help: "table, csv or jsonl.")
        var format: OutputFormat = .table

        func run() async throws {
            let vehicles = try await connection.withClient { client in try await client.vehicles() }
            write(render(vehicles: vehicles, format: format))
        }
    }

    /// `telemetryctl ping`.
    struct Ping: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Check that the server answers; print the round-trip time.")

        @OptionGroup var connection: ConnectionOptions

        func run() async throws {
            let (serverTime, seconds, session) = try await connection.withClient { client in
                let start = Date()
                let t = try await client.ping()
                return (t, Date().timeIntervalSince(start), client.session)
            }
            write(
                "pong from \(session?.serverVersion ?? "server") as \(session?.role ?? "?"): \(String(format: "%.3f", seconds * 1000)) ms, server clock \(serverTime)\n")
        }
    }

    /// `telemetryctl admin ...` (admin role).
    struct Admin: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Administration (admin role): stats, compaction, retention, reopen, backup and restore, mappings, assets, dead letters, remap.",
            subcommands: [
                Stats.self, Compact.self, Retention.self, Reopen.self, Backup.self, Restore.self, Mappings.self, Assets.self, DLQ.self,
                Remap.self,
            ])
    }
}
