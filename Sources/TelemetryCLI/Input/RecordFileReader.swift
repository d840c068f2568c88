import Foundation
public import TelemetryCore

/// Reads provider records from a CSV, JSON lines or line-protocol file, a batch at a time.
///
/// The file is streamed through a fixed buffer (1 MiB by default), so memory stays flat
/// however large the file is: the 463 MB benchmark dataset is read without ever being
/// held whole. Each format's rules are documented on its parser; in short:
///
/// - CSV: `vehicle`/`vehicle_id` and `timestamp`/`time`/`ts` columns; the provider
///   is `InputOptions.provider` when given, else the `provider` column, else `generic`.
/// - JSON lines: the same names as keys, and the same provider rule.
/// - Line protocol: the `vehicle` tag and the trailing integer timestamp; the provider
///   is `InputOptions.provider`, else the measurement.
///
/// Integer timestamps are in `InputOptions.precision`; CSV and JSON also take RFC 3339
/// text. Every record needs at least one field.
///
/// Errors name the file and line (`telemetry.lp:3: missing timestamp`). After an
/// `InputError` that `isRecoverable` (one bad record) the reader is positioned after
/// the bad record, and the next `nextBatch` call carries on, starting with the records
/// the failed call had already parsed; a caller can therefore report bad lines and skip
/// them. Other errors (unreadable file, bad CSV header) end reading: every later call
/// throws the same error again.
///
/// Not `Sendable`: it owns a file position. Use it from one task.
public final class RecordFileReader {
    /// The file as given to `init`, and as errors name it (`<stdin>` for `-`).
    public let path: String
    /// The format being read.
    public let format: InputFormat
    /// The options in effect.
    public let options: InputOptions
    /// The file's size when it was opened, or nil for a pipe or standard input.
    public let totalBytes: Int64?

    private var lines: LineReader
    private var parser: any LineRecordParser
    /// Records parsed by a call that then failed on a later line, returned by the next call.
    private var pending: [ProviderRecord] = []
    private var terminalError: InputError?
    private var reachedEnd = false

    /// The bytes consumed so far, for a progress bar against `totalBytes`.
    public var bytesRead: Int64 { lines.bytesConsumed }

    /// The number of lines consumed so far.
    public var linesRead: Int { lines.lineNumber }

    /// Opens a file for reading.
    /// - Parameters:
    ///   - path: the file to read, or `-` for standard input.
    ///   - format: the format, or nil to pick it from the file extension (see `InputFormat.init(detectingFrom:)`).
    ///   - options: how to find the vehicle, timestamp and provider.
    /// - Throws: `InputError` with code `.cannotRead` when the file cannot be opened, or
    ///   `.unknownFormat` when no format is given and the extension names none.
    public convenience init(path: String, format: InputFormat? = nil, options: InputOptions = InputOptions()) throws {
        try self.init(path: path, format: format, options: options, chunkSize: 1 << 20)
    }

    /// The designated initialiser; tests pass a tiny `chunkSize` to cross buffer boundaries.
    init(
        path: String,
        format: InputFormat?,
        options: InputOptions,
        chunkSize: Int,
        maxLineBytes: Int = 64 << 20
    ) throws {
        let isStandardInput = path == "-"
        let displayName = isStandardInput ? "<stdin>" : path
        guard let resolvedFormat = format ?? (isStandardInput ? nil : InputFormat(detectingFrom: path)) else {
            let known = InputFormat.allCases.flatMap(\.fileExtensions).map { "." + $0 }.joined(separator: ", ")
            throw InputError(
                code: .unknownFormat,
                file: displayName,
                line: nil,
                message: isStandardInput
                    ? "the format of standard input must be given"
                    : "cannot tell the format from the file name (known extensions: \(known))"
            )
        }

        let handle: FileHandle
        if isStandardInput {
            handle = FileHandle.standardInput
            totalBytes = nil
        } else {
            let descriptor = open(path, O_RDONLY | O_CLOEXEC)
            guard descriptor >= 0 else {
                throw InputError(
                    code: .cannotRead,
                    file: displayName,
                    line: nil,
                    message: "cannot open: \(String(cString: strerror(errno)))"
                )
            }
            // From here the handle owns the descriptor and closes it, on every path.
            handle = FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)
            var info = stat()
            guard fstat(descriptor, &info) == 0 else {
                throw InputError(
                    code: .cannotRead,
                    file: displayName,
                    line: nil,
                    message: "cannot open: \(String(cString: strerror(errno)))"
                )
            }
            let fileType = Int(info.st_mode) & Int(S_IFMT)
            guard fileType != Int(S_IFDIR) else {
                throw InputError(code: .cannotRead, file: displayName, line: nil, message: "is a directory")
            }
            totalBytes = fileType == Int(S_IFREG) ? Int64(info.st_size) : nil
        }

        self.path = displayName
        self.format = resolvedFormat
        self.options = options
        self.lines = LineReader(handle: handle, chunkSize: chunkSize, maxLineBytes: maxLineBytes)
        switch resolvedFormat {
        case .csv: parser = CSVRecordParser(options: options)
        case .jsonl: parser = JSONLinesRecordParser(options: options)
        case .lineProtocol: parser = LineProtocolRecordParser(options: options)
        }
    }

    /// What the parser left out without refusing a line, each as `file: note`: print them
    /// once the file is read.
    public var notes: [String] { parser.notes.map { "\(path): \($0)" } }

    /// Reads the next records.
    /// - Parameter maxRecords: the most records to return; must be positive.
    /// - Returns: between 1 and `maxRecords` records, or nil once the file is exhausted.
    /// - Throws: `InputError` naming the file, the line and the problem.
    public func nextBatch(maxRecords: Int) throws -> [ProviderRecord]? {
        precondition(maxRecords > 0, "maxRecords must be positive")
        if let terminalError { throw terminalError }
        var batch = pending
        pending = []
        batch.reserveCapacity(maxRecords)
        while batch.count < maxRecords && !reachedEnd {
            do {
                if try !readRecord(into: &batch) { reachedEnd = true }
            } catch {
                pending = batch
                throw error
            }
        }
        return batch.isEmpty ? nil : batch
    }

    /// Reads one line into `batch`. Returns false at the end of the file.
    private func readRecord(into batch: inout [ProviderRecord]) throws(InputError) -> Bool {
        let line: ArraySlice<UInt8>?
        do {
            line = try lines.nextLine()
        } catch {
            let message: String
            switch error {
            case .readFailed(let reason): message = "read failed: \(reason)"
            case .lineTooLong(let limit): message = "line longer than \(limit) bytes (not a text file?)"
            }
            let failure = InputError(code: .cannotRead, file: path, line: lines.lineNumber + 1, message: message)
            terminalError = failure
            throw failure
        }
        do {
            guard let line else {
                try parser.finish()
                return false
            }
            if let record = try parser.parse(line: line, lineNumber: lines.lineNumber) {
                try RecordParsing.checkFieldNames(record.fields)
                batch.append(record)
            }
            return true
        } catch {
            let failure = InputError(
                code: .invalidRecord,
                file: path,
                line: error.line ?? (line == nil ? nil : lines.lineNumber),
                message: error.message,
                isRecoverable: !error.isFatal
            )
            if error.isFatal { terminalError = failure }
            if line == nil { reachedEnd = true }
            throw failure
        }
    }
}

@available(*, unavailable)
extension RecordFileReader: Sendable {}
