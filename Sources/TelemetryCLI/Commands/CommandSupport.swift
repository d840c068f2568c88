import ArgumentParser
import Foundation
import Glibc
import Logging
import TelemetryClient
import TelemetryCore

/// Exit codes, in one place (the root command's discussion lists them).
enum ExitCodes {
    static let rejectedRecords: Int32 = 1
    /// `admin backup verify`: the backup is damaged or incomplete.
    static let failsVerification: Int32 = 2
    /// `query` as a table or CSV: fields that first appeared after the header have no column.
    static let fieldsLeftOut: Int32 = 3
    static let badInput: Int32 = 65
    static let unreachable: Int32 = 69
    /// The output could not be written (a full disk, a closed pipe's other errors).
    static let cannotWriteOutput: Int32 = 74
    /// 100 + the status code.
    static func server(_ code: StatusCode) -> Int32 { 100 + Int32(code.rawValue) }
}

extension ConnectionOptions {
    func clientConfiguration(gatewayID: String? = nil, compress: Bool = false) -> ClientConfiguration {
        var c = ClientConfiguration(
            host: host, port: port, token: token ?? ProcessInfo.processInfo.environment["TELEMETRY_TOKEN"] ?? "",
            clientName: "telemetryctl")
        c.gatewayID = gatewayID
        c.compress = compress
        c.requestTimeout = .seconds(timeout)
        c.connectTimeout = .seconds(min(timeout, 10))
        c.retry = RetryPolicy(maxAttempts: attempts, initialBackoff: .milliseconds(500), maxBackoff: .seconds(5))
        return c
    }

    /// Runs `body` with a connected client; a failure is printed and becomes an exit code.
    func withClient<T: Sendable>(
        gatewayID: String? = nil, compress: Bool = false, _ body: (TelemetryClient) async throws -> T
    ) async throws -> T {
        var logger = Logger(label: "telemetryctl")
        logger.logLevel = .error
        do {
            return try await withTelemetryClient(clientConfiguration(gatewayID: gatewayID, compress: compress), logger: logger, body)
        } catch let error as StatusError {
            printError("\(error.code.name): \(error.message)")
            // UNAVAILABLE made by the client is "cannot reach the server"; sent by the server
            // (degraded, draining, at its connection limit) it is the server's status.
            throw ExitCode(error.code == .unavailable && !error.fromServer ? ExitCodes.unreachable : ExitCodes.server(error.code))
        }
    }
}

/// What `query` and `aggregate` say on standard error when the range held no record; after
/// a cursor, the pages before it had the records.
func emptyRangeNote(vehicle: VehicleID, from: Int64, to: Int64, afterCursor: Bool = false) -> String {
    if afterCursor { return "no more records of \(vehicle) after this cursor" }
    let range: String
    switch (from == .min, to == .max) {
    case (true, true): range = ""
    case (true, false): range = " before \(RFC3339.format(milliseconds: to))"
    case (false, true): range = " from \(RFC3339.format(milliseconds: from)) on"
    case (false, false): range = " in [\(RFC3339.format(milliseconds: from)), \(RFC3339.format(milliseconds: to)))"
    }
    return "no records of \(vehicle)\(range) (telemetryctl vehicles lists the vehicles stored, with their first and last times)"
}

func printError(_ message: String) {
    FileHandle.standardError.write(Data("telemetryctl: \(message)\n".utf8))
}

/// Writes to standard output. When the reader went away (`telemetryctl query ... | head`),
/// the command ends quietly, as Unix tools do, instead of failing.
func write(_ text: String) {
    guard !text.isEmpty else { return }
    var bytes = Array(text.utf8)
    var offset = 0
    while offset < bytes.count {
        let n = bytes.withUnsafeMutableBytes { Glibc.write(1, $0.baseAddress! + offset, $0.count - offset) }
        if n < 0 {
            if errno == EINTR { continue }
            if errno == EPIPE { exit(0) }
            printError("cannot write the output: \(String(cString: strerror(errno)))")
            exit(ExitCodes.cannotWriteOutput)
        }
        offset += n
    }
}

/// Times as users type them: milliseconds since 1970, RFC 3339, `now`, or `now-1h`-style
/// offsets (units ms, s, m, h, d).
enum TimeArgument {
    static func parse(_ text: String, now: Int64 = Int64(Date().timeIntervalSince1970 * 1000)) throws -> Int64 {
        if let ms = Int64(text) { return ms }
        if text == "now" { return now }
        if text.hasPrefix("now-") || text.hasPrefix("now+") {
            let offset = String(text.dropFirst(4))
            let digits = offset.prefix { $0.isASCII && $0.isNumber }
            let isZero = !digits.isEmpty && digits.allSatisfy { $0 == "0" } && ["", "ms", "s", "m", "h", "d"].contains(String(offset.dropFirst(digits.count)))
            let amount = isZero ? 0 : try DurationArgument.parse(offset)  // now-0s is now, not "not a duration"
            let (sum, overflow) = text.dropFirst(3).first == "-" ? now.subtractingReportingOverflow(amount) : now.addingReportingOverflow(amount)
            guard !overflow else { throw ValidationError("\"\(text)\" is beyond the times a store can hold (Int64 milliseconds)") }
            return sum
        }
        // Digits beyond the millisecond round up: as a bound of [from, to) the time then keeps
        // exactly the records before or after it (the store keeps whole milliseconds).
        if let ms = RFC3339.milliseconds(parsing: Array(text.utf8), roundingUp: true) { return ms }
        throw ValidationError("\"\(text)\" is not a time: give milliseconds since 1970, RFC 3339 (2024-01-01T00:00:00Z), now or now-1h")
    }
}

/// Durations as users type them: `500ms`, `30s`, `1m`, `2h`, `1d`, or bare milliseconds.
enum DurationArgument {
    static func parse(_ text: String) throws -> Int64 {
        let units: [(String, Int64)] = [("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000), ("d", 86_400_000)]
        if let n = Int64(text), n > 0 { return n }
        for (suffix, factor) in units where text.hasSuffix(suffix) {
            if let n = Int64(text.dropLast(suffix.count)), n > 0 {
                guard n <= Int64.max / factor else {
                    throw ValidationError("\"\(text)\" is longer than any span a store can hold (Int64 milliseconds)")
                }
                return n * factor
            }
        }
        throw ValidationError("\"\(text)\" is not a duration: give e.g. 500ms, 30s, 1m, 2h or 1d")
    }
}

func vehicleID(_ text: String) throws -> VehicleID {
    do { return try VehicleID(text) } catch { throw ValidationError("vehicle \"\(text)\": \(error)") }
}

/// A comma-separated `--fields` list; nil when the option was not given. Given but naming no
/// field (`""`, `" , "`) is a usage error: read as "every field" or "no field", the two
/// spellings used to print opposite things.
func splitList(_ text: String?) throws -> [String]? {
    guard let text else { return nil }
    let names = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    guard !names.isEmpty else { throw ValidationError("--fields names no field (leave it out for every field)") }
    return names
}
