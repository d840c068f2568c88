import ArgumentParser
import Foundation
import Synchronization
import TelemetryClient
import TelemetryCore

extension TelemetryCommand {
    /// `telemetryctl ingest FILE...`: sends records from CSV, JSON lines or line-protocol files.
    struct Ingest: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Send records from CSV, JSON lines or InfluxDB line-protocol files.",
            discussion: """
                The format follows the file's extension (.csv; .jsonl, .ndjson, .json; .lp, .txt, .influx) \
                unless --format names it. Batches are pipelined; every acknowledged batch is stored. \
                Re-running the same file stores nothing twice (the records come back as duplicates; \
                records it holds twice in one millisecond replace each other again, see below). \
                The first 20 rejected and the first 20 dead-lettered records are named on standard error with \
                why, as records[i] counted from the first record sent; rejected records make the exit status 1.

                Reserved names: vehicle (or vehicle_id, or --vehicle-key), timestamp (or time, ts) and \
                provider are not fields in CSV and JSON lines; in JSON lines neither is sequence (the \
                gateway sequence, needs --gateway-id) nor a provenance object (query --format jsonl \
                writes the record's provider there; it is read back as the provider when the record was \
                stored unmapped, mapping_version identity). A JSON line with a fields object takes its \
                fields from there only: its other keys are left out, and named once on standard error. A line-protocol \
                point must end with its timestamp: a point without one stops the command at its line.

                The store keeps one record per vehicle and millisecond: finer timestamps (--precision us \
                or ns, RFC 3339 with more than 3 decimals) are cut to the millisecond, and a later record \
                in the same millisecond replaces the earlier one. The summary says how many were replaced.

                JSON lines keep each value's type (bytes are an object {"base64": "..."}, as query writes \
                them; an integer beyond 64 bits becomes a double, named on standard error), and the provider \
                of unmapped records: use them to move \
                records between stores. Records exported from a store that maps hold canonical field names; \
                they are read as provider generic, which stores canonical names as they are (under their \
                original provider they would be mapped a second time). CSV keeps less: a cell carries no \
                type (it reads as a bool, an integer, a double or else a string by its text, so "042" or \
                "true" exported as strings come back as a number or a bool), null and empty strings come \
                back as missing fields, arrays as their JSON text, and query's CSV has no provider column.
                """)

        @OptionGroup var connection: ConnectionOptions

        @Argument(help: "Files to send, in order.")
        var files: [String]

        @Option(name: .long, help: "Input format: csv, jsonl or lp (default: from the file extension).")
        var format: String?

        @Option(name: .long, help: "Provider of every record, over what the file says (default: each record's provider column or key, else the line-protocol measurement, else generic).")
        var provider: String?

        @Option(name: .long, help: "Unit of numeric timestamps: ns, us, ms or s.")
        var precision: String = "ms"

        @Option(name: .long, help: "Column, key or tag holding the vehicle id.")
        var vehicleKey: String = "vehicle"

        @Option(name: .long, parsing: .unconditional, help: "Records per batch.")
        var batch: Int = 5000

        @Option(name: .long, parsing: .unconditional, help: "Batches in flight at once.")
        var window: Int = 4

        @Option(name: .long, help: "Gateway id to record sequence numbers under.")
        var gatewayID: String?

        @Flag(name: .long, help: "Compress frames with snappy.")
        var compress = false

        @Flag(name: .long, help: "No progress bar, only the summary.")
        var quiet = false

        func validate() throws {
            guard batch > 0 else { throw ValidationError("--batch must be positive") }
            guard window > 0 else { throw ValidationError("--window must be positive") }
            if let format, InputFormat(rawValue: format) == nil {
                throw ValidationError("--format must be one of \(InputFormat.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            guard TimestampPrecision(rawValue: precision) != nil else {
                throw ValidationError("--precision must be one of \(TimestampPrecision.allCases.map(\.rawValue).joined(separator: ", "))")
            }
        }

        func run() async throws {
            var options = InputOptions()
            options.provider = provider
            options.vehicleKey = vehicleKey
            options.precision = TimestampPrecision(rawValue: precision) ?? .milliseconds
            options.refusesSequences = gatewayID == nil
            let readers: [RecordFileReader]
            do {
                readers = try files.map { try RecordFileReader(path: $0, format: format.flatMap(InputFormat.init(rawValue:)), options: options) }
            } catch {
                printError("\(error)")
                throw ExitCode(ExitCodes.badInput)
            }
            let progress = Progress(totalBytes: readers.reduce(0) { $0 + ($1.totalBytes ?? 0) }, enabled: !quiet && isatty(2) != 0)
            let started = Date()
            let outcome = try await connection.withClient(gatewayID: gatewayID, compress: compress) { client in
                // Connect and greet before the first batch (a ping, which every role may send):
                // a server that cannot be reached, or refuses the hello, is then known to have
                // received nothing. Once batches are out, a lost connection leaves their fate open.
                do { _ = try await client.ping() } catch {
                    printError("stopped before sending anything: nothing was stored")
                    throw error
                }
                let outcome = await send(readers, client: client, progress: progress)
                if let failure = outcome.failure {
                    // Said before the error itself (which withClient prints and turns into the
                    // exit code): what is stored, and how to go on.
                    progress.finish()
                    let advice = Self.failureAdvice(outcome, failure: failure)
                    if advice.summary { report(outcome, since: started) }
                    printError(advice.message)
                    throw failure
                }
                return outcome
            }
            progress.finish()
            report(outcome, since: started)
            for note in readers.flatMap(\.notes) { printError(note) }
            if let inputError = outcome.inputError {
                printError("\(inputError)")
                printError(
                    outcome.sent == 0
                        ? "stopped at this error; nothing was sent"
                        : "stopped at this error; the \(outcome.sent) records read before its batch were sent (see above), "
                            + "the rest of the file was not. Fix the line and run the same command again: records already "
                            + "stored count as duplicates")
                throw ExitCode(ExitCodes.badInput)
            }
            if !outcome.result.rejected.isEmpty { throw ExitCode(ExitCodes.rejectedRecords) }
        }

        /// What to say when a batch failed: whether the "sent ... stored" summary applies, and
        /// what is stored and how to go on.
        static func failureAdvice(_ outcome: SendOutcome, failure: any Error) -> (summary: Bool, message: String) {
            func batches(_ n: Int) -> String { n == 1 ? "1 batch" : "\(n) batches" }
            let code = (failure as? StatusError)?.code
            // Refused at the hello (bad token) or by role: the server read none of the
            // batches, whatever was in flight. Nothing was sent in any useful sense.
            if outcome.acknowledged == 0, let code, [.unauthenticated, .permissionDenied].contains(code) {
                return (false, "stopped: the server refused the connection's requests before reading any batch; nothing was stored")
            }
            // A lost connection or a timeout leaves a batch's fate open; any other status is the
            // server refusing the request before storing any of it. But when several batches
            // failed at once, one status about the connection (request id 0, which closes it)
            // may have failed batches the server had stored.
            let open = outcome.unacknowledged > 1 || (code.map { [.unavailable, .deadlineExceeded].contains($0) } ?? true)
            return (
                true,
                "stopped: a batch failed; the records of the \(batches(outcome.acknowledged)) acknowledged are stored, "
                    + "those of the \(batches(outcome.unacknowledged)) that failed "
                    + (open ? "may or may not be. " : "were not. ")
                    + "Run the same command again: records already stored count as duplicates"
            )
        }

        /// The summary line: `sent 4 records in 0.01 s (400 records/s): 4 stored, 0 duplicates, ...`.
        static func summary(sent: Int, seconds: Double, rate: Double, result: IngestResult) -> String {
            let records = sent == 1 ? "1 record" : "\(sent) records"
            let duplicates = result.duplicates == 1 ? "1 duplicate" : "\(result.duplicates) duplicates"
            return "sent \(records) in \(String(format: "%.2f", seconds)) s (\(Int(rate)) records/s): "
                + "\(result.accepted) stored, \(duplicates), \(result.rejected.count) rejected, "
                + "\(result.deadLettered) dead-lettered; durability \(result.durability.rawValue)\n"
        }

        private func report(_ outcome: SendOutcome, since started: Date) {
            let seconds = Date().timeIntervalSince(started)
            let rate = seconds > 0 ? Double(outcome.sent) / seconds : 0
            let result = outcome.result
            write(Self.summary(sent: outcome.sent, seconds: seconds, rate: rate, result: result))
            if result.replaced > 0 {
                // The store keeps one record per vehicle and millisecond: say what was merged.
                printError(
                    "\(result.replaced) of the stored records replaced another record of the same vehicle and millisecond "
                        + "(stored before, or earlier in the input): the later one is kept")
            }
            for line in Self.recordProblemLines(result) { printError(line) }
        }

        /// The first 20 rejected and the first 20 dead-lettered records, each as
        /// `rejected: records[i]: why (CODE)` or `dead-lettered: records[i]: reason code: why (CODE)`,
        /// i counted from the first record sent. The server's own `records[i]` counts within its
        /// batch (PROTOCOL.md), which past the first batch names another record of the file.
        static func recordProblemLines(_ result: IngestResult) -> [String] {
            func describe(_ r: RejectedRecord, as kind: String) -> String {
                var reason = Substring(r.reason)
                if reason.hasPrefix("records["), let end = reason.firstIndex(of: "]"),
                    reason[reason.index(reason.startIndex, offsetBy: 8)..<end].allSatisfy(\.isNumber),
                    reason[reason.index(after: end)...].hasPrefix(": ")
                {
                    reason = reason[reason.index(end, offsetBy: 3)...]
                }
                if reason.hasPrefix(kind + ": ") { reason = reason.dropFirst(kind.count + 2) }
                return "\(kind): records[\(r.index)]: \(reason) (\(r.code.name))"
            }
            var lines: [String] = []
            for (kind, records) in [("rejected", result.rejected), ("dead-lettered", result.deadLetters)] {
                // Batches answer in any order: the first 20 of the file, in file order.
                lines += records.sorted { $0.index < $1.index }.prefix(20).map { describe($0, as: kind) }
                if records.count > 20 { lines.append("... and \(records.count - 20) more \(kind) records") }
            }
            return lines
        }

        /// What `send` did: records sent, the acknowledged batches' results summed, the input
        /// error that stopped reading, and the first failed batch's error.
        struct SendOutcome: Sendable {
            var sent = 0
            var result = IngestResult()
            var inputError: String?
            var failure: (any Error)?
            var acknowledged = 0
            var unacknowledged = 0

            /// Adds an acknowledged batch's result; `offset` is the index of its first record
            /// among every record sent.
            mutating func add(_ r: IngestResult, offset: Int) {
                acknowledged += 1
                result.accepted += r.accepted
                result.duplicates += r.duplicates
                result.replaced += r.replaced
                result.deadLettered += r.deadLettered
                result.durability = r.durability
                result.rejected += r.rejected.map { RejectedRecord(index: offset + $0.index, code: $0.code, reason: $0.reason) }
                result.deadLetters += r.deadLetters.map { RejectedRecord(index: offset + $0.index, code: $0.code, reason: $0.reason) }
                if let s = r.committedSequence { result.committedSequence = s }
            }
        }

        /// One batch's answer, with the index of its first record among every record sent.
        struct BatchAnswer: Sendable {
            var offset: Int
            var result: Result<IngestResult, any Error>
        }

        /// Reads batches and keeps up to `window` of them in flight. A bad line stops reading,
        /// and so does a failed batch (the connection lost, a server error); what was sent
        /// before is still awaited and counted either way.
        private func send(_ readers: [RecordFileReader], client: TelemetryClient, progress: Progress) async -> SendOutcome {
            var outcome = SendOutcome()
            var baseBytes: Int64 = 0
            // A struct, not an `(offset:, result:)` tuple: in the release build (Swift 6.3.1, -O)
            // the tuple's offset came back from the task group as garbage (records[140152658739201])
            // while the debug build was right. It is the compiler's known miscompile of a tuple
            // whose parts are written on both sides of a suspension (swiftlang/swift PR 91911,
            // reverted for another fix). A struct is written whole.
            await withTaskGroup(of: BatchAnswer.self) { group in
                var inFlight = 0
                var batchOffset = 0
                func collect() async {
                    guard let answer = await group.next() else { return }
                    inFlight -= 1
                    switch answer.result {
                    case .success(let r):
                        outcome.add(r, offset: answer.offset)
                    case .failure(let error):
                        outcome.unacknowledged += 1
                        if outcome.failure == nil { outcome.failure = error }
                    }
                }
                outer: for reader in readers {
                    while outcome.failure == nil {
                        let records: [ProviderRecord]?
                        do { records = try reader.nextBatch(maxRecords: batch) } catch {
                            outcome.inputError = "\(error)"
                            break outer
                        }
                        guard let records else { break }
                        if inFlight >= window { await collect() }
                        guard outcome.failure == nil else { break outer }
                        let offset = batchOffset
                        batchOffset += records.count
                        outcome.sent += records.count
                        inFlight += 1
                        group.addTask {
                            do { return BatchAnswer(offset: offset, result: .success(try await client.ingest(records))) } catch {
                                return BatchAnswer(offset: offset, result: .failure(error))
                            }
                        }
                        progress.update(bytes: baseBytes + reader.bytesRead, records: outcome.sent)
                    }
                    baseBytes += reader.totalBytes ?? reader.bytesRead
                }
                while inFlight > 0 { await collect() }
            }
            return outcome
        }
    }
}

/// A one-line progress bar on standard error, redrawn at most 10 times a second.
final class Progress: Sendable {
    private let totalBytes: Int64
    private let enabled: Bool
    private let started = Date()
    private let lastDraw = Mutex<Double>(0)

    init(totalBytes: Int64, enabled: Bool) {
        self.totalBytes = totalBytes
        self.enabled = enabled
    }

    func update(bytes: Int64, records: Int) {
        guard enabled else { return }
        let elapsed = Date().timeIntervalSince(started)
        let due = lastDraw.withLock { last -> Bool in
            guard elapsed - last >= 0.1 else { return false }
            last = elapsed
            return true
        }
        guard due else { return }
        let fraction = totalBytes > 0 ? min(1, Double(bytes) / Double(totalBytes)) : 0
        let width = 30
        let filled = Int(fraction * Double(width))
        let bar = String(repeating: "=", count: filled) + String(repeating: " ", count: width - filled)
        let rate = elapsed > 0 ? Int(Double(records) / elapsed) : 0
        FileHandle.standardError.write(Data("\r[\(bar)] \(Int(fraction * 100))%  \(records) records  \(rate) records/s ".utf8))
    }

    func finish() {
        guard enabled else { return }
        FileHandle.standardError.write(Data("\n".utf8))
    }
}
