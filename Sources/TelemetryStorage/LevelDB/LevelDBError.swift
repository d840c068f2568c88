/// An error reported by LevelDB, classified by the status prefix LevelDB writes
/// (`util/status.cc`: "NotFound: ", "Corruption: ", "IO error: ", ...).
public struct LevelDBError: Error, Sendable, Hashable, CustomStringConvertible {
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Wrapped: Hashable, Sendable {
            case notFound, corruption, notSupported, invalidArgument, ioError, unknown
        }
        private let wrapped: Wrapped
        private init(_ wrapped: Wrapped) { self.wrapped = wrapped }

        public static let notFound = Code(.notFound)
        public static let corruption = Code(.corruption)
        public static let notSupported = Code(.notSupported)
        public static let invalidArgument = Code(.invalidArgument)
        public static let ioError = Code(.ioError)
        public static let unknown = Code(.unknown)

        public var description: String {
            switch wrapped {
            case .notFound: return "not found"
            case .corruption: return "corruption"
            case .notSupported: return "not supported"
            case .invalidArgument: return "invalid argument"
            case .ioError: return "I/O error"
            case .unknown: return "unknown"
            }
        }
    }

    public let code: Code
    /// LevelDB's own message, prefix included.
    public let message: String

    public init(code: Code, message: String) {
        self.code = code
        self.message = message
    }

    /// Classifies a LevelDB status string.
    init(statusMessage: String) {
        let code: Code
        if statusMessage.hasPrefix("NotFound: ") {
            code = .notFound
        } else if statusMessage.hasPrefix("Corruption: ") {
            code = .corruption
        } else if statusMessage.hasPrefix("Not implemented: ") {
            code = .notSupported
        } else if statusMessage.hasPrefix("Invalid argument: ") {
            code = .invalidArgument
        } else if statusMessage.hasPrefix("IO error: ") {
            code = .ioError
        } else {
            code = .unknown
        }
        self.init(code: code, message: statusMessage)
    }

    public var description: String { "LevelDB \(code): \(message)" }
}
