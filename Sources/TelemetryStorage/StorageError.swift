public import TelemetryCore

/// An error of the storage layer: what went wrong, in words a client or operator can act on.
public struct StorageError: Error, Sendable, Hashable, CustomStringConvertible, StatusCodeConvertible {
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Wrapped: Sendable, Hashable {
            case invalidArgument, dataLoss, degraded, unsupportedFormat, notFound, closed, io, diskFull
        }
        private let wrapped: Wrapped
        private init(_ wrapped: Wrapped) { self.wrapped = wrapped }

        /// The request itself is wrong (bad range, bad cursor, bad record).
        public static let invalidArgument = Code(.invalidArgument)
        /// Stored bytes are damaged: a checksum failure or undecodable data.
        public static let dataLoss = Code(.dataLoss)
        /// A write failed earlier; the store accepts no more writes until reopened.
        public static let degraded = Code(.degraded)
        /// The folder holds a format this build cannot read.
        public static let unsupportedFormat = Code(.unsupportedFormat)
        public static let notFound = Code(.notFound)
        /// The store was closed.
        public static let closed = Code(.closed)
        /// LevelDB could not read or write its files (open failed, disk error).
        public static let io = Code(.io)
        /// The device holding the data folder is full (ENOSPC): free space, then reopen.
        public static let diskFull = Code(.diskFull)

        public var description: String {
            switch wrapped {
            case .invalidArgument: return "invalid argument"
            case .dataLoss: return "data loss"
            case .degraded: return "degraded"
            case .unsupportedFormat: return "unsupported format"
            case .notFound: return "not found"
            case .closed: return "closed"
            case .io: return "I/O error"
            case .diskFull: return "disk full"
            }
        }

        var statusCode: StatusCode {
            switch wrapped {
            case .invalidArgument: return .invalidArgument
            case .dataLoss: return .dataLoss
            case .degraded: return .unavailable
            case .unsupportedFormat: return .failedPrecondition
            case .notFound: return .notFound
            case .closed: return .unavailable
            case .io: return .unavailable
            case .diskFull: return .resourceExhausted
            }
        }
    }

    public let code: Code
    public let message: String

    public init(code: Code, message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }
    public var statusCode: StatusCode { code.statusCode }
    public var statusMessage: String { message }
}
