import Glibc
public import TelemetryCore

/// Why a backup, a verification or a restore could not be done; the message names the path.
public struct BackupError: Error, Sendable, Hashable, CustomStringConvertible, StatusCodeConvertible {
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Wrapped: Sendable, Hashable {
            case invalidArgument, alreadyExists, notFound, failedPrecondition, resourceExhausted, dataLoss, io
        }
        private let wrapped: Wrapped
        private init(_ wrapped: Wrapped) { self.wrapped = wrapped }

        /// The request itself is wrong (an empty path).
        public static let invalidArgument = Code(.invalidArgument)
        /// The destination exists: a backup or restore never overwrites.
        public static let alreadyExists = Code(.alreadyExists)
        /// A path (the backup, the destination's parent) does not exist or disappeared.
        public static let notFound = Code(.notFound)
        /// The folder is not a usable backup (fails verification, no manifest), or the file
        /// system refuses (permissions, read-only).
        public static let failedPrecondition = Code(.failedPrecondition)
        /// The disk or the quota is full.
        public static let resourceExhausted = Code(.resourceExhausted)
        /// The store being copied is damaged.
        public static let dataLoss = Code(.dataLoss)
        /// Any other I/O failure.
        public static let io = Code(.io)

        public var description: String {
            switch wrapped {
            case .invalidArgument: return "invalid argument"
            case .alreadyExists: return "already exists"
            case .notFound: return "not found"
            case .failedPrecondition: return "failed precondition"
            case .resourceExhausted: return "resource exhausted"
            case .dataLoss: return "data loss"
            case .io: return "I/O error"
            }
        }

        var statusCode: StatusCode {
            switch wrapped {
            case .invalidArgument: return .invalidArgument
            case .alreadyExists: return .alreadyExists
            case .notFound: return .notFound
            case .failedPrecondition: return .failedPrecondition
            case .resourceExhausted: return .resourceExhausted
            case .dataLoss: return .dataLoss
            case .io: return .unavailable
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

    /// A failed system call on `path`: the code follows errno (a full disk is
    /// RESOURCE_EXHAUSTED, a vanished folder NOT_FOUND).
    static func system(_ what: String, _ path: String, errno number: Int32) -> BackupError {
        let reason = String(cString: strerror(number))
        let code: Code
        switch number {
        case ENOSPC, EDQUOT: code = .resourceExhausted
        case ENOENT, ENOTDIR: code = .notFound
        case EEXIST, ENOTEMPTY: code = .alreadyExists
        case EACCES, EPERM, EROFS: code = .failedPrecondition
        default: code = .io
        }
        return BackupError(code: code, message: "cannot \(what) \(path): \(reason)")
    }

    /// A LevelDB failure while writing or reading the copy in `path`. LevelDB reports only a
    /// message; a full disk shows as "No space left on device" in it.
    static func leveldb(_ error: LevelDBError, _ what: String, _ path: String) -> BackupError {
        let code: Code
        if error.message.contains(String(cString: strerror(ENOSPC))) || error.message.contains(String(cString: strerror(EDQUOT))) {
            code = .resourceExhausted
        } else if error.message.contains(String(cString: strerror(ENOENT))) {
            code = .notFound
        } else if error.code == .corruption {
            code = .dataLoss
        } else {
            code = .io
        }
        return BackupError(code: code, message: "cannot \(what) \(path): \(error.message)")
    }
}
