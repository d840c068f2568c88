import ArgumentParser
import TelemetryClient
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
        #expect(try TimeArgument.parse("now-0s", now: 77) == 77)
        #expect(try TimeArgument.parse("now+0", now: 77) == 77)
        // Beyond Int64 milliseconds: a usage error, not an arithmetic trap.
        #expect(throws: ValidationError.self) { try TimeArgument.parse("now+106751991167d", now: 1_700_000_000_000) }
        #expect(throws: ValidationError.self) { try TimeArgument.parse("now-106751991168d", now: -1_700_000_000_000) }
        let tooLong = #expect(throws: ValidationError.self) { try TimeArgument.parse("now-200000000000d", now: 0) }
        #expect(tooLong?.message.contains("longer than any span a store can hold") == true)
        // Digits beyond the millisecond round up, so that as a bound of [from, to) the time
        // keeps the record at .000 before it and the one at .001 after it.
        #expect(try TimeArgument.parse("2024-01-01T00:00:00.0001Z") == 1_704_067_200_001)
        #expect(try TimeArgument.parse("2024-01-01T00:00:00.000000Z") == 1_704_067_200_000)
        #expect(try TimeArgument.parse("2024-01-01T00:00:00.250900Z") == 1_704_067_200_251)
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
        #expect(try splitList(query.fields) == ["a", "b"])
        #expect(try splitList(nil) == nil)
        // Given but naming nothing: a usage error, not "every field" for one spelling and "no
        // field" for the other.
        #expect(TelemetryCommand.Latest.unique(["b", "a", "b", "c", "a"]) == ["b", "a", "c"])
        for empty in ["", " , ", ","] { #expect(throws: ValidationError.self, "\(empty)") { try splitList(empty) } }
        #expect(throws: (any Error).self) { try TelemetryCommand.parseAsRoot(["query", "v", "--limit", "0"]) }
        #expect(throws: (any Error).self) { try TelemetryCommand.parseAsRoot(["query", "v", "--format", "xml"]) }
        #expect(throws: (any Error).self) { try TelemetryCommand.parseAsRoot(["ingest", "f.csv", "--format", "xml"]) }
        #expect(throws: (any Error).self) { try TelemetryCommand.parseAsRoot(["ping", "--port", "70000"]) }
    }

    @Test("a negative number or time reaches the option's own check instead of reading as another option")
    func negativeValues() throws {
        let cases: [([String], String)] = [
            (["query", "v", "--limit", "-1"], "--limit must be positive"),
            (["admin", "dlq", "list", "--limit", "-1"], "--limit must be positive"),
            (["admin", "dlq", "list", "--limit", "0"], "--limit must be positive"),
            (["admin", "remap", "--vehicle", "v", "--from", "0", "--to", "1", "--show", "-1"], "--show must be 0 or more"),
            (["ingest", "f.csv", "--batch", "-5"], "--batch must be positive"),
            (["ingest", "f.csv", "--window", "-5"], "--window must be positive"),
            (["ping", "--timeout", "-1"], "--timeout must be positive"),
            (["ping", "--port", "-1"], "--port must be between 1 and 65535"),
            (["admin", "stats", "--top", "-3"], "--top must be between 1 and 1000"),
        ]
        for (arguments, message) in cases {
            do {
                _ = try TelemetryCommand.parseAsRoot(arguments)
                Issue.record("\(arguments) parsed")
            } catch {
                #expect(TelemetryCommand.message(for: error) == message, "\(arguments)")
            }
        }
        // Times before 1970 are times, not options.
        let query = try #require(try TelemetryCommand.parseAsRoot(["query", "v", "--from", "-5000", "--to", "-1"]) as? TelemetryCommand.Query)
        #expect(query.range.from == "-5000" && query.range.to == "-1")
        let remap = try #require(
            try TelemetryCommand.parseAsRoot(["admin", "remap", "--vehicle", "v", "--from", "-10", "--to", "0"]) as? TelemetryCommand.Admin.Remap)
        #expect(remap.from == "-10")
    }

    @Test("a bad time found when the command runs is printed alone, without the root command's usage line")
    func runErrors() async throws {
        let command = try #require(try TelemetryCommand.parseAsRoot(["query", "v", "--from", "yesterday", "--port", "1"]) as? TelemetryCommand.Query)
        do {
            try await command.run()
            Issue.record("a query with a bad time ran")
        } catch {
            let message = try #require(TelemetryCommand.runErrorMessage(error))
            #expect(message.hasPrefix("Error: \"yesterday\" is not a time"))
            #expect(!message.contains("Usage"))
        }
        #expect(TelemetryCommand.runErrorMessage(ExitCode(65)) == nil, "exit codes stay ArgumentParser's")
    }

    @Test("--version names the release")
    func version() {
        do {
            _ = try TelemetryCommand.parseAsRoot(["--version"])
            Issue.record("--version parsed as a command")
        } catch {
            #expect(TelemetryCommand.message(for: error) == "telemetryctl \(ReleaseVersion.current)")
            #expect(TelemetryCommand.exitCode(for: error) == .success)
        }
    }

    @Test("usage errors exit 64; the exit code table is as documented")
    func exitCodes() {
        #expect(TelemetryCommand.exitCode(for: ValidationError("x")) == ExitCode(64))
        #expect(ExitCodes.server(.invalidArgument) == 103)
        #expect(ExitCodes.server(.unauthenticated) == 116)
        #expect(ExitCodes.unreachable == 69 && ExitCodes.badInput == 65 && ExitCodes.rejectedRecords == 1)
    }
}

@Suite("ingest's failure advice")
struct IngestFailureAdviceTests {
    typealias Outcome = TelemetryCommand.Ingest.SendOutcome

    @Test("refused at the hello or by role: no 'sent N records' summary, nothing stored")
    func refusedBeforeAnyBatch() {
        var outcome = Outcome()
        outcome.sent = 15
        outcome.unacknowledged = 2
        for code in [StatusCode.unauthenticated, .permissionDenied] {
            let advice = TelemetryCommand.Ingest.failureAdvice(outcome, failure: StatusError(code, "no"))
            #expect(!advice.summary)
            #expect(advice.message.contains("nothing was stored"))
        }
        // After an acknowledged batch the summary is due: some records are stored.
        outcome.acknowledged = 1
        let later = TelemetryCommand.Ingest.failureAdvice(outcome, failure: StatusError(.permissionDenied, "no"))
        #expect(later.summary)
        #expect(later.message.contains("the records of the 1 batch acknowledged are stored"))
    }

    @Test("a connection lost after batches went out: their fate is open, whatever the error says")
    func lostAfterSending() {
        var outcome = Outcome()
        outcome.sent = 8
        outcome.unacknowledged = 1
        // The client's retry ends in "cannot reach": the first attempt may have been stored.
        let advice = TelemetryCommand.Ingest.failureAdvice(
            outcome, failure: StatusError(.unavailable, TelemetryClient.unreachablePrefix + "127.0.0.1:7799: Connection refused"))
        #expect(advice.summary && advice.message.contains("may or may not be."))
    }

    @Test("a failed batch's records: not stored after a refusal, maybe stored after a lost connection or several failures")
    func openOrNot() {
        var outcome = Outcome()
        outcome.acknowledged = 3
        outcome.unacknowledged = 1
        #expect(TelemetryCommand.Ingest.failureAdvice(outcome, failure: StatusError(.invalidArgument, "bad")).message.contains("were not."))
        #expect(
            TelemetryCommand.Ingest.failureAdvice(outcome, failure: StatusError(.invalidArgument, "bad")).message.hasPrefix(
                "stopped: a batch failed; the records of the 3 batches acknowledged are stored, those of the 1 batch that failed were not."))
        #expect(TelemetryCommand.Ingest.failureAdvice(outcome, failure: StatusError(.unavailable, "gone")).message.contains("may or may not be."))
        outcome.unacknowledged = 2
        #expect(TelemetryCommand.Ingest.failureAdvice(outcome, failure: StatusError(.invalidArgument, "bad")).message.contains("may or may not be."))
    }
}

@Test("an empty query or aggregate says so on standard error, with the range it looked in")
func emptyRangeNoteNamesTheRange() throws {
    let v = try VehicleID("truck-71")
    let hint = " (telemetryctl vehicles lists the vehicles stored, with their first and last times)"
    #expect(emptyRangeNote(vehicle: v, from: .min, to: .max) == "no records of truck-71" + hint)
    #expect(emptyRangeNote(vehicle: v, from: 0, to: 86_400_000) == "no records of truck-71 in [1970-01-01T00:00:00.000Z, 1970-01-02T00:00:00.000Z)" + hint)
    #expect(emptyRangeNote(vehicle: v, from: .min, to: 0) == "no records of truck-71 before 1970-01-01T00:00:00.000Z" + hint)
    #expect(emptyRangeNote(vehicle: v, from: 0, to: .max) == "no records of truck-71 from 1970-01-01T00:00:00.000Z on" + hint)
    #expect(emptyRangeNote(vehicle: v, from: 0, to: .max, afterCursor: true) == "no more records of truck-71 after this cursor")
}

@Suite("ingest's rejected and dead-lettered records")
struct IngestRecordReportTests {
    @Test("the summary counts in the singular when there is one")
    func summaryGrammar() {
        #expect(
            TelemetryCommand.Ingest.summary(sent: 1, seconds: 0.5, rate: 2, result: IngestResult(duplicates: 1))
                == "sent 1 record in 0.50 s (2 records/s): 0 stored, 1 duplicate, 0 rejected, 0 dead-lettered; durability buffered\n")
        #expect(
            TelemetryCommand.Ingest.summary(sent: 4, seconds: 0.01, rate: 400, result: IngestResult(accepted: 4, durability: .sync))
                == "sent 4 records in 0.01 s (400 records/s): 4 stored, 0 duplicates, 0 rejected, 0 dead-lettered; durability sync\n")
    }

    @Test("dead-lettered records are listed like rejected ones, numbered from the first record sent, 20 of each at most")
    func deadLetteredRecordsAreListed() {
        var outcome = TelemetryCommand.Ingest.SendOutcome()
        var first = IngestResult(accepted: 1, deadLettered: 1)
        first.deadLetters = [
            RejectedRecord(index: 1, code: .failedPrecondition, reason: "records[1]: dead-lettered: unknown_provider: no mapping is loaded for provider acme")
        ]
        outcome.add(first, offset: 0)
        // The second batch starts at record 5000: the server names its records from 0.
        var second = IngestResult(rejected: [RejectedRecord(index: 2, code: .invalidArgument, reason: "records[2]: vehicle_id is empty")])
        second.deadLettered = 1
        second.deadLetters = [
            RejectedRecord(index: 0, code: .invalidArgument, reason: "records[0]: dead-lettered: missing_vehicle_or_timestamp: record has no timestamp_ms")
        ]
        outcome.add(second, offset: 5000)
        #expect(outcome.result.deadLettered == 2)
        #expect(
            TelemetryCommand.Ingest.recordProblemLines(outcome.result) == [
                "rejected: records[5002]: vehicle_id is empty (INVALID_ARGUMENT)",
                "dead-lettered: records[1]: unknown_provider: no mapping is loaded for provider acme (FAILED_PRECONDITION)",
                "dead-lettered: records[5000]: missing_vehicle_or_timestamp: record has no timestamp_ms (INVALID_ARGUMENT)",
            ])

        var many = IngestResult()
        many.deadLetters = (0..<25).map { RejectedRecord(index: $0, code: .failedPrecondition, reason: "records[\($0)]: dead-lettered: unknown_provider: x") }
        let lines = TelemetryCommand.Ingest.recordProblemLines(many)
        #expect(lines.count == 21)
        #expect(lines.last == "... and 5 more dead-lettered records")

        // Batches answer in any order; the lines follow the file's order.
        var unordered = TelemetryCommand.Ingest.SendOutcome()
        unordered.add(IngestResult(rejected: [RejectedRecord(index: 1, code: .invalidArgument, reason: "records[1]: late")]), offset: 7)
        unordered.add(IngestResult(rejected: [RejectedRecord(index: 3, code: .invalidArgument, reason: "records[3]: early")]), offset: 0)
        #expect(
            TelemetryCommand.Ingest.recordProblemLines(unordered.result) == [
                "rejected: records[3]: early (INVALID_ARGUMENT)", "rejected: records[8]: late (INVALID_ARGUMENT)",
            ])
    }
}

@Suite("mapping problems as telemetryctl prints them")
struct MappingProblemTextTests {
    @Test("the same shape as the server's own reports: file, warning, mapping, then line and reason")
    func shape() {
        let problem = MappingFileProblem(file: "navixy.yaml", mapping: "speed", severity: "error", message: "line 19: source: unknown unit furlongs")
        #expect(problem.description == "navixy.yaml: mapping speed: line 19: source: unknown unit furlongs")
        let warning = MappingFileProblem(file: "w.yaml", mapping: "my_field", severity: "warning", message: "line 75: not in the field catalog (stored as my_field)")
        #expect(warning.description == "w.yaml: warning: mapping my_field: line 75: not in the field catalog (stored as my_field)")
        #expect(MappingFileProblem(file: "x.yaml", mapping: nil, severity: "error", message: "the file is empty").description == "x.yaml: the file is empty")
    }
}
