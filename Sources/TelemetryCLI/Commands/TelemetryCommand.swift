public import ArgumentParser
import Foundation
import TelemetryCore

/// `telemetryctl`: ingest, query and administer a telemetryd server.
public struct TelemetryCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "telemetryctl",
        abstract: "Command-line tool of TelemetryStore: ingest, query and administer a telemetryd server.",
        discussion: """
            Exit codes: 0 success; 1 some records were rejected; 2 a backup fails verification; 3 query's table or CSV \
            left out fields first seen after its header; 64 usage error; 65 bad input file; \
            69 server unreachable (no connection, or it broke); 74 the output could not be written; \
            100 + the gRPC status code the server sent \
            (e.g. 103 INVALID_ARGUMENT, 107 PERMISSION_DENIED, 114 UNAVAILABLE: degraded, draining or at its \
            connection limit, 116 UNAUTHENTICATED).
            """,
        version: "telemetryctl \(ReleaseVersion.current)",
        subcommands: [
            Ingest.self, Query.self, Latest.self, Aggregate.self, Vehicles.self, Ping.self, Admin.self,
        ])

    public init() {}

    /// telemetryctl's entry point: ArgumentParser's `main`, except for a `ValidationError`
    /// thrown while a command runs. Times, durations and vehicle ids are checked when the
    /// command uses them, and ArgumentParser prints such an error above the root command's
    /// usage line (`Usage: telemetryctl <subcommand>`), which names no subcommand and reads
    /// as if the command itself were wrong. The message is printed alone, with the usage
    /// exit code (64).
    public static func mainPrintingRunErrorsAlone(_ arguments: [String]? = nil) async -> Never {
        var command: any ParsableCommand
        do {
            command = try parseAsRoot(arguments)
        } catch {
            exit(withError: error)
        }
        do {
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            if let message = runErrorMessage(error) {
                FileHandle.standardError.write(Data((message + "\n").utf8))
                Foundation.exit(ExitCode.validationFailure.rawValue)
            }
            exit(withError: error)
        }
        exit()
    }

    /// What `mainPrintingRunErrorsAlone` prints for an error thrown by `run()`; nil leaves the
    /// error to ArgumentParser (exit codes, `CleanExit`, other errors).
    static func runErrorMessage(_ error: any Error) -> String? {
        guard let validation = error as? ValidationError else { return nil }
        return "Error: \(validation.message)"
    }
}

/// How to reach the server; shared by every command.
public struct ConnectionOptions: ParsableArguments {
    @Option(name: .long, help: "Server address.")
    public var host = "127.0.0.1"

    @Option(name: .long, parsing: .unconditional, help: "Server port.")
    public var port = 7400

    @Option(
        name: .long,
        help: ArgumentHelp("Access token; defaults to the TELEMETRY_TOKEN environment variable.", valueName: "token"))
    public var token: String?

    @Option(name: .long, parsing: .unconditional, help: "Seconds to wait for an answer.")
    public var timeout: Int = 60

    @Option(name: .long, parsing: .unconditional, help: "Attempts when the server is unavailable (1 = no retry).")
    public var attempts: Int = 3

    public init() {}

    public func validate() throws {
        guard (1...65535).contains(port) else { throw ValidationError("--port must be between 1 and 65535") }
        guard timeout > 0 else { throw ValidationError("--timeout must be positive") }
        guard attempts > 0 else { throw ValidationError("--attempts must be at least 1") }
    }
}

/// One vehicle and a time range; shared by `query` and `aggregate`.
public struct VehicleRangeOptions: ParsableArguments {
    @Argument(help: "Vehicle id.")
    public var vehicle: String

    @Option(name: .long, parsing: .unconditional, help: "Start (inclusive): ms since 1970, RFC 3339, now or now-1h. Default: the beginning.")
    public var from: String?

    @Option(name: .long, parsing: .unconditional, help: "End (exclusive), same forms. Default: no end.")
    public var to: String?

    public init() {}

    /// The vehicle id and [from, to) in milliseconds.
    func resolved() throws -> (VehicleID, Int64, Int64) {
        let from = try from.map { try TimeArgument.parse($0) } ?? .min
        let to = try to.map { try TimeArgument.parse($0) } ?? .max
        guard from < to else {
            // Without --to the end is the last time a store can hold, which --from can reach.
            let end = self.to == nil ? "the end of time (\(to) ms, when --to is not given)" : "--to (\(to) ms)"
            throw ValidationError("--from (\(from) ms) must be before \(end)")
        }
        return (try vehicleID(vehicle), from, to)
    }
}
