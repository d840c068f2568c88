/// Why an input file could not be read: which file, which line, and what is wrong.
///
/// The description reads like a compiler diagnostic, `telemetry.csv:17: column "timestamp": ...`,
/// so editors and `grep` can jump to the line.
public struct InputError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kind of failure, for choosing an exit code. New codes may be added, so
    /// compare with `==` rather than switching exhaustively.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Wrapped: Sendable, Hashable {
            case cannotRead
            case unknownFormat
            case invalidRecord
        }

        private let wrapped: Wrapped

        private init(_ wrapped: Wrapped) { self.wrapped = wrapped }

        /// The file could not be opened or read.
        public static let cannotRead = Code(.cannotRead)
        /// No format was given and the file extension names none.
        public static let unknownFormat = Code(.unknownFormat)
        /// A line is malformed or holds a value that cannot be used.
        public static let invalidRecord = Code(.invalidRecord)

        /// A short name, e.g. `invalid record`.
        public var description: String {
            switch wrapped {
            case .cannotRead: return "cannot read"
            case .unknownFormat: return "unknown format"
            case .invalidRecord: return "invalid record"
            }
        }
    }

    /// The kind of failure.
    public var code: Code
    /// The file as it was named to the reader (`<stdin>` for standard input).
    public var file: String
    /// The 1-based line the problem is on (the first line of a multi-line CSV record),
    /// or nil when it concerns the whole file.
    public var line: Int?
    /// The problem, without the file and line.
    public var message: String
    /// Whether reading can carry on past the problem: true for one bad record, after
    /// which `RecordFileReader.nextBatch` continues with the next; false when the file
    /// cannot be read on (it is unreadable, or its CSV header is bad), after which every
    /// call throws this error again.
    public var isRecoverable: Bool

    /// Creates an error.
    /// - Parameters:
    ///   - code: the kind of failure.
    ///   - file: the file as the user named it.
    ///   - line: the 1-based line, or nil for the whole file.
    ///   - message: the problem, without the file and line.
    ///   - isRecoverable: whether reading can carry on past it.
    public init(code: Code, file: String, line: Int?, message: String, isRecoverable: Bool = false) {
        self.code = code
        self.file = file
        self.line = line
        self.message = message
        self.isRecoverable = isRecoverable
    }

    /// `file:line: message`, or `file: message` when no line applies.
    public var description: String {
        if let line { return "\(file):\(line): \(message)" }
        return "\(file): \(message)"
    }
}

/// A problem found by a line parser, before the reader adds the file name.
struct ParseProblem: Error, Sendable, Hashable {
    var message: String
    /// Set only when the problem is not on the line just read: a CSV record that
    /// spans lines is reported at its first line.
    var line: Int?
    /// Whether reading cannot go on past it (a bad CSV header), as opposed to one bad record.
    var isFatal: Bool

    init(_ message: String, line: Int? = nil, isFatal: Bool = false) {
        self.message = message
        self.line = line
        self.isFatal = isFatal
    }
}
