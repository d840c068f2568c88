import ArgumentParser
import TelemetryCore
import Testing
@testable import TelemetryCLI

@Suite("Command arguments")
struct CommandTests {
    @Test("times: milliseconds, RFC 3339, now and offsets")
    func times() throws {
        #expect(try TimeArgument.parse("-5") == -5)
        #expect(try TimeArgument.parse("2024-01-01T00:00:00Z") == 1_704_067_200_000)
        #expect(try TimeArgument.parse("2024-01-01T01:00:00.250+01:00") == 1_704_067_200_250)
        #expect(try TimeArgument.parse("now", now: 1000) == 1000)
        #expect(try TimeArgument.parse("now-1h", now: 10_000_000) == 10_000_000 - 3_600_000)
        #expect(try TimeArgument.parse("now+30s", now: 0) == 30_000)
        #expect(throws: ValidationError.self) { try TimeArgument.parse("yesterday") }
    }

    @Test("durations with units")
    func durations() throws {
        #expect(try DurationArgument.parse("500ms") == 500)
        #expect(try DurationArgument.parse("30s") == 30_000)
        #expect(try DurationArgument.parse("1m") == 60_000)
        #expect(try DurationArgument.parse("2h") == 7_200_000)
        #expect(try DurationArgument.parse("1d") == 86_400_000)
        #expect(try DurationArgument.parse("250") == 250)
        for bad in ["0s", "-1m", "1w", "m", ""] {
            #expect(throws: ValidationError.self, "\(bad)") { try DurationArgument.parse(bad) }
        }
    }

    @Test("query parses its options; a bad one is a usage error")
    func queryParsing() throws {
        let command = try TelemetryCommand.parseAsRoot([
            "query", "truck-1", "--from", "0", "--to", "1000", "--fields", "a, b", "--limit", "5", "--desc", "--format", "csv",
            "--port", "7500",
        ])
        let query = try #require(command as? TelemetryCommand.Query)
        #expect(query.range.vehicle == "truck-1" && query.limit == 5 && query.desc && query.format == .csv)
        #expect(query.connection.port == 7500 && query.connection.host == "127.0.0.1")
        #expect(splitList(query.fields) == ["a", "b"])
        #expect(throws: (any Error).self) { try TelemetryCommand.parseAsRoot(["query", "v", "--limit", "0"]) }
        #expect(throws: (any Error).self) { try TelemetryCommand.parseAsRoot(["query", "v", "--format", "xml"]) }
        #expect(throws: (any Error).self) { try TelemetryCommand.parseAsRoot(["ingest", "f.csv", "--format", "xml"]) }
        #expect(throws: (any Error).self) { try TelemetryCommand.parseAsRoot(["ping", "--port", "70000"]) }
    }

    @Test("usage errors exit 64; the exit code table is as documented")
    func exitCodes() {
        #expect(TelemetryCommand.exitCode(for: ValidationError("x")) == ExitCode(64))
        #expect(ExitCodes.server(.invalidArgument) == 103)
        #expect(ExitCodes.server(.unauthenticated) == 116)
        #expect(ExitCodes.unreachable == 69 && ExitCodes.badInput == 65 && ExitCodes.rejectedRecords == 1)
    }
}
